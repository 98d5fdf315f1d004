/**
 * BlockingQueue: the blocking, timed and async forms of push and pop, shared by MpmcQueue and
 * SpscQueue. A subclass supplies the non-blocking ring operations (`rawPush`, `rawPop`), the
 * "looks empty/full" checks the parking lot runs under its bucket lock, and the wake-ups after a
 * successful operation (`afterPush`, `afterPop`); this class adds the retry-then-park loops.
 *
 * Algorithm (for every blocking form): with the fast path on, try the ring operation; if it
 * fails, retry SPIN_TRIES times with growing pauses, then park on the queue's key through the
 * counted park of blocking.ts (whose waiter-word protocol guarantees no lost wake-up); after
 * every wake, try again; give up only at the deadline. With the fast path off, the first try is
 * skipped and the thread goes straight to the lot (whose validate returns at once when an item
 * or a free cell is there).
 *
 * Invariant: a blocking form returns a value or reports a timeout/abort, never both; a value
 * taken by the final try after a timeout or an abort is returned, not dropped (the try comes
 * before the check of the park's result).
 */

import { TimeoutError } from '../errors.ts';
import { abortReason } from '../lock/common.ts';
import type { ParkingLot } from '../parking/lot.ts';
import type { SharedRegion } from '../parking/region.ts';
import { nowMs } from '../platform/clock.ts';
import { pause } from '../platform/host.ts';
import { checkInt32, checkMs, checkWaitOptions, parkCounted, parkCountedAsync, POP_WAITER, PUSH_WAITER, SPIN_TRIES } from './blocking.ts';

/** Options of the async forms: an AbortSignal and a timeout in milliseconds. */
export interface QueueWaitOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export abstract class BlockingQueue {
  /** The class name used in error messages. */
  protected abstract readonly name: string;
  protected readonly lot: ParkingLot;
  protected readonly i32: Int32Array;
  /** Int32 index of the queue's waiter word (see blocking.ts). */
  protected readonly waitIdx: number;
  /** Parking key of consumers waiting for an item (the waiter word's byte offset). */
  protected readonly keyNotEmpty: number;
  /** Parking key of producers waiting for room (the word after the waiter word). */
  protected readonly keyNotFull: number;
  protected readonly fastPath: boolean;

  protected constructor(region: SharedRegion, waitIdx: number, fastPath: boolean) {
    this.lot = region.lot;
    this.i32 = region.i32;
    this.waitIdx = waitIdx;
    this.keyNotEmpty = waitIdx * 4;
    this.keyNotFull = this.keyNotEmpty + 4;
    this.fastPath = fastPath;
  }

  /** One non-blocking push attempt (no wake-ups). */
  protected abstract rawPush(value: number): boolean;
  /** One non-blocking pop attempt (no wake-ups), or `undefined`. */
  protected abstract rawPop(): number | undefined;
  /** Wake-ups owed after `n` values were pushed. */
  protected abstract afterPush(n?: number): void;
  /** Wake-ups owed after `n` values were popped. */
  protected abstract afterPop(n?: number): void;
  /** Validate for parked consumers (runs under the bucket lock). */
  protected abstract readonly looksEmpty: () => boolean;
  /** Validate for parked producers (runs under the bucket lock). */
  protected abstract readonly looksFull: () => boolean;

  // ---------------------------------------------------------------- blocking

  /** Appends `value`, blocking this thread (spin, then park) while the queue is full. */
  push(value: number): void {
    checkInt32(`${this.name}.push`, value);
    if (this.fastPath && this.rawPush(value)) {
      this.afterPush();
      return;
    }
    this.pushSlow(value, Infinity);
  }

  /** Removes the oldest value, blocking this thread (spin, then park) while the queue is empty. */
  pop(): number {
    if (this.fastPath) {
      const v = this.rawPop();
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
    }
    return this.popSlow(Infinity) as number;
  }

  /** Waits at most `ms` for room. Returns whether `value` was pushed. */
  tryPushFor(value: number, ms: number): boolean {
    checkInt32(`${this.name}.tryPushFor`, value);
    return this.pushSlow(value, checkMs(`${this.name}.tryPushFor`, ms));
  }

  /** Waits at most `ms` for a value. Returns it, or `undefined` on timeout. */
  tryPopFor(ms: number): number | undefined {
    return this.popSlow(checkMs(`${this.name}.tryPopFor`, ms));
  }

  // ---------------------------------------------------------------- async

  /**
   * Removes the oldest value without blocking the event loop. Rejects with `TimeoutError` after
   * `timeoutMs`, or with the signal's reason when aborted (no value is consumed then).
   */
  async popAsync(opts: QueueWaitOptions = {}): Promise<number> {
    const { timeout, signal } = checkWaitOptions(`${this.name}.popAsync`, opts);
    if (this.fastPath) {
      const v = this.rawPop();
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
    }
    const deadline = nowMs() + timeout;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const r = await parkCountedAsync(this.lot, this.i32, this.waitIdx, POP_WAITER, this.keyNotEmpty, this.looksEmpty, deadline - nowMs(), signal);
      const v = this.rawPop();
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
      if (r.result === 'aborted') throw abortReason(signal!);
      if (r.result === 'timedOut' || nowMs() >= deadline) throw new TimeoutError(`${this.name}.popAsync: no value within ${timeout} ms`);
    }
  }

  /** Appends `value` without blocking the event loop; rejects like {@link popAsync}. */
  async pushAsync(value: number, opts: QueueWaitOptions = {}): Promise<void> {
    checkInt32(`${this.name}.pushAsync`, value);
    const { timeout, signal } = checkWaitOptions(`${this.name}.pushAsync`, opts);
    if (this.fastPath && this.rawPush(value)) {
      this.afterPush();
      return;
    }
    const deadline = nowMs() + timeout;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const r = await parkCountedAsync(this.lot, this.i32, this.waitIdx, PUSH_WAITER, this.keyNotFull, this.looksFull, deadline - nowMs(), signal);
      if (this.rawPush(value)) {
        this.afterPush();
        return;
      }
      if (r.result === 'aborted') throw abortReason(signal!);
      if (r.result === 'timedOut' || nowMs() >= deadline) throw new TimeoutError(`${this.name}.pushAsync: no room within ${timeout} ms`);
    }
  }

  /**
   * Async iteration: yields values as they arrive, forever, until `signal` aborts (then the
   * loop ends without consuming anything more). Uses the try-then-park fast path.
   */
  async *values(opts: { signal?: AbortSignal } = {}): AsyncGenerator<number, void, undefined> {
    const { signal } = opts;
    for (;;) {
      let v: number;
      try {
        v = await this.popAsync({ signal });
      } catch (e) {
        if (signal?.aborted) return;
        throw e;
      }
      yield v;
    }
  }

  // ---------------------------------------------------------------- slow paths

  private popSlow(timeoutMs: number): number | undefined {
    const deadline = timeoutMs === Infinity ? Infinity : nowMs() + timeoutMs;
    for (;;) {
      if (this.fastPath) {
        for (let i = 0; i < SPIN_TRIES; i++) {
          pause(1 << Math.min(i, 4));
          const v = this.rawPop();
          if (v !== undefined) {
            this.afterPop();
            return v;
          }
        }
      }
      const left = deadline - nowMs();
      const r = parkCounted(this.lot, this.i32, this.waitIdx, POP_WAITER, this.keyNotEmpty, this.looksEmpty, left < 0 ? 0 : left);
      const v = this.rawPop();
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
      if (r.result === 'timedOut' || nowMs() >= deadline) return undefined;
    }
  }

  private pushSlow(value: number, timeoutMs: number): boolean {
    const deadline = timeoutMs === Infinity ? Infinity : nowMs() + timeoutMs;
    for (;;) {
      if (this.fastPath) {
        for (let i = 0; i < SPIN_TRIES; i++) {
          if (i > 0) pause(1 << Math.min(i, 4));
          if (this.rawPush(value)) {
            this.afterPush();
            return true;
          }
        }
      }
      const left = deadline - nowMs();
      const r = parkCounted(this.lot, this.i32, this.waitIdx, PUSH_WAITER, this.keyNotFull, this.looksFull, left < 0 ? 0 : left);
      if (this.rawPush(value)) {
        this.afterPush();
        return true;
      }
      if (r.result === 'timedOut' || nowMs() >= deadline) return false;
    }
  }
}
