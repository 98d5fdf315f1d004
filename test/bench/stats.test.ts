// Unit tests of bench/lib/stats.ts against hand-computed values (the hand computation is in a
// comment beside each), an exact enumeration of the Mann–Whitney U distribution, and the
// claims.md verdict rules on synthetic data (clear win, clear loss, noise, smaller win).
import { describe, expect, it } from 'vitest';
import {
  bootstrapRatioCI,
  mannWhitneyU,
  mean,
  median,
  mulberry32,
  normalCdf,
  quantile,
  stabilityWarnings,
  stddev,
  verdict,
} from '../../bench/lib/stats.ts';

/** Normal variates by Box–Muller from a seeded mulberry32 stream. */
function normals(seed: number, n: number, mu: number, sigma: number): number[] {
  const rand = mulberry32(seed);
  const out: number[] = [];
  while (out.length < n) {
    const u1 = 1 - rand(); // (0, 1]
    const u2 = rand();
    out.push(mu + sigma * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
  }
  return out;
}

describe('location and spread', () => {
  it('quantile interpolates linearly between closest ranks (type 7)', () => {
    // [1,2,3,4], q = 0.25: h = (4−1)·0.25 = 0.75 → x[0] + 0.75·(x[1] − x[0]) = 1.75
    expect(quantile([4, 2, 1, 3], 0.25)).toBeCloseTo(1.75, 12);
    // q = 0.9: h = 2.7 → 3 + 0.7·(4 − 3) = 3.7
    expect(quantile([1, 2, 3, 4], 0.9)).toBeCloseTo(3.7, 12);
    expect(quantile([5, 1, 9], 0)).toBe(1);
    expect(quantile([5, 1, 9], 1)).toBe(9);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
    expect(() => quantile([1], 1.5)).toThrow(RangeError);
  });

  it('median of odd and even samples, without mutating the input', () => {
    const xs = [3, 1, 2];
    expect(median(xs)).toBe(2);
    expect(xs).toEqual([3, 1, 2]);
    // even n: mean of the two middle values (2 + 3)/2
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('mean and sample standard deviation', () => {
    // [2,4,4,4,5,5,7,9]: mean 40/8 = 5; squared deviations 9+1+1+1+0+0+4+16 = 32;
    // sample variance 32/7 = 4.5714…; sd = √4.5714 = 2.13809
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    expect(mean(xs)).toBe(5);
    expect(stddev(xs)).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(stddev([7])).toBe(0);
  });

  it('normal CDF matches tabulated values', () => {
    // Φ(1.96) = 0.9750021, Φ(−1) = 0.1586553, Φ(0.5) = 0.6914625 (standard tables)
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.1586553, 6);
    expect(normalCdf(0.5)).toBeCloseTo(0.6914625, 6);
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
  });
});

describe('mulberry32', () => {
  it('is deterministic per seed and uniform-looking in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xa = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xa);
    expect(Array.from({ length: 5 }, c)).not.toEqual(xa);
    const r = mulberry32(7);
    const xs = Array.from({ length: 20000 }, r);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    // mean of U(0,1) is 1/2 with sd 1/√(12·20000) ≈ 0.002
    expect(Math.abs(mean(xs) - 0.5)).toBeLessThan(0.01);
  });
});

/**
 * Exact two-sided p of the Mann–Whitney U for untied data: enumerate every way to choose
 * which na of the n pooled ranks belong to the first sample (all equally likely under H0),
 * compute U for each, and return 2·min(P(U ≤ u), P(U ≥ u)) capped at 1.
 */
function exactMannWhitneyP(na: number, nb: number, u: number): number {
  const n = na + nb;
  let total = 0;
  let le = 0;
  let ge = 0;
  const chosen: number[] = [];
  const walk = (next: number): void => {
    if (chosen.length === na) {
      let rankSum = 0;
      for (const r of chosen) rankSum += r;
      const uu = rankSum - (na * (na + 1)) / 2;
      total++;
      if (uu <= u) le++;
      if (uu >= u) ge++;
      return;
    }
    for (let r = next; r <= n - (na - chosen.length) + 1; r++) {
      chosen.push(r);
      walk(r + 1);
      chosen.pop();
    }
  };
  walk(1);
  return Math.min(1, (2 * Math.min(le, ge)) / total);
}

describe('mannWhitneyU', () => {
  it('computes U with mid-ranks for ties and the tie/continuity-corrected p', () => {
    // a = [1,2,3,3], b = [3,4,5]. Pooled ascending: 1a 2a 3a 3a 3b 4b 5b (n = 7).
    // Ranks: 1→1, 2→2, the three 3s share ranks 3,4,5 → mid-rank 4, 4→6, 5→7.
    // R_a = 1 + 2 + 4 + 4 = 11; U_a = 11 − 4·5/2 = 1.
    // Check by pairs: no a_i > b_j; two ties (3a,3b)×2 → ½·2 = 1. ✓
    // μ = 4·3/2 = 6. Ties: one group of t = 3 → Σ(t³ − t) = 24.
    // σ² = 12/12 · ((7 + 1) − 24/(7·6)) = 8 − 0.5714286 = 7.4285714; σ = 2.7255406.
    // z = −(|1 − 6| − ½)/σ = −4.5/2.7255406 = −1.6510486.
    // p = 2·(1 − Φ(1.6510486)) = 0.0987286 (SciPy mannwhitneyu asymptotic agrees).
    const r = mannWhitneyU([1, 2, 3, 3], [3, 4, 5]);
    expect(r.u).toBe(1);
    expect(r.z).toBeCloseTo(-1.6510486, 6);
    expect(r.p).toBeCloseTo(0.0987286, 5);
    // symmetry: U_b = n_a·n_b − U_a = 11, z flips sign, same p
    const s = mannWhitneyU([3, 4, 5], [1, 2, 3, 3]);
    expect(s.u).toBe(11);
    expect(s.z).toBeCloseTo(1.6510486, 6);
    expect(s.p).toBeCloseTo(r.p, 12);
  });

  it('agrees with the exact distribution for 8 vs 8 untied samples', () => {
    // a = [12,15,17,21,22,26,30,31], b = [14,19,24,27,33,35,38,40].
    // U_a = #{a_i > b_j} = 0+1+1+2+2+3+4+4 = 17. μ = 32, σ² = 64·17/12 = 90.667, σ = 9.5219.
    // z = −(15 − ½)/9.5219 = −1.52281; p = 2·Φ(−1.52281) = 0.12781.
    // Exact (enumerating all C(16,8) = 12870 rank sets): p = 0.13038.
    const a = [12, 15, 17, 21, 22, 26, 30, 31];
    const b = [14, 19, 24, 27, 33, 35, 38, 40];
    const r = mannWhitneyU(a, b);
    expect(r.u).toBe(17);
    expect(r.z).toBeCloseTo(-1.52281, 4);
    expect(r.p).toBeCloseTo(0.12781, 4);
    const exact = exactMannWhitneyP(8, 8, 17);
    expect(exact).toBeCloseTo(0.13038, 4);
    expect(Math.abs(r.p - exact)).toBeLessThan(0.01);
  });

  it('tracks the exact p across a range of U for 9 vs 9', () => {
    // 9 repetitions per variant is the bench's full mode; the approximation must be within
    // 0.01 of the exact p everywhere in the region that matters (p ≤ 0.2).
    for (let shift = 0; shift <= 9; shift++) {
      const a = Array.from({ length: 9 }, (_, i) => i * 2);
      const b = Array.from({ length: 9 }, (_, i) => i * 2 + 1 + 2 * shift - 9.5 + 0.25);
      const r = mannWhitneyU(a, b);
      const exact = exactMannWhitneyP(9, 9, r.u);
      if (exact <= 0.2) expect(Math.abs(r.p - exact)).toBeLessThan(0.01);
    }
  });

  it('returns p = 1 when every value is tied', () => {
    expect(mannWhitneyU([5, 5, 5], [5, 5])).toEqual({ u: 3, z: 0, p: 1 });
  });

  it('finds an obvious shift significant', () => {
    // 9 vs 9 with complete separation: U = 0, μ = 40.5, σ² = 81·19/12 = 128.25, σ = 11.325;
    // z = −40/11.325 = −3.532; p = 4.1e−4.
    const a = Array.from({ length: 9 }, (_, i) => i);
    const b = Array.from({ length: 9 }, (_, i) => 100 + i);
    const r = mannWhitneyU(a, b);
    expect(r.u).toBe(0);
    expect(r.p).toBeCloseTo(4.12e-4, 5);
  });
});

describe('bootstrapRatioCI', () => {
  it('is exact on constant data', () => {
    // every resample of [2,2,2] has median 2 and of [3,3,3] median 3 → every ratio is 1.5
    const ci = bootstrapRatioCI([2, 2, 2], [3, 3, 3], { seed: 1, iterations: 200 });
    expect(ci).toEqual({ ratio: 1.5, low: 1.5, high: 1.5, confidence: 0.95, iterations: 200 });
  });

  it('is reproducible with a seed and stable across seeds', () => {
    const base = normals(11, 9, 100, 10);
    const cand = normals(12, 9, 120, 10);
    const a = bootstrapRatioCI(base, cand, { seed: 99 });
    const b = bootstrapRatioCI(base, cand, { seed: 99 });
    const c = bootstrapRatioCI(base, cand, { seed: 100 });
    expect(a).toEqual(b);
    // With n = 9 the resampled medians take only a few order-statistic values, so another
    // seed usually gives the very same endpoints; it must at least agree closely.
    expect(Math.abs(c.low - a.low)).toBeLessThan(0.05);
    expect(Math.abs(c.high - a.high)).toBeLessThan(0.05);
    expect(a.ratio).toBeCloseTo(median(cand) / median(base), 12);
    expect(a.low).toBeLessThanOrEqual(a.ratio);
    expect(a.high).toBeGreaterThanOrEqual(a.ratio);
  });

  it('covers the true ratio of medians on synthetic data', () => {
    // Baseline ~ N(100, 8²), candidate ~ N(130, 10.4²): true median ratio 1.3 exactly.
    // A 95 % interval should contain it in roughly 95 % of trials; percentile bootstrap
    // intervals of medians at n = 25 under-cover a little, so require ≥ 85 %.
    let covered = 0;
    const trials = 80;
    for (let t = 0; t < trials; t++) {
      const base = normals(1000 + t, 25, 100, 8);
      const cand = normals(5000 + t, 25, 130, 10.4);
      const ci = bootstrapRatioCI(base, cand, { seed: t, iterations: 2000 });
      if (ci.low <= 1.3 && 1.3 <= ci.high) covered++;
    }
    expect(covered / trials).toBeGreaterThanOrEqual(0.85);
  });

  it('rejects bad input', () => {
    expect(() => bootstrapRatioCI([], [1], { seed: 1 })).toThrow(RangeError);
    expect(() => bootstrapRatioCI([1], [1], { seed: 1, confidence: 1 })).toThrow(RangeError);
    expect(() => bootstrapRatioCI([0, 0], [1], { seed: 1, iterations: 10 })).toThrow(RangeError);
  });
});

describe('verdict (claims.md rules) on synthetic data', () => {
  const base = normals(21, 15, 1000, 20); // throughput, 2 % noise
  const claim = { direction: 'higher-is-better', ratio: [1.2, 1.3] } as const; // "20–30 % more"
  const ciOf = (factor: number, noiseSeed: number, sd = 20): ReturnType<typeof bootstrapRatioCI> =>
    bootstrapRatioCI(base, normals(noiseSeed, 15, 1000 * factor, sd * factor), { seed: 5 });

  it('clear win inside the claimed range → confirmed', () => {
    expect(verdict(ciOf(1.25, 31), claim).verdict).toBe('confirmed');
  });

  it('a win larger than claimed → confirmed (beats the range)', () => {
    expect(verdict(ciOf(1.6, 32), claim).verdict).toBe('confirmed');
  });

  it('clear loss → refuted', () => {
    expect(verdict(ciOf(0.8, 33), claim).verdict).toBe('refuted');
  });

  it('noise (same distribution) → no effect', () => {
    expect(verdict(ciOf(1, 34), claim).verdict).toBe('no effect');
  });

  it('a real but smaller-than-claimed win → smaller', () => {
    const r = verdict(ciOf(1.06, 35), claim);
    expect(r.verdict).toBe('smaller');
    expect(r.reason).toMatch(/short of the claimed range/);
  });

  it('lower-is-better metrics: "10–20 % lower latency"', () => {
    const lat = { direction: 'lower-is-better', ratio: [0.8, 0.9] } as const;
    expect(verdict({ low: 0.82, high: 0.88 }, lat).verdict).toBe('confirmed');
    expect(verdict({ low: 0.6, high: 0.7 }, lat).verdict).toBe('confirmed');
    expect(verdict({ low: 0.93, high: 0.97 }, lat).verdict).toBe('smaller');
    expect(verdict({ low: 0.95, high: 1.02 }, lat).verdict).toBe('no effect');
    expect(verdict({ low: 1.05, high: 1.2 }, lat).verdict).toBe('refuted');
  });

  it('a claimed slow-down (L3: 5.6 % slower throughput)', () => {
    const slower = { direction: 'higher-is-better', ratio: [0.944, 0.944] } as const;
    expect(verdict({ low: 0.9, high: 0.96 }, slower).verdict).toBe('confirmed');
    expect(verdict({ low: 0.97, high: 0.99 }, slower).verdict).toBe('smaller');
    expect(verdict({ low: 1.01, high: 1.1 }, slower).verdict).toBe('refuted');
  });

  it('an unsized claim only needs the right side; n/a carries its reason', () => {
    const fewer = { direction: 'lower-is-better' } as const;
    expect(verdict({ low: 0.5, high: 0.9 }, fewer).verdict).toBe('confirmed');
    expect(verdict({ low: 1.1, high: 1.3 }, fewer).verdict).toBe('refuted');
    expect(verdict({ low: 1, high: 1 }, { notApplicable: 'JavaScript has no GIL' })).toEqual({
      verdict: 'n/a',
      reason: 'JavaScript has no GIL',
    });
  });

  it('rejects a claimed range that contains 1 and a malformed CI', () => {
    expect(() => verdict({ low: 1.1, high: 1.2 }, { direction: 'higher-is-better', ratio: [0.9, 1.1] })).toThrow(
      RangeError,
    );
    expect(() => verdict({ low: 1.2, high: 1.1 }, claim)).toThrow(RangeError);
    expect(() => verdict({ low: -0.1, high: 1.1 }, claim)).toThrow(RangeError);
    expect(() => verdict({ low: Number.NaN, high: 1.1 }, claim)).toThrow(RangeError);
    expect(() => verdict({ low: 0.5, high: Infinity }, claim)).toThrow(RangeError);
  });

  it('accepts a CI whose low end is 0 (a candidate median of 0, e.g. no parks at all)', () => {
    const fewer = { direction: 'lower-is-better' } as const;
    expect(verdict({ low: 0, high: 0.5 }, fewer).verdict).toBe('confirmed');
    expect(verdict({ low: 0, high: 1.5 }, fewer).verdict).toBe('no effect');
    expect(verdict({ low: 0, high: 0.5 }, { direction: 'higher-is-better' }).verdict).toBe('refuted');
  });
});

describe('stabilityWarnings (pyperf rules)', () => {
  it('is quiet on 9 tight samples', () => {
    expect(stabilityWarnings([100, 101, 99, 100, 102, 98, 100, 101, 99])).toEqual([]);
  });

  it('flags few samples', () => {
    const w = stabilityWarnings([100, 101, 99]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/only 3 samples/);
  });

  it('flags std dev ≥ 10 % of the mean', () => {
    // [80,120]×… : mean 100, sd ≈ 20.7 (n = 10, ss = 10·400, /9 → 444.4, √ = 21.08) → 21 %
    const w = stabilityWarnings([80, 120, 80, 120, 80, 120, 80, 120, 80, 120]);
    expect(w.some((s) => /std dev is 21\.1 %/.test(s))).toBe(true);
    expect(w.some((s) => /imum/.test(s))).toBe(false);
  });

  it('flags an outlier ≥ 50 % from the mean', () => {
    // nine 100s and one 300: mean 120; max is (300 − 120)/120 = 150 % away; min 16.7 % away
    const w = stabilityWarnings([100, 100, 100, 100, 100, 100, 100, 100, 100, 300]);
    expect(w.some((s) => /maximum is 150\.0 %/.test(s))).toBe(true);
    expect(w.some((s) => /minimum/.test(s))).toBe(false);
  });
});
