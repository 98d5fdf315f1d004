/**
 * TaskRing: a worker's submission ring. One producer (the pool's main thread), several consumers
 * (the owning worker, thieves stealing half of it, and the main thread itself when it recovers the
 * tasks of a dead worker). Values are Int32 task entries (see layout.ts: slot index | generation).
 *
 * Algorithm: a bounded array ring with free-running Int32 indices, the shape of Tokio's local run
 * queue (`tokio/src/runtime/scheduler/multi_thread/queue.rs`) without its packed steal/real head:
 * the producer appends at `tail` with a single store; every consumer takes a run of entries by
 * reading them and then moving `head` forward with one compare-and-swap, so taking one entry, a
 * batch, or half the ring (steal-half) is the same operation with a different count.
 *
 * Layout (Int32 indices from the block start, each header word on its own 128-byte line):
 *
 * | index   | word     | written by                              |
 * |---------|----------|-----------------------------------------|
 * | 0       | capacity | creator, once (before the handle is posted) |
 * | 32      | tail     | the producer (Atomics.store)            |
 * | 64      | head     | consumers (Atomics.compareExchange)     |
 * | 96 + i  | data[i]  | the producer, while position i is free  |
 *
 * Invariants: `0 ≤ tail − head ≤ capacity` (wrapped Int32 differences). Positions in
 * [head, tail) hold entries that no consumer owns yet; a consumer owns [h, h + n) once its CAS moved
 * head from h to h + n, and it read those entries before the CAS. The producer writes position p
 * only when `p − head < capacity`, i.e. after the consumer that took position p − capacity moved head
 * past it, so an entry is never overwritten before the consumer that owns it read it.
 *
 * Memory edges (JS Atomics are sequentially consistent):
 * - producer: `Atomics.store(data[t])` then `Atomics.store(tail, t + 1)`; a consumer's
 *   `Atomics.load(tail)` that sees t + 1 synchronizes with it, so its read of data[t] sees the entry.
 * - consumer: reads data[h…h+n) then `compareExchange(head, h, h + n)`; the producer's
 *   `Atomics.load(head)` that sees h + n synchronizes with it, so the producer's later overwrite of
 *   those positions cannot be seen by that consumer's reads.
 * - A consumer whose CAS fails may have read entries the producer was overwriting; it discards them.
 *   The producer writes data words plainly (an aligned Int32 store is never torn) and consumers read
 *   them with Atomics.load after their tail load, so a successful taker always sees the published entry.
 *
 * Progress: push is wait-free; a take retries only when another consumer's CAS succeeded (so some
 * consumer always makes progress: lock-free). A consumer that dies between reading and its CAS
 * leaves the ring untouched; one that dies after its CAS owns entries nobody else will see, which
 * the pool detects through the task's state word (see main/sab-transport.ts, "Recovery").
 */

/** Int32 words per 128-byte line. */
const LINE = 32;
const R_CAPACITY = 0;
const R_TAIL = LINE;
const R_HEAD = 2 * LINE;
const R_DATA = 3 * LINE;

/** Bytes a ring of `capacity` entries takes. */
export function taskRingBytes(capacity: number): number {
  return (R_DATA + capacity) * 4;
}

export class TaskRing {
  readonly capacity: number;
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly mask: number;
  /** Producer's cached head (never ahead of the real head). */
  private headCache: number;
  /** Producer's copy of tail (only the producer writes tail). */
  private tailCache: number;

  /**
   * Views the ring at Int32 index `base` of `i32`. With `init`, writes the header first (only before
   * the block is shared with any other thread).
   */
  constructor(i32: Int32Array, base: number, capacity: number, init: boolean) {
    if (!Number.isInteger(capacity) || capacity < 1 || (capacity & (capacity - 1)) !== 0 || capacity > 1 << 24) {
      throw new RangeError(`TaskRing: capacity must be a power of two from 1 to 2^24, got ${capacity}`);
    }
    this.i32 = i32;
    this.base = base;
    this.capacity = capacity;
    this.mask = capacity - 1;
    if (init) {
      // Published with the block's offset in the worker's startup message (postMessage orders it).
      Atomics.store(i32, base + R_CAPACITY, capacity);
      Atomics.store(i32, base + R_TAIL, 0);
      Atomics.store(i32, base + R_HEAD, 0);
    } else if (Atomics.load(i32, base + R_CAPACITY) !== capacity) {
      throw new TypeError(`TaskRing: stored capacity ${Atomics.load(i32, base + R_CAPACITY)} does not match ${capacity} (corrupt or foreign block)`);
    }
    this.headCache = Atomics.load(i32, base + R_HEAD);
    this.tailCache = Atomics.load(i32, base + R_TAIL);
  }

  /** Entries waiting (a snapshot; exact for the producer between its own pushes when no consumer runs). */
  get size(): number {
    const h = Atomics.load(this.i32, this.base + R_HEAD);
    const t = Atomics.load(this.i32, this.base + R_TAIL);
    const n = (t - h) | 0;
    return n < 0 ? 0 : n > this.capacity ? this.capacity : n;
  }

  /** Producer only (one thread, one TaskRing object). Appends `entry` if there is room. */
  push(entry: number): boolean {
    const i32 = this.i32;
    const t = this.tailCache;
    if (((t - this.headCache) | 0) >= this.capacity) {
      // Synchronizes with the consumers' CAS: positions below the new head are free again.
      this.headCache = Atomics.load(i32, this.base + R_HEAD);
      if (((t - this.headCache) | 0) >= this.capacity) return false;
    }
    // Plain write, published by the tail store below. A consumer whose CAS is about to fail may read
    // this word while we write it; it discards what it read (see the file comment).
    i32[this.base + R_DATA + (t & this.mask)] = entry;
    // Publishes the entry: consumers' loads of tail synchronize with this store.
    Atomics.store(i32, this.base + R_TAIL, (t + 1) | 0);
    this.tailCache = (t + 1) | 0;
    return true;
  }

  /** Producer only. Free positions right now (never more than the truth). */
  room(): number {
    this.headCache = Atomics.load(this.i32, this.base + R_HEAD);
    return this.capacity - ((this.tailCache - this.headCache) | 0);
  }

  /** Any consumer. Takes up to `max` of the oldest entries into `out[0…)`; returns how many. */
  take(out: Int32Array, max: number): number {
    return this.takeSome(out, max, false);
  }

  /** Any consumer (a thief). Takes half of the waiting entries (rounded up), at most `max`. */
  steal(out: Int32Array, max: number): number {
    return this.takeSome(out, max, true);
  }

  /** Copies the waiting entries into `out` without taking them (a snapshot; for recovery scans). */
  peekAll(out: number[]): void {
    const i32 = this.i32;
    const h = Atomics.load(i32, this.base + R_HEAD);
    const t = Atomics.load(i32, this.base + R_TAIL);
    const n = Math.min((t - h) | 0, this.capacity);
    for (let j = 0; j < n; j++) out.push(Atomics.load(i32, this.base + R_DATA + ((h + j) & this.mask)));
  }

  private takeSome(out: Int32Array, max: number, half: boolean): number {
    const i32 = this.i32;
    const base = this.base;
    for (;;) {
      // Synchronizes with the CAS of the consumer that last moved head.
      const h = Atomics.load(i32, base + R_HEAD);
      // Synchronizes with the producer's publishing store of tail.
      const t = Atomics.load(i32, base + R_TAIL);
      let n = (t - h) | 0;
      if (n <= 0) return 0;
      if (n > this.capacity) continue; // h and t read at different moments; reload
      if (half) n = (n + 1) >> 1;
      if (n > max) n = max;
      if (n > out.length) n = out.length;
      for (let j = 0; j < n; j++) out[j] = Atomics.load(i32, base + R_DATA + ((h + j) & this.mask));
      // Claims [h, h + n): exactly one consumer's CAS from h succeeds.
      if (Atomics.compareExchange(i32, base + R_HEAD, h, (h + n) | 0) === h) return n;
    }
  }
}
