// Statistics for A/B bench comparisons: location and spread, a seeded PRNG, a percentile
// bootstrap CI of a ratio of medians, a two-sided Mann–Whitney U test (normal approximation),
// the claim verdict rules of bench/claims.md, and pyperf-style stability warnings.
//
// Invariants: every function is pure (no global randomness: the bootstrap takes a seed, so
// its CI is reproducible); inputs are never mutated (sorting works on copies); empty inputs
// are a RangeError, never NaN silently flowing into a report.

/** Throws a RangeError unless `xs` has at least `min` finite numbers. */
function requireSamples(xs: readonly number[], what: string, min = 1): void {
  if (xs.length < min) {
    throw new RangeError(`${what}: need at least ${min} sample(s), got ${xs.length}`);
  }
  for (const x of xs) {
    if (!Number.isFinite(x)) throw new RangeError(`${what}: non-finite sample ${x}`);
  }
}

/** Ascending copy (numeric order). */
export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((x, y) => x - y);
}

/**
 * Quantile `q` ∈ [0, 1] of an ascending array by linear interpolation between closest ranks
 * (Hyndman & Fan type 7; R's default, NumPy's `linear`): h = (n − 1)·q,
 * result = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋]). So q = 0 is the min, q = 1 the max and
 * q = 0.5 the usual median.
 */
export function quantileSorted(xs: ArrayLike<number>, q: number): number {
  if (xs.length === 0) throw new RangeError('quantile: empty sample');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile: q must be in [0, 1], got ${q}`);
  const h = (xs.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, xs.length - 1);
  return xs[lo] + (h - lo) * (xs[hi] - xs[lo]);
}

/** Quantile `q` of unsorted data; see {@link quantileSorted} for the interpolation rule. */
export function quantile(xs: readonly number[], q: number): number {
  requireSamples(xs, 'quantile');
  return quantileSorted(Float64Array.from(xs).sort(), q);
}

/** Median (type-7 quantile 0.5: the mean of the two middle values for even n). */
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

/** Arithmetic mean. */
export function mean(xs: readonly number[]): number {
  requireSamples(xs, 'mean');
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (Bessel-corrected, divisor n − 1); 0 for a single sample. */
export function stddev(xs: readonly number[]): number {
  requireSamples(xs, 'stddev');
  if (xs.length === 1) return 0;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (xs.length - 1));
}

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): returns a function yielding uniform floats
 * in [0, 1). Same seed, same sequence, on every platform.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Result of {@link bootstrapRatioCI}. */
export interface RatioCI {
  /** Point estimate: median(candidate) / median(baseline). */
  ratio: number;
  /** Lower bound of the percentile interval. */
  low: number;
  /** Upper bound of the percentile interval. */
  high: number;
  /** Confidence level used, e.g. 0.95. */
  confidence: number;
  /** Bootstrap resamples drawn. */
  iterations: number;
}

/** Options of {@link bootstrapRatioCI}. */
export interface BootstrapOptions {
  /** @defaultValue 10000 */
  iterations?: number;
  /** PRNG seed (mulberry32). Same data + same seed → same interval. */
  seed: number;
  /** @defaultValue 0.95 */
  confidence?: number;
}

/**
 * Percentile bootstrap confidence interval of median(candidate) / median(baseline).
 * Each iteration resamples both groups independently with replacement (keeping their sizes),
 * and takes the ratio of the resampled medians; the interval is the type-7 quantiles
 * (1 − confidence)/2 and (1 + confidence)/2 of those ratios (Efron's percentile method).
 * Baseline medians must be positive (they are throughputs or times).
 */
export function bootstrapRatioCI(
  baseline: readonly number[],
  candidate: readonly number[],
  { iterations = 10000, seed, confidence = 0.95 }: BootstrapOptions,
): RatioCI {
  requireSamples(baseline, 'bootstrapRatioCI baseline');
  requireSamples(candidate, 'bootstrapRatioCI candidate');
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`bootstrapRatioCI: confidence must be in (0, 1), got ${confidence}`);
  }
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new RangeError(`bootstrapRatioCI: iterations must be a positive integer`);
  }
  const rand = mulberry32(seed);
  const a = Float64Array.from(baseline);
  const b = Float64Array.from(candidate);
  const ra = new Float64Array(a.length);
  const rb = new Float64Array(b.length);
  const ratios = new Float64Array(iterations);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < a.length; i++) ra[i] = a[Math.floor(rand() * a.length)];
    for (let i = 0; i < b.length; i++) rb[i] = b[Math.floor(rand() * b.length)];
    const mb = quantileSorted(ra.sort(), 0.5);
    if (!(mb > 0)) throw new RangeError('bootstrapRatioCI: baseline median must be > 0');
    ratios[it] = quantileSorted(rb.sort(), 0.5) / mb;
  }
  ratios.sort();
  const alpha = (1 - confidence) / 2;
  return {
    ratio: median(candidate) / median(baseline),
    low: quantileSorted(ratios, alpha),
    high: quantileSorted(ratios, 1 - alpha),
    confidence,
    iterations,
  };
}

/**
 * Complementary error function, Numerical Recipes' `erfcc` (Chebyshev fit; fractional error
 * below 1.2e−7 everywhere), which is ample for p-values.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF Φ(z) = erfc(−z/√2)/2. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Result of {@link mannWhitneyU}. */
export interface MannWhitneyResult {
  /** U of the first sample: #{(i, j): a_i > b_j} + ½·#{(i, j): a_i = b_j}. */
  u: number;
  /** Normal-approximation z (continuity-corrected; 0 when every value is tied). */
  z: number;
  /** Two-sided p-value. */
  p: number;
}

/**
 * Two-sided Mann–Whitney U test (Wilcoxon rank-sum) with the normal approximation.
 *
 * - U = R_a − n_a(n_a + 1)/2, where R_a is the sum of the mid-ranks of `a` in the pooled data
 *   (tied values share the mean of their ranks). U_a + U_b = n_a·n_b.
 * - μ_U = n_a·n_b/2; tie-corrected σ_U² = n_a·n_b/12 · ((n + 1) − Σ(t³ − t)/(n(n − 1))),
 *   n = n_a + n_b, t the size of each group of ties.
 * - Continuity correction: z = sign(U − μ)·max(0, |U − μ| − ½)/σ.
 * - p = 2·(1 − Φ(|z|)) = erfc(|z|/√2), capped at 1.
 * This matches SciPy's `mannwhitneyu(a, b, method='asymptotic', use_continuity=True)`.
 * For tiny samples (n_a, n_b < ~8) the approximation is rough; with 3 vs 3 the smallest
 * reachable p is ≈ 0.08 (exact: 0.1), so quick runs can never reach p < 0.05.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult {
  requireSamples(a, 'mannWhitneyU a');
  requireSamples(b, 'mannWhitneyU b');
  const na = a.length;
  const nb = b.length;
  const n = na + nb;
  const pooled: { v: number; fromA: boolean }[] = [];
  for (const v of a) pooled.push({ v, fromA: true });
  for (const v of b) pooled.push({ v, fromA: false });
  pooled.sort((x, y) => x.v - y.v);
  let rankSumA = 0;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && pooled[j + 1].v === pooled[i].v) j++;
    const t = j - i + 1;
    const midRank = (i + 1 + j + 1) / 2; // ranks are 1-based
    for (let k = i; k <= j; k++) if (pooled[k].fromA) rankSumA += midRank;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const u = rankSumA - (na * (na + 1)) / 2;
  const mu = (na * nb) / 2;
  const variance = ((na * nb) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, z: 0, p: 1 };
  const d = u - mu;
  const z = (Math.sign(d) * Math.max(0, Math.abs(d) - 0.5)) / Math.sqrt(variance);
  const p = Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
  return { u, z, p };
}

/** Which way a metric improves. Throughput: higher; latency and wait: lower. */
export type Direction = 'higher-is-better' | 'lower-is-better';

/**
 * A claimed effect, as a ratio candidate/baseline of the metric.
 * - `ratio: [lo, hi]`: the claimed range of candidate/baseline, e.g. "10–20 % lower latency"
 *   on a lower-is-better metric is `[0.8, 0.9]`; "20–30 % more ops/s" on a higher-is-better
 *   metric is `[1.2, 1.3]`; a claimed slow-down such as "5.6 % slower" (throughput) is
 *   `[0.944, 0.944]`. The range must lie entirely on one side of 1.
 * - no `ratio`: the source claims an improvement of unstated size ("fewer system calls").
 */
export interface Claim {
  direction: Direction;
  ratio?: readonly [number, number];
}

/** The verdicts of bench/claims.md. */
export type VerdictName = 'confirmed' | 'smaller' | 'no effect' | 'refuted' | 'n/a';

/** Output of {@link verdict}: the verdict and a one-line reason a report can print. */
export interface VerdictResult {
  verdict: VerdictName;
  reason: string;
}

/**
 * Applies the claims.md rules to a measured ratio CI (candidate/baseline, e.g. from
 * {@link bootstrapRatioCI}) and a claim, or returns `n/a` with the given reason.
 *
 * Both the CI and the claim are first mapped to a *benefit* scale where > 1 means "better":
 * benefit = ratio for higher-is-better metrics and 1/ratio for lower-is-better ones. The
 * claim's side is "better" if its benefit range is above 1 ("worse" if below; an unsized
 * claim counts as "better"). Then, in order:
 * - `no effect`: the CI contains 1 (it "spans zero" effect);
 * - `refuted`: the CI lies entirely on the side opposite to the claim;
 * - `confirmed`: the CI lies on the claim's side and overlaps the claimed range or goes
 *   beyond it (reaches at least the claim's nearest-to-1 end); always for an unsized claim;
 * - `smaller`: the CI lies on the claim's side but entirely short of the claimed range.
 */
export function verdict(
  ci: { low: number; high: number },
  claim: Claim | { notApplicable: string },
): VerdictResult {
  if ('notApplicable' in claim) return { verdict: 'n/a', reason: claim.notApplicable };
  // low may be 0: a candidate whose median is 0 in some resamples (e.g. zero parks per op).
  if (!(ci.low >= 0 && ci.high >= ci.low && Number.isFinite(ci.high))) {
    throw new RangeError(`verdict: CI must be finite non-negative ratios with low ≤ high, got [${ci.low}, ${ci.high}]`);
  }
  const benefit = (r: number): number => (claim.direction === 'higher-is-better' ? r : 1 / r);
  const [bLo, bHi] = [benefit(ci.low), benefit(ci.high)].sort((x, y) => x - y);
  let claimSide = 1; // +1: claims better, −1: claims worse
  let claimNear = 1; // claim's end closest to 1, on the benefit scale
  if (claim.ratio !== undefined) {
    const [c0, c1] = claim.ratio;
    if (!(c0 > 0 && c1 > 0)) throw new RangeError('verdict: claimed ratios must be positive');
    const [cLo, cHi] = [benefit(c0), benefit(c1)].sort((x, y) => x - y);
    if (cLo > 1) {
      claimSide = 1;
      claimNear = cLo;
    } else if (cHi < 1) {
      claimSide = -1;
      claimNear = cHi;
    } else {
      throw new RangeError(`verdict: claimed range [${c0}, ${c1}] must not contain 1`);
    }
  }
  const fmt = (x: number): string => x.toFixed(3);
  const ciText = `benefit CI [${fmt(bLo)}, ${fmt(bHi)}]`;
  if (bLo <= 1 && bHi >= 1) return { verdict: 'no effect', reason: `${ciText} contains 1` };
  const measuredSide = bLo > 1 ? 1 : -1;
  if (measuredSide !== claimSide) {
    return { verdict: 'refuted', reason: `${ciText} lies entirely on the side opposite to the claim` };
  }
  if (claim.ratio === undefined) {
    return { verdict: 'confirmed', reason: `${ciText} is on the claimed side (claim has no size)` };
  }
  const reaches = claimSide === 1 ? bHi >= claimNear : bLo <= claimNear;
  return reaches
    ? { verdict: 'confirmed', reason: `${ciText} overlaps or beats the claimed range (near end ${fmt(claimNear)})` }
    : { verdict: 'smaller', reason: `${ciText} is short of the claimed range (near end ${fmt(claimNear)})` };
}

/**
 * pyperf's stability checks (pyperf/_cli.py `format_checks`), on the per-process values of
 * one variant: fewer than 9 samples (Google benchmark's minimum for a U test); std dev ≥ 10 %
 * of the mean; min or max ≥ 50 % away from the mean. Returns human-readable warnings; an
 * empty array means none fired.
 */
export function stabilityWarnings(samples: readonly number[]): string[] {
  requireSamples(samples, 'stabilityWarnings');
  const out: string[] = [];
  if (samples.length < 9) out.push(`only ${samples.length} samples (< 9): comparisons are weak`);
  const m = mean(samples);
  if (m === 0) return out;
  const sd = stddev(samples);
  if (sd >= 0.1 * Math.abs(m)) {
    out.push(`std dev is ${((100 * sd) / Math.abs(m)).toFixed(1)} % of the mean (≥ 10 %)`);
  }
  const lo = Math.min(...samples);
  const hi = Math.max(...samples);
  if (Math.abs(lo - m) >= 0.5 * Math.abs(m)) {
    out.push(`minimum is ${((100 * Math.abs(lo - m)) / Math.abs(m)).toFixed(1)} % from the mean (≥ 50 %)`);
  }
  if (Math.abs(hi - m) >= 0.5 * Math.abs(m)) {
    out.push(`maximum is ${((100 * Math.abs(hi - m)) / Math.abs(m)).toFixed(1)} % from the mean (≥ 50 %)`);
  }
  return out;
}
