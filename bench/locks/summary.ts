// Turns the per-process results of one locks-suite scenario into per-variant metrics,
// comparisons (median ratio, bootstrap CI, Mann–Whitney p, target check, claim verdict) and a
// printable text table. Pure functions over the JSON the runner writes, so the report
// generator can reuse them on saved data.
//
// Invariant: the statistical unit is one process (one repetition); within-process runs are
// pooled into that process's value first, so A/B statistics never treat correlated runs from
// one process as independent samples.

import { LogHistogram } from '../lib/histogram.ts';
import {
  bootstrapRatioCI,
  mannWhitneyU,
  median,
  stabilityWarnings,
  verdict,
  type VerdictResult,
} from '../lib/stats.ts';
import type { ChildResult } from './child.ts';
import { METRIC_DIRECTION, type Metric, type Scenario } from './suite.ts';

/** One process's value of every metric. */
export interface ProcessMetrics {
  opsPerSec: number;
  /** uncontended only: ns per lock()+unlock() pair. */
  nsPerOp?: number;
  waitMeanNs?: number;
  waitP50Ns?: number;
  waitP99Ns?: number;
  waitMaxNs?: number;
  minMaxRatio?: number;
  /** Context switches of the whole process per acquisition over the measured runs (getrusage). */
  volCtxSwitchesPerOp?: number;
  involCtxSwitchesPerOp?: number;
  /** Atomics.wait calls per acquisition (scenarios with `countAtomics`). */
  parksPerOp?: number;
  /** Atomics.notify calls per acquisition (scenarios with `countAtomics`). */
  wakeCallsPerOp?: number;
  /**
   * ops/s of the wait-sampled runs over ops/s of the throughput runs: what timing one
   * acquisition in `sampleEvery` costs (1 = nothing). Absent in data without sampled runs.
   */
  samplingCost?: number;
}

export function processMetrics(r: ChildResult): ProcessMetrics {
  if (r.kind === 'uncontended') return { opsPerSec: r.opsPerSec, nsPerOp: r.nsPerOp };
  let ops = 0;
  let ms = 0;
  const hist = LogHistogram.from(r.wait);
  let perWorker: number[] = [];
  // Data written before these counters existed lacks them: the metrics are then left out.
  let vol: number | undefined = 0;
  let invol: number | undefined = 0;
  let waits: number | undefined = 0;
  let notifies: number | undefined = 0;
  for (const run of r.runs) {
    ops += run.totalOps;
    ms += run.elapsedMs;
    perWorker = run.opsPerWorker.map((x, i) => x + (perWorker[i] ?? 0));
    vol = run.voluntaryCtxSwitches === undefined || vol === undefined ? undefined : vol + run.voluntaryCtxSwitches;
    invol = run.involuntaryCtxSwitches === undefined || invol === undefined ? undefined : invol + run.involuntaryCtxSwitches;
    waits = run.atomics === undefined || waits === undefined ? undefined : waits + run.atomics.waitCalls;
    notifies = run.atomics === undefined || notifies === undefined ? undefined : notifies + run.atomics.notifyCalls;
  }
  let sOps = 0;
  let sMs = 0;
  for (const run of r.sampled ?? []) {
    sOps += run.totalOps;
    sMs += run.elapsedMs;
  }
  const most = Math.max(...perWorker);
  const perOp = (x: number | undefined): number | undefined => (x === undefined || ops === 0 || r.runs.length === 0 ? undefined : x / ops);
  return {
    opsPerSec: (ops * 1000) / ms,
    waitMeanNs: hist.meanNs(),
    waitP50Ns: hist.quantile(0.5),
    waitP99Ns: hist.quantile(0.99),
    waitMaxNs: hist.maxNs,
    minMaxRatio: most === 0 ? 0 : Math.min(...perWorker) / most,
    volCtxSwitchesPerOp: perOp(vol),
    involCtxSwitchesPerOp: perOp(invol),
    parksPerOp: perOp(waits),
    wakeCallsPerOp: perOp(notifies),
    samplingCost: sMs > 0 && ops > 0 ? (sOps * ms) / (sMs * ops) : undefined,
  };
}

export interface VariantSummary {
  label: string;
  processes: number;
  failures: string[];
  values: ProcessMetrics[];
  median: ProcessMetrics | undefined;
  /** Worst (largest) max wait over all processes. */
  worstWaitMaxNs?: number;
  warnings: string[];
}

export interface ComparisonSummary {
  candidate: string;
  baseline: string;
  metric: Metric;
  ratio: number;
  low: number;
  high: number;
  p: number;
  n: [number, number];
  target?: { text: string; atLeast: number; status: 'met' | 'NOT met' | 'inconclusive' };
  claim?: { id: string; text: string } & VerdictResult;
}

export interface ScenarioSummary {
  name: string;
  variants: VariantSummary[];
  comparisons: ComparisonSummary[];
  skipped: string[];
  fairness?: { status: 'met' | 'NOT met'; text: string };
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function medianOf(values: ProcessMetrics[], key: keyof ProcessMetrics): number | undefined {
  const xs = values.map((v) => v[key]).filter((x): x is number => x !== undefined);
  return xs.length === 0 ? undefined : median(xs);
}

export interface RawRun {
  label: string;
  ok: boolean;
  result?: ChildResult;
  error?: string;
}

/** Summarizes a scenario's raw process results. `seed` makes the bootstrap reproducible. */
export function summarize(sc: Scenario, raw: RawRun[], skipped: string[], seed = 1): ScenarioSummary {
  const variants: VariantSummary[] = sc.variants
    .filter((v) => !skipped.includes(v.label))
    .map((v) => {
      const mine = raw.filter((r) => r.label === v.label);
      const values = mine.filter((r) => r.ok && r.result).map((r) => processMetrics(r.result!));
      const failures = mine.filter((r) => !r.ok).map((r) => r.error ?? 'failed');
      const med: ProcessMetrics | undefined =
        values.length === 0
          ? undefined
          : {
              opsPerSec: medianOf(values, 'opsPerSec')!,
              nsPerOp: medianOf(values, 'nsPerOp'),
              waitMeanNs: medianOf(values, 'waitMeanNs'),
              waitP50Ns: medianOf(values, 'waitP50Ns'),
              waitP99Ns: medianOf(values, 'waitP99Ns'),
              waitMaxNs: medianOf(values, 'waitMaxNs'),
              minMaxRatio: medianOf(values, 'minMaxRatio'),
              volCtxSwitchesPerOp: medianOf(values, 'volCtxSwitchesPerOp'),
              involCtxSwitchesPerOp: medianOf(values, 'involCtxSwitchesPerOp'),
              parksPerOp: medianOf(values, 'parksPerOp'),
              wakeCallsPerOp: medianOf(values, 'wakeCallsPerOp'),
              samplingCost: medianOf(values, 'samplingCost'),
            };
      const maxes = values.map((x) => x.waitMaxNs).filter((x): x is number => x !== undefined);
      return {
        label: v.label,
        processes: mine.length,
        failures,
        values,
        median: med,
        worstWaitMaxNs: maxes.length ? Math.max(...maxes) : undefined,
        warnings: values.length ? stabilityWarnings(values.map((x) => x.opsPerSec)) : [],
      };
    });
  const byLabel = new Map(variants.map((v) => [v.label, v]));
  const comparisons: ComparisonSummary[] = [];
  for (const c of sc.comparisons) {
    const cand = byLabel.get(c.candidate);
    const base = byLabel.get(c.baseline);
    const metric = c.metric ?? 'opsPerSec';
    const cv = cand?.values.map((x) => x[metric]).filter((x): x is number => x !== undefined) ?? [];
    const bv = base?.values.map((x) => x[metric]).filter((x): x is number => x !== undefined) ?? [];
    if (cv.length === 0 || bv.length === 0 || !(median(bv) > 0)) continue;
    const ci = bootstrapRatioCI(bv, cv, {
      seed: (seed ^ fnv1a(`${sc.name}|${c.candidate}|${c.baseline}|${metric}`)) >>> 0,
    });
    const out: ComparisonSummary = {
      candidate: c.candidate,
      baseline: c.baseline,
      metric,
      ratio: ci.ratio,
      low: ci.low,
      high: ci.high,
      p: mannWhitneyU(cv, bv).p,
      n: [cv.length, bv.length],
    };
    if (c.target) {
      const status = ci.low >= c.target.atLeast ? 'met' : ci.high < c.target.atLeast ? 'NOT met' : 'inconclusive';
      out.target = { text: c.target.text, atLeast: c.target.atLeast, status };
    }
    if (c.claim && ci.low > 0) {
      out.claim = { id: c.claim.id, text: c.claim.text, ...verdict(ci, c.claim.claim) };
    }
    comparisons.push(out);
  }
  let fairness: ScenarioSummary['fairness'];
  if (sc.kind === 'contended' && sc.fairness) {
    const p = byLabel.get('parklot');
    if (p?.median?.waitMaxNs !== undefined && p.median.minMaxRatio !== undefined) {
      const maxMs = p.median.waitMaxNs / 1e6;
      const ok = maxMs <= sc.fairness.maxWaitMs && p.median.minMaxRatio >= sc.fairness.minMaxRatio;
      fairness = {
        status: ok ? 'met' : 'NOT met',
        text:
          `README fairness target (parklot): max wait ≤ ${sc.fairness.maxWaitMs} ms and least/most ≥ ` +
          `${sc.fairness.minMaxRatio}; measured median max wait ${maxMs.toFixed(2)} ms ` +
          `(worst ${((p.worstWaitMaxNs ?? 0) / 1e6).toFixed(2)} ms), least/most ${p.median.minMaxRatio.toFixed(2)}`,
      };
    }
  }
  return { name: sc.name, variants, comparisons, skipped, fairness };
}

// ---------- text formatting ----------

export function fmtOps(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)}G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}

export function fmtNs(ns: number | undefined): string {
  if (ns === undefined) return '–';
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}

const METRIC_LABEL: Record<Metric, string> = {
  opsPerSec: 'ops/s',
  waitMeanNs: 'mean wait',
  waitP99Ns: 'p99 wait',
  volCtxSwitchesPerOp: 'voluntary ctx switches/op',
  involCtxSwitchesPerOp: 'involuntary ctx switches/op',
  parksPerOp: 'parks/op',
  wakeCallsPerOp: 'wake calls/op',
};

/** pyperf-style ratio text from the candidate's point of view ("1.52x faster", "1.20x lower mean wait"). */
export function fmtRatio(c: ComparisonSummary): string {
  const dir = METRIC_DIRECTION[c.metric];
  const benefit = dir === 'higher-is-better' ? c.ratio : 1 / c.ratio;
  const how = (benefit >= 1 ? benefit : 1 / benefit).toFixed(2);
  if (c.metric === 'opsPerSec') return `${how}x ${benefit >= 1 ? 'faster' : 'slower'}`;
  const name = METRIC_LABEL[c.metric];
  return `${how}x ${benefit >= 1 ? 'lower' : 'higher'} ${name}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/** The scenario's block of the terminal output. */
export function formatScenario(sc: Scenario, s: ScenarioSummary, reps: number, mode: string): string {
  const lines: string[] = [];
  lines.push(`${sc.name}  —  ${sc.what}  [${mode}: ${reps} rep${reps === 1 ? '' : 's'}/variant]`);
  if (sc.kind === 'uncontended') {
    lines.push(`  ${pad('variant', 18)}${lpad('ops/s', 10)}${lpad('ns/pair', 10)}   ops/s per process`);
    for (const v of s.variants) {
      if (!v.median) {
        lines.push(`  ${pad(v.label, 18)}FAILED: ${v.failures[0] ?? 'no result'}`);
        continue;
      }
      lines.push(
        `  ${pad(v.label, 18)}${lpad(fmtOps(v.median.opsPerSec), 10)}${lpad((v.median.nsPerOp ?? 0).toFixed(2), 10)}   ` +
          v.values.map((x) => fmtOps(x.opsPerSec)).join(' '),
      );
    }
  } else {
    lines.push(
      `  ${pad('variant', 18)}${lpad('ops/s', 10)}${lpad('p50 wait', 11)}${lpad('p99 wait', 11)}` +
        `${lpad('max wait', 11)}${lpad('worst max', 11)}${lpad('least/most', 12)}   ops/s per process`,
    );
    for (const v of s.variants) {
      if (!v.median) {
        lines.push(`  ${pad(v.label, 18)}FAILED: ${v.failures[0] ?? 'no result'}`);
        continue;
      }
      const m = v.median;
      lines.push(
        `  ${pad(v.label, 18)}${lpad(fmtOps(m.opsPerSec), 10)}${lpad(fmtNs(m.waitP50Ns), 11)}${lpad(fmtNs(m.waitP99Ns), 11)}` +
          `${lpad(fmtNs(m.waitMaxNs), 11)}${lpad(fmtNs(v.worstWaitMaxNs), 11)}${lpad((m.minMaxRatio ?? 0).toFixed(2), 12)}   ` +
          v.values.map((x) => fmtOps(x.opsPerSec)).join(' '),
      );
    }
  }
  if (sc.kind === 'contended') {
    const costs = s.variants
      .filter((v) => v.median?.samplingCost !== undefined)
      .map((v) => `${v.label} ${v.median!.samplingCost!.toFixed(3)}`);
    if (costs.length) lines.push(`  wait sampling check (sampled-run ops/s ÷ throughput-run ops/s): ${costs.join(', ')}`);
  }
  if (sc.kind === 'contended' && sc.countAtomics) {
    const f = (x: number | undefined): string => (x === undefined ? '–' : x.toPrecision(3));
    for (const v of s.variants) {
      if (!v.median) continue;
      const m = v.median;
      lines.push(
        `  ${pad(v.label, 18)}per acquisition: voluntary ctx switches ${f(m.volCtxSwitchesPerOp)}, involuntary ` +
          `${f(m.involCtxSwitchesPerOp)}, parks (Atomics.wait) ${f(m.parksPerOp)}, wake calls (Atomics.notify) ${f(m.wakeCallsPerOp)}`,
      );
    }
  }
  for (const v of s.variants) {
    if (v.median && v.failures.length) lines.push(`  ! ${v.label}: ${v.failures.length} process(es) FAILED: ${v.failures[0]}`);
  }
  for (const sk of s.skipped) lines.push(`  (skipped ${sk})`);
  for (const c of s.comparisons) {
    let line =
      `  ${pad(`${c.candidate} vs ${c.baseline}:`, 36)}${pad(fmtRatio(c), 24)} ratio ${c.ratio.toFixed(3)} ` +
      `[95% CI ${c.low.toFixed(3)}, ${c.high.toFixed(3)}]  MWU p=${c.p.toFixed(3)}`;
    if (c.p >= 0.05) line += ' (not significant)';
    lines.push(line);
    if (c.target) {
      const provisional = reps < 9 ? ' (provisional: < 9 processes, the bootstrap CI is too narrow)' : '';
      lines.push(`      target ${c.target.status}: ${c.target.text}${provisional}`);
    }
    if (c.claim) {
      const provisional = reps < 9 ? ' (provisional: < 9 processes)' : '';
      lines.push(`      ${c.claim.id} verdict: ${c.claim.verdict}${provisional} — ${c.claim.text}; ${c.claim.reason}`);
    }
  }
  if (s.fairness) lines.push(`  fairness target ${s.fairness.status}: ${s.fairness.text}`);
  let few = false;
  for (const v of s.variants) {
    for (const w of v.warnings) {
      if (w.startsWith('only ')) few = true;
      else lines.push(`  unstable ${v.label}: ${w}`);
    }
  }
  if (few) lines.push(`  note: fewer than 9 processes per variant: CIs are wide and MWU p cannot be small`);
  return lines.join('\n');
}
