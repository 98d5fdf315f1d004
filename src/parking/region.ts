/**
 * SharedRegion: one SharedArrayBuffer holding everything parklot shares between threads.
 *
 * Layout (see layout.ts): a header (magic, layout version, region id, sizes), the parking lot's
 * bucket table, a fixed pool of waiter records, a one-byte-per-word kind map and a heap of
 * primitive words handed out by a lock-free bump allocator.
 *
 * Invariants
 * - Header words are written once, by the creating thread, before the buffer is shared; every
 *   other thread reads them after receiving the buffer through postMessage/workerData, which
 *   orders them (the structured-clone transfer is a happens-before edge).
 * - The heap only grows: `HOT_BUMP` moves forward by CAS and never back, so a block is never
 *   handed out twice and memory is still zero when handed out (the SAB starts zeroed).
 * - The kind map says, for each heap word, which kind of primitive starts there (or TAG_CONT inside
 *   a block, TAG_NONE if unallocated). A handle is accepted only if its offset carries its kind's
 *   tag, so a forged, misaligned or foreign handle is refused instead of corrupting a neighbour.
 * - Waiter records live on a free stack (waiters.ts); a record is owned by exactly one parker
 *   from pop to push.
 * - Thread ids: a thread's first SharedRegion object for a region takes the next id from the
 *   header counter HOT_LAST_TID and registers it in the thread table (threads.ts). The id is kept
 *   in a per-thread map for the life of the thread, so a later attach (after the object was
 *   garbage-collected) gets the same id: a lock this thread holds stays its own.
 *
 * One SharedRegion object per region per thread: attach() looks the region id up in a per-thread
 * map first (module state is per thread in workers).
 */

import { hostThreadId } from '../platform/host.ts';
import { isKindName, kindOfTag, kindTag, type KindName } from './kinds.ts';
import {
  BUCKET_WORDS, HDR_BUCKETS, HDR_BUCKETS_OFF, HDR_FLAGS, HDR_HEAP_END, HDR_HEAP_OFF,
  HDR_ID, HDR_MAGIC, HDR_TAGS_OFF, HDR_THREADS, HDR_THREADS_OFF, HDR_TOTAL_BYTES, HDR_VERSION,
  HDR_WAITERS, HDR_WAITERS_OFF, HEADER_BYTES, FLAG_DEADLOCK_DETECTION, HOT_BUMP, HOT_LAST_TID, LAYOUT_VERSION, MAGIC,
  MAX_WAITERS, NIL, TAG_CONT, TAG_NONE, THREAD_WORDS, WAITER_WORDS,
} from './layout.ts';
import { ParkingLot } from './lot.ts';
import { ThreadTable } from './threads.ts';
import { WaiterPool } from './waiters.ts';

export interface RegionOptions {
  /** Heap bytes for primitives (each Mutex takes 4). Default 1 MiB. */
  bytes?: number;
  /** Waiter records: how many parks can be pending at once across all threads. Default 1024, max 65534. */
  waiters?: number;
  /** Parking-lot buckets, a power of two; use ≥ 4× the number of threads. Default 256. */
  buckets?: number;
  /** Thread records (one per thread that uses the region's locks; for owner-death recovery). Default 256. */
  threads?: number;
  /** Debug aids, off by default (zero cost when off). */
  debug?: {
    /** A lock attempt that would close a wait-for cycle throws DeadlockError instead of hanging. */
    deadlockDetection?: boolean;
  };
}

/** Called for each block of a kind when a thread of the region dies (see `onOwnerDeath`). */
export type OwnerDeathHandler = (region: SharedRegion, offset: number, deadThreadId: number) => void;
const deathHandlers = new Map<KindName, OwnerDeathHandler>();

/**
 * Registers what a primitive kind does when a thread dies: e.g. a Mutex held by the dead thread
 * wakes its waiters so one of them takes it over with OwnerDiedError. One handler per kind.
 */
export function onOwnerDeath(kind: KindName, handler: OwnerDeathHandler): void {
  deathHandlers.set(kind, handler);
}

/** Whether the block of a kind at `offset` still names thread `threadId` (e.g. as a lock's owner). */
export type OwnerCheck = (region: SharedRegion, offset: number, threadId: number) => boolean;
const ownerChecks = new Map<KindName, OwnerCheck>();
/** Kinds whose blocks can name a thread: without a registered check they count as naming any. */
const OWNER_KINDS: ReadonlySet<string> = new Set(['Mutex', 'RwLock', 'Once']);

/**
 * Registers how to tell whether a block of `kind` still names a thread; the thread table reclaims
 * a dead thread's record only when no block does (see threads.ts). One check per kind.
 */
export function onOwnerCheck(kind: KindName, check: OwnerCheck): void {
  ownerChecks.set(kind, check);
}

/** A plain, structured-cloneable description of a region: post it to a worker and attach there. */
export interface RegionHandle {
  readonly kind: 'parklot.region';
  readonly buffer: SharedArrayBuffer;
  readonly id: number;
  readonly version: number;
}

/** A plain, structured-cloneable reference to one primitive in a region. */
export interface PrimitiveHandle {
  readonly kind: KindName;
  readonly region: RegionHandle;
  readonly offset: number;
}

const DEFAULTS = { bytes: 1 << 20, waiters: 1024, buckets: 256, threads: 256 };
const ALIGNMENTS = new Set([4, 8, 16, 32, 64, 128]);

/**
 * Thread ids must fit the owner field of a lock word (27 bits in the Mutex, whose all-ones value
 * marks a lock that is not recoverable); ids are never reused,
 * so a region can hand out this many in its lifetime.
 */
export const MAX_THREAD_ID = (1 << 27) - 2;
/** Per-thread: region id → this thread's id in that region (kept for the life of the thread). */
const myIds = new Map<number, number>();

/** Per-thread registry: region id → the one SharedRegion object for it in this thread. */
const attached = new Map<number, WeakRef<SharedRegion>>();
const registry = new FinalizationRegistry<number>((id) => {
  const ref = attached.get(id);
  if (ref !== undefined && ref.deref() === undefined) attached.delete(id);
});
let defaultRegion: SharedRegion | undefined;

function checkCount(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`SharedRegion option \`${name}\` must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

function roundUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export class SharedRegion {
  /** The whole region, including header and tables. */
  readonly buffer: SharedArrayBuffer;
  /** Int32 view of the whole buffer. Words are touched only through Atomics (see each user). */
  readonly i32: Int32Array;
  /** Random id stored in the header; identifies the region across threads. */
  readonly id: number;
  /** The parking lot whose buckets and waiter records live in this region. */
  readonly lot: ParkingLot;
  readonly heapStart: number;
  readonly heapEnd: number;
  readonly waiterCount: number;
  readonly bucketCount: number;
  /** Thread records: liveness and (debug) wait-for edges. */
  readonly threads: ThreadTable;
  /** Whether debug deadlock detection is on for this region. */
  readonly deadlockDetection: boolean;
  /**
   * This thread's id in this region (1, 2, …: unique in the region, never reused). Lock words,
   * waiter records and error messages name threads by it; `Mutex.owner` returns it.
   */
  readonly threadId: number;
  /** @internal The region's waiter records (used by its parking lot). */
  readonly waiters: WaiterPool;
  private readonly tags: Uint8Array;
  private readonly tagsOff: number;
  private cachedHandle: RegionHandle | undefined;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    const h = this.i32;
    this.id = h[HDR_ID];
    this.heapStart = h[HDR_HEAP_OFF];
    this.heapEnd = h[HDR_HEAP_END];
    this.waiterCount = h[HDR_WAITERS];
    this.bucketCount = h[HDR_BUCKETS];
    this.tagsOff = h[HDR_TAGS_OFF];
    this.tags = new Uint8Array(buffer, this.tagsOff, (this.heapEnd - this.heapStart) >> 2);
    this.threads = new ThreadTable(h, h[HDR_THREADS_OFF] >> 2, h[HDR_THREADS]);
    this.threads.referenced = (tid) => this.namesThread(tid);
    this.deadlockDetection = (h[HDR_FLAGS] & FLAG_DEADLOCK_DETECTION) !== 0;
    this.threadId = SharedRegion.idForThisThread(h, this.id);
    this.threads.register(this.threadId, hostThreadId);
    this.waiters = new WaiterPool(h, h[HDR_WAITERS_OFF] >> 2, this.waiterCount);
    this.lot = new ParkingLot(h, this.threadId, h[HDR_BUCKETS_OFF] >> 2, this.bucketCount, this.waiters);
  }

  private static idForThisThread(h: Int32Array, regionId: number): number {
    let tid = myIds.get(regionId);
    if (tid === undefined) {
      // One atomic add per thread and region: ids are unique and never handed out twice.
      tid = Atomics.add(h, HOT_LAST_TID, 1) + 1;
      if (tid > MAX_THREAD_ID) {
        throw new RangeError(`SharedRegion: this region has handed out all ${MAX_THREAD_ID} thread ids (one per thread that attached it); create a new region`);
      }
      myIds.set(regionId, tid);
    }
    return tid;
  }

  /** Creates a new region. Sizes are fixed for its lifetime (shared memory cannot grow). */
  static create(opts: RegionOptions = {}): SharedRegion {
    if (opts === null || typeof opts !== 'object') throw new TypeError('SharedRegion.create(opts): opts must be an object');
    const bytes = checkCount('bytes', opts.bytes ?? DEFAULTS.bytes, 4, 1 << 30);
    const waiters = checkCount('waiters', opts.waiters ?? DEFAULTS.waiters, 1, MAX_WAITERS);
    const buckets = checkCount('buckets', opts.buckets ?? DEFAULTS.buckets, 1, 1 << 16);
    if ((buckets & (buckets - 1)) !== 0) {
      throw new RangeError(`SharedRegion option \`buckets\` must be a power of two, got ${buckets}`);
    }
    const threads = checkCount('threads', opts.threads ?? DEFAULTS.threads, 1, 1 << 16);
    if (opts.debug !== undefined && (opts.debug === null || typeof opts.debug !== 'object')) {
      throw new TypeError('SharedRegion option `debug` must be an object like { deadlockDetection: true }');
    }
    const flags = opts.debug?.deadlockDetection === true ? FLAG_DEADLOCK_DETECTION : 0;

    const threadsOff = HEADER_BYTES;
    const bucketsOff = roundUp(threadsOff + threads * THREAD_WORDS * 4, 128);
    const waitersOff = bucketsOff + buckets * BUCKET_WORDS * 4;
    const tagsOff = waitersOff + waiters * WAITER_WORDS * 4;
    const heapBytes = roundUp(bytes, 4);
    const heapOff = roundUp(tagsOff + (heapBytes >> 2), 128);
    const heapEnd = heapOff + heapBytes;
    const total = roundUp(heapEnd, 128);

    const buffer = new SharedArrayBuffer(total);
    const h = new Int32Array(buffer);
    // Plain writes: nobody else can see the buffer yet; posting it later publishes them.
    h[HDR_MAGIC] = MAGIC;
    h[HDR_VERSION] = LAYOUT_VERSION;
    h[HDR_ID] = crypto.getRandomValues(new Int32Array(1))[0] | 1; // never 0
    h[HDR_TOTAL_BYTES] = total;
    h[HDR_BUCKETS] = buckets;
    h[HDR_BUCKETS_OFF] = bucketsOff;
    h[HDR_WAITERS] = waiters;
    h[HDR_WAITERS_OFF] = waitersOff;
    h[HDR_TAGS_OFF] = tagsOff;
    h[HDR_HEAP_OFF] = heapOff;
    h[HDR_HEAP_END] = heapEnd;
    h[HDR_FLAGS] = flags;
    h[HDR_THREADS] = threads;
    h[HDR_THREADS_OFF] = threadsOff;
    h[HOT_BUMP] = heapOff;
    WaiterPool.format(h, waitersOff >> 2, waiters);
    const b0 = bucketsOff >> 2;
    for (let i = 0; i < buckets; i++) {
      h[b0 + i * BUCKET_WORDS + 1] = NIL; // BKT_HEAD
      h[b0 + i * BUCKET_WORDS + 2] = NIL; // BKT_TAIL
    }
    return SharedRegion.register(new SharedRegion(buffer));
  }

  /**
   * Returns this thread's object for the region a handle describes, creating it on first attach.
   * Validates the buffer, magic, layout version and id; throws TypeError/RangeError naming the problem.
   */
  static attach(handle: RegionHandle): SharedRegion {
    if (handle === null || typeof handle !== 'object') {
      throw new TypeError(`SharedRegion.attach: expected a region handle object, got ${handle === null ? 'null' : typeof handle}`);
    }
    if (handle.kind !== 'parklot.region') {
      throw new TypeError(`SharedRegion.attach: handle.kind must be 'parklot.region', got ${JSON.stringify(handle.kind)}`);
    }
    const buffer: unknown = handle.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) {
      const what = buffer instanceof ArrayBuffer ? 'an ArrayBuffer (not shared: it cannot be shared between threads)' : typeof buffer;
      throw new TypeError(`SharedRegion.attach: handle.buffer must be a SharedArrayBuffer, got ${what}`);
    }
    if (buffer.byteLength < HEADER_BYTES) {
      throw new RangeError(`SharedRegion.attach: buffer of ${buffer.byteLength} bytes is too small to hold a region header (${HEADER_BYTES} bytes)`);
    }
    const h = new Int32Array(buffer, 0, HEADER_BYTES >> 2);
    if (h[HDR_MAGIC] !== MAGIC) throw new TypeError('SharedRegion.attach: buffer is not a parklot region (bad magic number)');
    if (h[HDR_VERSION] !== LAYOUT_VERSION) {
      throw new TypeError(`SharedRegion.attach: region layout version ${h[HDR_VERSION]} is not supported (this parklot uses ${LAYOUT_VERSION})`);
    }
    if (h[HDR_ID] !== handle.id) {
      throw new TypeError(`SharedRegion.attach: handle.id ${String(handle.id)} does not match the region's id ${h[HDR_ID]}`);
    }
    if (h[HDR_TOTAL_BYTES] !== buffer.byteLength || h[HDR_HEAP_END] > buffer.byteLength) {
      throw new RangeError('SharedRegion.attach: region header sizes do not match the buffer (truncated or corrupt region)');
    }
    const existing = attached.get(handle.id)?.deref();
    if (existing !== undefined && existing.buffer.byteLength === buffer.byteLength) return existing;
    return SharedRegion.register(new SharedRegion(buffer));
  }

  /** This thread's default region, created on first use with default sizes. */
  static default(): SharedRegion {
    defaultRegion ??= SharedRegion.create();
    return defaultRegion;
  }

  private static register(r: SharedRegion): SharedRegion {
    attached.set(r.id, new WeakRef(r));
    registry.register(r, r.id);
    return r;
  }

  /** A plain cloneable handle for this region. */
  get handle(): RegionHandle {
    this.cachedHandle ??= Object.freeze({ kind: 'parklot.region', buffer: this.buffer, id: this.id, version: LAYOUT_VERSION });
    return this.cachedHandle;
  }

  /** Heap bytes still free. */
  get freeBytes(): number {
    return this.heapEnd - Atomics.load(this.i32, HOT_BUMP);
  }

  /**
   * Allocates `bytes` zeroed bytes for a primitive of `kind`, aligned to `align` (4–128, a power of
   * two; 128 keeps the block's first word on its own cache line). Returns the byte offset.
   * Throws RangeError naming the `bytes` option when the heap is full; the heap is unchanged then.
   */
  alloc(kind: KindName, bytes: number, align = 4): number {
    const tag = kindTag(kind);
    if (!Number.isInteger(bytes) || bytes <= 0) throw new RangeError(`SharedRegion.alloc: bytes must be a positive integer, got ${bytes}`);
    if (!ALIGNMENTS.has(align)) throw new RangeError(`SharedRegion.alloc: align must be 4, 8, 16, 32, 64 or 128, got ${align}`);
    const size = roundUp(bytes, 4);
    let start: number;
    for (;;) {
      // Reads the latest bump (the CAS below publishes it); no data is published through it.
      const cur = Atomics.load(this.i32, HOT_BUMP);
      start = roundUp(cur, align);
      const end = start + size;
      if (end > this.heapEnd) {
        throw new RangeError(
          `SharedRegion is full: ${kind} needs ${size} bytes (aligned to ${align}) but ${this.heapEnd - cur} of ` +
          `${this.heapEnd - this.heapStart} heap bytes are left; create the region with a larger \`bytes\` option`,
        );
      }
      if (Atomics.compareExchange(this.i32, HOT_BUMP, cur, end) === cur) break;
    }
    // Tag the block. Threads learn of the block only through a handle posted after this point,
    // which orders these stores before any validation reads them.
    const t0 = (start - this.heapStart) >> 2;
    Atomics.store(this.tags, t0, tag);
    for (let i = 1; i < size >> 2; i++) Atomics.store(this.tags, t0 + i, TAG_CONT);
    return start;
  }

  /** A plain cloneable handle for the primitive of `kind` at `offset`. */
  handleFor(kind: KindName, offset: number): PrimitiveHandle {
    this.checkOffset(kind, offset);
    return Object.freeze({ kind, region: this.handle, offset });
  }

  /** Throws unless a block of `kind` starts at byte `offset` of this region. */
  checkOffset(kind: KindName, offset: unknown): asserts offset is number {
    if (typeof offset !== 'number' || !Number.isInteger(offset)) {
      throw new TypeError(`${kind} handle: offset must be an integer, got ${typeof offset === 'number' ? offset : typeof offset}`);
    }
    if (offset < this.heapStart || offset >= this.heapEnd) {
      throw new RangeError(`${kind} handle: offset ${offset} is outside the region's heap [${this.heapStart}, ${this.heapEnd})`);
    }
    if ((offset & 3) !== 0) throw new RangeError(`${kind} handle: offset ${offset} is not 4-byte aligned`);
    const tag = Atomics.load(this.tags, (offset - this.heapStart) >> 2);
    if (tag === kindTag(kind)) return;
    if (tag === TAG_NONE) throw new RangeError(`${kind} handle: nothing was allocated at offset ${offset}`);
    if (tag === TAG_CONT) throw new RangeError(`${kind} handle: offset ${offset} is inside another primitive (misaligned)`);
    throw new TypeError(`${kind} handle: offset ${offset} holds a ${kindOfTag(tag) ?? 'unknown primitive'}, not a ${kind}`);
  }

  // ---- owner death ----

  /**
   * Watches a worker (`node:worker_threads` Worker, or one with its `threadId` and `once('exit')`):
   * when it exits (normally, by `terminate()`, an uncaught exception or OOM) the threads it ran in
   * this region are marked dead, their queued waiters are purged, and the waiters of every lock
   * they held are woken so the next locker takes the lock over with OwnerDiedError. Returns the
   * worker. The worker is found by the runtime's thread id, which its attach recorded.
   */
  watch<W extends { readonly threadId: number; once(event: 'exit', fn: (code: number) => void): unknown }>(worker: W): W {
    const hostId = (worker as { threadId?: unknown } | null)?.threadId;
    if (typeof hostId !== 'number' || !Number.isInteger(hostId) || hostId < 0 || typeof worker.once !== 'function') {
      throw new TypeError('SharedRegion.watch: expected a node:worker_threads Worker (with a threadId and once()); watch it before it exits');
    }
    worker.once('exit', () => {
      for (const tid of this.threads.threadsOfHost(hostId)) this.markThreadDead(tid);
    });
    return worker;
  }

  /** Marks this region's thread `tid` (a `threadId` of the region) dead now. Idempotent. */
  markThreadDead(tid: number): void {
    if (!this.threads.markDead(tid)) return;
    this.lot.purgeThread(tid);
    if (deathHandlers.size === 0) return;
    const end = (Atomics.load(this.i32, HOT_BUMP) - this.heapStart) >> 2;
    for (let i = 0; i < end; i++) {
      const tag = Atomics.load(this.tags, i);
      if (tag === TAG_NONE || tag === TAG_CONT) continue;
      const kind = kindOfTag(tag);
      const handler = kind === undefined ? undefined : deathHandlers.get(kind);
      if (handler !== undefined) handler(this, this.heapStart + i * 4, tid);
    }
  }

  /**
   * Whether any block still names thread `tid` (a lock it owns, an initializer it runs): scans the
   * heap's kind tags. Blocks of an owner-bearing kind whose module did not register a check in this
   * thread count as naming it (conservative). Used only when the thread table is full.
   */
  private namesThread(tid: number): boolean {
    const end = (Atomics.load(this.i32, HOT_BUMP) - this.heapStart) >> 2;
    for (let i = 0; i < end; i++) {
      const tag = Atomics.load(this.tags, i);
      if (tag === TAG_NONE || tag === TAG_CONT) continue;
      const kind = kindOfTag(tag);
      if (kind === undefined) continue;
      const check = ownerChecks.get(kind);
      if (check !== undefined ? check(this, this.heapStart + i * 4, tid) : OWNER_KINDS.has(kind)) return true;
    }
    return false;
  }

  /** How many waiter records are free now (walks the stack; for tests and leak checks). */
  freeWaiterCount(): number {
    return this.waiters.freeCount();
  }
}

/**
 * Resolves a primitive handle received from another thread (or this one): attaches its region and
 * checks that a block of `kind` starts at its offset. Throws TypeError/RangeError naming the problem.
 */
export function resolveHandle(handle: unknown, kind: KindName): { region: SharedRegion; offset: number } {
  if (handle === null || typeof handle !== 'object') {
    throw new TypeError(`${kind}.from: expected a ${kind} handle object, got ${handle === null ? 'null' : typeof handle}`);
  }
  const h = handle as Partial<PrimitiveHandle>;
  if (h.kind !== kind) {
    const got = isKindName(h.kind) ? `a ${h.kind} handle` : `kind ${JSON.stringify(h.kind)}`;
    throw new TypeError(`${kind}.from: expected a ${kind} handle, got ${got}`);
  }
  if (h.region === null || typeof h.region !== 'object') throw new TypeError(`${kind}.from: handle.region is missing`);
  const region: SharedRegion = SharedRegion.attach(h.region);
  const offset: unknown = h.offset;
  region.checkOffset(kind, offset);
  return { region, offset };
}
