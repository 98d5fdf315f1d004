// Lock-family bench: `npx node bench/family/run.ts [--quick] [--groups rw,cv] [--reps n] [--out f]`.
//
// Groups, variants and the claims they test (design/claims.md):
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
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapRatioCI, mannWhitneyU, median, stabilityWarnings, verdict, type Claim, type VerdictResult } from '../lib/stats.ts';
import { RESULT_MARKER, type ChildOutput, type Group, type Job, type Point } from './protocol.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CHILD = path.join(HERE, 'child.ts');

interface GroupDef {
  group: Group;
  title: string;
  variants: string[];
  points: (quick: boolean) => Point[];
  /** Metric printed in the medians table. */
  headline: string;
  describe: (p: Point) => string;
}

const RW_THREADS = [1, 2, 4, 8];
const RW_READS = [50, 90, 99];

const GROUPS: GroupDef[] = [
  {
    group: 'rw',
    title: 'RwLock: ops/s (reads + writes), inside 10 / between 20 xorshift steps',
    variants: ['parklot-fair', 'parklot-readers', 'parklot-writers', 'futex-rw', 'cpython-rw', 'mutex'],
    points: () => RW_THREADS.flatMap((threads) => RW_READS.map((readPct) => ({ threads, readPct, inside: 10, between: 20 }))),
    headline: 'opsPerSec',
    describe: (p) => `${p.threads}T ${p.readPct}%r`,
  },
  {
    group: 'cv',
    title: 'Condvar producer/consumer (one condvar, notifyAll per item, buffer 4): items/s',
    variants: ['requeue', 'wakeall'],
    points: () => [1, 2, 4].map((k) => ({ threads: 2 * k, producers: k, cap: 4, inside: 0, between: 20 })),
    headline: 'itemsPerSec',
    describe: (p) => `${p.producers}P+${p.threads - (p.producers ?? 0)}C`,
  },
  {
    group: 'semBatch',
    title: 'Semaphore acquire/release of n permits (permits = threads × n): cycles/s',
    variants: ['batched', 'single'],
    points: () => [1, 2, 4].flatMap((threads) => [4, 16].map((n) => ({ threads, n, inside: 10, between: 20 }))),
    headline: 'cyclesPerSec',
    describe: (p) => `${p.threads}T n=${p.n}`,
  },
  {
    group: 'semWait',
    title: 'Semaphore waiting, acquire(1)/release(1), inside 50 / between 50: ops/s',
    variants: ['adaptive', 'block'],
    points: () => [2, 4, 8].flatMap((threads) => [1, 2].map((permits) => ({ threads, permits, inside: 50, between: 50 }))),
    headline: 'opsPerSec',
    describe: (p) => `${p.threads}T ${p.permits}p`,
  },
  {
    group: 'barrier',
    title: 'Barrier generations/s (between 20 steps)',
    variants: ['parklot', 'parklot-nospin', 'futex', 'futex-spin'],
    points: () => [2, 4, 8].map((threads) => ({ threads, inside: 0, between: 20 })),
    headline: 'gensPerSec',
    describe: (p) => `${p.threads} parties`,
  },
];

/** A candidate/baseline comparison, per point where `where` holds. */
interface ComparisonDef {
  id: string;
  group: Group;
  candidate: string;
  baseline: string;
  metric: string;
  claim: Claim | { notApplicable: string } | null;
  where: (p: Point) => boolean;
  note: string;
}

const COMPARISONS: ComparisonDef[] = [
  { id: 'C4', group: 'rw', candidate: 'parklot-readers', baseline: 'cpython-rw', metric: 'readsPerSec', claim: { direction: 'higher-is-better', ratio: [1.03, 1.05] }, where: (p) => (p.readPct ?? 0) >= 90, note: 'reader-preferring wake vs write-preferring unlock-wakes-all, read-mostly' },
  { id: 'C4-wait', group: 'rw', candidate: 'parklot-readers', baseline: 'cpython-rw', metric: 'writeWaitMaxNs', claim: null, where: (p) => (p.readPct ?? 0) >= 90 && p.threads > 1, note: 'what reader preference costs writers (max write wait)' },
  { id: 'C4-fair', group: 'rw', candidate: 'parklot-fair', baseline: 'cpython-rw', metric: 'opsPerSec', claim: null, where: () => true, note: 'parklot default policy vs the CPython baseline' },
  { id: 'L3', group: 'rw', candidate: 'parklot-fair', baseline: 'futex-rw', metric: 'opsPerSec', claim: { direction: 'higher-is-better', ratio: [0.944, 0.944] }, where: (p) => p.threads <= 2, note: 'parking-lot RW lock vs the standard futex RW lock at low contention (claimed 5.6 % slower)' },
  { id: 'rw-futex', group: 'rw', candidate: 'parklot-fair', baseline: 'futex-rw', metric: 'opsPerSec', claim: null, where: (p) => p.threads > 2, note: 'same, contended' },
  { id: 'rw-mutex', group: 'rw', candidate: 'parklot-fair', baseline: 'mutex', metric: 'opsPerSec', claim: null, where: () => true, note: 'RwLock vs one Mutex for everything' },
  { id: 'C3-cv', group: 'cv', candidate: 'requeue', baseline: 'wakeall', metric: 'itemsPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'notifyAll requeue (one wake per unlock) vs wake every waiter' },
  { id: 'C3-cv-waits', group: 'cv', candidate: 'requeue', baseline: 'wakeall', metric: 'waitsPerItem', claim: { direction: 'lower-is-better' }, where: () => true, note: 'wait() calls per item (futile wake-ups re-wait)' },
  { id: 'C3-barrier', group: 'barrier', candidate: 'futex', baseline: 'parklot-nospin', metric: 'gensPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'one notify call for all (batched) vs one wake per waiter, no spinning' },
  { id: 'C3-barrier-spin', group: 'barrier', candidate: 'futex-spin', baseline: 'parklot', metric: 'gensPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'same, both spinning 200 rounds when parties ≤ cores' },
  { id: 'C11', group: 'semBatch', candidate: 'batched', baseline: 'single', metric: 'cyclesPerSec', claim: { direction: 'higher-is-better', ratio: [1.02, 1.05] }, where: () => true, note: 'acquire(n)/release(n) vs n × acquire(1)/release(1)' },
  { id: 'C10', group: 'semWait', candidate: 'adaptive', baseline: 'block', metric: 'opsPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'spin then park vs park at once: throughput' },
  { id: 'C10-p99', group: 'semWait', candidate: 'adaptive', baseline: 'block', metric: 'acquireP99Ns', claim: { direction: 'lower-is-better' }, where: () => true, note: 'same: p99 acquire latency' },
  { id: 'C10-parks', group: 'semWait', candidate: 'adaptive', baseline: 'block', metric: 'parksPerOp', claim: { direction: 'lower-is-better' }, where: () => true, note: 'same: parks per acquire' },
];

interface Options {
  quick: boolean;
  groups: Group[];
  reps: number;
  out?: string;
  seed: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { quick: false, groups: GROUPS.map((g) => g.group), reps: 0, seed: 20260601 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--full') o.quick = false;
    else if (a === '--groups') o.groups = val().split(',').filter(Boolean) as Group[];
    else if (a === '--reps') o.reps = Number(val());
    else if (a === '--out') o.out = val();
    else if (a === '--seed') o.seed = Number(val());
    else throw new Error(`unknown argument ${a}\nusage: node bench/family/run.ts [--quick] [--groups rw,cv,semBatch,semWait,barrier] [--reps n] [--out file.json]`);
  }
  for (const g of o.groups) if (!GROUPS.some((d) => d.group === g)) throw new Error(`unknown group ${g}`);
  if (o.reps === 0) o.reps = o.quick ? 3 : 9;
  if (!Number.isInteger(o.reps) || o.reps < 1) throw new Error('--reps must be a positive integer');
  return o;
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
  const opts = parseArgs(process.argv.slice(2));
  const warmupMs = opts.quick ? 50 : 100;
  const runMs = opts.quick ? 120 : 300;
  const groups = GROUPS.filter((g) => opts.groups.includes(g.group));
  const started = performance.now();
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
      'rw times write() only (performance.now() around it, same in every variant); semWait times acquire(); ' +
      'statistics over processes: median, ratio of medians with 95 % percentile bootstrap CI (10000 resamples), Mann–Whitney U p.',
  };
  process.stderr.write(`family bench${opts.quick ? ' (QUICK: 3 reps, short runs — indicative only)' : ''}: ${opts.reps} reps, ${meta.cpuModel}, ${meta.availableParallelism} cores, Node ${process.version}\n`);
  const raw: Raw[] = [];
  const failures: string[] = [];
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const g of groups) {
      const n = g.variants.length;
      for (let k = 0; k < n; k++) {
        const variant = g.variants[(k + rep) % n];
        const job: Job = { group: g.group, variant, points: g.points(opts.quick), warmupMs, runMs };
        process.stderr.write(`  rep ${rep + 1}/${opts.reps} ${g.group}/${variant} … `);
        const t0 = performance.now();
        try {
          raw.push({ rep, order: k, output: await runChild(job) });
          process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
        } catch (e) {
          failures.push((e as Error).message);
          process.stderr.write('FAILED\n');
        }
      }
    }
  }

  const comparisons: ComparisonResult[] = [];
  const lines: string[] = [];
  const warnings: string[] = [];
  let seed = opts.seed;
  for (const g of groups) {
    lines.push('', `## ${g.title}${opts.quick ? '  [QUICK]' : ''}`, '');
    const pts = g.points(opts.quick);
    lines.push(['point'.padEnd(14), ...g.variants.map((v) => v.padStart(16))].join(''));
    for (const p of pts) {
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
      for (const p of pts.filter(c.where)) {
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
          id: c.id, group: g.group, point: p, candidate: c.candidate, baseline: c.baseline, metric: c.metric, note: c.note,
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

  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = opts.out ?? path.join(ROOT, 'reports', 'data', `family-${stamp}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({
      meta: { ...meta, loadAvgAtEnd: os.loadavg(), durationMs: performance.now() - started, processes: raw.length + failures.length, failures },
      suite: groups.map((g) => ({ group: g.group, title: g.title, variants: g.variants, points: g.points(opts.quick) })),
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
