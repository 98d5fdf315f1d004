/**
 * The main-thread scheduler: turning `run` arguments into tasks, and deciding which task goes to
 * which worker when.
 *
 * - Dispatch: a task goes straight to the least-loaded worker while it has fewer than `window`
 *   tasks outstanding (window = 2 × its batch cap, 1 when batch is 1: one batch running, one
 *   waiting; see PoolState.window); beyond that it waits in the main-thread TaskQueue (priorities
 *   with aging), the one queue all workers are fed from (without stealing, a task handed to a
 *   worker stays with it). Completions (and recovery) refill the workers' windows from the queue.
 * - Waiting room: with maxQueueMode 'wait', tasks beyond `maxQueue` wait in a FIFO and enter the
 *   queue as it drains; `waitForRoom()` resolves when fewer than `maxQueue` wait.
 * - Priorities: a task that must wait while workers hold dispatched-but-unstarted tasks of lower
 *   priority preempts them (#preempt): the transport takes back what the least-loaded worker has not
 *   started (the same CAS as a cancel, so nothing runs twice) and those tasks go back to the front
 *   of the queue in their order; the queue hands out the highest (effective) priority first, so the
 *   new task waits behind at most the batch that worker already took (message transport: the task
 *   it is running). `lowestOut` (the lowest priority dispatched since nothing was in flight) makes
 *   this check free when all priorities are equal.
 * - Bursts (sab): during a long synchronous run of `run` calls the main thread drains completions
 *   and refills every 64 queued submissions, so workers stay fed before the event loop turns.
 */

import type { RunOptions } from './options.ts';
import type { Completions } from './completions.ts';
import { sampled } from './completions.ts';
import type { PoolState } from './state.ts';
import { NO_OPTS, PHASE_QUEUED, PHASE_WAITING, Task, TaskOpts, type WorkerHandle } from './task.ts';

export class Scheduler {
  readonly #s: PoolState;
  readonly #c: Completions;

  constructor(s: PoolState, c: Completions) {
    this.#s = s;
    this.#c = c;
  }

  /** A task for `run(arg, opts)` (or one element of runBatch), with its options checked. */
  makeTask(arg: unknown, opts: RunOptions | undefined, inBatch: boolean): Task {
    if (opts === undefined) return new Task(arg, NO_OPTS);
    if (opts === null || typeof opts !== 'object') throw new TypeError('WorkerPool.run(arg, opts): opts must be an object');
    const { name, signal, priority, transfer } = opts;
    let nameId = 0;
    if (name !== undefined && name !== 'default') {
      if (typeof name !== 'string' || name.length === 0) throw new TypeError('WorkerPool.run: `name` must be a non-empty string naming an export of the task file');
      nameId = this.#nameId(name);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('WorkerPool.run: `signal` must be an AbortSignal');
    if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) throw new TypeError(`WorkerPool.run: \`priority\` must be a finite number, got ${String(priority)}`);
    if (transfer !== undefined && (inBatch || !Array.isArray(transfer))) throw new TypeError('WorkerPool.run: `transfer` must be an array of transferable objects');
    if (nameId === 0 && signal === undefined && (priority ?? 0) === 0 && transfer === undefined) return new Task(arg, NO_OPTS);
    return new Task(arg, new TaskOpts(nameId === 0 ? '' : name!, nameId, priority ?? 0, signal, transfer));
  }

  #nameId(name: string): number {
    const s = this.#s;
    let id = s.names.get(name);
    if (id === undefined) {
      id = s.nameBytes.length;
      if (id > 0x7fff) throw new RangeError('WorkerPool: more than 32767 distinct export names');
      if (Buffer.byteLength(name, 'utf8') > 256) throw new RangeError('WorkerPool.run: `name` is longer than 256 bytes');
      s.names.set(name, id);
      s.nameBytes.push(Buffer.from(name, 'utf8'));
    }
    return id;
  }

  /** Queues or dispatches a task. Returns false if the queue is full (the task was not accepted). */
  submit(task: Task, force = false): boolean {
    const s = this.#s;
    task.seq = ++s.seq;
    // Refreshed on every pump, so at most one pump stale: aging counts from submission (a task
    // placed at once and later taken back by preemption or recovery keeps its place in line).
    task.enqueuedAt = s.nowInt;
    if (sampled(task)) s.samples.set(task, performance.now());
    if (s.queue.size === 0 && s.overflowLive === 0) {
      const w = s.pick();
      // A task that outranks dispatched work and would sit behind more than one batch of it goes
      // through the queue and #preempt instead (the one-batch bound for priorities).
      if (w !== undefined && !(task.o.priority > s.lowestOut && w.outstanding > s.transport.preemptAbove(w))) {
        s.accept();
        if (s.transport.place(task, w)) return true;
        s.tick();
        task.enqueuedAt = s.nowInt;
        s.queue.push(task);
        this.#c.retrySoon();
        return true;
      }
      // First task to wait: the clock (refreshed on every pump) may be stale after an idle spell.
      s.tick();
    }
    if (!force && (s.queue.size >= s.cfg.maxQueue || s.overflowLive > 0)) {
      if (!s.cfg.waitMode) return false;
      s.accept();
      task.phase = PHASE_WAITING;
      s.overflow.push(task);
      s.overflowLive++;
      return true;
    }
    s.accept();
    task.enqueuedAt = s.nowInt;
    s.queue.push(task);
    if (task.o.priority > s.lowestOut) this.#preempt(task.o.priority);
    if ((++s.sinceDrain & 63) === 0 && s.cfg.transport === 'sab') {
      // A long synchronous burst of run() calls: drain and refill now so the workers stay busy.
      s.transport.drain();
      this.refill();
    }
    return true;
  }

  /** Puts tasks taken back from a worker at the front of the queue, in their original order. */
  #requeuePreempted(back: Task[]): void {
    const s = this.#s;
    s.preempted += back.length;
    back.sort((a, b) => b.seq - a.seq);
    for (const t of back) {
      t.phase = PHASE_QUEUED;
      t.worker = -1;
      s.queue.unshift(t);
    }
  }

  /**
   * Priorities: a task of priority `p` waits in the queue while workers hold dispatched but
   * unstarted tasks of lower priority. If even the least-loaded worker has more than one batch
   * outstanding, the transport takes back what it has not started, those tasks go back to the front
   * of the queue in their order, and the refill hands out the highest priority first.
   */
  #preempt(p: number): void {
    const s = this.#s;
    let w: WorkerHandle | undefined;
    for (const x of s.workers) {
      if (x.state !== 'ready' && x.state !== 'starting') continue;
      if (w === undefined || x.outstanding < w.outstanding) w = x;
    }
    if (w !== undefined && w.outstanding > s.transport.preemptAbove(w)) this.#requeuePreempted(s.transport.preempt(w, p));
    this.refill();
  }

  /** Moves queued tasks to workers with room, then lets waiting-room tasks in if there is room. */
  refill(): void {
    this.#refillQueue();
    if (this.#s.overflowLive > 0 || this.#s.roomWaiters.length > 0) this.admit();
  }

  /** maxQueueMode 'wait': moves waiting-room tasks into the queue while it has room (FIFO), then refills again. */
  admit(): void {
    const s = this.#s;
    let moved = false;
    while (s.overflowLive > 0 && s.queue.size < s.cfg.maxQueue) {
      const t = s.overflow.shift();
      if (t === undefined) break;
      if (t.cancelled) continue;
      s.overflowLive--;
      t.phase = PHASE_QUEUED;
      t.enqueuedAt = s.nowInt;
      s.queue.push(t);
      moved = true;
    }
    if (moved) this.#refillQueue();
    if (s.overflowLive === 0 && s.queue.size < s.cfg.maxQueue) for (const r of s.roomWaiters.splice(0)) r();
  }

  #refillQueue(): void {
    const s = this.#s;
    const q = s.queue;
    while (q.size > 0) {
      const w = s.pick();
      if (w === undefined) break;
      const t = q.shift(s.nowInt);
      if (t === undefined) break;
      if (!s.transport.place(t, w)) {
        q.unshift(t);
        this.#c.retrySoon();
        break;
      }
    }
  }
}
