/**
 * WorkerPool: a worker-thread pool with batched shared-memory dispatch, work stealing, priorities
 * with aging, cancellation and crash recovery. Task files are piscina-compatible.
 *
 * This class is the public face; the main-thread work is split by responsibility under main/, all
 * sharing one internal PoolState (main/state.ts):
 *   main/options.ts            option, run-option and stats types; validation and defaults
 *   main/scheduler.ts          submission, picking a worker, the queue, priorities and preemption
 *   main/completions.ts        settling tasks, and the event-loop pump that collects completions
 *   main/transport.ts          the TransportStrategy interface a transport implements:
 *     main/sab-transport.ts      'sab': slots, submission and completion rings, doorbells
 *     main/message-transport.ts  'message': one postMessage per task and per result
 *   main/abort.ts              cancellation of waiting, dispatched and running tasks
 *   main/lifecycle.ts          spawning, exits, replacement, stopping the workers
 *   main/recovery.ts           what becomes of a dead worker's tasks
 *   main/stats.ts              the `stats` snapshot
 * The worker side is worker-runtime.ts (the entry script) and worker/.
 *
 * Invariant across all of them: every dispatched task has a word in shared memory (its slot's state
 * word, or its message id's claim word) that a worker must CAS from QUEUED to RUNNING before calling
 * the task function, and that the main thread CASes from QUEUED to FREE to take a task back (cancel,
 * preemption, recovery). Exactly one CAS wins, so a task never runs twice, and a task rejected with
 * WorkerExitError is one that a worker had claimed. Every accepted task settles exactly once.
 */

import type { Worker } from 'node:worker_threads';
import type { SharedRegion } from '../parking/region.ts';
import { abortReason } from '../lock/common.ts';
import { PoolClosedError, QueueFullError } from './errors.ts';
import type { Transport } from './protocol.ts';
import { Aborts } from './main/abort.ts';
import { Completions } from './main/completions.ts';
import { Lifecycle } from './main/lifecycle.ts';
import { MessageTransport } from './main/message-transport.ts';
import { resolveOptions, type PoolStats, type RunOptions, type WorkerPoolOptions } from './main/options.ts';
import { Recovery } from './main/recovery.ts';
import { SabTransport } from './main/sab-transport.ts';
import { Scheduler } from './main/scheduler.ts';
import { PoolState } from './main/state.ts';
import { poolStats } from './main/stats.ts';
import { Batch, newWorkerHandle, Task } from './main/task.ts';

export type { PoolStats, RunOptions, WorkerPoolOptions, WorkerStats } from './main/options.ts';

const noop = (): void => {};

export class WorkerPool {
  readonly filename: string;
  readonly threads: number;
  readonly transport: Transport;
  readonly stealing: boolean;
  readonly batch: number | 'adaptive';
  readonly maxQueue: number;
  readonly region: SharedRegion | undefined;

  readonly #s: PoolState;
  readonly #c: Completions;
  readonly #sched: Scheduler;
  readonly #aborts: Aborts;
  readonly #life: Lifecycle;
  #closePromise: Promise<void> | undefined;

  constructor(opts: WorkerPoolOptions) {
    const cfg = resolveOptions(opts);
    this.filename = cfg.filename;
    this.threads = cfg.threads;
    this.transport = cfg.transport;
    this.stealing = cfg.stealing;
    this.batch = cfg.batch;
    this.maxQueue = cfg.maxQueue;
    const region = cfg.transport === 'sab' ? SabTransport.createRegion(cfg) : MessageTransport.createRegion(cfg);
    this.region = region;
    const s = new PoolState(cfg, region);
    this.#s = s;
    // The pump (completions) refills through the scheduler, which is built on the completions.
    const c = new Completions(s, () => sched.refill());
    const sched = new Scheduler(s, c);
    s.transport = cfg.transport === 'sab' ? new SabTransport(s, c) : new MessageTransport(s, c);
    this.#c = c;
    this.#sched = sched;
    this.#aborts = new Aborts(s, c, sched);
    this.#life = new Lifecycle(s, c, sched, new Recovery(s, c));
    for (let w = 0; w < cfg.threads; w++) {
      const h = newWorkerHandle(w);
      s.workers.push(h);
      this.#life.spawn(h);
    }
  }

  /** Runs the task function on `arg` in a worker; resolves with its (awaited) return value. */
  run(arg: unknown, opts?: RunOptions): Promise<unknown> {
    const s = this.#s;
    let task: Task;
    try {
      if (s.closing) throw new PoolClosedError(s.destroyed ? 'WorkerPool was destroyed' : 'WorkerPool is closing: no new tasks are accepted');
      task = this.#sched.makeTask(arg, opts, false);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = task.o.signal;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    const p = new Promise<unknown>((resolve, reject) => {
      task.resolve = resolve;
      task.reject = reject;
    });
    if (s.needRespawn) this.#life.ensureWorkers();
    if (!this.#sched.submit(task)) return Promise.reject(new QueueFullError(this.maxQueue));
    this.#aborts.watch(task);
    return p;
  }

  /**
   * Runs the task function once per element of `args`; resolves with the results in order, or
   * rejects with the first error (like Promise.all; the other tasks still run). `opts` apply to all.
   */
  runBatch(args: readonly unknown[], opts?: Omit<RunOptions, 'transfer'>): Promise<unknown[]> {
    const s = this.#s;
    let batch: Batch | undefined;
    const p = new Promise<unknown[]>((resolve, reject) => {
      batch = new Batch(args?.length ?? 0, resolve, reject);
    });
    const b = batch!;
    try {
      if (s.closing) throw new PoolClosedError(s.destroyed ? 'WorkerPool was destroyed' : 'WorkerPool is closing: no new tasks are accepted');
      if (!Array.isArray(args)) throw new TypeError('WorkerPool.runBatch(args): args must be an array');
      if (opts !== undefined && (opts as RunOptions).transfer !== undefined) throw new TypeError('WorkerPool.runBatch: `transfer` is not supported; use run() for transfers');
      if (args.length === 0) {
        b.done = true;
        b.resolve([]);
        return p;
      }
      if (!s.cfg.waitMode && s.queue.size + args.length > this.maxQueue + s.room()) throw new QueueFullError(this.maxQueue);
      // One TaskOpts for the whole batch (its abort listener is per batch, not per task).
      const first = this.#sched.makeTask(args[0], opts, true);
      for (let i = 0; i < args.length; i++) {
        const t = i === 0 ? first : new Task(args[i], first.o);
        t.batch = b;
        t.index = i;
        b.tasks.push(t);
      }
    } catch (e) {
      b.done = true;
      b.reject(e);
      return p;
    }
    const signal = b.tasks[0].o.signal;
    if (signal?.aborted === true) {
      b.done = true;
      b.reject(abortReason(signal));
      return p;
    }
    if (s.needRespawn) this.#life.ensureWorkers();
    // 'reject' mode checked room above (all or nothing); 'wait' mode lets the excess wait for room.
    for (const t of b.tasks) this.#sched.submit(t, !s.cfg.waitMode);
    if (signal !== undefined) {
      const onAbort = (): void => {
        for (const t of b.tasks) this.#aborts.abort(t);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void p.then(() => signal.removeEventListener('abort', onAbort), () => signal.removeEventListener('abort', onAbort));
    }
    return p;
  }

  /** Stops accepting tasks, waits for every accepted task to settle, then stops the workers. */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    const s = this.#s;
    s.closing = true;
    this.#closePromise = (async () => {
      if (s.pending > 0) await new Promise<void>((resolve) => s.idleWaiters.push(resolve));
      await this.#life.stopWorkers();
    })();
    return this.#closePromise;
  }

  /** Stops at once: rejects every waiting and running task with PoolClosedError and terminates the workers. */
  destroy(): Promise<void> {
    const s = this.#s;
    if (s.destroyed) return this.#closePromise ?? Promise.resolve();
    s.closing = true;
    s.destroyed = true;
    const err = (): PoolClosedError => new PoolClosedError('WorkerPool was destroyed before the task finished');
    const c = this.#c;
    for (const t of s.queue.drainAll()) c.settle(t, false, err());
    for (const t of s.overflow.drain()) if (!t.cancelled) c.settle(t, false, err());
    s.overflowLive = 0;
    for (const r of s.roomWaiters.splice(0)) r();
    for (const t of s.transport.dispatched()) if (t !== undefined) c.settle(t, false, err());
    const stop = this.#life.stopWorkers();
    const prev = this.#closePromise;
    this.#closePromise = prev === undefined ? stop : Promise.all([prev, stop]).then(noop);
    for (const r of s.idleWaiters.splice(0)) r();
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Resolves once fewer than `maxQueue` tasks wait (at once if so now; also when the pool closes),
   * so a producer can pace itself: `await pool.waitForRoom(); pool.run(x)`. Works in both
   * maxQueueMode settings.
   */
  waitForRoom(): Promise<void> {
    const s = this.#s;
    if (s.closing || (s.overflowLive === 0 && s.queue.size < this.maxQueue)) return Promise.resolve();
    return new Promise<void>((resolve) => s.roomWaiters.push(resolve));
  }

  /** Counters, per-worker figures and sampled latency. */
  get stats(): PoolStats {
    return poolStats(this.#s);
  }

  /** The Worker objects (for tests and diagnostics; do not post to them). */
  get workers(): readonly (Worker | undefined)[] {
    return this.#s.workers.map((w) => w.worker);
  }
}
