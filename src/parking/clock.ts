/**
 * A clock that every thread of the process reads alike.
 *
 * `performance.now()` is relative to each thread's own start, so two workers disagree by the gap
 * between their starts. `process.hrtime()` reads the process-wide monotonic clock; we pair it with
 * `performance.now()` once per thread, and afterwards pay only for `performance.now()` (which does
 * not allocate). Timestamps put in shared memory are 32-bit microsecond counts that wrap every
 * ~71 minutes: compare them only by wrap-safe subtraction (`(a - b) | 0`), never with `<`.
 */

const [sec, nsec] = process.hrtime();
const base = sec * 1e3 + nsec / 1e6 - performance.now();

/** Milliseconds on the process-wide monotonic clock (same origin in every thread). */
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
