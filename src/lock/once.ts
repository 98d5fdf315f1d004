/**
 * Once: runs an initializer exactly once across all threads, after CPython's `_PyOnceFlag`
 * (`Python/lock.c`): a one-word state machine on the shared-memory ParkingLot. A throwing
 * initializer leaves the Once un-run and wakes the waiters, one of which runs it next.
 *
 * State word (one Int32; its byte offset is the parking key):
 *
 * | bits 3..30   | bit 2 | bit 1  | bit 0   | meaning                                            |
 * |--------------|-------|--------|---------|----------------------------------------------------|
 * | 0            | 0     | 0      | 0       | not run yet (or the last attempt threw)             |
 * | runner tid   | 0     | x      | 1       | RUNNING: thread `tid` is running the initializer    |
 * | 0            | 1     | 0      | 0       | DONE: final                                         |
 *
 * bit 1 is PARKED: some thread may be parked waiting for the runner.
 *
 * Algorithm
 * - call(fn): if the word is DONE, return (one load). If it is 0, CAS it to RUNNING|tid and run fn;
 *   then exchange the word for DONE (fn returned) or 0 (fn threw, and rethrow) and, if PARKED was
 *   set, unpark every waiter (`unparkAll`). If RUNNING, set PARKED and park with `validate` =
 *   "still RUNNING with PARKED set" (under the bucket lock); on wake, look again.
 * - A waiter that times out or is aborted leaves; the last one leaving clears PARKED (under the
 *   bucket lock) so the runner's exchange skips the lot.
 *
 * Invariants: DONE is final (no transition leaves it). Only the runner changes RUNNING, by one
 * exchange — or, if the runner dies (a worker watched with `region.watch`), the region's death
 * handler (registered by the first Once a thread creates or attaches), which CASes RUNNING|tid
 * back to 0 and wakes the waiters, exactly as if fn had thrown.
 * PARKED is set whenever a thread is parked on the key.
 *
 * The runner's thread id in the word catches the one certain deadlock: a synchronous call() on a
 * thread whose own initializer is running (recursion, or an async initializer pending on this
 * thread) throws instead of blocking forever. callAsync() on the runner's thread waits
 * asynchronously (another async task may be the runner); truly recursive async initializers hang.
 *
 * Memory: the runner's exchange to DONE is the release edge; a caller's load that reads DONE is the
 * acquire edge, so everything fn wrote is visible to every caller that returns.
 */

import { nowMs } from '../platform/clock.ts';
import type { ParkResult } from '../parking/lot.ts';
import { onOwnerCheck, onOwnerDeath, resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, registration, type WaitAsyncOptions } from './common.ts';

const RUNNING = 1;
const O_PARKED = 2;
const DONE = 4;
const TID_SHIFT = 3;
const MAX_TID = (1 << 28) - 1;

export interface OnceOptions {
  region?: SharedRegion;
}

export interface OnceHandle extends PrimitiveHandle {
  readonly kind: 'Once';
}

function checkFn(what: string, fn: unknown): void {
  if (typeof fn !== 'function') throw new TypeError(`Once.${what}: expected an initializer function, got ${fn === null ? 'null' : typeof fn}`);
}

// A dead thread's record may be reclaimed only once no Once names it as its runner (threads.ts).
function namesRunner(region: SharedRegion, offset: number, tid: number): boolean {
  const s = Atomics.load(region.i32, offset >> 2);
  return (s & RUNNING) !== 0 && s >>> TID_SHIFT === tid;
}

// A runner that dies (a watched worker that exits mid-initializer) counts as a throwing
// initializer: the Once goes back to "not run" and its waiters wake, one of them runs it next.
function runnerDied(region: SharedRegion, offset: number, tid: number): void {
  const i32 = region.i32;
  const idx = offset >> 2;
  let s = Atomics.load(i32, idx);
  while ((s & RUNNING) !== 0 && s >>> TID_SHIFT === tid) {
    const seen = Atomics.compareExchange(i32, idx, s, 0);
    if (seen === s) {
      if ((s & O_PARKED) !== 0) region.lot.unparkAll(offset);
      return;
    }
    s = seen;
  }
}

/** Registers the Once's owner check and owner-death handler with the region (see registration). */
export const ensureOnceRegistered = registration(() => {
  onOwnerCheck('Once', namesRunner);
  onOwnerDeath('Once', runnerDied);
});

export class Once {
  readonly region: SharedRegion;
  readonly offset: number;
  private readonly i32: Int32Array;
  private readonly idx: number;
  private readonly mine: number;
  /** This thread's id in the region. */
  private readonly tid: number;
  private cachedHandle: OnceHandle | undefined;

  constructor(opts: OnceOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new Once(opts): opts must be an object');
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
    } else {
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new Once: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('Once', 4);
    }
    this.i32 = this.region.i32;
    this.idx = this.offset >> 2;
    this.tid = this.region.threadId;
    if (this.tid > MAX_TID) throw new RangeError(`Once: thread id ${this.tid} does not fit in the state word (max ${MAX_TID})`);
    this.mine = (this.tid << TID_SHIFT) | RUNNING;
    ensureOnceRegistered();
  }

  static from(handle: OnceHandle | PrimitiveHandle): Once {
    const { region, offset } = resolveHandle(handle, 'Once');
    return new Once({}, { region, offset });
  }

  get handle(): OnceHandle {
    this.cachedHandle ??= Object.freeze({ ...this.region.handleFor('Once', this.offset), kind: 'Once' as const });
    return this.cachedHandle;
  }

  /** Whether the initializer has completed (a snapshot; once true, always true). */
  get isCompleted(): boolean {
    // Acquire edge when it reads DONE (see the header).
    return Atomics.load(this.i32, this.idx) === DONE;
  }

  /**
   * Runs `fn` if no thread has completed it yet; waits while another thread runs it. If `fn`
   * throws, the error propagates and the Once stays un-run (the next caller tries again).
   * Use callAsync for an initializer that returns a promise.
   */
  call(fn: () => unknown): void {
    if (Atomics.load(this.i32, this.idx) === DONE) return;
    checkFn('call', fn);
    this.callSlow(fn, Infinity, false);
  }

  /** Runs `fn` if nobody has; never waits. Returns true if the Once is complete on return, false if another thread is running it now. */
  tryCall(fn: () => unknown): boolean {
    if (Atomics.load(this.i32, this.idx) === DONE) return true;
    checkFn('tryCall', fn);
    return this.callSlow(fn, 0, true);
  }

  /** Like call, but waits at most `ms` for another thread's run. Returns false on timeout (fn not run by us). */
  callFor(fn: () => unknown, ms: number): boolean {
    const t = checkTimeoutMs('Once.callFor', ms);
    if (Atomics.load(this.i32, this.idx) === DONE) return true;
    checkFn('callFor', fn);
    return this.callSlow(fn, t, false);
  }

  private readonly validate = (): boolean => {
    // Under the bucket lock: sleep only while the initializer still runs and PARKED is set.
    const s = Atomics.load(this.i32, this.idx);
    return (s & (RUNNING | O_PARKED)) === (RUNNING | O_PARKED);
  };

  private readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    if (wasLast) Atomics.and(this.i32, this.idx, ~O_PARKED);
  };

  /** Publishes the run's outcome and wakes the waiters. */
  private finish(value: number): void {
    // Release edge (DONE): fn's writes happen before every load that reads DONE.
    const old = Atomics.exchange(this.i32, this.idx, value);
    if ((old & O_PARKED) !== 0) this.region.lot.unparkAll(this.offset);
  }

  private callSlow(fn: () => unknown, timeoutMs: number, noWait: boolean): boolean {
    const i32 = this.i32;
    const start = timeoutMs === Infinity ? 0 : nowMs();
    for (;;) {
      const s = Atomics.load(i32, this.idx);
      if (s === DONE) return true;
      if ((s & RUNNING) === 0) {
        if (Atomics.compareExchange(i32, this.idx, s, this.mine) !== s) continue;
        try {
          fn();
        } catch (e) {
          this.finish(0);
          throw e;
        }
        this.finish(DONE);
        return true;
      }
      if (noWait) return false;
      if (s >>> TID_SHIFT === this.tid) {
        throw new Error(
          `Once: deadlock: this thread (${this.tid}) is already running the initializer ` +
            '(a recursive call, or a callAsync pending on this thread: use callAsync)',
        );
      }
      // Deadline first: a waiter that will not park must not set PARKED (nobody would clear it).
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = start + timeoutMs - nowMs();
        if (left <= 0) return false;
      }
      if ((s & O_PARKED) === 0 && Atomics.compareExchange(i32, this.idx, s, s | O_PARKED) !== s) continue;
      const r: ParkResult = this.region.lot.park(this.offset, this.validate, { timeoutMs: left, timedOut: this.clearParkedIfLast, fairAtUs: null });
      if (r.result === 'timedOut') return Atomics.load(i32, this.idx) === DONE;
    }
  }

  /**
   * Async form: runs (and awaits) `fn` if nobody has completed it, else waits for the running
   * thread without blocking the event loop. Rejects with fn's error (the Once stays un-run), or
   * with TimeoutError / the signal's reason if waiting for another runner took too long.
   */
  async callAsync(fn: () => unknown, opts: WaitAsyncOptions = {}): Promise<void> {
    if (Atomics.load(this.i32, this.idx) === DONE) return;
    checkFn('callAsync', fn);
    if (opts === null || typeof opts !== 'object') throw new TypeError('Once.callAsync: opts must be an object');
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? Infinity : checkTimeoutMs('Once.callAsync', opts.timeoutMs);
    checkSignal('Once.callAsync', signal);
    const i32 = this.i32;
    const start = nowMs();
    for (;;) {
      const s = Atomics.load(i32, this.idx);
      if (s === DONE) return;
      if ((s & RUNNING) === 0) {
        if (Atomics.compareExchange(i32, this.idx, s, this.mine) !== s) continue;
        try {
          await fn();
        } catch (e) {
          this.finish(0);
          throw e;
        }
        this.finish(DONE);
        return;
      }
      if (signal?.aborted) throw abortReason(signal);
      const left = timeoutMs === Infinity ? undefined : start + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) throw new TimeoutError(`Once.callAsync: timed out after ${timeoutMs} ms waiting for the running initializer`);
      if ((s & O_PARKED) === 0 && Atomics.compareExchange(i32, this.idx, s, s | O_PARKED) !== s) continue;
      const r = await this.region.lot.parkAsync(this.offset, this.validate, { timeoutMs: left, signal, timedOut: this.clearParkedIfLast, fairAtUs: null });
      if (r.result === 'timedOut' || r.result === 'aborted') {
        if (Atomics.load(i32, this.idx) === DONE) return;
        if (r.result === 'timedOut') throw new TimeoutError(`Once.callAsync: timed out after ${timeoutMs} ms waiting for the running initializer`);
        throw abortReason(signal as AbortSignal);
      }
    }
  }
}
