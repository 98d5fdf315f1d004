// Lock-family bench: `npx node bench/family/run.ts [--quick|--full] [--groups rw,cv] [--filter s] [--reps n] [--out f] [--seed n]`.
// Scenario definitions (groups, points, names, comparisons): bench/family/suite.ts.
//
// Groups, variants and the claims they test (bench/claims.md):
// - rw: RwLock at 1/2/4/8 threads × 50/90/99 % reads. parklot RwLock ('fair', 'readers' = C4's
//   reader-preferring wake, 'writers') vs Rust std's futex RwLock (L3's "standard one"), CPython's
//   write-preferring unlock-wakes-all _PyRWMutex (C4 baseline) and parklot's Mutex.
// - cv: producer/consumer, one condvar, notifyAll per item: requeue (parklot Condvar) vs wake-all (C3).
// - semBatch: acquire(n)/release(n) as one call vs n calls (C11).
// - semWait: adaptive (spin, then park) vs block (park at once) semaphore waiting (C10).
// - barrier: generations/s, parklot Barrier (per-waiter wake in one bucket pass) vs a textbook
//   futex barrier (one Atomics.notify for all: the batched wake of C3), with and without spinning.
//
// Method: every (group, variant) runs in a fresh process (bench/family/child.ts) per repetition;
// repetitions are interleaved (rep 1 runs every variant, then rep 2, …) with the variant order
// rotated each repetition. The unit of statistics is one process. Per point: medians, the ratio of
// medians candidate/baseline with a 95 % bootstrap CI, a Mann–Whitney p, and the claims.md verdict.
// Raw results, summary and metadata go to reports/data/family-<date>.json.
//
// Invariant: a failed process is recorded and printed, never dropped, and makes the exit code 1.

import { envMeta } from '../lib/meta.ts';
import { listValue, parseCli, repsValue, RUN_OPTIONS, runMode } from '../lib/args.ts';
import { describeLoad, startLoadMonitor } from '../lib/load-monitor.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapRatioCI, mannWhitneyU, median, stabilityWarnings, verdict, type VerdictResult } from '../lib/stats.ts';
import { RESULT_MARKER, type ChildOutput, type Group, type Job, type Point } from './protocol.ts';
import { COMPARISONS, GROUPS, scenarioName } from './suite.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CHILD = path.join(HERE, 'child.ts');

interface Options {
  quick: boolean;
  groups: Group[];
  /** Only points whose scenario name (or `family/<group>`) contains this. */
  filter?: string;
  reps: number;
  out?: string;
  seed: number;
}

const USAGE = 'usage: node bench/family/run.ts [--quick|--full] [--groups rw,cv,semBatch,semWait,barrier] [--filter name] [--reps n] [--out file.json] [--seed n]';

function parseFamilyArgs(argv: string[]): Options {
  const p = parseCli(argv, { ...RUN_OPTIONS, groups: { type: 'string' }, seed: { type: 'string' } }, USAGE);
  const v = p.values;
  const quick = runMode(p, 'full') === 'quick';
  const groups = (listValue(v.groups) ?? GROUPS.map((g) => g.group)) as Group[];
  for (const g of groups) if (!GROUPS.some((d) => d.group === g)) throw new Error(`unknown group ${g}; groups: ${GROUPS.map((d) => d.group).join(', ')}`);
  return { quick, groups, filter: v.filter, reps: repsValue(v.reps) ?? (quick ? 3 : 9), out: v.out, seed: v.seed === undefined ? 20260601 : Number(v.seed) };
}

function runChild(job: Job): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CHILD, JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 10 * 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || line === undefined) reject(new Error(`${job.group}/${job.variant} failed (exit ${code}): ${err.trim().slice(0, 2000)}`));
      else resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as ChildOutput);
    });
  });
}

interface Raw {
  rep: number;
  order: number;
  output: ChildOutput;
}

interface ComparisonResult {
  id: string;
  group: Group;
  /** Scenario name of the point (suite.ts scenarioName). */
  scenario: string;
  point: Point;
  candidate: string;
  baseline: string;
  metric: string;
  note: string;
  candidateMedian: number;
  baselineMedian: number;
  ratio: number;
  ciLow: number;
  ciHigh: number;
  p: number;
  verdict: VerdictResult | null;
}

const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  if (a >= 10) return x.toFixed(0);
  return x.toFixed(3);
};

function fmtDuration(ms: number): string {
  const sec = Math.max(0, Math.round(ms / 1000));
  return sec >= 60 ? `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s` : `${sec}s`;
}

const samePoint = (a: Point, b: Point): boolean => JSON.stringify(a) === JSON.stringify(b);

function samples(raw: Raw[], group: Group, variant: string, point: Point, metric: string): number[] {
  const xs: number[] = [];
  for (const r of raw) {
    if (r.output.group !== group || r.output.variant !== variant) continue;
    const pt = r.output.points.find((q) => samePoint(q.point, point));
    if (pt !== undefined && pt.metrics[metric] !== undefined) xs.push(pt.metrics[metric]);
  }
  return xs;
}

async function main(): Promise<void> {
  const opts = parseFamilyArgs(process.argv.slice(2));
  const warmupMs = opts.quick ? 50 : 100;
  const runMs = opts.quick ? 120 : 300;
  // Points of each selected group that match --filter (by scenario name or `family/<group>`).
  const pointsOf = new Map<Group, Point[]>();
  for (const g of GROUPS) {
    if (!opts.groups.includes(g.group)) continue;
    const f = opts.filter;
    const pts = g.points(opts.quick).filter((p) => f === undefined || scenarioName(g.group, p).includes(f) || `family/${g.group}`.includes(f));
    if (pts.length > 0) pointsOf.set(g.group, pts);
  }
  const groups = GROUPS.filter((g) => pointsOf.has(g.group));
  if (groups.length === 0) throw new Error(`no family scenario matches --filter ${opts.filter}`);
  const pts = (g: { group: Group }): Point[] => pointsOf.get(g.group)!;
  /** What one process of the group measures, for the progress line. */
  const label = (g: { group: Group }): string => {
    const names = pts(g).map((p) => scenarioName(g.group, p));
    return names.length === 1 ? names[0] : `${names[0]} … ${names[names.length - 1]} (${names.length} scenarios)`;
  };
  const totalJobs = opts.reps * groups.reduce((a, g) => a + g.variants.length, 0);
  // Rough relative cost of one process (spawn + per point: warm-up + run + worker set-up).
  const cost = (g: { group: Group }): number => 400 + pts(g).length * (warmupMs + runMs + 60);
  const totalCost = opts.reps * groups.reduce((a, g) => a + g.variants.length * cost(g), 0);
  let doneJobs = 0;
  let doneCost = 0;
  const started = performance.now();
  const load = startLoadMonitor();
  const meta = {
    bench: 'family',
    ...envMeta(ROOT),
    quick: opts.quick,
    reps: opts.reps,
    warmupMs,
    runMs,
    argv: process.argv.slice(2),
    method:
      'one fresh process per (group, variant) per repetition; repetitions interleaved, variant order rotated per repetition; ' +
      'per point one warm-up run then one measured run of runMs wall time (workers start on one GO store, stop on one STOP store); ' +
      'rw times one write() in 16 (performance.now() around it, same in every variant); semWait times one acquire() in 64; ' +
      'statistics over processes: median, ratio of medians with 95 % percentile bootstrap CI (10000 resamples), Mann–Whitney U p.',
  };
  process.stderr.write(`family bench${opts.quick ? ' (QUICK: short runs — indicative only)' : ''}: ${opts.reps} reps, ${meta.cpuModel}, ${meta.availableParallelism} cores, Node ${process.version}\n`);
  const raw: Raw[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const g of groups) {
      const n = g.variants.length;
      for (let k = 0; k < n; k++) {
        const variant = g.variants[(k + rep) % n];
        const job: Job = { group: g.group, variant, points: pts(g), warmupMs, runMs };
        // Progress: scenario, variant, repetition, time left (scaled by the measured pace).
        const elapsed = performance.now() - started;
        const left = doneCost > 0 ? ((totalCost - doneCost) * elapsed) / doneCost : totalCost;
        process.stderr.write(
          `[${String(doneJobs + 1).padStart(String(totalJobs).length)}/${totalJobs}] ${label(g)}  ${variant}  ` +
            `rep ${rep + 1}/${opts.reps}  ~${fmtDuration(left)} left … `,
        );
        const t0 = performance.now();
        try {
          raw.push({ rep, order: k, output: await runChild(job) });
          process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        } catch (e) {
          failures.push((e as Error).message);
          process.stderr.write('FAILED\n');
        }
        doneJobs++;
        doneCost += cost(g);
      }
    }
  }

  const comparisons: ComparisonResult[] = [];
  const lines: string[] = [];
  const warnings: string[] = [];
  let seed = opts.seed;
  for (const g of groups) {
    lines.push('', `## ${g.title}${opts.quick ? '  [QUICK]' : ''}`, '');
    const gp = pts(g);
    lines.push(['point'.padEnd(14), ...g.variants.map((v) => v.padStart(16))].join(''));
    for (const p of gp) {
      const row = [g.describe(p).padEnd(14)];
      for (const v of g.variants) {
        const xs = samples(raw, g.group, v, p, g.headline);
        row.push((xs.length === 0 ? '—' : fmt(median(xs))).padStart(16));
        if (xs.length > 0) for (const w of stabilityWarnings(xs)) warnings.push(`${g.group} ${g.describe(p)} ${v}: ${w}`);
      }
      lines.push(row.join(''));
    }
    for (const c of COMPARISONS.filter((x) => x.group === g.group)) {
      lines.push('', `${c.id}: ${c.candidate} / ${c.baseline}, ${c.metric} — ${c.note}`);
      for (const p of gp.filter(c.where)) {
        const a = samples(raw, g.group, c.baseline, p, c.metric);
        const b = samples(raw, g.group, c.candidate, p, c.metric);
        if (a.length === 0 || b.length === 0 || !(median(a) > 0)) {
          lines.push(`  ${g.describe(p).padEnd(14)} (no data)`);
          continue;
        }
        if (a.some((x) => !(x > 0))) {
          lines.push(`  ${g.describe(p).padEnd(14)} baseline has zero samples; ratio skipped`);
          continue;
        }
        const ci = bootstrapRatioCI(a, b, { seed: seed++ });
        const mw = mannWhitneyU(b, a);
        const v = c.claim === null ? null : verdict(ci, c.claim);
        comparisons.push({
          id: c.id, group: g.group, scenario: scenarioName(g.group, p), point: p, candidate: c.candidate, baseline: c.baseline, metric: c.metric, note: c.note,
          candidateMedian: median(b), baselineMedian: median(a), ratio: ci.ratio, ciLow: ci.low, ciHigh: ci.high, p: mw.p, verdict: v,
        });
        lines.push(
          `  ${g.describe(p).padEnd(14)} ${fmt(median(b)).padStart(9)} vs ${fmt(median(a)).padStart(9)}  ratio ${ci.ratio.toFixed(3)} ` +
            `[${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}]  p=${mw.p.toFixed(3)}${v === null ? '' : `  ${v.verdict}`}`,
        );
      }
    }
  }
  if (failures.length > 0) lines.push('', 'FAILURES:', ...failures.map((f) => `  ${f}`));
  if (warnings.length > 0) lines.push('', `stability warnings (${warnings.length}):`, ...warnings.slice(0, 40).map((w) => `  ${w}`));
  process.stdout.write(`${lines.join('\n')}\n`);

  const loadDuringRun = load.stop();
  process.stdout.write(`${describeLoad(loadDuringRun)}\n`);
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = opts.out ?? path.join(ROOT, 'reports', 'data', `family-${stamp}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({
      meta: { ...meta, loadAvgAtEnd: os.loadavg(), durationMs: performance.now() - started, processes: raw.length + failures.length, failures, loadDuringRun },
      suite: groups.map((g) => ({ group: g.group, title: g.title, variants: g.variants, points: pts(g), scenarios: pts(g).map((p) => scenarioName(g.group, p)) })),
      comparisons,
      raw,
    }, null, 1)}\n`,
  );
  process.stderr.write(`wrote ${path.relative(ROOT, file)} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  if (failures.length > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exitCode = 1;
});
