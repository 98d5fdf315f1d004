// Statistics for the report, all through bench/lib/stats.ts: per comparison the ratio of
// medians (candidate/baseline) with a seeded 95 % bootstrap CI and a Mann–Whitney U p; per
// claim the geometric mean of its primary comparisons' ratios with a joint (stratified)
// bootstrap CI, and the verdict on that CI by the rules in bench/claims.md.
//
// Invariants: same data → same numbers (every bootstrap is seeded from the comparison's
// identity); a comparison without samples on both sides is reported as missing, never
// filled in; a slower proposal is reported as measured (the verdict says `refuted`).

import {
  bootstrapRatioCI,
  mannWhitneyU,
  median,
  mulberry32,
  quantileSorted,
  stabilityWarnings,
  verdict,
  type Claim,
  type Direction,
  type VerdictName,
} from '../lib/stats.ts';
import type { ClaimDef } from './claims.ts';
import type { Comparison, DataSetLike } from './types.ts';

/** 32-bit FNV-1a of a string: the bootstrap seed of a comparison or a claim. */
export function seedOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export interface ComparisonStats {
  c: Comparison;
  ok: boolean;
  /** Why the statistics are missing (when !ok). */
  missing?: string;
  ratio: number;
  low: number;
  high: number;
  p: number;
  n: [number, number];
  baselineMedian: number;
  candidateMedian: number;
  warnings: string[];
  /** Verdict of this single comparison against the claim (primary comparisons only). */
  verdict?: VerdictName;
  reason?: string;
}

/** Claim spec of stats.ts for a comparison in `direction`, from a benefit range. */
export function claimFor(direction: Direction, benefit: readonly [number, number] | undefined): Claim {
  if (!benefit) return { direction };
  if (direction === 'higher-is-better') return { direction, ratio: benefit };
  return { direction, ratio: [1 / benefit[1], 1 / benefit[0]] };
}

export function compare(c: Comparison, def?: ClaimDef): ComparisonStats {
  const a = c.baselineSamples;
  const b = c.candidateSamples;
  const base: ComparisonStats = {
    c,
    ok: false,
    ratio: Number.NaN,
    low: Number.NaN,
    high: Number.NaN,
    p: Number.NaN,
    n: [a.length, b.length],
    baselineMedian: a.length ? median(a) : Number.NaN,
    candidateMedian: b.length ? median(b) : Number.NaN,
    warnings: [],
  };
  let st: ComparisonStats;
  if (a.length && b.length && base.baselineMedian > 0 && base.candidateMedian > 0) {
    const ci = bootstrapRatioCI(a, b, { seed: seedOf(`${c.suite}|${c.unit}|${c.point}|${c.tag}|${c.candidate}|${c.baseline}|${c.metric}`) });
    const mw = mannWhitneyU(b, a);
    st = { ...base, ok: true, ratio: ci.ratio, low: ci.low, high: ci.high, p: mw.p };
    st.warnings = [
      ...stabilityWarnings(a).map((w) => `${c.baseline}: ${w}`),
      ...stabilityWarnings(b).map((w) => `${c.candidate}: ${w}`),
    ];
  } else if (c.stored) {
    st = { ...base, ok: true, ...c.stored, warnings: ['statistics as stored by the suite (no per-process samples in the file)'] };
  } else {
    const why = !a.length || !b.length
      ? `no samples for ${!a.length ? c.baseline : c.candidate}`
      : 'a median is not positive, so a ratio is undefined';
    return { ...base, missing: why };
  }
  if (def && !def.notApplicable && def.primary(c)) {
    const v = verdict(st, claimFor(c.direction, def.benefit));
    st.verdict = v.verdict;
    st.reason = v.reason;
  }
  return st;
}

export interface Pooled {
  /** Point estimate: geometric mean of the comparisons' ratios (on `direction`'s scale). */
  ratio: number;
  low: number;
  high: number;
  k: number;
  /** `benefit` when the comparisons mix directions (then > 1 = proposal better). */
  scale: Direction | 'benefit';
}

/**
 * Geometric mean of ratios with a stratified percentile bootstrap: each iteration resamples
 * every comparison's two groups with replacement, takes the ratio of medians per comparison,
 * and their geometric mean. With one comparison this equals {@link bootstrapRatioCI}'s shape.
 * Comparisons from the same process are not independent (family points share processes), so
 * read the pooled CI as indicative when k > 1.
 */
export function pooledGeomean(stats: ComparisonStats[], seed: number, iterations = 4000): Pooled | undefined {
  const ok = stats.filter((s) => s.ok);
  if (ok.length === 0) return undefined;
  const dirs = new Set(ok.map((s) => s.c.direction));
  const scale: Pooled['scale'] = dirs.size === 1 ? [...dirs][0] : 'benefit';
  const flip = (s: ComparisonStats): boolean => scale === 'benefit' && s.c.direction === 'lower-is-better';
  const point = Math.exp(ok.reduce((acc, s) => acc + Math.log(flip(s) ? 1 / s.ratio : s.ratio), 0) / ok.length);
  if (ok.length === 1) {
    const s = ok[0];
    return flip(s)
      ? { ratio: point, low: 1 / s.high, high: 1 / s.low, k: 1, scale }
      : { ratio: point, low: s.low, high: s.high, k: 1, scale };
  }
  if (ok.some((s) => s.c.baselineSamples.length === 0 || s.c.candidateSamples.length === 0)) {
    return { ratio: point, low: Number.NaN, high: Number.NaN, k: ok.length, scale };
  }
  const rand = mulberry32(seed);
  const out = new Float64Array(iterations);
  const bufs = ok.map((s) => ({
    a: Float64Array.from(s.c.baselineSamples),
    b: Float64Array.from(s.c.candidateSamples),
    ra: new Float64Array(s.c.baselineSamples.length),
    rb: new Float64Array(s.c.candidateSamples.length),
    flip: flip(s),
  }));
  for (let it = 0; it < iterations; it++) {
    let sum = 0;
    for (const x of bufs) {
      for (let i = 0; i < x.a.length; i++) x.ra[i] = x.a[Math.floor(rand() * x.a.length)];
      for (let i = 0; i < x.b.length; i++) x.rb[i] = x.b[Math.floor(rand() * x.b.length)];
      const r = quantileSorted(x.rb.sort(), 0.5) / quantileSorted(x.ra.sort(), 0.5);
      sum += Math.log(x.flip ? 1 / r : r);
    }
    out[it] = Math.exp(sum / bufs.length);
  }
  out.sort();
  return { ratio: point, low: quantileSorted(out, 0.025), high: quantileSorted(out, 0.975), k: ok.length, scale };
}

export type ClaimStatus = 'measured' | 'n/a' | 'not measured';

export interface ClaimResult {
  def: ClaimDef;
  status: ClaimStatus;
  /** For n/a and not measured: why. */
  why?: string;
  primary: ComparisonStats[];
  secondary: ComparisonStats[];
  pooled?: Pooled;
  verdict?: VerdictName;
  reason?: string;
  /** Printed p: exact for one comparison, the range otherwise. */
  pText: string;
  /** Files the primary comparisons came from. */
  files: string[];
  quick: boolean;
}

const fmtP = (p: number): string => (Number.isNaN(p) ? '—' : p < 0.001 ? '< 0.001' : p.toFixed(3));

export function analyzeClaim(def: ClaimDef, data: DataSetLike): ClaimResult {
  const empty = { primary: [], secondary: [], pText: 'n/a', files: [], quick: false };
  if (def.notApplicable) return { def, status: 'n/a', why: def.notApplicable, ...empty, verdict: 'n/a', reason: def.notApplicable };
  const prim = data.comparisons.filter(def.primary).map((c) => compare(c, def));
  const sec = data.comparisons.filter(def.secondary).map((c) => compare(c));
  const files = [...new Set(prim.map((s) => s.c.file))];
  const quick = data.files.some((f) => files.includes(f.meta.file) && f.meta.quick);
  if (prim.length === 0) {
    const have = data.files.some((f) => f.meta.suite === def.suite);
    const why = have
      ? `the ${def.suite} data holds no comparison for ${def.id}`
      : def.suite === 'pool'
        ? 'no pool-*.json in reports/data yet: the pool bench (bench/pool) has not produced data'
        : `no ${def.suite}-*.json in reports/data`;
    return { def, status: 'not measured', why, ...empty, primary: prim, secondary: sec, pText: '—' };
  }
  const pooled = pooledGeomean(prim, seedOf(def.id));
  const okP = prim.filter((s) => s.ok).map((s) => s.p).filter((p) => !Number.isNaN(p));
  const pText = okP.length === 0 ? '—' : okP.length === 1 ? fmtP(okP[0]) : `${fmtP(Math.min(...okP))} – ${fmtP(Math.max(...okP))} (${okP.length} tests)`;
  if (!pooled || Number.isNaN(pooled.low)) {
    return { def, status: 'not measured', why: 'the data has no usable samples for a confidence interval', primary: prim, secondary: sec, pooled, pText, files, quick };
  }
  const direction: Direction = pooled.scale === 'benefit' ? 'higher-is-better' : pooled.scale;
  const v = verdict(pooled, claimFor(direction, def.benefit));
  return { def, status: 'measured', primary: prim, secondary: sec, pooled, verdict: v.verdict, reason: v.reason, pText, files, quick };
}
