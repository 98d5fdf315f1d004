/**
 * Bounded MPMC ring over an `Int32Array`: the core of `MpmcQueue` and of the sharded TaskList's
 * remote-removal inboxes. Plain functions over `(i32, base, mask)` so every caller stays
 * monomorphic and the tests can run the algorithm over any `SharedArrayBuffer`.
 *
 * Algorithm: Dmitry Vyukov's bounded MPMC queue (1024cores.net, "Bounded MPMC queue", 2010).
 * Each cell holds `[seq, value]`; producers and consumers claim positions by CAS on two
 * free-running counters and hand cells to each other through the cell's `seq`. The sequence
 * encoding is the lap-parity variant used by Erik Rigtorp's MPMCQueue and crossbeam's
 * ArrayQueue (stamp = position and a "full" bit): here `seq = 2·pos` means "free for the push
 * at `pos`" and `seq = 2·pos + 1` means "holds the value of the push at `pos`". Vyukov's
 * original `seq = pos / pos + 1` cannot tell those apart when the capacity is 1; the doubled
 * encoding can, so capacity 1 works. All counters are Int32 and wrap; they are only ever
 * compared through `(a - b) | 0`, so wraparound is harmless while a thread's view of a counter
 * is less than 2^30 positions stale (capacity ≤ 2^28 keeps one lap far inside that).
 *
 * Layout (Int32 indices from `base`; each header word on its own 128-byte line so the producer
 * counter, the consumer counter and the rarely written waiter counts never false-share):
 *
 * | index        | word          | written by                      |
 * |--------------|---------------|---------------------------------|
 * | 0            | capacity      | creator, once                   |
 * | 32           | enqPos        | producers (CAS)                 |
 * | 64           | deqPos        | consumers (CAS)                 |
 * | 96           | waiter word   | threads about to park (used by `MpmcQueue`, see blocking.ts) |
 * | 128 + 2i     | cell i: seq   | the producer / consumer that owns the cell   |
 * | 128 + 2i + 1 | cell i: value | the producer that owns the cell  |
 *
 * Invariants:
 * - `deqPos ≤ enqPos ≤ deqPos + capacity` (as wrapped differences).
 * - A position is owned by exactly one producer (the one whose CAS moved `enqPos` past it) and
 *   one consumer (same on `deqPos`); only the owner writes the cell for that lap.
 * - Cell `pos & mask` goes free(2·pos) → full(2·pos+1) → free(2·(pos+capacity)), and never
 *   backwards.
 *
 * Progress: not lock-free in the strict sense. A producer preempted between its CAS and its
 * `seq` store blocks consumers at that one cell (they see "empty" there), and a preempted
 * consumer blocks producers a lap later; every other operation completes in a bounded number
 * of steps unless its CAS keeps losing to operations that do complete. `tryPush`/`tryPop` may
 * therefore fail *spuriously*: `tryPop` can report empty while an overlapping push is in
 * progress, `tryPush` can report full while an overlapping pop is in progress. Successful
 * operations are linearizable (FIFO in claim order); see `test/support/lincheck.ts` for the
 * exact specification the tests check.
 *
 * Memory edges: JS Atomics are sequentially consistent. The value word is accessed with plain
 * reads and writes; that is race-free because the producer's plain write is sequenced before
 * its `Atomics.store(seq, 2·pos+1)`, which the consumer's `Atomics.load(seq)` reads from
 * (synchronizes-with), and the consumer's plain read is sequenced before its
 * `Atomics.store(seq, 2·(pos+capacity))`, which the next lap's producer reads from before it
 * writes the value again.
 */

/** Int32 words per 128-byte line. */
export const LINE = 32;
export const R_CAPACITY = 0;
export const R_ENQ = LINE;
export const R_DEQ = 2 * LINE;
/** Waiter word of `MpmcQueue` (see blocking.ts); 3·LINE + 1 is the producers' parking key word. */
export const R_WAITERS = 3 * LINE;
export const R_CELLS = 4 * LINE;
/** Largest capacity accepted: keeps wrapped differences far from ±2^31. */
export const MAX_RING_CAPACITY = 1 << 28;

/** Bytes needed for a ring of `capacity` cells. */
export function ringBytes(capacity: number): number {
  return (R_CELLS + 2 * capacity) * 4;
}

/**
 * Throws a RangeError naming the problem unless `capacity` is a power of two in
 * [1, 2^28]. `what` names the option in the message.
 */
export function checkRingCapacity(capacity: unknown, what: string): number {
  if (typeof capacity !== 'number' || !Number.isInteger(capacity)) {
    throw new RangeError(`${what} must be an integer power of two, got ${String(capacity)}`);
  }
  if (capacity < 1 || capacity > MAX_RING_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`${what} must be a power of two between 1 and 2^28, got ${capacity}`);
  }
  return capacity;
}

/** Initializes a zero-filled block as an empty ring (no other thread may see it yet). */
export function ringInit(i32: Int32Array, base: number, capacity: number): void {
  // Plain-free: these stores happen before the block's handle is published to any other
  // thread (postMessage or a later Atomics store of the offset orders them).
  Atomics.store(i32, base + R_CAPACITY, capacity);
  Atomics.store(i32, base + R_ENQ, 0);
  Atomics.store(i32, base + R_DEQ, 0);
  for (let i = 0; i < capacity; i++) {
    Atomics.store(i32, base + R_CELLS + 2 * i, i << 1);
    Atomics.store(i32, base + R_CELLS + 2 * i + 1, 0);
  }
}

/** Pushes `value` if a cell is free. May fail spuriously while a pop is in progress. */
export function ringTryPush(i32: Int32Array, base: number, mask: number, value: number): boolean {
  // Reads the latest enqPos; any stale value is corrected by the seq check or the CAS.
  let pos = Atomics.load(i32, base + R_ENQ);
  for (;;) {
    const cell = base + R_CELLS + ((pos & mask) << 1);
    // Synchronizes with the store of the consumer that freed this cell a lap ago.
    const seq = Atomics.load(i32, cell);
    const dif = (seq - (pos << 1)) | 0;
    if (dif === 0) {
      // Claim `pos`. SC RMW: exactly one producer moves enqPos past pos.
      const seen = Atomics.compareExchange(i32, base + R_ENQ, pos, (pos + 1) | 0);
      if (seen === pos) {
        i32[cell + 1] = value; // plain: the seq store below publishes it (see file comment)
        // Publishes the value: the consumer of `pos` reads this store.
        Atomics.store(i32, cell, (pos << 1) | 1);
        return true;
      }
      pos = seen;
    } else if (dif < 0) {
      // The cell still holds (or is being drained of) the value from a lap ago: full.
      return false;
    } else {
      // Another producer already took `pos`; catch up.
      pos = Atomics.load(i32, base + R_ENQ);
    }
  }
}

/** Pops the oldest value, or `undefined` if none is ready. May fail spuriously (see above). */
export function ringTryPop(i32: Int32Array, base: number, mask: number): number | undefined {
  let pos = Atomics.load(i32, base + R_DEQ);
  for (;;) {
    const cell = base + R_CELLS + ((pos & mask) << 1);
    // Synchronizes with the producer's publishing store of (pos << 1) | 1.
    const seq = Atomics.load(i32, cell);
    const dif = (seq - ((pos << 1) | 1)) | 0;
    if (dif === 0) {
      const seen = Atomics.compareExchange(i32, base + R_DEQ, pos, (pos + 1) | 0);
      if (seen === pos) {
        const value = i32[cell + 1]!; // plain: ordered after the seq load above
        // Frees the cell for the producer one lap ahead; that producer reads this store.
        Atomics.store(i32, cell, (pos + mask + 1) << 1);
        return value;
      }
      pos = seen;
    } else if (dif < 0) {
      return undefined;
    } else {
      pos = Atomics.load(i32, base + R_DEQ);
    }
  }
}

/**
 * Pushes up to `count` values from `values[start…]` in order with one CAS on `enqPos` for the
 * whole run of free cells. Returns how many were pushed (0 when full, possibly spuriously).
 * The batch is not atomic for consumers: they may see its first values before the rest.
 */
export function ringTryPushBatch(
  i32: Int32Array,
  base: number,
  mask: number,
  values: ArrayLike<number>,
  start: number,
  count: number,
): number {
  if (count <= 0) return 0;
  let pos = Atomics.load(i32, base + R_ENQ);
  for (;;) {
    // Count the free cells from pos on. Their seq cannot change before our CAS: only the
    // producer owning a position writes its cell, and nobody owns positions ≥ enqPos.
    let k = 0;
    while (k < count && k <= mask) {
      const p = (pos + k) | 0;
      const seq = Atomics.load(i32, base + R_CELLS + ((p & mask) << 1));
      if (seq !== p << 1) break;
      k++;
    }
    if (k === 0) {
      const seq = Atomics.load(i32, base + R_CELLS + ((pos & mask) << 1));
      if (((seq - (pos << 1)) | 0) < 0) return 0;
      pos = Atomics.load(i32, base + R_ENQ);
      continue;
    }
    const seen = Atomics.compareExchange(i32, base + R_ENQ, pos, (pos + k) | 0);
    if (seen !== pos) {
      pos = seen;
      continue;
    }
    for (let j = 0; j < k; j++) {
      const p = (pos + j) | 0;
      const cell = base + R_CELLS + ((p & mask) << 1);
      i32[cell + 1] = values[start + j]! | 0; // plain: published by the seq store below
      Atomics.store(i32, cell, (p << 1) | 1);
    }
    return k;
  }
}

/**
 * Pops up to `max` ready values into `out[outStart…]` with one CAS on `deqPos` for the whole
 * run of ready cells. Returns how many were popped (0 when empty, possibly spuriously).
 */
export function ringTryPopBatch(
  i32: Int32Array,
  base: number,
  mask: number,
  out: { [index: number]: number },
  outStart: number,
  max: number,
): number {
  if (max <= 0) return 0;
  let pos = Atomics.load(i32, base + R_DEQ);
  for (;;) {
    // Ready cells from pos on stay ready until their consumer (us, after the CAS) frees them.
    let k = 0;
    while (k < max && k <= mask) {
      const p = (pos + k) | 0;
      const seq = Atomics.load(i32, base + R_CELLS + ((p & mask) << 1));
      if (seq !== ((p << 1) | 1)) break;
      k++;
    }
    if (k === 0) {
      const seq = Atomics.load(i32, base + R_CELLS + ((pos & mask) << 1));
      if (((seq - ((pos << 1) | 1)) | 0) < 0) return 0;
      pos = Atomics.load(i32, base + R_DEQ);
      continue;
    }
    const seen = Atomics.compareExchange(i32, base + R_DEQ, pos, (pos + k) | 0);
    if (seen !== pos) {
      pos = seen;
      continue;
    }
    for (let j = 0; j < k; j++) {
      const p = (pos + j) | 0;
      const cell = base + R_CELLS + ((p & mask) << 1);
      out[outStart + j] = i32[cell + 1]!; // plain: ordered after the seq load in the scan
      Atomics.store(i32, cell, (p + mask + 1) << 1);
    }
    return k;
  }
}

/**
 * `true` when the cell at the current `deqPos` holds no published value, i.e. a pop right now
 * would fail. Used as the park validation for consumers: a push that publishes after this
 * check also reads the waiter count afterwards and wakes them.
 */
export function ringLooksEmpty(i32: Int32Array, base: number, mask: number): boolean {
  const pos = Atomics.load(i32, base + R_DEQ);
  const seq = Atomics.load(i32, base + R_CELLS + ((pos & mask) << 1));
  return ((seq - ((pos << 1) | 1)) | 0) < 0;
}

/** `true` when the cell at the current `enqPos` is not yet free, i.e. a push would fail. */
export function ringLooksFull(i32: Int32Array, base: number, mask: number): boolean {
  const pos = Atomics.load(i32, base + R_ENQ);
  const seq = Atomics.load(i32, base + R_CELLS + ((pos & mask) << 1));
  return ((seq - (pos << 1)) | 0) < 0;
}

/**
 * Approximate number of items: claimed pushes minus claimed pops, read as two separate loads,
 * clamped to [0, capacity]. It counts pushes still in progress and misses pops still in
 * progress; exact only when no operation is running.
 */
export function ringSize(i32: Int32Array, base: number, mask: number): number {
  const deq = Atomics.load(i32, base + R_DEQ);
  const enq = Atomics.load(i32, base + R_ENQ);
  const n = (enq - deq) | 0;
  return n < 0 ? 0 : n > mask + 1 ? mask + 1 : n;
}
