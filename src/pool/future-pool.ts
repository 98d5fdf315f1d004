/**
 * FuturePool: fixed shared-memory slots for task arguments and results, in size classes ("tiers"),
 * with per-thread free-list caches and batched returns to a central free list per tier.
 *
 * Algorithm (tcmalloc/mimalloc-style thread caching over a fixed heap):
 * - Tier t holds `count` slots of `bytes` data bytes each (plus a 32-byte header the WorkerPool
 *   uses for the task's state word; see layout.ts). Slot strides are multiples of 128 bytes, so two
 *   slots never share a cache line (main writes one task's argument while a worker writes the
 *   previous task's result).
 * - Each tier has a central free list: a Vyukov MpmcQueue of slot indices (task-list/), full at
 *   creation.
 * - `cache: 'thread'` (default): each thread keeps a private stack of free slot indices per tier.
 *   alloc pops it, refilling `cacheMax/2` slots from the central list with one batched pop when
 *   empty; free pushes onto it, returning half of it to the central list with one batched push when
 *   it overflows. A slot freed by a thread that did not allocate it (a "remote free", e.g. the main
 *   thread freeing a result slot a worker allocated) joins the freeing thread's cache and travels
 *   back in those batches, so a remote free costs no shared-memory operation of its own.
 * - `cache: 'shared'` (the L5 baseline): every alloc and free is one operation on the central list.
 *
 * Invariants: a slot index is in exactly one place at a time: a central list, one thread's cache,
 * or in use by exactly one owner (who alone may free it). Capacities are fixed: when a tier and all
 * larger ones are empty, `alloc` returns -1 (the caller waits or falls back), never corrupts.
 * Caches are bounded (`cacheMax` per tier, at most 1/8 of the tier), so hoarding is bounded too:
 * `flush()` returns a thread's cache (call it before the thread exits).
 *
 * Memory edges: slot contents are handed from thread to thread by the caller (the WorkerPool's
 * state word and rings); the central MpmcQueue's seq stores/loads order a freed slot's last use
 * before its next owner's first write.
 *
 * Block layout (Int32 words from the block start): [0] tier count, [1] total slots, then per tier
 * t at 4 + 8t: data bytes, count, stride, first slot index, byte offset of the slots, byte offset of
 * the central MpmcQueue. The slots and queues are separate region blocks.
 */

import { MpmcQueue } from '../task-list/mpmc-queue.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { HEADER_BYTES, MAX_SLOTS } from './layout.ts';

export interface TierSpec {
  /** Data bytes per slot (the header is extra). */
  bytes: number;
  /** Number of slots in this tier. */
  count: number;
}

export type FuturePoolCache = 'thread' | 'shared';

export interface FuturePoolOptions {
  /** Region to allocate in. Default: a new region sized to fit (`FuturePool.regionBytes`). */
  region?: SharedRegion;
  /** Size classes, smallest first. Default {@link DEFAULT_TIERS}. At most 65535 slots in all. */
  tiers?: readonly TierSpec[];
  /** Free-list caching (see the file comment). Default 'thread'. */
  cache?: FuturePoolCache;
  /** Largest per-thread cache per tier (clamped to 1/8 of the tier). Default 64. */
  cacheMax?: number;
}

export interface FuturePoolHandle extends PrimitiveHandle {
  readonly kind: 'FuturePool';
}

/** 96 B × 2048, 4064 B × 512, 65504 B × 32 (strides 128 B / 4 KiB / 64 KiB; 4.3 MiB in all). */
export const DEFAULT_TIERS: readonly TierSpec[] = Object.freeze([
  Object.freeze({ bytes: 96, count: 2048 }),
  Object.freeze({ bytes: 4064, count: 512 }),
  Object.freeze({ bytes: 65504, count: 32 }),
]);

const P_TIERS = 0;
const P_SLOTS = 1;
const P_TIER0 = 4;
const TIER_WORDS = 8;
const T_BYTES = 0;
const T_COUNT = 1;
const T_STRIDE = 2;
const T_FIRST = 3;
const T_SLOTS_OFF = 4;
const T_QUEUE_OFF = 5;

function strideOf(bytes: number): number {
  return Math.ceil((bytes + HEADER_BYTES) / 128) * 128;
}

function pow2AtLeast(n: number): number {
  let c = 1;
  while (c < n) c <<= 1;
  return c;
}

function checkTiers(tiers: unknown): TierSpec[] {
  if (!Array.isArray(tiers) || tiers.length === 0 || tiers.length > 8) {
    throw new TypeError('FuturePool option `tiers` must be an array of 1 to 8 { bytes, count } size classes, smallest first');
  }
  let total = 0;
  let prev = 0;
  const out: TierSpec[] = [];
  for (const [i, t] of tiers.entries()) {
    const bytes = (t as TierSpec)?.bytes;
    const count = (t as TierSpec)?.count;
    if (typeof bytes !== 'number' || !Number.isInteger(bytes) || bytes < 8 || bytes > 1 << 26 || bytes % 8 !== 0) {
      throw new RangeError(`FuturePool tier ${i}: \`bytes\` must be a multiple of 8 from 8 to 2^26, got ${String(bytes)}`);
    }
    if (bytes <= prev) throw new RangeError(`FuturePool tier ${i}: tiers must be sorted by strictly increasing \`bytes\``);
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) {
      throw new RangeError(`FuturePool tier ${i}: \`count\` must be a positive integer, got ${String(count)}`);
    }
    total += count;
    prev = bytes;
    out.push({ bytes, count });
  }
  if (total >= MAX_SLOTS) throw new RangeError(`FuturePool: ${total} slots in all, but task entries address at most ${MAX_SLOTS - 1}; lower the tier counts`);
  return out;
}

/** Per-thread cache of one tier: a stack of free slot indices. */
interface TierCache {
  readonly stack: Int32Array;
  n: number;
}

export class FuturePool {
  readonly region: SharedRegion;
  readonly offset: number;
  readonly cache: FuturePoolCache;
  /** Data bytes per slot, per tier. */
  readonly tierBytes: readonly number[];
  readonly slotCount: number;
  private readonly firstSlot: Int32Array;
  private readonly tierCount: Int32Array;
  private readonly stride: Int32Array;
  private readonly slotsOff: Float64Array;
  private readonly queues: MpmcQueue[];
  /** Byte offset of each slot's header and data bytes of each slot, precomputed (hot paths index them). */
  private readonly offsets: Int32Array;
  private readonly caps: Int32Array;
  private readonly caches: TierCache[];
  private readonly refill: number[];
  private cachedHandle: FuturePoolHandle | undefined;

  /** Region bytes `create` needs for `tiers` (slots + free lists + header), for sizing a region. */
  static regionBytes(tiers: readonly TierSpec[] = DEFAULT_TIERS): number {
    let n = 4096;
    for (const t of checkTiers(tiers)) n += t.count * strideOf(t.bytes) + 128 + (128 + 2 * pow2AtLeast(t.count)) * 4 + 128;
    return n;
  }

  static create(opts: FuturePoolOptions = {}): FuturePool {
    if (opts === null || typeof opts !== 'object') throw new TypeError('FuturePool.create(opts): opts must be an object');
    const tiers = checkTiers(opts.tiers ?? DEFAULT_TIERS);
    const region = opts.region ?? SharedRegion.create({ bytes: FuturePool.regionBytes(tiers), waiters: 64, buckets: 16, threads: 64 });
    if (!(region instanceof SharedRegion)) throw new TypeError('FuturePool option `region` must be a SharedRegion');
    const off = region.alloc('FuturePool', (P_TIER0 + tiers.length * TIER_WORDS) * 4, 128);
    const i32 = region.i32;
    const b = off >> 2;
    let first = 0;
    // Plain-free initialisation: the block is not shared until its handle is posted, which orders these stores.
    Atomics.store(i32, b + P_TIERS, tiers.length);
    for (const [t, spec] of tiers.entries()) {
      const stride = strideOf(spec.bytes);
      const slotsOff = region.alloc('Raw', spec.count * stride, 128);
      const q = new MpmcQueue({ region, capacity: pow2AtLeast(spec.count) });
      for (let s = 0; s < spec.count; s++) q.tryPush(first + s);
      const tb = b + P_TIER0 + t * TIER_WORDS;
      Atomics.store(i32, tb + T_BYTES, spec.bytes);
      Atomics.store(i32, tb + T_COUNT, spec.count);
      Atomics.store(i32, tb + T_STRIDE, stride);
      Atomics.store(i32, tb + T_FIRST, first);
      Atomics.store(i32, tb + T_SLOTS_OFF, slotsOff);
      Atomics.store(i32, tb + T_QUEUE_OFF, q.offset);
      first += spec.count;
    }
    Atomics.store(i32, b + P_SLOTS, first);
    return new FuturePool(region, off, opts);
  }

  /** Attaches to a pool created elsewhere (each thread has its own caches). */
  static from(handle: FuturePoolHandle | PrimitiveHandle, opts: Pick<FuturePoolOptions, 'cache' | 'cacheMax'> = {}): FuturePool {
    const { region, offset } = resolveHandle(handle, 'FuturePool');
    return new FuturePool(region, offset, opts);
  }

  private constructor(region: SharedRegion, offset: number, opts: Pick<FuturePoolOptions, 'cache' | 'cacheMax'>) {
    const cache = opts.cache ?? 'thread';
    if (cache !== 'thread' && cache !== 'shared') throw new TypeError(`FuturePool option \`cache\` must be 'thread' or 'shared', got ${String(cache)}`);
    const cacheMax = opts.cacheMax ?? 64;
    if (!Number.isInteger(cacheMax) || cacheMax < 0 || cacheMax > 4096) throw new RangeError(`FuturePool option \`cacheMax\` must be an integer from 0 to 4096, got ${String(cacheMax)}`);
    this.region = region;
    this.offset = offset;
    this.cache = cache;
    const i32 = region.i32;
    const b = offset >> 2;
    const n = Atomics.load(i32, b + P_TIERS);
    if (n < 1 || n > 8) throw new TypeError(`FuturePool.from: stored tier count ${n} is invalid (corrupt block)`);
    this.slotCount = Atomics.load(i32, b + P_SLOTS);
    const bytes: number[] = [];
    this.firstSlot = new Int32Array(n + 1);
    this.tierCount = new Int32Array(n);
    this.stride = new Int32Array(n);
    this.slotsOff = new Float64Array(n);
    this.queues = [];
    this.caches = [];
    this.refill = [];
    for (let t = 0; t < n; t++) {
      const tb = b + P_TIER0 + t * TIER_WORDS;
      bytes.push(Atomics.load(i32, tb + T_BYTES));
      this.tierCount[t] = Atomics.load(i32, tb + T_COUNT);
      this.stride[t] = Atomics.load(i32, tb + T_STRIDE);
      this.firstSlot[t] = Atomics.load(i32, tb + T_FIRST);
      this.slotsOff[t] = Atomics.load(i32, tb + T_SLOTS_OFF);
      this.queues.push(MpmcQueue.from(region.handleFor('MpmcQueue', Atomics.load(i32, tb + T_QUEUE_OFF))));
      const max = cache === 'thread' ? Math.min(cacheMax, this.tierCount[t] >> 3) : 0;
      this.caches.push({ stack: new Int32Array(max), n: 0 });
      this.refill.push(Math.max(1, max >> 1));
    }
    this.firstSlot[n] = this.slotCount;
    this.tierBytes = Object.freeze(bytes);
    this.offsets = new Int32Array(this.slotCount);
    this.caps = new Int32Array(this.slotCount);
    for (let t = 0; t < n; t++) {
      for (let k = 0; k < this.tierCount[t]; k++) {
        this.offsets[this.firstSlot[t] + k] = this.slotsOff[t] + k * this.stride[t];
        this.caps[this.firstSlot[t] + k] = bytes[t];
      }
    }
  }

  get handle(): FuturePoolHandle {
    this.cachedHandle ??= this.region.handleFor('FuturePool', this.offset) as FuturePoolHandle;
    return this.cachedHandle;
  }

  /** Index of the smallest tier whose slots hold `bytes` data bytes, or -1 if none does. */
  tierFor(bytes: number): number {
    const tb = this.tierBytes;
    for (let t = 0; t < tb.length; t++) if (bytes <= tb[t]) return t;
    return -1;
  }

  /** Tier of a slot index. */
  tierOf(slot: number): number {
    const f = this.firstSlot;
    let t = 0;
    while (slot >= f[t + 1]) t++;
    return t;
  }

  /**
   * Allocates a slot with room for `bytes` data bytes: the smallest fitting tier first, then larger
   * ones. Returns the slot index, or -1 when no fitting slot is free (or `bytes` exceeds every tier).
   */
  alloc(bytes: number): number {
    const tb = this.tierBytes;
    for (let t = 0; t < tb.length; t++) {
      if (bytes > tb[t]) continue;
      const s = this.allocTier(t);
      if (s >= 0) return s;
    }
    return -1;
  }

  /** Allocates a slot of tier `t` exactly, or returns -1 if that tier is empty. */
  allocTier(t: number): number {
    const c = this.caches[t];
    if (c.n > 0) return c.stack[--c.n];
    if (c.stack.length === 0) {
      const v = this.queues[t].tryPop();
      return v === undefined ? -1 : v;
    }
    // One batched pop from the central list refills half the cache.
    c.n = this.queues[t].popBatch(c.stack, this.refill[t]);
    return c.n > 0 ? c.stack[--c.n] : -1;
  }

  /** Returns a slot. Only its current owner may free it, once. */
  free(slot: number): void {
    const t = this.tierOf(slot);
    const c = this.caches[t];
    if (c.n < c.stack.length) {
      c.stack[c.n++] = slot;
      return;
    }
    if (c.stack.length === 0) {
      this.pushCentral(t, slot);
      return;
    }
    // Overflow: return half the cache in one batched push, keep the rest hot.
    const keep = c.stack.length >> 1;
    this.pushAllCentral(t, c.stack, keep, c.n - keep);
    c.n = keep;
    c.stack[c.n++] = slot;
  }

  /** Returns every slot this thread caches to the central lists (call before the thread exits). */
  flush(): void {
    for (let t = 0; t < this.caches.length; t++) {
      const c = this.caches[t];
      if (c.n > 0) this.pushAllCentral(t, c.stack, 0, c.n);
      c.n = 0;
    }
  }

  /** Free slots in the central lists plus this thread's caches (other threads' caches not counted). */
  freeCount(): number {
    let n = 0;
    for (let t = 0; t < this.queues.length; t++) n += this.queues[t].size + this.caches[t].n;
    return n;
  }

  /** Byte offset (in the region) of a slot's header. */
  slotOffset(slot: number): number {
    return this.offsets[slot];
  }

  /** Data bytes a slot holds. */
  capacityOf(slot: number): number {
    return this.caps[slot];
  }

  private pushCentral(t: number, slot: number): void {
    // The central ring holds every slot of the tier, so it is never truly full; a failure is a
    // concurrent pop still in progress (Vyukov's ring may fail spuriously then): retry.
    while (!this.queues[t].tryPush(slot)) { /* spurious failure while a pop is in progress */ }
  }

  private pushAllCentral(t: number, stack: Int32Array, from: number, count: number): void {
    let done = 0;
    while (done < count) done += this.queues[t].pushBatch(stack, from + done, count - done);
  }
}
