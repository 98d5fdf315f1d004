/**
 * Task file shared by every pool in the pool bench (parklot, piscina, tinypool), so all run the
 * same code. Default export: the trivial `({ a, b }) => a + b` of piscina's own benchmarks.
 */

export default function add({ a, b }: { a: number; b: number }): number {
  return a + b;
}

/** Returns its argument (the 1 KiB string scenario sends a string both ways). */
export function echo<T>(x: T): T {
  return x;
}

/** `n` xorshift32 steps: a CPU task whose length is fixed by `n` (calibrated to ~50 µs by the child). */
export function spin(n: number): number {
  let x = 2463534242;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x | 0;
}

/** A task of `n` xorshift steps carrying an id (skewed-size and priority scenarios). */
export function sized({ id, n }: { id: number; n: number }): number {
  spin(n);
  return id;
}
