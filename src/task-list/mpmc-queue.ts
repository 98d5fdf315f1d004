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

import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { checkBatchRange, checkFastPath, checkInt32, checkPopBatch } from './blocking.ts';
import { BlockingQueue } from './blocking-queue.ts';
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
   * Blocking and async pops/pushes first try the non-blocking operation and retry it a few times
   * before sleeping (default `true`). With `false` they go to the parking lot at once, which
   * returns immediately when an item (or a free cell) is there: a little slower when the queue
   * is busy, but a waiting thread never spins.
   */
  fastPath?: boolean;
}

export interface MpmcQueueHandle extends PrimitiveHandle {
  readonly kind: 'MpmcQueue';
}

export type { QueueWaitOptions } from './blocking-queue.ts';

/** Where a queue's block is: allocated for a new queue, or found from a handle. */
function place(opts: MpmcQueueOptions, attach: { region: SharedRegion; offset: number } | undefined): { region: SharedRegion; offset: number; capacity: number } {
  if (opts === null || typeof opts !== 'object') throw new TypeError('new MpmcQueue(opts): opts must be an object');
  if (attach !== undefined) {
    // The header was written before the handle was posted (the post orders it).
    const capacity = Atomics.load(attach.region.i32, (attach.offset >> 2) + R_CAPACITY);
    checkRingCapacity(capacity, 'MpmcQueue.from: stored capacity (corrupt queue)');
    return { ...attach, capacity };
  }
  const capacity = checkRingCapacity(opts.capacity, 'MpmcQueue option `capacity`');
  const region = opts.region ?? SharedRegion.default();
  if (!(region instanceof SharedRegion)) throw new TypeError('new MpmcQueue: `region` must be a SharedRegion');
  const offset = region.alloc('MpmcQueue', ringBytes(capacity), 128);
  ringInit(region.i32, offset >> 2, capacity);
  return { region, offset, capacity };
}

export class MpmcQueue extends BlockingQueue {
  protected readonly name = 'MpmcQueue';
  readonly region: SharedRegion;
  /** Byte offset of the queue's block in the region. */
  readonly offset: number;
  /** Number of cells (the most values the queue holds). */
  readonly capacity: number;
  private readonly base: number;
  private readonly mask: number;
  private cachedHandle: MpmcQueueHandle | undefined;

  constructor(opts: MpmcQueueOptions, attach?: { region: SharedRegion; offset: number }) {
    const at = place(opts, attach);
    super(at.region, (at.offset >> 2) + R_WAITERS, checkFastPath('MpmcQueue', opts.fastPath));
    this.region = at.region;
    this.offset = at.offset;
    this.capacity = at.capacity;
    this.base = this.offset >> 2;
    this.mask = this.capacity - 1;
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

  // ---------------------------------------------------------------- internals

  protected rawPush(value: number): boolean {
    return ringTryPush(this.i32, this.base, this.mask, value);
  }

  protected rawPop(): number | undefined {
    return ringTryPop(this.i32, this.base, this.mask);
  }

  protected readonly looksEmpty = (): boolean => ringLooksEmpty(this.i32, this.base, this.mask);
  protected readonly looksFull = (): boolean => ringLooksFull(this.i32, this.base, this.mask);

  /**
   * After a successful push of `n` values: wake consumers if any sleep (one per value), and chain
   * a wake to another producer if room is left (see blocking.ts).
   */
  protected afterPush(n = 1): void {
    // Reads the waiters' increments (SC); ordered after our seq store(s) by program order.
    const w = Atomics.load(this.i32, this.waitIdx);
    if (w === 0) return;
    for (let k = Math.min(n, w & 0xffff); k > 0; k--) this.lot.unparkOne(this.keyNotEmpty);
    if (w >>> 16 !== 0 && !ringLooksFull(this.i32, this.base, this.mask)) this.lot.unparkOne(this.keyNotFull);
  }

  /** After a successful pop of `n` values: the mirror image of {@link afterPush}. */
  protected afterPop(n = 1): void {
    const w = Atomics.load(this.i32, this.waitIdx);
    if (w === 0) return;
    for (let k = Math.min(n, w >>> 16); k > 0; k--) this.lot.unparkOne(this.keyNotFull);
    if ((w & 0xffff) !== 0 && !ringLooksEmpty(this.i32, this.base, this.mask)) this.lot.unparkOne(this.keyNotEmpty);
  }
}
