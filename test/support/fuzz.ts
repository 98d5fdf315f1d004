/**
 * Shared arbitraries and checks for the fuzz suite (test/fuzz/*.test.ts).
 *
 * "Documented error" here means what src/errors.ts and the JSDoc promise: a TypeError or
 * RangeError (bad input, handle validation, capacity), a plain Error for the misuse the headers
 * list (unlock by a non-holder, self-deadlock, …), or parklot's own classes (TimeoutError, …);
 * in every case the message names the API that refused (e.g. "Semaphore.release", "Mutex
 * option `spin`", "SharedRegion.attach"). An engine error such as "Cannot read properties of
 * undefined" is *not* documented: it does not name the problem, and the properties fail on it.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { TimeoutError } from '../../src/errors.ts';

/** Runs per property: CI runs this suite on every push, on 2 loaded cores. */
export const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
export const FEW = Math.max(10, Math.round(RUNS / 3));

/** A small region: cheap to create per run. */
export function smallRegion(bytes = 1 << 15): SharedRegion {
  return SharedRegion.create({ bytes, waiters: 64, buckets: 16, threads: 16 });
}

/** Messages that come from the engine, not from parklot: never a documented error. */
const ENGINE = /Cannot (read|set|destructure|convert)|is not a function|is not iterable|is not defined|undefined is not|null is not|Invalid (typed )?array length|Maximum call stack/;

/**
 * Asserts `e` is a documented error: one of `classes` (default TypeError/RangeError) whose
 * message mentions one of `names`, and no engine error.
 */
export function expectDocumented(e: unknown, names: readonly string[], classes: readonly (new (...a: never[]) => Error)[] = [TypeError, RangeError]): void {
  if (!(e instanceof Error)) throw new Error(`threw a non-Error: ${String(e)}`);
  const ok = classes.some((c) => e.constructor === c);
  if (!ok) throw new Error(`undocumented error class ${e.constructor.name}: ${e.message}`);
  if (ENGINE.test(e.message)) throw new Error(`engine error, not a documented one: ${e.name}: ${e.message}`);
  if (!names.some((n) => e.message.includes(n))) throw new Error(`error message does not name the API (${names.join(' | ')}): ${e.name}: ${e.message}`);
}

/** Runs `fn`; returns its value, or the documented error it threw (anything else fails). */
export function attempt<T>(fn: () => T, names: readonly string[], classes?: readonly (new (...a: never[]) => Error)[]): { ok: true; value: T } | { ok: false; error: Error } {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    expectDocumented(e, names, classes);
    return { ok: false, error: e as Error };
  }
}

/** As attempt, for a function returning a promise (a synchronous throw counts too). */
export async function attemptAsync<T>(fn: () => Promise<T>, names: readonly string[], classes?: readonly (new (...a: never[]) => Error)[]): Promise<{ ok: true; value: T } | { ok: false; error: Error }> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    expectDocumented(e, names, classes);
    return { ok: false, error: e as Error };
  }
}

export const ANY_ERROR = [TypeError, RangeError, Error, TimeoutError] as const;

/** Numbers that are never a valid count, permit number, capacity, … */
export const badNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, -1, -0.5, 0.5, 1.5, 2 ** 31, 2 ** 53, -(2 ** 31), Number.MAX_VALUE, Number.MIN_VALUE),
  fc.double({ noInteger: true }),
  fc.integer({ max: -1 }),
);

/** Values of the wrong type where a number is expected. */
export const notANumber: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  undefined, null, '1', '', true, false, {}, [], [1], 1n, Symbol('x'), () => 1, new Number(1),
);

/** Timeouts: valid (0–5 ms, negative = do not wait) and invalid ones. Infinity only where the call cannot wait. */
export const shortTimeout: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -5, max: 3 }),
  fc.double({ min: -10, max: 3, noNaN: true }),
  fc.constantFrom(-Infinity, -1e300, -0),
);

export const badTimeout: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(NaN, '5', null, {}, 1n, [], true);

/** Is `ms` a timeout the lock family accepts (common.ts: a number that is not NaN)? */
export function validTimeout(ms: unknown): ms is number {
  return typeof ms === 'number' && !Number.isNaN(ms);
}

/** A thing that is not an options object. */
export const notAnObject: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(null, 0, 1, 'opts', true, 1n, Symbol('o'));

/** Every waiter record is back on the free stack (nobody parked, nothing leaked). */
export function expectNoWaiters(r: SharedRegion): void {
  expect(r.freeWaiterCount()).toBe(r.waiterCount);
}
