/**
 * The clock every thread reads alike.
 *
 * `performance.now()` counts from each thread's own start, so two workers disagree by the gap
 * between their starts (and `process.hrtime()` is per thread in Deno and Bun). `performance.timeOrigin`
 * is that start as a wall-clock instant, so `timeOrigin + now()` has one origin for every thread of
 * the process in every runtime (measured in Node 24: threads agree within ~50 µs). It is monotonic
 * within a thread (`timeOrigin` is fixed, `now()` never goes back); a wall-clock step after a thread
 * started does not move it.
 *
 * Timestamps put in shared memory are 32-bit microsecond counts that wrap every ~71 minutes: compare
 * them only by wrap-safe subtraction ({@link diffUs}), never with `<`.
 */

/**
 * This thread's origin, less a fixed constant so the sum keeps sub-microsecond precision in a
 * double (the constant is the same in every thread, so differences across threads are unchanged).
 */
const base = performance.timeOrigin - 1.7e12;

/** Milliseconds on a clock whose origin every thread shares. */
export function nowMs(): number {
  return performance.now() + base;
}

/** The same clock as a wrapping Int32 microsecond count, for storing in shared memory. */
export function nowUs(): number {
  return Math.floor((performance.now() + base) * 1000) | 0;
}

/** Wrap-safe `a - b` for two {@link nowUs} timestamps taken less than ~35 minutes apart. */
export function diffUs(a: number, b: number): number {
  return (a - b) | 0;
}
