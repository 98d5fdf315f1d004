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
 * - Remote frees, mimalloc-style (`cache: 'thread'`): each caching thread holds an owner id (one of
 *   64, claimed from a bitmap; none left → it behaves as if it had no id). alloc records the owner
 *   of the slot. A free by another thread pushes the slot onto the owner's per-tier remote-free
 *   list, a Treiber stack linked through a per-slot `next` word (one CAS; push-only with take-all,
 *   so no ABA). When its cache runs empty the owner first takes its whole remote list with one
 *   Atomics.exchange (the remote frees come back in one batch, to the thread that will reuse them)
 *   and only then refills from the central list. flush() closes the lists (CLOSED: later remote
 *   frees of its slots go to the freeing thread's cache instead), returns them and releases the id.
 *   A slot allocated by a thread without an id (cache 'shared') has no owner: its free is local.
 * - `cache: 'shared'`: every alloc and free is one operation on the central list. No slot is ever
 *   held in a thread's cache, so a thread that dies (or is terminated) strands none; the pool's
 *   workers use it for that reason.
 *
 * Invariants: a slot index is in exactly one place at a time: a central list, one thread's cache,
 * one owner's remote-free list, or in use by exactly one holder (who alone may free it). Each slot's
 * owner word says which: FREED (−4) from its free to its next alloc, else the allocating thread's
 * owner id (or NO_OWNER). free() takes it to FREED with one CAS, so a double free (even two racing
 * frees) throws a RangeError instead of putting the slot on a free list twice; a slot number that
 * is not a slot index throws too, and nothing changes (cost, one thread, alloc+free pairs: ~17 → 27 ns with cache 'thread', ~96 → 105 ns 'shared').
 * A central list that stays full for 2^20 push attempts (only possible if the pool's memory was
 * corrupted) throws instead of spinning forever. Capacities are fixed: when a tier and all
 * larger ones are empty, `alloc` returns -1 (the caller waits or falls back), never corrupts.
 * Caches are bounded (`cacheMax` per tier, at most 1/8 of the tier), so hoarding is bounded too:
 * `flush()` returns a thread's cache (call it before the thread exits).
 *
 * Memory edges: slot contents are handed from thread to thread by the caller (the WorkerPool's
 * state word and rings); the central MpmcQueue's seq stores/loads order a freed slot's last use
 * before its next owner's first write.
 *
 * Block layout (Int32 words from the block start): [0] tier count, [1] total slots, [2] byte offset
 * of the owner block, then per tier t at 4 + 8t: data bytes, count, stride, first slot index, byte
 * offset of the slots, byte offset of the central MpmcQueue. The slots and queues are separate
 * region blocks. Owner block (Int32 words): [0], [1] owner-id bitmap (ids 0–31, 32–63), then from
 * word 32 the remote-free list heads (owner × 8 + tier; EMPTY −1, CLOSED −2), then one owner word
 * (owner id, NO_OWNER −1, or FREED −4) and one `next` word per slot.
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
const P_OWNERS = 2;
const P_TIER0 = 4;
/** Owner ids (remote-free lists) per pool. */
const MAX_OWNERS = 64;
const O_HEADS = 32;
const EMPTY = -1;
const CLOSED = -2;
const NO_OWNER = -1;
/** Owner word of a slot that is free (in a central list, a cache or a remote-free list). */
const FREED = -4;
/** Consecutive failed pushes onto a central list before a "full" list is believed (see pushCentral). */
const CORRUPT_RETRIES = 1 << 20;

function ownerBlockWords(slots: number): number {
  return O_HEADS + MAX_OWNERS * 8 + 2 * slots;
}
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
  private readonly i32: Int32Array;
  /** Int32 index of the owner block, of the per-slot owner words and of the per-slot next words. */
  private readonly ownBase: number;
  private readonly ownerOf: number;
  private readonly nextOf: number;
  /** This thread's owner id, or -1 (cache 'shared', or all ids taken). */
  private ownerId = NO_OWNER;
  /** Statistics of this thread: remote frees it pushed, and slots it took back from its remote lists. */
  remoteFrees = 0;
  remoteCollected = 0;

  /** Region bytes `create` needs for `tiers` (slots + free lists + header), for sizing a region. */
  static regionBytes(tiers: readonly TierSpec[] = DEFAULT_TIERS): number {
    let n = 4096;
    let slots = 0;
    for (const t of checkTiers(tiers)) {
      n += t.count * strideOf(t.bytes) + 128 + (128 + 2 * pow2AtLeast(t.count)) * 4 + 128;
      slots += t.count;
    }
    return n + ownerBlockWords(slots) * 4 + 128;
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
    const own = region.alloc('Raw', ownerBlockWords(first) * 4, 128);
    const ob = own >> 2;
    for (let k = 0; k < MAX_OWNERS * 8; k++) Atomics.store(i32, ob + O_HEADS + k, CLOSED);
    for (let s = 0; s < first; s++) Atomics.store(i32, ob + O_HEADS + MAX_OWNERS * 8 + s, FREED);
    Atomics.store(i32, b + P_OWNERS, own);
    return new FuturePool(region, off, opts);
  }

  /** Attaches to a pool created elsewhere (each thread has its own caches). */
  static from(handle: FuturePoolHandle | PrimitiveHandle, opts: Pick<FuturePoolOptions, 'cache' | 'cacheMax'> = {}): FuturePool {
    if (opts === null || typeof opts !== 'object') throw new TypeError('FuturePool.from(handle, opts): opts must be an object');
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
    this.i32 = i32;
    this.ownBase = Atomics.load(i32, b + P_OWNERS) >> 2;
    this.ownerOf = this.ownBase + O_HEADS + MAX_OWNERS * 8;
    this.nextOf = this.ownerOf + this.slotCount;
    if (cache === 'thread') this.claimOwnerId(n);
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
    if (!(bytes >= 0 && Number.isInteger(bytes))) throw badArg('alloc(bytes)', 'bytes', bytes, 'a non-negative integer');
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
    if ((t >>> 0) !== t || t >= this.queues.length) throw badArg('allocTier(t)', 't', t, `a tier index from 0 to ${this.queues.length - 1}`);
    const s = this.takeSlot(t);
    // Plain store: whoever frees the slot got it from us through a synchronizing hand-off.
    if (s >= 0) this.i32[this.ownerOf + s] = this.ownerId;
    return s;
  }

  private takeSlot(t: number): number {
    const c = this.caches[t];
    if (c.n > 0) return c.stack[--c.n];
    if (c.stack.length === 0) {
      const v = this.queues[t].tryPop();
      return v === undefined ? -1 : v;
    }
    // Our remote frees first, all at once (one exchange), then one batched pop from the central list.
    if (this.ownerId >= 0 && this.collectRemote(t) > 0) return c.stack[--c.n];
    c.n = this.queues[t].popBatch(c.stack, this.refill[t]);
    return c.n > 0 ? c.stack[--c.n] : -1;
  }

  /** Takes this thread's whole remote-free list of tier `t` into its cache (overflow to the central list). */
  private collectRemote(t: number): number {
    const head = this.ownBase + O_HEADS + this.ownerId * 8 + t;
    if (Atomics.load(this.i32, head) === EMPTY) return 0;
    // Synchronizes with the pushers' CAS, made after their store of `next`: the chain is readable.
    let s = Atomics.exchange(this.i32, head, EMPTY);
    const c = this.caches[t];
    let got = 0;
    while (s >= 0) {
      const nx = Atomics.load(this.i32, this.nextOf + s);
      if (c.n < c.stack.length) c.stack[c.n++] = s;
      else this.pushCentral(t, s);
      got++;
      s = nx;
    }
    this.remoteCollected += got;
    return got;
  }

  /**
   * Returns a slot. Only its current holder may free it, once: a slot number that is not a slot
   * index throws (RangeError / TypeError) and so does a double free (the slot's owner word is FREED
   * from its free until its next alloc; one CAS decides, so two racing frees cannot both pass).
   */
  free(slot: number): void {
    if ((slot >>> 0) !== slot || slot >= this.slotCount) throw badArg('free(slot)', 'slot', slot, `a slot index from 0 to ${this.slotCount - 1}`);
    const t = this.tierOf(slot);
    const i32 = this.i32;
    const o = i32[this.ownerOf + slot];
    if (o === FREED || Atomics.compareExchange(i32, this.ownerOf + slot, o, FREED) !== o) {
      throw new RangeError(`FuturePool.free(slot): slot ${slot} is not allocated (double free)`);
    }
    if (o !== this.ownerId && o >= 0 && this.pushRemote(o, t, slot)) return;
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

  /** Remote free: pushes `slot` onto owner `o`'s list of tier `t`. False if that list is closed. */
  private pushRemote(o: number, t: number, slot: number): boolean {
    const i32 = this.i32;
    const head = this.ownBase + O_HEADS + o * 8 + t;
    for (;;) {
      const h = Atomics.load(i32, head);
      if (h === CLOSED) return false;
      Atomics.store(i32, this.nextOf + slot, h);
      if (Atomics.compareExchange(i32, head, h, slot) === h) {
        this.remoteFrees++;
        return true;
      }
    }
  }

  private claimOwnerId(tiers: number): void {
    const i32 = this.i32;
    for (let id = 0; id < MAX_OWNERS; id++) {
      const w = this.ownBase + (id >> 5);
      const bit = 1 << (id & 31);
      const old = Atomics.or(i32, w, bit);
      if ((old & bit) !== 0) continue;
      for (let t = 0; t < tiers; t++) Atomics.store(i32, this.ownBase + O_HEADS + id * 8 + t, EMPTY);
      this.ownerId = id;
      return;
    }
  }

  /**
   * Returns every slot this thread caches, and its remote-free lists, to the central lists and
   * gives up its owner id (call before the thread exits; the pool stays usable from this thread,
   * without remote-free lists).
   */
  flush(): void {
    const id = this.ownerId;
    if (id >= 0) {
      for (let t = 0; t < this.caches.length; t++) {
        let s = Atomics.exchange(this.i32, this.ownBase + O_HEADS + id * 8 + t, CLOSED);
        while (s >= 0) {
          const nx = Atomics.load(this.i32, this.nextOf + s);
          this.pushCentral(t, s);
          s = nx;
        }
      }
      this.ownerId = -1;
      Atomics.and(this.i32, this.ownBase + (id >> 5), ~(1 << (id & 31)));
    }
    for (let t = 0; t < this.caches.length; t++) {
      const c = this.caches[t];
      if (c.n > 0) this.pushAllCentral(t, c.stack, 0, c.n);
      c.n = 0;
    }
  }

  /** Free slots in the central lists plus this thread's caches and remote-free lists (other threads' not counted). */
  freeCount(): number {
    let n = 0;
    for (let t = 0; t < this.queues.length; t++) {
      n += this.queues[t].size + this.caches[t].n;
      if (this.ownerId < 0) continue;
      for (let s = Atomics.load(this.i32, this.ownBase + O_HEADS + this.ownerId * 8 + t); s >= 0; s = Atomics.load(this.i32, this.nextOf + s)) n++;
    }
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
    // concurrent pop still in progress (Vyukov's ring may fail spuriously then, for as long as that
    // popper is descheduled): retry. Only a list that stays full for CORRUPT_RETRIES attempts is
    // taken for corrupt (a slot pushed twice behind the owner word's back, i.e. overwritten memory)
    // and throws rather than spinning forever: `size` is a racy snapshot (two loads) that can read
    // "full" for a moment while pushes and pops interleave, so it is never trusted on its own.
    const q = this.queues[t];
    for (let fails = 0; !q.tryPush(slot); ) {
      if (++fails >= CORRUPT_RETRIES && q.size >= this.tierCount[t]) throw new Error(`FuturePool: the central free list of tier ${t} stays full; slot ${slot} was freed twice (corrupt pool)`);
    }
  }

  private pushAllCentral(t: number, stack: Int32Array, from: number, count: number): void {
    const q = this.queues[t];
    let done = 0;
    for (let fails = 0; done < count; ) {
      const n = q.pushBatch(stack, from + done, count - done);
      if (n === 0 && ++fails >= CORRUPT_RETRIES && q.size >= this.tierCount[t]) throw new Error(`FuturePool: the central free list of tier ${t} stays full (corrupt pool)`);
      if (n !== 0) fails = 0;
      done += n;
    }
  }
}

/** The error for a bad argument: TypeError for a non-number, RangeError for a number out of range. */
function badArg(call: string, name: string, v: unknown, want: string): Error {
  const shown = typeof v === 'string' ? JSON.stringify(v) : typeof v === 'symbol' || typeof v === 'bigint' ? `${typeof v} ${String(v)}` : String(v);
  const msg = `FuturePool.${call}: \`${name}\` must be ${want}, got ${shown}`;
  return typeof v === 'number' ? new RangeError(msg) : new TypeError(msg);
}
