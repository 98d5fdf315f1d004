/**
 * Semaphore: a counting semaphore on the shared-memory ParkingLot with FIFO hand-off of permits,
 * so a large request is never starved by a stream of small ones, and `acquire(n)` / `release(n)`
 * are single atomic operations (batched semaphore operations).
 *
 * Block (two Int32 words; word 0's byte offset is the parking key):
 *
 * | word | bits 1..30        | bit 0  | meaning                                                   |
 * |------|-------------------|--------|-----------------------------------------------------------|
 * | 0    | available permits | PARKED | PARKED: the FIFO of waiters on the key is non-empty       |
 * | 1    | max permits, or -1 for unbounded (written once at creation)                            |
 *
 * Algorithm
 * - acquire(n): if PARKED is clear and ≥ n permits are available, CAS them away (one RMW). If
 *   PARKED is set, someone is queued ahead: queue behind it (FIFO), even if permits are free —
 *   this is what keeps big requests from starving. With `wait: 'adaptive'` the thread first
 *   spins a short while (only while nobody is queued, and only while the region's live threads fit
 *   the cores: see spinCanPay), with `'block'` it parks at once.
 * - Parking: `validate` (under the bucket lock) re-reads the word: if nobody is queued and enough
 *   permits appeared, it refuses (retry); otherwise it sets PARKED and the waiter is queued with
 *   its request `n` as park token.
 * - release(n): adds n permits with one CAS (checking `max`); if PARKED is set it dispatches:
 *   `unparkFilter` walks the FIFO, grants each waiter its n while the permits suffice, stops at
 *   the first that does not fit, and (in the callback, under the bucket lock) subtracts what it
 *   granted and clears PARKED if nobody is left. Granted waiters wake up owning their permits.
 * - A waiter that times out or is aborted leaves the queue without taking anything; if it was
 *   at the head, the permits may now fit the next waiter, so it dispatches too.
 *
 * Invariants
 * - PARKED is set exactly when the key's queue is non-empty (as seen under its bucket lock): it
 *   is set by a parker's validate and cleared by a dispatch callback or the last leaving waiter,
 *   all under that lock. So while anyone is queued, only dispatch takes permits from the word and
 *   the count read in the filter can only grow until the callback subtracts from it.
 * - Permits are never lost: every permit is in the word, held by a caller, or being granted under
 *   the bucket lock to a waiter that will return success (the lot never drops a granted unpark).
 * - Bad input (negative, non-integer, above the maximum) throws RangeError before any change.
 *
 * No owner: a semaphore does not know who holds its permits. If a worker dies holding permits,
 * they are gone (the count stays lower) and waiters that need them wait until their timeout or
 * abort: every wait (`tryAcquireFor`, `acquireAsync({ timeoutMs, signal })`) is timed and
 * abortable, and a timed-out or aborted waiter takes no permits. Use a Mutex/RwLock (which
 * detect owner death) where a dead holder must be noticed. A worker that dies while *queued*
 * (watched with `region.watch`) is purged by the region, and the death handler below (registered
 * by the first Semaphore a thread creates or attaches) re-runs the dispatch so the waiters behind
 * it are not stuck.
 *
 * Memory: release's CAS is a release edge; the acquirer's CAS (or the dispatcher's CAS followed
 * by the lot's wake) is the acquire edge, so a releaser's writes are visible to the next holder.
 */

import { nowMs, nowUs } from '../platform/clock.ts';
import { CORES, pause } from '../platform/host.ts';
import { onOwnerDeath, resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, registration, spinCanPay, type WaitAsyncOptions } from './common.ts';
import { LockGuard } from './guard.ts';
import type { FilterOp, UnparkResult } from '../parking/lot.ts';

const S_PARKED = 1;
const PERMIT = 2;
/** Largest permit count the word holds. */
export const MAX_PERMITS = (1 << 30) - 1;
const W_STATE = 0;
const W_MAX = 1;
const BLOCK_BYTES = 8;
const TOKEN_GRANTED = 1;

const ADAPTIVE_SPIN = CORES > 1 ? 100 : 0;

export type SemaphoreWait = 'adaptive' | 'block';

export interface SemaphoreOptions {
  region?: SharedRegion;
  /** Upper bound on available permits: releasing above it throws RangeError. Default: unbounded. */
  max?: number;
  /**
   * 'adaptive' (default): spin briefly before parking, while the region's threads fit the cores
   * (with more, a spinner only keeps one more thread runnable); 'block': park at once. Per thread.
   */
  wait?: SemaphoreWait;
}

export interface SemaphoreHandle extends PrimitiveHandle {
  readonly kind: 'Semaphore';
  readonly options: { readonly wait: SemaphoreWait };
}

function checkWait(v: unknown): SemaphoreWait {
  if (v === 'adaptive' || v === 'block') return v;
  throw new RangeError(`Semaphore option \`wait\` must be 'adaptive' or 'block', got ${JSON.stringify(v)}`);
}

/** Holds `n` permits; `[Symbol.dispose]` (or `release()`) gives them back once. */
export class SemaphoreGuard extends LockGuard<Semaphore> {
  readonly permits: number;
  constructor(sem: Semaphore, permits: number) {
    super(sem);
    this.permits = permits;
  }
  protected override unlock(sem: Semaphore): void {
    sem.release(this.permits);
  }
}

/**
 * Grants permits to the waiters queued on the semaphore at `offset`, in FIFO order while they fit;
 * clears PARKED if nobody is left.
 */
function dispatch(region: SharedRegion, offset: number): void {
  const i32 = region.i32;
  const idx = offset >> 2;
  let avail = -1;
  let taken = 0;
  region.lot.unparkFilter(
    offset,
    (want: number): FilterOp => {
      // Under the bucket lock with a waiter queued, so PARKED is set and the count only grows.
      if (avail < 0) avail = Atomics.load(i32, idx) >>> 1;
      if (want > avail) return 'stop';
      avail -= want;
      taken += want;
      return 'unpark';
    },
    (r: UnparkResult): number => {
      // Release edge for the granted waiters: their wake follows this CAS.
      let s = Atomics.load(i32, idx);
      for (;;) {
        let next = s - taken * PERMIT;
        if (!r.haveMore) next &= ~S_PARKED;
        if (next === s) break;
        const seen = Atomics.compareExchange(i32, idx, s, next);
        if (seen === s) break;
        s = seen;
      }
      return TOKEN_GRANTED;
    },
  );
}

// A thread that dies while queued is purged from the queue by the region. If it was the last
// waiter, PARKED would stay set (every acquire would then queue behind nobody), and if it was the
// head, the permits may now fit the next waiter: dispatch once to settle both.
function waiterDied(region: SharedRegion, offset: number): void {
  if ((Atomics.load(region.i32, offset >> 2) & S_PARKED) !== 0) dispatch(region, offset);
}

/** Registers the Semaphore's owner-death handler with the region (see registration in common.ts). */
export const ensureSemaphoreRegistered = registration(() => onOwnerDeath('Semaphore', waiterDied));

export class Semaphore {
  readonly region: SharedRegion;
  /** Byte offset of the state word (also the parking key). */
  readonly offset: number;
  /** The configured maximum, or Infinity. */
  readonly max: number;
  readonly waitMode: SemaphoreWait;
  private readonly i32: Int32Array;
  private readonly idx: number;
  private readonly spin: number;
  /** Request of the acquire being validated (validate runs synchronously inside park/parkAsync). */
  private want = 0;
  private parkCount = 0;
  private cachedHandle: SemaphoreHandle | undefined;

  /** `new Semaphore(permits, opts)`: `permits` available at first (an integer from 0 to `max`). */
  constructor(permits: number, opts: SemaphoreOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new Semaphore(permits, opts): opts must be an object');
    this.waitMode = checkWait(opts.wait ?? 'adaptive');
    this.spin = this.waitMode === 'adaptive' ? ADAPTIVE_SPIN : 0;
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
      this.i32 = this.region.i32;
      // Written once at creation; the handle's transfer orders it before this read.
      const m = Atomics.load(this.i32, (this.offset >> 2) + W_MAX);
      this.max = m < 0 ? Infinity : m;
    } else {
      const max = opts.max ?? Infinity;
      if (max !== Infinity && (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > MAX_PERMITS)) {
        throw new RangeError(`Semaphore option \`max\` must be an integer from 0 to ${MAX_PERMITS}, got ${String(max)}`);
      }
      if (typeof permits !== 'number' || !Number.isInteger(permits) || permits < 0 || permits > Math.min(max, MAX_PERMITS)) {
        throw new RangeError(`new Semaphore(permits): permits must be an integer from 0 to ${Math.min(max, MAX_PERMITS)}, got ${String(permits)}`);
      }
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new Semaphore: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('Semaphore', BLOCK_BYTES);
      this.i32 = region.i32;
      this.max = max;
      Atomics.store(this.i32, (this.offset >> 2) + W_MAX, max === Infinity ? -1 : max);
      Atomics.store(this.i32, (this.offset >> 2) + W_STATE, permits * PERMIT);
    }
    this.idx = (this.offset >> 2) + W_STATE;
    ensureSemaphoreRegistered();
  }

  static from(handle: SemaphoreHandle | PrimitiveHandle, opts: Omit<SemaphoreOptions, 'region' | 'max'> = {}): Semaphore {
    if (opts === null || typeof opts !== 'object') throw new TypeError('Semaphore.from(handle, opts): opts must be an object');
    const { region, offset } = resolveHandle(handle, 'Semaphore');
    const carried = (handle as Partial<SemaphoreHandle>).options;
    return new Semaphore(0, { wait: carried?.wait, ...opts }, { region, offset });
  }

  get handle(): SemaphoreHandle {
    this.cachedHandle ??= Object.freeze({
      ...this.region.handleFor('Semaphore', this.offset),
      kind: 'Semaphore' as const,
      options: Object.freeze({ wait: this.waitMode }),
    });
    return this.cachedHandle;
  }

  /** Permits available now (a snapshot). */
  get available(): number {
    return Atomics.load(this.i32, this.idx) >>> 1;
  }

  /** How many times this thread parked on this semaphore (a per-thread statistic). */
  get parks(): number {
    return this.parkCount;
  }

  private checkN(what: string, n: unknown): number {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`Semaphore.${what}: permits must be a non-negative integer, got ${String(n)}`);
    }
    if (n > this.max || n > MAX_PERMITS) {
      throw new RangeError(`Semaphore.${what}: ${n} permits can never be available (max ${Math.min(this.max, MAX_PERMITS)})`);
    }
    return n;
  }

  /** One CAS attempt loop for the fast path: only when nobody is queued (FIFO). */
  private tryTake(n: number): boolean {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if ((s & S_PARKED) !== 0 || s >>> 1 < n) return false;
      // Acquire edge: reads the releasing CAS that put these permits in.
      const seen = Atomics.compareExchange(i32, this.idx, s, s - n * PERMIT);
      if (seen === s) return true;
      s = seen;
    }
  }

  /** Takes `n` permits, blocking this thread until they are granted. */
  acquire(n = 1): void {
    this.checkN('acquire', n);
    if (!this.tryTake(n)) this.acquireSlow(n, Infinity);
  }

  /** Takes `n` permits if they are available and nobody is queued ahead; never waits. */
  tryAcquire(n = 1): boolean {
    this.checkN('tryAcquire', n);
    return this.tryTake(n);
  }

  /** Waits at most `ms` for `n` permits. On false nothing was taken. */
  tryAcquireFor(n: number, ms: number): boolean {
    this.checkN('tryAcquireFor', n);
    const t = checkTimeoutMs('Semaphore.tryAcquireFor', ms);
    return this.tryTake(n) || this.acquireSlow(n, t);
  }

  private readonly validate = (): boolean => {
    // Under the bucket lock. Queue behind anyone already queued; refuse to sleep if nobody is and
    // the permits are there (the caller retries the fast path).
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if ((s & S_PARKED) !== 0) return true;
      if (s >>> 1 >= this.want) return false;
      const seen = Atomics.compareExchange(i32, this.idx, s, s | S_PARKED);
      if (seen === s) return true;
      s = seen;
    }
  };

  private readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    if (wasLast) Atomics.and(this.i32, this.idx, ~S_PARKED);
  };

  private acquireSlow(n: number, timeoutMs: number): boolean {
    const i32 = this.i32;
    const start = timeoutMs === Infinity ? 0 : nowMs();
    let spins = 0;
    // 'adaptive' spins only while the region's live threads fit the cores (see spinCanPay).
    const budget = this.spin > 0 && spinCanPay(this.region.threads) ? this.spin : 0;
    for (;;) {
      if (this.tryTake(n)) return true;
      const s = Atomics.load(i32, this.idx);
      if ((s & S_PARKED) === 0 && spins < budget) {
        pause(spins);
        spins++;
        continue;
      }
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = start + timeoutMs - nowMs();
        if (left <= 0) return false;
      }
      this.want = n;
      this.parkCount++;
      const r = this.region.lot.park(this.offset, this.validate, { token: n, timeoutMs: left, timedOut: this.clearParkedIfLast, fairAtUs: null });
      // Granted: the dispatcher moved our permits to us under the bucket lock; its wake is the acquire edge.
      if (r.result === 'unparked') return true;
      if (r.result === 'timedOut') {
        this.dispatchIfWaiting();
        return false;
      }
      spins = 0; // 'invalid': permits appeared; retry
    }
  }

  /** Takes `n` permits without blocking the event loop (rejects with TimeoutError / the signal's reason, taking nothing). */
  async acquireAsync(n = 1, opts: WaitAsyncOptions = {}): Promise<void> {
    this.checkN('acquireAsync', n);
    if (opts === null || typeof opts !== 'object') throw new TypeError('Semaphore.acquireAsync: opts must be an object');
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? Infinity : checkTimeoutMs('Semaphore.acquireAsync', opts.timeoutMs);
    checkSignal('Semaphore.acquireAsync', signal);
    if (this.tryTake(n)) return;
    if (signal?.aborted) throw abortReason(signal);
    const start = nowMs();
    for (;;) {
      if (this.tryTake(n)) return;
      const left = timeoutMs === Infinity ? undefined : start + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) throw new TimeoutError(`Semaphore.acquireAsync: timed out after ${timeoutMs} ms`);
      this.want = n;
      this.parkCount++;
      const r = await this.region.lot.parkAsync(this.offset, this.validate, {
        token: n,
        timeoutMs: left,
        signal,
        timedOut: this.clearParkedIfLast,
        fairAtUs: nowUs(),
      });
      if (r.result === 'unparked') {
        if (signal?.aborted) {
          // Aborted while the permits were being granted: give them back, report the abort.
          this.release(n);
          throw abortReason(signal);
        }
        return;
      }
      if (r.result === 'timedOut' || r.result === 'aborted') {
        this.dispatchIfWaiting();
        if (r.result === 'timedOut') throw new TimeoutError(`Semaphore.acquireAsync: timed out after ${timeoutMs} ms`);
        throw abortReason(signal as AbortSignal);
      }
    }
  }

  /** Returns `n` permits, granting them to queued waiters in FIFO order. Throws RangeError (changing nothing) above `max`. */
  release(n = 1): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`Semaphore.release: permits must be a non-negative integer, got ${String(n)}`);
    }
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      const avail = s >>> 1;
      if (avail + n > this.max || avail + n > MAX_PERMITS) {
        throw new RangeError(
          `Semaphore.release(${n}): ${avail} permits are available, releasing ${n} would exceed the maximum of ${Math.min(this.max, MAX_PERMITS)}`,
        );
      }
      // Release edge: the next acquirer (or dispatcher) reads this CAS.
      const seen = Atomics.compareExchange(i32, this.idx, s, s + n * PERMIT);
      if (seen === s) break;
      s = seen;
    }
    if ((s & S_PARKED) !== 0) this.dispatch();
  }

  private dispatchIfWaiting(): void {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & S_PARKED) !== 0 && s >>> 1 > 0) this.dispatch();
  }

  /** Grants permits to queued waiters in FIFO order while they fit. */
  private dispatch(): void {
    dispatch(this.region, this.offset);
  }

  // ------------------------------------------------------------------ guards and helpers

  /** `using g = sem.acquireGuard(n)`: releases the n permits at the end of the block. */
  acquireGuard(n = 1): SemaphoreGuard {
    this.acquire(n);
    return new SemaphoreGuard(this, n);
  }

  async acquireGuardAsync(n = 1, opts?: WaitAsyncOptions): Promise<SemaphoreGuard> {
    await this.acquireAsync(n, opts);
    return new SemaphoreGuard(this, n);
  }

  /** Runs `fn` holding `n` permits. */
  withPermits<T>(n: number, fn: () => T): T {
    this.acquire(n);
    try {
      return fn();
    } finally {
      this.release(n);
    }
  }

  async withPermitsAsync<T>(n: number, fn: () => T | Promise<T>, opts?: WaitAsyncOptions): Promise<T> {
    await this.acquireAsync(n, opts);
    try {
      return await fn();
    } finally {
      this.release(n);
    }
  }
}
