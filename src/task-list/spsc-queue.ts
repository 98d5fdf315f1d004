/**
 * SpscQueue: a bounded single-producer single-consumer ring of Int32 values in a SharedRegion,
 * for fixed producer/consumer pairs (the worker pool's per-worker rings).
 *
 * Algorithm: Lamport's single-producer/single-consumer ring ("Specifying concurrent program
 * modules", TOPLAS 1983) with free-running indices, as in ringbuf.js, plus the refinement of
 * caching the other side's index (each side re-reads the remote index only when its cached copy
 * says full/empty; cf. Rigtorp's SPSCQueue, folly's ProducerConsumerQueue). Unlike ringbuf.js,
 * the write index and the read index sit on separate 128-byte lines.
 *
 * Layout (Int32 indices from the block start):
 *
 * | index | word        | written by                              |
 * |-------|-------------|-----------------------------------------|
 * | 0     | capacity    | creator, once                           |
 * | 32    | write index | the producer                            |
 * | 64    | read index  | the consumer                            |
 * | 96    | waiter word | threads about to park (see blocking.ts) |
 * | 128+i | data[i]     | the producer (while the slot is free)   |
 *
 * Invariants: `0 ≤ write − read ≤ capacity` (wrapped Int32 differences); positions in
 * [read, write) hold values and belong to the consumer, positions in [write, read + capacity) are
 * free and belong to the producer (slot = position & mask). A cached remote index is never ahead of the real one,
 * so a stale cache can only make a side think the ring is fuller/emptier than it is, never the
 * reverse.
 *
 * Memory edges: the producer's plain write of `data[w]` is sequenced before its
 * `Atomics.store(write, w+1)`; the consumer's `Atomics.load(write)` that reads it synchronizes
 * with that store, so its plain read of `data[w]` is race-free. Symmetrically the consumer's
 * `Atomics.store(read, r+1)` releases the slot to the producer. Each side reads its *own* index
 * with a plain read: only it writes that word, so the read races with nothing.
 *
 * Progress: wait-free (`tryPush`/`tryPop` finish in a bounded number of steps and never fail
 * spuriously: failure means full/empty at the moment of the remote-index load). Contract: at
 * most one thread pushes and at most one thread pops at any time; moving a role to another
 * thread needs a happens-before edge (e.g. a message) between the old and new holder. Blocking
 * and async forms park on the ParkingLot exactly as MpmcQueue does (blocking.ts).
 */

import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { checkBatchRange, checkFastPath, checkInt32, checkPopBatch } from './blocking.ts';
import { BlockingQueue } from './blocking-queue.ts';
import { checkRingCapacity, LINE } from './ring.ts';

const S_CAPACITY = 0;
const S_WRITE = LINE;
const S_READ = 2 * LINE;
const S_WAITERS = 3 * LINE;
const S_DATA = 4 * LINE;

export interface SpscQueueOptions {
  /** Region to allocate the queue in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /** Number of slots: a power of two from 1 to 2^28. */
  capacity: number;
  /** As MpmcQueueOptions.fastPath: try the ring (and retry briefly) before sleeping. Default `true`. */
  fastPath?: boolean;
}

export interface SpscQueueHandle extends PrimitiveHandle {
  readonly kind: 'SpscQueue';
}

/** Where a queue's block is: allocated for a new queue, or found from a handle. */
function place(opts: SpscQueueOptions, attach: { region: SharedRegion; offset: number } | undefined): { region: SharedRegion; offset: number; capacity: number } {
  if (opts === null || typeof opts !== 'object') throw new TypeError('new SpscQueue(opts): opts must be an object');
  if (attach !== undefined) {
    const capacity = Atomics.load(attach.region.i32, (attach.offset >> 2) + S_CAPACITY);
    checkRingCapacity(capacity, 'SpscQueue.from: stored capacity (corrupt queue)');
    return { ...attach, capacity };
  }
  const capacity = checkRingCapacity(opts.capacity, 'SpscQueue option `capacity`');
  const region = opts.region ?? SharedRegion.default();
  if (!(region instanceof SharedRegion)) throw new TypeError('new SpscQueue: `region` must be a SharedRegion');
  const offset = region.alloc('SpscQueue', (S_DATA + capacity) * 4, 128);
  // Published to other threads with the handle (postMessage orders it).
  Atomics.store(region.i32, (offset >> 2) + S_CAPACITY, capacity);
  return { region, offset, capacity };
}

export class SpscQueue extends BlockingQueue {
  protected readonly name = 'SpscQueue';
  readonly region: SharedRegion;
  readonly offset: number;
  readonly capacity: number;
  private readonly base: number;
  private readonly mask: number;
  /** Producer's cached copy of the read index (never ahead of the real one). */
  private readCache: number;
  /** Consumer's cached copy of the write index (never ahead of the real one). */
  private writeCache: number;
  private cachedHandle: SpscQueueHandle | undefined;

  constructor(opts: SpscQueueOptions, attach?: { region: SharedRegion; offset: number }) {
    const at = place(opts, attach);
    super(at.region, (at.offset >> 2) + S_WAITERS, checkFastPath('SpscQueue', opts.fastPath));
    this.region = at.region;
    this.offset = at.offset;
    this.capacity = at.capacity;
    this.base = this.offset >> 2;
    this.mask = this.capacity - 1;
    this.readCache = Atomics.load(this.i32, this.base + S_READ);
    this.writeCache = Atomics.load(this.i32, this.base + S_WRITE);
  }

  static from(handle: SpscQueueHandle | PrimitiveHandle, opts: { fastPath?: boolean } = {}): SpscQueue {
    if (opts === null || typeof opts !== 'object') throw new TypeError('SpscQueue.from(handle, opts): opts must be an object');
    const { region, offset } = resolveHandle(handle, 'SpscQueue');
    return new SpscQueue({ capacity: 0, ...opts }, { region, offset });
  }

  get handle(): SpscQueueHandle {
    this.cachedHandle ??= this.region.handleFor('SpscQueue', this.offset) as SpscQueueHandle;
    return this.cachedHandle;
  }

  /** Number of values queued: exact from the producer's or consumer's point of view between its own operations. */
  get size(): number {
    const r = Atomics.load(this.i32, this.base + S_READ);
    const w = Atomics.load(this.i32, this.base + S_WRITE);
    const n = (w - r) | 0;
    return n < 0 ? 0 : n > this.capacity ? this.capacity : n;
  }

  // ---------------------------------------------------------------- non-blocking

  /** Producer only. Appends `value` if there is room; never fails spuriously. */
  tryPush(value: number): boolean {
    checkInt32('SpscQueue.tryPush', value);
    if (!this.rawPush(value)) return false;
    this.afterPush();
    return true;
  }

  /** Consumer only. Removes the oldest value, or returns `undefined` if the ring is empty. */
  tryPop(): number | undefined {
    const v = this.rawPop();
    if (v !== undefined) this.afterPop();
    return v;
  }

  /**
   * Producer only. Appends as many of `values[start…start+count)` as fit; returns how many.
   * A range outside `values` is a RangeError, a non-Int32 value in it a TypeError (nothing pushed).
   */
  pushBatch(values: ArrayLike<number>, start = 0, count = values.length - start): number {
    checkBatchRange('SpscQueue.pushBatch', values, start, count);
    for (let j = start; j < start + count; j++) checkInt32('SpscQueue.pushBatch', values[j]);
    const i32 = this.i32;
    const w = i32[this.base + S_WRITE]!; // plain: only the producer writes it
    let room = this.capacity - ((w - this.readCache) | 0);
    if (room < count) {
      this.readCache = Atomics.load(i32, this.base + S_READ); // syncs with the consumer's release
      room = this.capacity - ((w - this.readCache) | 0);
    }
    const n = Math.min(room, count);
    if (n <= 0) return 0;
    for (let j = 0; j < n; j++) i32[this.base + S_DATA + ((w + j) & this.mask)] = values[start + j]!;
    Atomics.store(i32, this.base + S_WRITE, (w + n) | 0); // publishes all n values at once
    this.afterPush(n);
    return n;
  }

  /** Consumer only. Removes up to `max` values into `out`; returns how many. */
  popBatch(out: Int32Array | number[], max = out.length): number {
    checkPopBatch('SpscQueue.popBatch', out, max);
    const limit = out instanceof Int32Array ? Math.min(max, out.length) : max;
    const i32 = this.i32;
    const r = i32[this.base + S_READ]!; // plain: only the consumer writes it
    let avail = (this.writeCache - r) | 0;
    if (avail < limit) {
      this.writeCache = Atomics.load(i32, this.base + S_WRITE); // syncs with the producer's publish
      avail = (this.writeCache - r) | 0;
    }
    const n = Math.min(avail, limit);
    if (n <= 0) return 0;
    for (let j = 0; j < n; j++) out[j] = i32[this.base + S_DATA + ((r + j) & this.mask)]!;
    Atomics.store(i32, this.base + S_READ, (r + n) | 0); // releases the n slots to the producer
    this.afterPop(n);
    return n;
  }

  // ---------------------------------------------------------------- internals

  protected rawPush(value: number): boolean {
    const i32 = this.i32;
    const w = i32[this.base + S_WRITE]!; // plain: only the producer writes it
    if (((w - this.readCache) | 0) >= this.capacity) {
      // Synchronizes with the consumer's store of the read index: the slots it freed are ours.
      this.readCache = Atomics.load(i32, this.base + S_READ);
      if (((w - this.readCache) | 0) >= this.capacity) return false;
    }
    i32[this.base + S_DATA + (w & this.mask)] = value; // plain: published by the store below
    // Publishes the value: the consumer's load of the write index reads this store.
    Atomics.store(i32, this.base + S_WRITE, (w + 1) | 0);
    return true;
  }

  protected rawPop(): number | undefined {
    const i32 = this.i32;
    const r = i32[this.base + S_READ]!; // plain: only the consumer writes it
    if (((this.writeCache - r) | 0) <= 0) {
      // Synchronizes with the producer's store of the write index.
      this.writeCache = Atomics.load(i32, this.base + S_WRITE);
      if (((this.writeCache - r) | 0) <= 0) return undefined;
    }
    const v = i32[this.base + S_DATA + (r & this.mask)]!; // plain: ordered after the load above
    // Releases the slot: the producer's load of the read index reads this store.
    Atomics.store(i32, this.base + S_READ, (r + 1) | 0);
    return v;
  }

  protected readonly looksEmpty = (): boolean =>
    Atomics.load(this.i32, this.base + S_WRITE) === Atomics.load(this.i32, this.base + S_READ);
  protected readonly looksFull = (): boolean =>
    ((Atomics.load(this.i32, this.base + S_WRITE) - Atomics.load(this.i32, this.base + S_READ)) | 0) >= this.capacity;

  protected afterPush(n = 1): void {
    // One SC load of the waiter word after the publishing store (see blocking.ts).
    const w = Atomics.load(this.i32, this.waitIdx);
    if (w === 0) return;
    if ((w & 0xffff) !== 0) this.lot.unparkOne(this.keyNotEmpty);
    // A single producer never needs another producer woken; the mask keeps misuse harmless.
    if (w >>> 16 !== 0 && n > 0 && !this.looksFull()) this.lot.unparkOne(this.keyNotFull);
  }

  protected afterPop(n = 1): void {
    const w = Atomics.load(this.i32, this.waitIdx);
    if (w === 0) return;
    if (w >>> 16 !== 0) this.lot.unparkOne(this.keyNotFull);
    if ((w & 0xffff) !== 0 && n > 0 && !this.looksEmpty()) this.lot.unparkOne(this.keyNotEmpty);
  }
}
