// Unit tests of the bench's log-linear wait histogram (bench/lib/histogram.ts): bucket
// boundaries by hand, quantile error bound (≤ 1/64 of the value above 32 ns), merge and
// JSON round trip.
import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, bucketRange, LogHistogram } from '../../bench/lib/histogram.ts';

describe('LogHistogram', () => {
  it('places values in the hand-computed buckets', () => {
    // 0–31 are exact buckets 0–31.
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(31)).toBe(31);
    // 32 = 2^5: octave e = 5 → base (5−5+1)·32 = 32, sub = (32 >> 0) & 31 = 0 → 32.
    expect(bucketOf(32)).toBe(32);
    expect(bucketOf(63)).toBe(63);
    // 64 = 2^6: base 2·32 = 64, sub = (64 >> 1) & 31 = 0 → 64; 65 shares it (width 2).
    expect(bucketOf(64)).toBe(64);
    expect(bucketOf(65)).toBe(64);
    expect(bucketOf(66)).toBe(65);
    // 1000: e = 9, base (9−4)·32 = 160, sub = (1000 >> 4) & 31 = 62 & 31 = 30 → 190.
    expect(bucketOf(1000)).toBe(190);
    expect(bucketRange(190)).toEqual({ low: 992, width: 16 });
    // clamp at 2^31 − 1 → last bucket
    expect(bucketOf(2 ** 40)).toBe(BUCKETS - 1);
  });

  it('quantiles are within half a bucket (≤ 1/64 relative) and max is exact', () => {
    const h = new LogHistogram();
    for (let v = 1; v <= 100_000; v++) h.record(v);
    expect(h.count).toBe(100_000);
    expect(h.maxNs).toBe(100_000);
    expect(h.meanNs()).toBeCloseTo(50_000.5, 6);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = q * 100_000;
      expect(Math.abs(h.quantile(q) - exact) / exact).toBeLessThan(1 / 32);
    }
    expect(h.quantile(1)).toBe(100_000);
  });

  it('merges and round-trips through JSON', () => {
    const a = new LogHistogram();
    const b = new LogHistogram();
    a.record(10);
    a.record(20);
    b.record(5_000_000);
    const m = LogHistogram.from(a.toJSON()).merge(b.toJSON());
    expect(m.count).toBe(3);
    expect(m.maxNs).toBe(5_000_000);
    expect(m.sumNs).toBe(5_000_030);
    expect(m.quantile(0.5)).toBe(20);
    expect(JSON.parse(JSON.stringify(m.toJSON()))).toEqual(m.toJSON());
  });
});
