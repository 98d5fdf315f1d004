/**
 * MpmcQueue: a bounded multi-producer multi-consumer queue of Int32 values in a SharedRegion.
 *
 * Algorithm: Vyukov's bounded MPMC ring (see ring.ts for the cell protocol, invariants, memory
 * edges and sources), plus blocking and async waits on the region's ParkingLot (see
 * blocking.ts for the no-lost-wake-up protocol). Size: 512 header bytes (producer counter,
 * consumer counter and waiter word each on their own 128-byte line) + 8 bytes per cell.
 *
 * Progress: `tryPush`/`tryPop` never block but are not strictly lock-free: a thread preempted
 * in the middle of a push (after claiming its cell, before publishing it) makes pops of that one
 * cell report "empty" until it resumes. They may therefore **fail spuriously**:
 * - `tryPop()` may return `undefined` while the queue is non-empty, but only while some
 *   `tryPush`/`push` that overlaps it in time is still in progress;
 * - `tryPush()` may return `false` while the queue has room, but only while some pop that
 *   overlaps it in time is still in progress.
 * Successful operations are linearizable: FIFO in the order producers claimed their cells (so
 * per-producer FIFO), every value popped exactly once. The blocking forms (`push`, `pop`,
 * `…For`, `…Async`) retry a few times, then park, and are woken by the operation that makes
 * progress possible, so they never fail spuriously.
 *
 * `size` is approximate: claimed pushes minus claimed pops, exact only when the queue is quiet.
 */

import { nowMs } from '../platform/clock.ts';
import type { ParkingLot } from '../parking/lot.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason } from '../lock/common.ts';
import {
  checkBatchRange, checkFastPath, checkInt32, checkMs, checkPopBatch, checkWaitOptions, parkCounted, parkCountedAsync, POP_WAITER, PUSH_WAITER, SPIN_TRIES,
} from './blocking.ts';
import { pause } from '../platform/host.ts';
import {
  checkRingCapacity, R_CAPACITY, R_WAITERS, ringBytes, ringInit, ringLooksEmpty, ringLooksFull,
  ringSize, ringTryPop, ringTryPopBatch, ringTryPush, ringTryPushBatch,
} from './ring.ts';

export interface MpmcQueueOptions {
  /** Region to allocate the queue in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /** Number of cells: a power of two from 1 to 2^28. */
  capacity: number;
  /**
   * Blocking and async pops/pushes try the non-blocking operation before going to the parking
   * lot (default `true`). `false` always goes through the lot first (whose validate returns at
   * once when an item is there): the "always park" baseline of claim L2, for benchmarks.
   */
  fastPath?: boolean;
}

export interface MpmcQueueHandle extends PrimitiveHandle {
  readonly kind: 'MpmcQueue';
}

export interface QueueWaitOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class MpmcQueue {
  readonly region: SharedRegion;
  /** Byte offset of the queue's block in the region. */
  readonly offset: number;
  /** Number of cells (the most values the queue holds). */
  readonly capacity: number;
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly mask: number;
  private readonly lot: ParkingLot;
  private readonly waitIdx: number;
  /** Parking key of consumers waiting for an item (the waiter word's byte offset). */
  private readonly keyNotEmpty: number;
  /** Parking key of producers waiting for room (the word after the waiter word). */
  private readonly keyNotFull: number;
  private readonly fastPath: boolean;
  private cachedHandle: MpmcQueueHandle | undefined;

  constructor(opts: MpmcQueueOptions, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new MpmcQueue(opts): opts must be an object');
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
      // The header was written before the handle was posted (the post orders it).
      this.capacity = Atomics.load(this.region.i32, (attach.offset >> 2) + R_CAPACITY);
      checkRingCapacity(this.capacity, 'MpmcQueue.from: stored capacity (corrupt queue)');
    } else {
      this.capacity = checkRingCapacity(opts.capacity, 'MpmcQueue option `capacity`');
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new MpmcQueue: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('MpmcQueue', ringBytes(this.capacity), 128);
      ringInit(region.i32, this.offset >> 2, this.capacity);
    }
    this.i32 = this.region.i32;
    this.base = this.offset >> 2;
    this.mask = this.capacity - 1;
    this.lot = this.region.lot;
    this.waitIdx = this.base + R_WAITERS;
    this.keyNotEmpty = this.offset + R_WAITERS * 4;
    this.keyNotFull = this.keyNotEmpty + 4;
    this.fastPath = checkFastPath('MpmcQueue', opts.fastPath);
  }

  /** Attaches to a queue from its handle (e.g. received from another thread). */
  static from(handle: MpmcQueueHandle | PrimitiveHandle, opts: { fastPath?: boolean } = {}): MpmcQueue {
    if (opts === null || typeof opts !== 'object') throw new TypeError('MpmcQueue.from(handle, opts): opts must be an object');
    const { region, offset } = resolveHandle(handle, 'MpmcQueue');
    return new MpmcQueue({ capacity: 0, ...opts }, { region, offset });
  }

  /** A plain cloneable handle: post it to a worker and call `MpmcQueue.from(handle)` there. */
  get handle(): MpmcQueueHandle {
    this.cachedHandle ??= this.region.handleFor('MpmcQueue', this.offset) as MpmcQueueHandle;
    return this.cachedHandle;
  }

  /** Approximate number of values queued (exact only when no operation is in progress). */
  get size(): number {
    return ringSize(this.i32, this.base, this.mask);
  }

  // ---------------------------------------------------------------- non-blocking

  /** Appends `value` if there is room. May fail spuriously while a pop is in progress. */
  tryPush(value: number): boolean {
    checkInt32('MpmcQueue.tryPush', value);
    if (!ringTryPush(this.i32, this.base, this.mask, value)) return false;
    this.afterPush();
    return true;
  }

  /** Removes the oldest value, or returns `undefined`. May fail spuriously while a push is in progress. */
  tryPop(): number | undefined {
    const v = ringTryPop(this.i32, this.base, this.mask);
    if (v !== undefined) this.afterPop();
    return v;
  }

  /**
   * Appends `values[start … start+count)` in order, as many as fit, with one CAS for the run.
   * Returns how many were pushed (possibly 0, possibly spuriously). Not atomic for consumers.
   * A range outside `values` is a RangeError, a non-Int32 value in it a TypeError (nothing pushed).
   */
  pushBatch(values: ArrayLike<number>, start = 0, count = values.length - start): number {
    checkBatchRange('MpmcQueue.pushBatch', values, start, count);
    for (let j = start; j < start + count; j++) checkInt32('MpmcQueue.pushBatch', values[j]);
    const n = ringTryPushBatch(this.i32, this.base, this.mask, values, start, count);
    if (n > 0) this.afterPush(n);
    return n;
  }

  /** Removes up to `max` values into `out` (from index 0). Returns how many (possibly 0). */
  popBatch(out: Int32Array | number[], max = out.length): number {
    checkPopBatch('MpmcQueue.popBatch', out, max);
    const n = ringTryPopBatch(this.i32, this.base, this.mask, out, 0, out instanceof Int32Array ? Math.min(max, out.length) : max);
    if (n > 0) this.afterPop(n);
    return n;
  }

  // ---------------------------------------------------------------- blocking

  /** Appends `value`, blocking this thread (spin, then park) while the queue is full. */
  push(value: number): void {
    checkInt32('MpmcQueue.push', value);
    if (this.fastPath && ringTryPush(this.i32, this.base, this.mask, value)) {
      this.afterPush();
      return;
    }
    this.pushSlow(value, Infinity);
  }

  /** Removes the oldest value, blocking this thread (spin, then park) while the queue is empty. */
  pop(): number {
    if (this.fastPath) {
      const v = ringTryPop(this.i32, this.base, this.mask);
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
    }
    return this.popSlow(Infinity) as number;
  }

  /** Waits at most `ms` for room. Returns whether `value` was pushed. */
  tryPushFor(value: number, ms: number): boolean {
    checkInt32('MpmcQueue.tryPushFor', value);
    return this.pushSlow(value, checkMs('MpmcQueue.tryPushFor', ms));
  }

  /** Waits at most `ms` for a value. Returns it, or `undefined` on timeout. */
  tryPopFor(ms: number): number | undefined {
    return this.popSlow(checkMs('MpmcQueue.tryPopFor', ms));
  }

  // ---------------------------------------------------------------- async

  /**
   * Removes the oldest value without blocking the event loop. Rejects with `TimeoutError` after
   * `timeoutMs`, or with the signal's reason when aborted (no value is consumed then).
   */
  async popAsync(opts: QueueWaitOptions = {}): Promise<number> {
    const { timeout, signal } = checkWaitOptions('MpmcQueue.popAsync', opts);
    if (this.fastPath) {
      const v = ringTryPop(this.i32, this.base, this.mask);
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
    }
    const deadline = nowMs() + timeout;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const r = await parkCountedAsync(
        this.lot, this.i32, this.waitIdx, POP_WAITER, this.keyNotEmpty, this.looksEmpty, deadline - nowMs(), signal,
      );
      const v = ringTryPop(this.i32, this.base, this.mask);
      if (v !== undefined) {
        this.afterPop();
        return v;
      }
      if (r.result === 'aborted') throw abortReason(signal!);
      if (r.result === 'timedOut' || nowMs() >= deadline) {
        throw new TimeoutError(`MpmcQueue.popAsync: no value within ${timeout} ms`);
      }
    }
  }

  /** Appends `value` without blocking the event loop; rejects like {@link popAsync}. */
  async pushAsync(value: number, opts: QueueWaitOptions = {}): Promise<void> {
    checkInt32('MpmcQueue.pushAsync', value);
    const { timeout, signal } = checkWaitOptions('MpmcQueue.pushAsync', opts);
    if (this.fastPath && ringTryPush(this.i32, this.base, this.mask, value)) {
      this.afterPush();
      return;
    }
    const deadline = nowMs() + timeout;
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      const r = await parkCountedAsync(
        this.lot, this.i32, this.waitIdx, PUSH_WAITER, this.keyNotFull, this.looksFull, deadline - nowMs(), signal,
      );
      if (ringTryPush(this.i32, this.base, this.mask, value)) {
        this.afterPush();
        return;
      }
      if (r.result === 'aborted') throw abortReason(signal!);
      if (r.result === 'timedOut' || nowMs() >= deadline) {
        throw new TimeoutError(`MpmcQueue.pushAsync: no room within ${timeout} ms`);
      }
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

  // ---------------------------------------------------------------- internals

  /** Validate for parked consumers (runs under the bucket lock). */
  private readonly looksEmpty = (): boolean => ringLooksEmpty(this.i32, this.base, this.mask);
  /** Validate for parked producers (runs under the bucket lock). */
  private readonly looksFull = (): boolean => ringLooksFull(this.i32, this.base, this.mask);

  /**
   * After a successful push of `n` values: wake consumers if any sleep (one per value), and chain
   * a wake to another producer if room is left (see blocking.ts).
   */
  private afterPush(n = 1): void {
    // Reads the waiters' increments (SC); ordered after our seq store(s) by program order.
    const w = Atomics.load(this.i32, this.waitIdx);
    if (w === 0) return;
    for (let k = Math.min(n, w & 0xffff); k > 0; k--) this.lot.unparkOne(this.keyNotEmpty);
    if (w >>> 16 !== 0 && !ringLooksFull(this.i32, this.base, this.mask)) this.lot.unparkOne(this.keyNotFull);
  }

  /** After a successful pop of `n` values: the mirror image of {@link afterPush}. */
  private afterPop(n = 1): void {
    const w = Atomics.load(this.i32, this.waitIdx);
    if (w === 0) return;
    for (let k = Math.min(n, w >>> 16); k > 0; k--) this.lot.unparkOne(this.keyNotFull);
    if ((w & 0xffff) !== 0 && !ringLooksEmpty(this.i32, this.base, this.mask)) this.lot.unparkOne(this.keyNotEmpty);
  }

  private popSlow(timeoutMs: number): number | undefined {
    const deadline = timeoutMs === Infinity ? Infinity : nowMs() + timeoutMs;
    for (;;) {
      if (this.fastPath) {
        for (let i = 0; i < SPIN_TRIES; i++) {
          pause(1 << Math.min(i, 4));
          const v = ringTryPop(this.i32, this.base, this.mask);
          if (v !== undefined) {
            this.afterPop();
            return v;
          }
        }
      }
      const left = deadline - nowMs();
      const r = parkCounted(this.lot, this.i32, this.waitIdx, POP_WAITER, this.keyNotEmpty, this.looksEmpty, left < 0 ? 0 : left);
      const v = ringTryPop(this.i32, this.base, this.mask);
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
          if (ringTryPush(this.i32, this.base, this.mask, value)) {
            this.afterPush();
            return true;
          }
        }
      }
      const left = deadline - nowMs();
      const r = parkCounted(this.lot, this.i32, this.waitIdx, PUSH_WAITER, this.keyNotFull, this.looksFull, left < 0 ? 0 : left);
      if (ringTryPush(this.i32, this.base, this.mask, value)) {
        this.afterPush();
        return true;
      }
      if (r.result === 'timedOut' || nowMs() >= deadline) return false;
    }
  }
}
