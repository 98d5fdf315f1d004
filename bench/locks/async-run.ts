// Runner of the async-locks suite (issue 13): `node bench/locks/async-run.ts [--quick|--full]
// [--reps n] [--filter substr] [--variants a,b] [--out file.json] [--seed n] [--list]`.
//
// Same method as the locks suite (bench/run.ts): one fresh `node` process per (scenario,
// variant, repetition) (bench/locks/async-child.ts), variants interleaved with the order rotated
// by one per repetition, the process as the statistical unit (its value: total ops / total wall
// time over its measured runs), per variant the median over processes, and for each comparison
// the ratio of medians with a 95 % percentile-bootstrap CI (bench/lib/stats.ts, seeded) and a
// Mann–Whitney U p; issue 13's targets are checked against the CI (`met` if the CI is entirely
// at or above the target, `NOT met` if entirely below, else `inconclusive`).
// Writes reports/data/async-locks-<UTC timestamp>.json.
//
// Invariants: a failed process (a lost update, a hang, a crash) is recorded, printed and kept in
// the JSON, never dropped, and makes the exit code 1; quick mode says so in every header.

import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { envMeta } from '../lib/meta.ts';
import { parseLockRunArgs } from '../lib/args.ts';
import { describeLoad, startLoadMonitor } from '../lib/load-monitor.ts';
import { bootstrapRatioCI, mannWhitneyU, median, stabilityWarnings } from '../lib/stats.ts';
import { ASYNC_RESULT_MARKER, type AsyncChildResult, type AsyncJob } from './async-child.ts';
import { ASYNC_LOCK_INFO } from './async-locks.ts';
import { ASYNC_MODES, asyncSuite, type AsyncScenario } from './async-suite.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CHILD = path.join(HERE, 'async-child.ts');

/** The `suite` field of the JSON this runner writes (and the file name prefix). */
export const ASYNC_SUITE = 'async-locks';

const USAGE = `usage: node bench/locks/async-run.ts [--quick|--full] [--reps n] [--filter substr]
                                    [--variants a,b] [--out file.json] [--seed n] [--list]
  --quick     3 repetitions (default; flagged as quick in the output)
  --full      9 repetitions, 3 measured runs per process
  --filter    only scenarios whose name contains substr (lock/async/threads:2, …:4)
  --variants  only these variant labels (parklot, multithreading, weblocks, parklot:mixed)
  --reps      override the number of repetitions
  --out       JSON path (default reports/data/async-locks-<timestamp>.json)
  --list      print the scenarios and exit`;

// ---------- per-process metrics and the scenario summary (pure: reusable on saved JSON) ----------

/** One process's values. */
export interface AsyncProcessMetrics {
  /** Total ops / total main-thread wall time over the measured runs. */
  opsPerSec: number;
  /** Ops per worker summed over the measured runs. */
  opsPerWorker: number[];
  /** least-served / most-served worker over the measured runs. */
  minMaxRatio: number;
}

export function asyncProcessMetrics(r: AsyncChildResult): AsyncProcessMetrics {
  let ops = 0;
  let ms = 0;
  let perWorker: number[] = [];
  for (const run of r.runs) {
    ops += run.totalOps;
    ms += run.elapsedMs;
    perWorker = run.opsPerWorker.map((x, i) => x + (perWorker[i] ?? 0));
  }
  const most = Math.max(...perWorker);
  return { opsPerSec: (ops * 1000) / ms, opsPerWorker: perWorker, minMaxRatio: most === 0 ? 0 : Math.min(...perWorker) / most };
}

export interface AsyncRawProcess {
  label: string;
  rep: number;
  orderIndex: number;
  wallMs: number;
  job: AsyncJob;
  ok: boolean;
  result?: AsyncChildResult;
  error?: string;
}

export interface AsyncVariantSummary {
  label: string;
  processes: number;
  failures: string[];
  values: AsyncProcessMetrics[];
  /** Medians over processes (undefined if every process failed). */
  median?: { opsPerSec: number; minMaxRatio: number; opsPerWorker: number[] };
  warnings: string[];
}

export interface AsyncComparisonSummary {
  candidate: string;
  baseline: string;
  metric: 'opsPerSec';
  ratio: number;
  low: number;
  high: number;
  p: number;
  n: [number, number];
  target?: { text: string; atLeast: number; status: 'met' | 'NOT met' | 'inconclusive' };
}

export interface AsyncScenarioSummary {
  name: string;
  variants: AsyncVariantSummary[];
  comparisons: AsyncComparisonSummary[];
  /** Comparisons that could not be computed (a side with no successful process), with why. */
  notComputed: { candidate: string; baseline: string; reason: string; target?: string }[];
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Summarizes a scenario's raw processes; `seed` makes every bootstrap reproducible. */
export function summarizeAsync(sc: AsyncScenario, raw: AsyncRawProcess[], labels: string[], seed = 1): AsyncScenarioSummary {
  const variants: AsyncVariantSummary[] = labels.map((label) => {
    const mine = raw.filter((r) => r.label === label);
    const values = mine.filter((r) => r.ok && r.result).map((r) => asyncProcessMetrics(r.result!));
    const failures = mine.filter((r) => !r.ok).map((r) => r.error ?? 'failed');
    const med =
      values.length === 0
        ? undefined
        : {
            opsPerSec: median(values.map((v) => v.opsPerSec)),
            minMaxRatio: median(values.map((v) => v.minMaxRatio)),
            opsPerWorker: values[0].opsPerWorker.map((_, i) => median(values.map((v) => v.opsPerWorker[i]))),
          };
    return {
      label,
      processes: mine.length,
      failures,
      values,
      median: med,
      warnings: values.length ? stabilityWarnings(values.map((v) => v.opsPerSec)) : [],
    };
  });
  const byLabel = new Map(variants.map((v) => [v.label, v]));
  const comparisons: AsyncComparisonSummary[] = [];
  const notComputed: AsyncScenarioSummary['notComputed'] = [];
  for (const c of sc.comparisons) {
    const cand = byLabel.get(c.candidate);
    const base = byLabel.get(c.baseline);
    if (cand === undefined || base === undefined) continue; // not selected (--variants)
    const cv = cand.values.map((v) => v.opsPerSec);
    const bv = base.values.map((v) => v.opsPerSec);
    if (cv.length === 0 || bv.length === 0 || !(median(bv) > 0)) {
      const failed = cv.length === 0 ? c.candidate : c.baseline;
      notComputed.push({
        candidate: c.candidate,
        baseline: c.baseline,
        reason: `no successful process of ${failed}`,
        ...(c.target ? { target: c.target.text } : {}),
      });
      continue;
    }
    const ci = bootstrapRatioCI(bv, cv, { seed: (seed ^ fnv1a(`${sc.name}|${c.candidate}|${c.baseline}|opsPerSec`)) >>> 0 });
    const out: AsyncComparisonSummary = {
      candidate: c.candidate,
      baseline: c.baseline,
      metric: 'opsPerSec',
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
    comparisons.push(out);
  }
  return { name: sc.name, variants, comparisons, notComputed };
}

// ---------- text ----------

function fmtOps(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(0);
}
function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}
function lpad(s: string, n: number): string {
  return s.length >= n ? s : ' '.repeat(n - s.length) + s;
}

/** The scenario's block of the terminal output. */
export function formatAsyncScenario(sc: AsyncScenario, s: AsyncScenarioSummary, reps: number, mode: string): string {
  const lines: string[] = [];
  lines.push(`${sc.name}  —  ${sc.what}  [${mode}: ${reps} rep${reps === 1 ? '' : 's'}/variant]`);
  lines.push(`  ${pad('variant', 16)}${lpad('ops/s', 10)}${lpad('least/most', 12)}   ${pad('ops per worker (medians)', 40)}ops/s per process`);
  for (const v of s.variants) {
    if (!v.median) {
      lines.push(`  ${pad(v.label, 16)}FAILED in all ${v.processes} process(es): ${v.failures[0] ?? 'no result'}`);
      continue;
    }
    const spec = sc.variants.find((x) => x.label === v.label);
    const perWorker = v.median.opsPerWorker
      .map((x, i) => `${i < (spec?.syncWorkers ?? 0) ? 'sync:' : ''}${fmtOps(x)}`)
      .join(' ');
    lines.push(
      `  ${pad(v.label, 16)}${lpad(fmtOps(v.median.opsPerSec), 10)}${lpad(v.median.minMaxRatio.toFixed(2), 12)}   ` +
        `${pad(perWorker, 40)}${v.values.map((x) => fmtOps(x.opsPerSec)).join(' ')}`,
    );
  }
  for (const v of s.variants) {
    if (v.median && v.failures.length) lines.push(`  ! ${v.label}: ${v.failures.length} of ${v.processes} process(es) FAILED: ${v.failures[0]}`);
  }
  for (const c of s.comparisons) {
    const faster = c.ratio >= 1 ? `${c.ratio.toFixed(2)}x faster` : `${(1 / c.ratio).toFixed(2)}x slower`;
    let line =
      `  ${pad(`${c.candidate} vs ${c.baseline}:`, 34)}${pad(faster, 16)} ratio ${c.ratio.toFixed(3)} ` +
      `[95% CI ${c.low.toFixed(3)}, ${c.high.toFixed(3)}]  MWU p=${c.p.toFixed(3)}`;
    if (c.p >= 0.05) line += ' (not significant)';
    lines.push(line);
    if (c.target) {
      const provisional = reps < 9 ? ' (provisional: < 9 processes, the bootstrap CI is too narrow)' : '';
      lines.push(`      target ${c.target.status}: ${c.target.text}${provisional}`);
    }
  }
  for (const n of s.notComputed) {
    lines.push(`  ${pad(`${n.candidate} vs ${n.baseline}:`, 34)}not computed: ${n.reason}`);
    if (n.target) lines.push(`      target not checked: ${n.target} (${n.reason})`);
  }
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

// ---------- processes ----------

function runChild(job: AsyncJob, timeoutMs: number): Promise<AsyncChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(job)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const tail = (): string =>
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('npm warn'))
        .slice(-4)
        .join(' | ');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench process exceeded ${timeoutMs} ms and was killed (hang or deadlock?); last stderr: ${tail()}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(ASYNC_RESULT_MARKER));
      if (code === 0 && line) {
        resolve(JSON.parse(line.slice(ASYNC_RESULT_MARKER.length)) as AsyncChildResult);
      } else {
        const msg = stderr.split('\n').find((l) => /Error/.test(l)) ?? '';
        reject(new Error(`bench process failed (code ${code}, signal ${signal}): ${msg}`));
      }
    });
  });
}

function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

interface Planned {
  sc: AsyncScenario;
  label: string;
  rep: number;
  orderIndex: number;
  job: AsyncJob;
  estimateMs: number;
}

/**
 * Runs the async-locks suite with CLI arguments `argv` (see USAGE); prints tables on stdout and
 * progress on stderr, writes the JSON, and returns the exit code (1 if any process failed).
 */
export async function runAsyncLocks(argv: string[]): Promise<number> {
  const opts = parseLockRunArgs(argv, USAGE);
  const m = ASYNC_MODES[opts.mode];
  const reps = opts.reps ?? m.reps;
  if (opts.list) {
    for (const s of asyncSuite()) console.log(`${s.name}\t${s.variants.map((v) => v.label).join(',')}\t${s.what}`);
    return 0;
  }
  const scenarios = asyncSuite().filter((s) => opts.filter === undefined || s.name.includes(opts.filter));
  if (scenarios.length === 0) throw new Error(`no scenario matches --filter ${opts.filter}`);

  const plan: { sc: AsyncScenario; labels: string[]; jobs: Planned[] }[] = [];
  for (const sc of scenarios) {
    const labels = sc.variants.map((v) => v.label).filter((l) => opts.variants === undefined || opts.variants.includes(l));
    const jobs: Planned[] = [];
    for (let rep = 0; rep < reps; rep++) {
      // Rotate the variant order by one per repetition (A B C, B C A, C A B, …).
      for (let k = 0; k < labels.length; k++) {
        const label = labels[(k + rep) % labels.length];
        const spec = sc.variants.find((v) => v.label === label)!;
        const job: AsyncJob = {
          lock: spec.lock,
          ...(spec.syncWorkers ? { syncWorkers: spec.syncWorkers } : {}),
          threads: sc.threads,
          warmupRuns: m.warmupRuns,
          warmupMs: m.warmupMs,
          runs: m.runs,
          durationMs: m.durationMs,
        };
        jobs.push({ sc, label, rep, orderIndex: k, job, estimateMs: 400 + 60 * sc.threads + m.warmupRuns * m.warmupMs + m.runs * m.durationMs });
      }
    }
    plan.push({ sc, labels, jobs });
  }
  const allJobs = plan.flatMap((p) => p.jobs);
  const modeText = opts.mode === 'quick' ? 'QUICK' : 'full';
  const meta = {
    ...envMeta(ROOT),
    mode: opts.mode,
    quick: opts.mode === 'quick',
    argv,
    timing:
      'async contended: no clock read in the workers\' loop; throughput = ops / main-thread wall time between the ' +
      'release store and the stop store; per process: total ops / total time over the measured runs.',
    variants: ASYNC_LOCK_INFO,
  };
  console.log(
    `parklot bench: async-locks suite, ${modeText} mode, ${reps} repetition(s) per variant, ${allJobs.length} processes` +
      `\n  ${meta.cpuModel}, ${meta.availableParallelism} cores, Node ${process.version}, load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}` +
      `\n  per process: ${m.warmupRuns} × ${m.warmupMs} ms warm-up, ${m.runs} × ${m.durationMs} ms measured` +
      (opts.mode === 'quick' ? `\n  QUICK run: too few repetitions for firm conclusions; use --full (≥ 9)` : ''),
  );

  const isTTY = process.stderr.isTTY === true;
  const started = performance.now();
  const load = startLoadMonitor();
  const estTotal = allJobs.reduce((s, j) => s + j.estimateMs, 0);
  let estDone = 0;
  let actualDone = 0;
  let done = 0;
  let failures = 0;
  const scenarioOut: unknown[] = [];
  for (const p of plan) {
    const raw: AsyncRawProcess[] = [];
    for (const j of p.jobs) {
      const left = (estTotal - estDone) * (estDone > 0 ? actualDone / estDone : 1);
      const msg =
        `[${String(done + 1).padStart(String(allJobs.length).length)}/${allJobs.length}] ${p.sc.name}  ` +
        `${j.label}  rep ${j.rep + 1}/${reps}  ~${fmtDuration(left)} left`;
      process.stderr.write(isTTY ? `\r\x1b[2K${msg}` : `${msg}\n`);
      const t0 = performance.now();
      try {
        const result = await runChild(j.job, 30_000 + 5 * j.estimateMs);
        raw.push({ label: j.label, rep: j.rep, orderIndex: j.orderIndex, wallMs: performance.now() - t0, job: j.job, ok: true, result });
      } catch (err) {
        failures++;
        const error = (err as Error).message;
        if (isTTY) process.stderr.write('\n');
        process.stderr.write(`!! ${p.sc.name} ${j.label} rep ${j.rep + 1}: ${error}\n`);
        raw.push({ label: j.label, rep: j.rep, orderIndex: j.orderIndex, wallMs: performance.now() - t0, job: j.job, ok: false, error });
      }
      actualDone += performance.now() - t0;
      estDone += j.estimateMs;
      done++;
    }
    if (isTTY) process.stderr.write('\r\x1b[2K');
    const s = summarizeAsync(p.sc, raw, p.labels, opts.seed);
    console.log(`\n${formatAsyncScenario(p.sc, s, reps, modeText)}`);
    scenarioOut.push({ definition: p.sc, processes: raw, summary: s });
  }

  const loadDuringRun = load.stop();
  console.log(`\n${describeLoad(loadDuringRun)}`);
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const outFile = opts.out ? path.resolve(opts.out) : path.join(ROOT, 'reports', 'data', `${ASYNC_SUITE}-${stamp}.json`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(
    outFile,
    `${JSON.stringify({
      schema: 1,
      suite: ASYNC_SUITE,
      meta: { ...meta, durationMs: performance.now() - started, processes: allJobs.length, failures, loadDuringRun },
      config: { mode: opts.mode, ...m, reps, seed: opts.seed, filter: opts.filter, variants: opts.variants },
      scenarios: scenarioOut,
    })}\n`,
  );
  console.log(`\nwrote ${path.relative(process.cwd(), outFile)} (${fmtDuration(performance.now() - started)} total)`);
  if (failures > 0) {
    console.error(`\n${failures} bench process(es) FAILED; see the '!!' lines above and the JSON.`);
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runAsyncLocks(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(2);
    },
  );
}
