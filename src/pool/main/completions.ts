/**
 * Completions on the main thread: settling tasks (resolving or rejecting their promises, batch
 * results, latency samples, the idle callbacks) and the event-loop pump that collects what the
 * workers finished.
 *
 * The pump (sab transport): workers push finished entries onto per-worker completion SpscQueues
 * and ring the main doorbell only if the main thread sleeps on it. The main thread sleeps with
 * Atomics.waitAsync (it never blocks), and on waking drains the completion rings (the transport's
 * `drain`), settling futures in a batch, refills the submission rings from the queue and sleeps
 * again. With few tasks in flight it first checks again from a setImmediate and spins up to
 * `mainSpinUs` (adaptive), so a task that finishes in a few µs costs no event-loop sleep and wake.
 * The message transport needs no pump: each result arrives as a message (lifecycle.ts).
 *
 * Doorbell protocol (Dekker over SC atomics): the main thread stores SLEEPING into C_MAIN, then
 * loads the completion rings (or the signal bitmap); a worker stores into its completion ring (and
 * sets its bit), then loads the doorbell. One of the two loads sees the other's store, so a
 * completion is never left unannounced.
 *
 * State: `armed` (a waitAsync on the doorbell is pending), `idleCheckScheduled` (a setImmediate
 * check is pending), `pumpScheduled` (a pump is queued as a microtask or setImmediate). At most one
 * of each is outstanding; while tasks are in flight and no pump runs, one of the first two is.
 */

import { C_MAIN, MAIN_AWAKE, MAIN_SLEEPING } from '../layout.ts';
import type { PoolState } from './state.ts';
import { PHASE_SETTLED, type Task } from './task.ts';

const SAMPLE_MASK = 15;
const spinPause: (n?: number) => void =
  typeof (Atomics as { pause?: unknown }).pause === 'function'
    ? (Atomics as unknown as { pause: (n?: number) => void }).pause
    : () => {};

/** Which tasks' latency is sampled (1 in 16, by submission number). */
export function sampled(task: Task): boolean {
  return (task.seq & SAMPLE_MASK) === 0;
}

export class Completions {
  readonly #s: PoolState;
  /** The scheduler's refill (scheduler.ts sits above this module, so it is passed in). */
  readonly #refill: () => void;
  #armed = false;
  #microPumps = 0;
  #pumpScheduled = false;
  #idleCheckScheduled = false;
  #spinScore = 0;
  #spinTries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(s: PoolState, refill: () => void) {
    this.#s = s;
    this.#refill = refill;
  }

  settle(task: Task, ok: boolean, value: unknown): void {
    if (task.phase === PHASE_SETTLED) return;
    task.phase = PHASE_SETTLED;
    const s = this.#s;
    const o = task.o;
    if (o.onAbort !== undefined) {
      o.signal!.removeEventListener('abort', o.onAbort);
      o.onAbort = undefined;
    }
    if (ok) s.completed++;
    else s.failed++;
    if (sampled(task)) {
      const t0 = s.samples.get(task);
      if (t0 !== undefined) {
        s.samples.delete(task);
        s.latency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      }
    }
    task.arg = undefined;
    const b = task.batch;
    if (b !== undefined) {
      if (!b.done) {
        if (!ok) {
          b.done = true;
          b.reject(value);
        } else {
          b.results[task.index] = value;
          if (--b.left === 0) {
            b.done = true;
            b.resolve(b.results);
          }
        }
      }
    } else if (ok) {
      task.resolve!(value);
    } else {
      task.reject!(value);
    }
    if (--s.pending === 0) this.#onIdle();
  }

  #onIdle(): void {
    this.#s.keepAlive.unref();
    for (const r of this.#s.idleWaiters.splice(0)) r();
  }

  /** Drain, refill, sleep on the doorbell if work is out. */
  readonly pump = (): void => {
    this.#pumpScheduled = false;
    const s = this.#s;
    if (s.destroyed) return;
    s.tick();
    if (s.cfg.transport === 'sab') s.transport.drain();
    this.#refill();
    this.awaitCompletions();
  };

  /**
   * A task could not be placed (no free slot, or a ring still full of stale entries). Completions
   * normally trigger the next attempt; with nothing in flight to complete, retry on a timer.
   */
  retrySoon(): void {
    if (this.#s.inflight > 0 || this.#retryTimer !== undefined || this.#s.destroyed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.pump();
    }, 1);
    this.#retryTimer.unref();
  }

  /**
   * Called whenever tasks are out and the main thread may go idle. With few tasks in flight (a
   * latency-bound caller), first check again from a setImmediate — after the caller's
   * continuations have run and submitted their next tasks — spinning up to `mainSpinUs` for a
   * completion: a task that finishes in a few µs then costs no sleep/wake of the event loop
   * (~20–30 µs on a 2-vCPU VM). The spin adapts: after a few fruitless spins it is tried only
   * every 16th time. Otherwise, and after a fruitless spin, sleep on the doorbell.
   */
  awaitCompletions(): void {
    const s = this.#s;
    if (this.#armed || this.#idleCheckScheduled || s.inflight === 0 || s.cfg.transport !== 'sab' || s.destroyed) return;
    if (s.cfg.mainSpinMs > 0 && s.inflight <= 2 * s.cfg.threads) {
      this.#idleCheckScheduled = true;
      setImmediate(this.#idleCheck);
      return;
    }
    this.#arm();
  }

  readonly #idleCheck = (): void => {
    this.#idleCheckScheduled = false;
    const s = this.#s;
    if (this.#armed || s.inflight === 0 || s.destroyed) return;
    if (s.transport.anyCompletions()) {
      this.pump();
      return;
    }
    if (s.inflight <= 2 * s.cfg.threads && (this.#spinScore >= 0 || (++this.#spinTries & 15) === 0)) {
      const end = performance.now() + s.cfg.mainSpinMs;
      do {
        spinPause(16);
        if (s.transport.anyCompletions()) {
          if (this.#spinScore < 8) this.#spinScore++;
          this.pump();
          return;
        }
      } while (performance.now() < end);
      if (this.#spinScore > -4) this.#spinScore--;
    }
    this.#arm();
  };

  /** Sleeps on the doorbell (Atomics.waitAsync; never blocks) while tasks are out. */
  #arm(): void {
    const s = this.#s;
    if (this.#armed || s.inflight === 0 || s.cfg.transport !== 'sab' || s.destroyed) return;
    const i32 = s.i32;
    // SC store, then the completion-ring loads: see the doorbell protocol in the file comment.
    Atomics.store(i32, s.ctl + C_MAIN, MAIN_SLEEPING);
    if (s.transport.anyCompletions()) {
      Atomics.store(i32, s.ctl + C_MAIN, MAIN_AWAKE);
      this.#schedulePump();
      return;
    }
    const r = Atomics.waitAsync(i32, s.ctl + C_MAIN, MAIN_SLEEPING);
    if (!r.async) {
      this.#schedulePump();
      return;
    }
    this.#armed = true;
    this.#microPumps = 0;
    void r.value.then(this.#onDoorbell);
  }

  readonly #onDoorbell = (): void => {
    this.#armed = false;
    Atomics.store(this.#s.i32, this.#s.ctl + C_MAIN, MAIN_AWAKE);
    this.pump();
  };

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Completions keep arriving: pump again soon, but let the event loop turn every 16 rounds.
    if (++this.#microPumps < 16) queueMicrotask(this.pump);
    else {
      this.#microPumps = 0;
      setImmediate(this.pump);
    }
  }
}
