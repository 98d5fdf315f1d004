/**
 * Blocking and async waits shared by MpmcQueue and SpscQueue: park on the region's ParkingLot
 * while a queue is empty (consumers) or full (producers), and wake only when someone sleeps.
 *
 * Waiter word (one Int32 per queue, on its own 128-byte line, written only by threads about to
 * park or leaving a park):
 *
 * | bits 16..31             | bits 0..15                |
 * |-------------------------|---------------------------|
 * | producers waiting (full) | consumers waiting (empty) |
 *
 * Protocol (no lost wake-up): a waiter first adds its unit to the waiter word (SC RMW), then
 * parks with a `validate` that re-checks "still empty/full" under the bucket lock. A producer
 * publishes its item (SC store of the cell's seq / the write index) and then loads the waiter
 * word. By sequential consistency either the producer's load sees the waiter's increment (so it
 * calls `unparkOne`, which takes the same bucket lock and finds the waiter queued, or finds it not
 * yet queued, in which case the waiter's later `validate` sees the item and does not sleep), or
 * the waiter's increment comes after the load, so its `validate` sees the published item. Either
 * way a sleeper is never left behind an item it could take. `Atomics.notify` (inside the lot)
 * is reached only when the count says a thread waits.
 *
 * Wake chaining: a woken consumer may find the head cell still unpublished (Vyukov's ring lets a
 * later push finish before an earlier one) and go back to sleep while another consumer takes the
 * item that arrives next. So every successful operation that leaves the condition true for its
 * own side (a pop that leaves items behind, a push that leaves room) also wakes one waiter of
 * that side if the waiter word says there is one. Each item, and each free cell, is therefore
 * always either taken or announced to a sleeper.
 */

import type { ParkingLot, ParkResult } from '../parking/lot.ts';

/** Unit added to the waiter word by a consumer waiting for an item. */
export const POP_WAITER = 1;
/** Unit added to the waiter word by a producer waiting for a free cell. */
export const PUSH_WAITER = 1 << 16;

/** Retries of the non-blocking operation (with a pause between) before a thread parks. */
export const SPIN_TRIES = 16;

/**
 * Parks the calling thread on `key` while `blocked()` holds (checked under the bucket lock),
 * counted in the waiter word at `i32[waitIdx]` with `unit`. Blocks; `timeoutMs` may be Infinity.
 */
export function parkCounted(
  lot: ParkingLot,
  i32: Int32Array,
  waitIdx: number,
  unit: number,
  key: number,
  blocked: () => boolean,
  timeoutMs: number,
): ParkResult {
  // SC RMW, ordered before validate's loads: see the protocol in the file comment.
  Atomics.add(i32, waitIdx, unit);
  try {
    return lot.park(key, blocked, timeoutMs === Infinity ? undefined : { timeoutMs });
  } finally {
    // Leaving the count: a waker that still sees us only makes a harmless extra unpark call.
    Atomics.sub(i32, waitIdx, unit);
  }
}

/** As {@link parkCounted}, without blocking the event loop. */
export async function parkCountedAsync(
  lot: ParkingLot,
  i32: Int32Array,
  waitIdx: number,
  unit: number,
  key: number,
  blocked: () => boolean,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<ParkResult> {
  Atomics.add(i32, waitIdx, unit);
  try {
    return await lot.parkAsync(key, blocked, timeoutMs === Infinity ? { signal } : { timeoutMs, signal });
  } finally {
    Atomics.sub(i32, waitIdx, unit);
  }
}

/** Normalizes a user timeout in ms: NaN / non-number → RangeError; negative → 0. */
export function checkMs(what: string, ms: unknown): number {
  if (typeof ms !== 'number' || Number.isNaN(ms)) {
    throw new RangeError(`${what}: timeout must be a number of milliseconds, got ${String(ms)}`);
  }
  return ms < 0 ? 0 : ms;
}

/**
 * Checks the options of an async push/pop: an object with an optional non-NaN `timeoutMs` and an
 * optional AbortSignal `signal`. Returns the timeout (Infinity when absent) and the signal.
 */
export function checkWaitOptions(what: string, opts: unknown): { timeout: number; signal: AbortSignal | undefined } {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${what}: opts must be an object`);
  const { signal, timeoutMs } = opts as { signal?: unknown; timeoutMs?: unknown };
  const timeout = timeoutMs === undefined ? Infinity : checkMs(what, timeoutMs);
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${what}: \`signal\` must be an AbortSignal`);
  return { timeout, signal };
}

/**
 * Checks the arguments of `pushBatch(values, start, count)`: an array-like `values` and integers
 * with 0 ≤ start, 0 ≤ count, start + count ≤ values.length (RangeError otherwise, nothing pushed).
 */
export function checkBatchRange(what: string, values: unknown, start: unknown, count: unknown): void {
  if (values === null || typeof values !== 'object' || typeof (values as { length?: unknown }).length !== 'number') {
    throw new TypeError(`${what}: values must be an array or typed array`);
  }
  const len = (values as ArrayLike<number>).length;
  if (!Number.isInteger(start) || !Number.isInteger(count) || (start as number) < 0 || (count as number) < 0 || (start as number) + (count as number) > len) {
    throw new RangeError(`${what}: start and count must be integers with 0 ≤ start, 0 ≤ count and start + count ≤ values.length (${len}), got start ${String(start)}, count ${String(count)}`);
  }
}

/** Checks the `out` and `max` arguments of `popBatch(out, max)`. */
export function checkPopBatch(what: string, out: unknown, max: unknown): void {
  if (!(out instanceof Int32Array) && !Array.isArray(out)) throw new TypeError(`${what}: out must be an Int32Array or an array`);
  if (!Number.isInteger(max) || (max as number) < 0) throw new RangeError(`${what}: max must be a non-negative integer, got ${String(max)}`);
}

/** Checks the `fastPath` option: a boolean, or absent (undefined/null: default true). */
export function checkFastPath(what: string, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (typeof v !== 'boolean') throw new TypeError(`${what} option \`fastPath\` must be a boolean, got ${String(v)}`);
  return v;
}

/** Throws a TypeError unless `v` is an Int32 (the only values the queues carry). */
export function checkInt32(what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || (v | 0) !== v) {
    throw new TypeError(`${what}: value must be an Int32 (an integer from -2^31 to 2^31-1), got ${typeof v === 'number' ? v : typeof v}`);
  }
}
