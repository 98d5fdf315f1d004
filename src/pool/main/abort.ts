/**
 * Cancellation: what aborting a task's `signal` does, by the task's phase.
 *
 * - In the waiting room or the queue: removed at once; it never runs.
 * - Dispatched but not started: the transport's cancel race (a CAS QUEUED → FREE on the task's
 *   state or claim word, against the worker's claim CAS; exactly one wins). If the cancel wins,
 *   the task is released and rejected, and never runs (the worker skips its stale entry or message).
 * - Running: rejected at once; the worker gets an 'abort' message, which aborts the `ctx.signal`
 *   the task function received. A task still running `abortGraceMs` later gets its worker
 *   terminated (and replaced, like any crash; its result, if any, is dropped).
 */

import { abortReason } from '../../lock/common.ts';
import type { ToWorker } from '../protocol.ts';
import type { Completions } from './completions.ts';
import type { Scheduler } from './scheduler.ts';
import type { PoolState } from './state.ts';
import { PHASE_QUEUED, PHASE_SETTLED, PHASE_WAITING, type Task, type WorkerHandle } from './task.ts';
import { WITHDRAWN } from './transport.ts';

export class Aborts {
  readonly #s: PoolState;
  readonly #c: Completions;
  readonly #sched: Scheduler;

  constructor(s: PoolState, c: Completions, sched: Scheduler) {
    this.#s = s;
    this.#c = c;
    this.#sched = sched;
  }

  /** Aborts the task when its `signal` does (until it settles). */
  watch(task: Task): void {
    const sig = task.o.signal;
    if (sig === undefined || task.phase === PHASE_SETTLED) return;
    const onAbort = (): void => this.abort(task);
    task.o.onAbort = onAbort;
    sig.addEventListener('abort', onAbort, { once: true });
  }

  abort(task: Task): void {
    if (task.phase === PHASE_SETTLED) return;
    const s = this.#s;
    const reason = abortReason(task.o.signal!);
    s.cancelled++;
    if (task.phase === PHASE_WAITING) {
      task.cancelled = true; // skipped when the waiting room reaches it
      s.overflowLive--;
      this.#reject(task, reason);
      this.#sched.admit();
      return;
    }
    if (task.phase === PHASE_QUEUED) {
      s.queue.remove(task);
      this.#reject(task, reason);
      this.#sched.admit();
      return;
    }
    const running = s.transport.withdraw(task);
    if (running === WITHDRAWN) {
      s.release(task); // the entry left in the ring (or the posted message) is now stale and will be skipped
      this.#reject(task, reason);
      this.#sched.refill();
      return;
    }
    if (running >= 0) this.#cancelRunning(task, s.workers[running]);
    this.#reject(task, reason);
  }

  /** Rejects a cancelled task (counted as cancelled, not as failed). */
  #reject(task: Task, reason: unknown): void {
    this.#c.settle(task, false, reason);
    this.#s.failed--;
  }

  /** Tells the worker to abort the task's signal; replaces the worker if the task outlives the grace period. */
  #cancelRunning(task: Task, w: WorkerHandle | undefined): void {
    const worker = w?.worker;
    if (w === undefined || worker === undefined) return;
    const s = this.#s;
    const m: ToWorker = { t: 'abort', id: s.transport.abortId(task) };
    worker.postMessage(m);
    const slot = task.slot;
    const timer = setTimeout(() => {
      if (s.transport.taskAt(slot) === task && w.worker === worker && !s.destroyed) {
        w.killReason = `a cancelled task ignored its abort signal for ${s.cfg.abortGraceMs} ms`;
        void worker.terminate();
      }
    }, s.cfg.abortGraceMs);
    timer.unref();
  }
}
