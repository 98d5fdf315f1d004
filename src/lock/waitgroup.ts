/**
 * WaitGroup: Go's `sync.WaitGroup` on the shared-memory ParkingLot: a counter that workers
 * decrement with `done()` and that waiters wait on until it reaches zero.
 *
 * State word (one Int32; its byte offset is the parking key):
 *
 * | bits 1..30 | bit 0  | meaning                                               |
 * |------------|--------|-------------------------------------------------------|
 * | count      | PARKED | PARKED: some waiter may be parked until count is 0    |
 *
 * Algorithm
 * - add(n) / done(): one CAS changes the count (n may be negative; the result must stay in
 *   0..2^30-1, else RangeError with nothing changed). The CAS that brings the count to 0 also
 *   clears PARKED, and if PARKED was set its caller unparks every waiter (`unparkAll`).
 * - wait(): return if the count is 0; else spin briefly (multi-core only), set PARKED and park
 *   with `validate` = "count > 0 and PARKED set" (under the bucket lock); on wake, look again.
 *
 * Invariants: PARKED is set whenever a thread is parked on the key: waiters set it before
 * parking and validate it under the bucket lock, and only the zeroing CAS (followed by
 * unparkAll, which then finds every waiter that validated before it) or the last waiter leaving
 * on timeout (under the bucket lock) clears it. So a waiter never sleeps through a zero.
 *
 * No owner: the WaitGroup does not know who will call done(). If a worker dies before its done(),
 * the count never reaches zero; every wait is timed and abortable (`waitFor(ms)`,
 * `waitAsync({ timeoutMs, signal })`), and the owner of the work can `add(-k)` for the k workers
 * it knows died (for instance from the Worker 'exit' event) to release the waiters.
 *
 * Memory: each done() is a release RMW; the waiter's load that reads count 0 is the acquire edge
 * (the RMWs on the word form one chain), so every worker's writes before done() are visible to the
 * waiters after wait() returns.
 */

import { nowMs } from '../platform/clock.ts';
import { CORES, pause } from '../platform/host.ts';
import type { ParkResult } from '../parking/lot.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, type WaitAsyncOptions } from './common.ts';

const G_PARKED = 1;
const ONE = 2;
/** Largest count. */
export const MAX_COUNT = (1 << 30) - 1;
const SPIN = CORES > 1 ? 64 : 0;

export interface WaitGroupOptions {
  region?: SharedRegion;
}

export interface WaitGroupHandle extends PrimitiveHandle {
  readonly kind: 'WaitGroup';
}

export class WaitGroup {
  readonly region: SharedRegion;
  readonly offset: number;
  private readonly i32: Int32Array;
  private readonly idx: number;
  private cachedHandle: WaitGroupHandle | undefined;

  constructor(opts: WaitGroupOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new WaitGroup(opts): opts must be an object');
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
    } else {
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new WaitGroup: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('WaitGroup', 4);
    }
    this.i32 = this.region.i32;
    this.idx = this.offset >> 2;
  }

  static from(handle: WaitGroupHandle | PrimitiveHandle): WaitGroup {
    const { region, offset } = resolveHandle(handle, 'WaitGroup');
    return new WaitGroup({}, { region, offset });
  }

  get handle(): WaitGroupHandle {
    this.cachedHandle ??= Object.freeze({ ...this.region.handleFor('WaitGroup', this.offset), kind: 'WaitGroup' as const });
    return this.cachedHandle;
  }

  /** The counter now (a snapshot). */
  get count(): number {
    return Atomics.load(this.i32, this.idx) >>> 1;
  }

  /** Adds `n` (an integer, may be negative) to the counter; at zero, every waiter is released. */
  add(n = 1): void {
    if (typeof n !== 'number' || !Number.isInteger(n)) throw new RangeError(`WaitGroup.add: n must be an integer, got ${String(n)}`);
    this.change(n, 'add');
  }

  /** Decrements the counter by one. Throws RangeError (changing nothing) if it is already zero. */
  done(): void {
    this.change(-1, 'done');
  }

  private change(n: number, what: 'add' | 'done'): void {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    let next: number;
    for (;;) {
      const c = s >>> 1;
      next = c + n;
      if (next < 0) {
        throw new RangeError(
          what === 'done'
            ? 'WaitGroup.done: the counter is already zero (done() called more times than add())'
            : `WaitGroup.add(${n}): the counter (${c}) would go negative`,
        );
      }
      if (next > MAX_COUNT) throw new RangeError(`WaitGroup.add(${n}): the counter (${c}) would exceed ${MAX_COUNT}`);
      // Release edge: the waiter that reads the zero count reads this RMW's chain.
      const ns = next === 0 ? 0 : next * ONE + (s & G_PARKED);
      const seen = Atomics.compareExchange(i32, this.idx, s, ns);
      if (seen === s) break;
      s = seen;
    }
    // We zeroed the count and cleared PARKED: wake everyone who validated before our CAS.
    if (next === 0 && (s & G_PARKED) !== 0) this.region.lot.unparkAll(this.offset);
  }

  /** Whether the counter is zero now; never waits. */
  tryWait(): boolean {
    // Acquire edge when it reads 0.
    return Atomics.load(this.i32, this.idx) >>> 1 === 0;
  }

  /** Blocks until the counter is zero. */
  wait(): void {
    if (Atomics.load(this.i32, this.idx) >>> 1 === 0) return;
    this.waitSlow(Infinity);
  }

  /** Waits at most `ms` for the counter to reach zero. Returns whether it did. */
  waitFor(ms: number): boolean {
    const t = checkTimeoutMs('WaitGroup.waitFor', ms);
    if (Atomics.load(this.i32, this.idx) >>> 1 === 0) return true;
    return this.waitSlow(t);
  }

  private readonly validate = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return s >>> 1 !== 0 && (s & G_PARKED) !== 0;
  };

  private readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    if (wasLast) Atomics.and(this.i32, this.idx, ~G_PARKED);
  };

  private waitSlow(timeoutMs: number): boolean {
    const i32 = this.i32;
    const start = timeoutMs === Infinity ? 0 : nowMs();
    for (let i = 0; i < SPIN; i++) {
      if (Atomics.load(i32, this.idx) >>> 1 === 0) return true;
      pause(i);
    }
    for (;;) {
      const s = Atomics.load(i32, this.idx);
      if (s >>> 1 === 0) return true;
      // Deadline first: a waiter that will not park must not set PARKED (nobody would clear it).
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = start + timeoutMs - nowMs();
        if (left <= 0) return false;
      }
      if ((s & G_PARKED) === 0 && Atomics.compareExchange(i32, this.idx, s, s | G_PARKED) !== s) continue;
      const r: ParkResult = this.region.lot.park(this.offset, this.validate, { timeoutMs: left, timedOut: this.clearParkedIfLast, fairAtUs: null });
      if (r.result === 'timedOut') return Atomics.load(i32, this.idx) >>> 1 === 0;
    }
  }

  /** Waits for zero without blocking the event loop (rejects with TimeoutError / the signal's reason). */
  async waitAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    // Options are checked whatever the count, so bad input fails the same way every time.
    if (opts === null || typeof opts !== 'object') throw new TypeError('WaitGroup.waitAsync: opts must be an object');
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? Infinity : checkTimeoutMs('WaitGroup.waitAsync', opts.timeoutMs);
    checkSignal('WaitGroup.waitAsync', signal);
    if (Atomics.load(this.i32, this.idx) >>> 1 === 0) return;
    if (signal?.aborted) throw abortReason(signal);
    const i32 = this.i32;
    const start = nowMs();
    for (;;) {
      const s = Atomics.load(i32, this.idx);
      if (s >>> 1 === 0) return;
      const left = timeoutMs === Infinity ? undefined : start + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) throw new TimeoutError(`WaitGroup.waitAsync: timed out after ${timeoutMs} ms`);
      if ((s & G_PARKED) === 0 && Atomics.compareExchange(i32, this.idx, s, s | G_PARKED) !== s) continue;
      const r = await this.region.lot.parkAsync(this.offset, this.validate, { timeoutMs: left, signal, timedOut: this.clearParkedIfLast, fairAtUs: null });
      if (r.result === 'timedOut' || r.result === 'aborted') {
        if (Atomics.load(i32, this.idx) >>> 1 === 0) return;
        if (r.result === 'timedOut') throw new TimeoutError(`WaitGroup.waitAsync: timed out after ${timeoutMs} ms`);
        throw abortReason(signal as AbortSignal);
      }
    }
  }
}
