// Bench runner CLI: `npm run bench -- [locks|async|family|task-list|pool …] [--quick|--full] [--filter substr]`.
// With no suite named it runs every suite. The locks suite runs in this process (below), and so
// does the async-locks suite (`runAsyncLocks` of bench/locks/async-run.ts, which spawns its own
// bench processes); the lock-family, task-list and pool suites have their own runners, which are
// spawned as they are (`runSuites`). `--filter` selects scenarios by substring of their names in every suite
// (family: also `family/<group>`); a suite with no matching scenario is skipped unless it was named explicitly.
//
// The locks suite:
// Runs each (scenario, variant, repetition) in a fresh `node --harmony-struct` process
// (bench/locks/child.ts), interleaving variants: for every repetition each variant runs once,
// the order rotated by one per repetition. Prints a progress line on stderr, a table per
// scenario on stdout, and writes raw per-process results plus metadata to
// reports/data/locks-<timestamp>.json.
//
// Invariants: a failed process (e.g. a lost update) is recorded and reported, never dropped,
// and makes the exit code non-zero; quick mode is labelled as such everywhere it is printed.

import { envMeta } from './lib/meta.ts';
import { LOCK_RUN_OPTIONS, parseCli, parseLockRunArgs, repsValue, runMode, type LockRunArgs } from './lib/args.ts';
import { describeLoad, startLoadMonitor } from './lib/load-monitor.ts';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULT_MARKER, type ChildResult, type Job } from './locks/child.ts';
import { locksSuite, MODES, type Mode, type Scenario } from './locks/suite.ts';
import { formatScenario, summarize, type RawRun, type ScenarioSummary } from './locks/summary.ts';
import { variantAvailable, VARIANT_INFO, type VariantName } from './locks/variants.ts';
import { scenarios as taskListScenarios } from './task-list/scenarios.ts';
import { GROUPS as FAMILY_SUITE, scenarioNames as familyScenarioNames } from './family/suite.ts';
import { asyncSuite } from './locks/async-suite.ts';
import { runAsyncLocks } from './locks/async-run.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const CHILD = path.join(HERE, 'locks', 'child.ts');
const SUITES = ['locks'] as const;

const USAGE = `usage: node bench/run.ts [locks|async|family|task-list|pool …] [--quick|--full] [--filter substr]
                         [--variants a,b] [--reps n] [--out file.json] [--seed n] [--list]
  suites      locks; async (async locks: lockAsync vs multithreading and Web Locks, ~40 s quick);
              family; task-list; pool. No suite named: all of them, one after the other
  --quick     3 repetitions, short runs (default; flagged as quick in the output)
  --full      9 repetitions, longer runs (locks: ~15 min on 2 cores)
  --filter    only scenarios whose name contains substr (suites without a match are skipped)
  --variants  only these variant labels (locks, async, pool; e.g. parklot,futex3)
  --reps      override the number of repetitions
  --out       JSON path, one suite only (default reports/data/<suite>-<timestamp>.json)
  --seed n    bootstrap seed (locks, async)
  --list      print the scenarios and exit (locks, async)`;

/** The locks runner's flags (bench/lib/args.ts); the only suite it accepts by name is `locks`. */
export function parseLocksArgs(argv: string[]): LockRunArgs {
  const o = parseLockRunArgs(argv, USAGE, true);
  for (const s of o.positionals) {
    if (!(SUITES as readonly string[]).includes(s)) throw new Error(`unknown suite ${s}; known: ${SUITES.join(', ')}`);
  }
  return o;
}

interface PlannedJob {
  scenario: Scenario;
  label: string;
  rep: number;
  orderIndex: number;
  job: Job;
  estimateMs: number;
}

function buildJobs(sc: Scenario, mode: Mode, reps: number, labels: string[]): PlannedJob[] {
  const m = MODES[mode];
  const out: PlannedJob[] = [];
  for (let rep = 0; rep < reps; rep++) {
    // Rotate the variant order by one per repetition (A B C, B C A, C A B, …).
    for (let k = 0; k < labels.length; k++) {
      const label = labels[(k + rep) % labels.length];
      const spec = sc.variants.find((v) => v.label === label)!;
      let job: Job;
      let estimateMs: number;
      if (sc.kind === 'uncontended') {
        job = { kind: 'uncontended', variant: spec.name, options: spec.options, ...m.uncontended };
        estimateMs = 450 + m.uncontended.timeMs + m.uncontended.warmupMs;
      } else {
        job = {
          kind: 'contended',
          variant: spec.name,
          options: spec.options,
          threads: sc.threads,
          workInside: sc.workInside,
          workBetween: sc.workBetween,
          ...m.contended,
          ...(sc.countAtomics ? { countAtomics: true } : {}),
        };
        estimateMs =
          250 + 90 * sc.threads + m.contended.warmupRuns * m.contended.warmupMs +
          (m.contended.runs + m.contended.sampledRuns) * m.contended.durationMs;
      }
      out.push({ scenario: sc, label, rep, orderIndex: k, job, estimateMs });
    }
  }
  return out;
}

function runChild(job: Job, timeoutMs: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // Harness stage tracing goes to stderr (a few lines per process) so a failure message
    // can say where the process was.
    const child = spawn(process.execPath, ['--harmony-struct', CHILD, JSON.stringify(job)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PARKLOT_BENCH_DEBUG: '1' },
    });
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
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code === 0 && line) {
        resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as ChildResult);
      } else {
        const msg = stderr.split('\n').find((l) => /Error/.test(l)) ?? '';
        reject(new Error(`bench process failed (code ${code}, signal ${signal}): ${msg}; last stderr: ${tail()}`));
      }
    });
  });
}

function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function metadata(mode: Mode, argv: string[]): Record<string, unknown> {
  return {
    ...envMeta(ROOT),
    mode,
    quick: mode === 'quick',
    argv,
    timing:
      'contended: throughput runs read no clock in the workers\' loop (ops / main-thread wall time between ' +
      `release and stop); wait times come from separate sampled runs that time 1 lock() in ${MODES[mode].contended.sampleEvery} ` +
      'with performance.now() (samplingCost = sampled-run ops/s ÷ throughput-run ops/s). ' +
      'uncontended: tinybench, batches of lock()+unlock() pairs per sample.',
    variants: VARIANT_INFO,
  };
}

export async function main(argv: string[]): Promise<number> {
  const opts = parseLocksArgs(argv);
  const reps = opts.reps ?? MODES[opts.mode].reps;
  let scenarios = locksSuite();
  if (opts.filter) scenarios = scenarios.filter((s) => s.name.includes(opts.filter!));
  if (opts.list) {
    for (const s of locksSuite()) console.log(`${s.name}\t${s.variants.map((v) => v.label).join(',')}\t${s.what}`);
    return 0;
  }
  if (scenarios.length === 0) throw new Error(`no scenario matches --filter ${opts.filter}`);

  // Availability per variant name (parklot may not exist yet; v8 is checked in the children).
  const unavailable = new Map<VariantName, string>();
  const names = new Set(scenarios.flatMap((s) => s.variants.map((v) => v.name)));
  for (const n of names) {
    if (n === 'v8') continue;
    const a = await variantAvailable(n);
    if (!a.ok) unavailable.set(n, a.reason);
  }

  const plan: { sc: Scenario; labels: string[]; skipped: string[]; jobs: PlannedJob[] }[] = [];
  for (const sc of scenarios) {
    const skipped: string[] = [];
    const labels: string[] = [];
    for (const v of sc.variants) {
      const why = unavailable.get(v.name);
      if (opts.variants && !opts.variants.includes(v.label)) continue;
      if (why) skipped.push(`${v.label}: ${why}`);
      else labels.push(v.label);
    }
    if (labels.length === 0) {
      plan.push({ sc, labels, skipped, jobs: [] });
      continue;
    }
    plan.push({ sc, labels, skipped, jobs: buildJobs(sc, opts.mode, reps, labels) });
  }
  const allJobs = plan.flatMap((p) => p.jobs);
  const mode = opts.mode === 'quick' ? 'QUICK' : 'full';
  const meta = metadata(opts.mode, argv);
  console.log(
    `parklot bench: locks suite, ${mode} mode, ${reps} repetition(s) per variant, ${allJobs.length} processes` +
      `\n  ${String(meta.cpuModel)}, ${String(meta.availableParallelism)} cores, Node ${process.version}, V8 ${process.versions.v8}, load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}` +
      `\n  ops/s from throughput runs with no clock in the loop; wait times from separate runs that time 1 acquisition in ${MODES[opts.mode].contended.sampleEvery}` +
      (opts.mode === 'quick' ? `\n  QUICK run: too few repetitions for firm conclusions; use --full (≥ 9)` : ''),
  );
  for (const [n, why] of unavailable) console.log(`  skipping variant ${n}: ${why}`);

  const isTTY = process.stderr.isTTY === true;
  const started = performance.now();
  const load = startLoadMonitor();
  let estDone = 0;
  const estTotal = allJobs.reduce((s, j) => s + j.estimateMs, 0);
  let actualDone = 0;
  let done = 0;
  let failures = 0;
  const scenarioOut: unknown[] = [];
  const summaries: { sc: Scenario; s: ScenarioSummary }[] = [];

  for (const p of plan) {
    const raw: (RawRun & { rep: number; orderIndex: number; wallMs: number; job: Job; retriedAfter?: string })[] = [];
    for (const j of p.jobs) {
      const factor = estDone > 0 ? actualDone / estDone : 1;
      const left = (estTotal - estDone) * factor;
      const msg =
        `[${String(done + 1).padStart(String(allJobs.length).length)}/${allJobs.length}] ${p.sc.name}  ` +
        `${j.label}  rep ${j.rep + 1}/${reps}  ~${fmtDuration(left)} left`;
      if (isTTY) process.stderr.write(`\r\x1b[2K${msg}`);
      else process.stderr.write(`${msg}\n`);
      const t0 = performance.now();
      const timeoutMs = 30_000 + 5 * j.estimateMs;
      try {
        let result: ChildResult;
        let retriedAfter: string | undefined;
        try {
          result = await runChild(j.job, timeoutMs);
        } catch (err) {
          // Only a worker that never started is retried (once): that is V8's isolate-creation
          // hazard, not the variant's behaviour. Any hang or lost update during a run stands.
          if (!/did not start within/.test((err as Error).message)) throw err;
          retriedAfter = (err as Error).message;
          process.stderr.write(`${isTTY ? '\n' : ''}.. retrying once: ${retriedAfter}\n`);
          result = await runChild(j.job, timeoutMs);
        }
        raw.push({
          label: j.label,
          ok: true,
          result,
          rep: j.rep,
          orderIndex: j.orderIndex,
          wallMs: performance.now() - t0,
          job: j.job,
          ...(retriedAfter ? { retriedAfter } : {}),
        });
      } catch (err) {
        failures++;
        const error = (err as Error).message;
        if (isTTY) process.stderr.write('\n');
        process.stderr.write(`!! ${p.sc.name} ${j.label} rep ${j.rep + 1}: ${error}\n`);
        raw.push({ label: j.label, ok: false, error, rep: j.rep, orderIndex: j.orderIndex, wallMs: performance.now() - t0, job: j.job });
      }
      const wall = performance.now() - t0;
      actualDone += wall;
      estDone += j.estimateMs;
      done++;
    }
    if (isTTY) process.stderr.write('\r\x1b[2K');
    const s = summarize(p.sc, raw, p.skipped, opts.seed);
    summaries.push({ sc: p.sc, s });
    console.log(`\n${formatScenario(p.sc, s, reps, mode)}`);
    scenarioOut.push({ definition: p.sc, skipped: p.skipped, processes: raw, summary: s });
  }

  // Geometric mean of parklot's throughput ratio against each peer over the contended scenarios.
  const geo = new Map<string, number[]>();
  for (const { sc, s } of summaries) {
    if (sc.kind !== 'contended' || !sc.name.startsWith('lock/contended/')) continue;
    for (const c of s.comparisons) {
      if (c.candidate === 'parklot' && c.metric === 'opsPerSec') {
        const arr = geo.get(c.baseline) ?? [];
        arr.push(c.ratio);
        geo.set(c.baseline, arr);
      }
    }
  }
  const geomean: Record<string, { ratio: number; scenarios: number }> = {};
  if (geo.size) {
    console.log(`\nGeometric mean of parklot/peer ops/s ratios over lock/contended/* (${mode}):`);
    for (const [peer, rs] of geo) {
      const g = Math.exp(rs.reduce((a, r) => a + Math.log(r), 0) / rs.length);
      geomean[peer] = { ratio: g, scenarios: rs.length };
      console.log(`  parklot vs ${peer}: ${g >= 1 ? `${g.toFixed(2)}x faster` : `${(1 / g).toFixed(2)}x slower`} (${rs.length} scenarios)`);
    }
  }
  const comparisonsCount = summaries.reduce((a, x) => a + x.s.comparisons.length, 0);
  console.log(
    `\n${comparisonsCount} comparisons at α = 0.05: about ${(comparisonsCount * 0.05).toFixed(1)} would look ` +
      `significant by chance alone if nothing differed.`,
  );

  const loadDuringRun = load.stop();
  console.log(`\n${describeLoad(loadDuringRun)}`);
  const stamp = new Date().toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const outFile = opts.out ? path.resolve(opts.out) : path.join(ROOT, 'reports', 'data', `locks-${stamp}.json`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(
    outFile,
    `${JSON.stringify(
      {
        schema: 1,
        suite: 'locks',
        meta: { ...meta, durationMs: performance.now() - started, processes: allJobs.length, failures, loadDuringRun },
        config: { mode: opts.mode, ...MODES[opts.mode], reps, seed: opts.seed, filter: opts.filter, variants: opts.variants },
        scenarios: scenarioOut,
        geomean,
      },
    )}\n`,
  );
  console.log(`\nwrote ${path.relative(process.cwd(), outFile)} (${fmtDuration(performance.now() - started)} total)`);
  if (failures > 0) {
    console.error(`\n${failures} bench process(es) FAILED; see the '!!' lines above and the JSON.`);
    return 1;
  }
  return 0;
}

/**
 * Suites and their runners (relative to bench/); locks runs in-process (`main` above), async
 * in-process too (IN_PROCESS), the others as spawned scripts.
 */
export const SUITE_RUNNERS: Record<string, string | null> = {
  locks: null,
  async: 'locks/async-run.ts',
  family: 'family/run.ts',
  'task-list': 'task-list/run.ts',
  pool: 'pool/run.ts',
};
/** Suites whose runner is called in this process (each returns its exit code). */
const IN_PROCESS: Record<string, (argv: string[]) => Promise<number>> = {
  locks: main,
  async: runAsyncLocks,
};
/** Groups of bench/family/run.ts (its `--groups` values). */
const FAMILY_GROUPS = FAMILY_SUITE.map((g) => g.group);

/** The suites present in this checkout (the pool runner may not exist yet). */
export function availableSuites(): string[] {
  return Object.entries(SUITE_RUNNERS)
    .filter(([, r]) => r === null || existsSync(path.join(HERE, r)))
    .map(([s]) => s);
}

function spawnRunner(script: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(HERE, script), ...args], { cwd: ROOT, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * Runs the named suites (all available ones when none is named) one after the other; returns
 * the worst exit code. Options: --quick|--full, --filter s, --reps n (all suites);
 * --out f (only with one suite); --variants (locks, async, pool), --seed, --list (locks, async).
 */
export async function runSuites(argv: string[]): Promise<number> {
  const parsed = parseCli(argv, LOCK_RUN_OPTIONS, USAGE, true);
  const { values: v, positionals: named } = parsed;
  if (v.help) throw new Error(`${USAGE}\nsuites: ${Object.keys(SUITE_RUNNERS).join(', ')} (default: all available)`);
  for (const a of named) if (!(a in SUITE_RUNNERS)) throw new Error(`unknown suite ${a}; known: ${Object.keys(SUITE_RUNNERS).join(', ')}`);
  const mode = runMode(parsed, 'quick');
  const { filter, out } = v;
  const reps = repsValue(v.reps);
  // Flags only some runners take, passed on as given.
  const rest = [...(v.variants !== undefined ? ['--variants', v.variants] : []), ...(v.seed !== undefined ? ['--seed', v.seed] : []), ...(v.list ? ['--list'] : [])];
  if (filter === '') throw new Error('--filter needs a value');
  const avail = availableSuites();
  for (const s of named) if (!avail.includes(s)) throw new Error(`suite ${s} has no runner yet (bench/${SUITE_RUNNERS[s]} is missing)`);
  const suites = named.length ? named : avail;
  const common = [`--${mode}`, ...(reps ? ['--reps', String(reps)] : []), ...(out ? ['--out', out] : [])];
  // Plan first (which suites match the filter, with which arguments), then run.
  const plan: { suite: string; args: string[] }[] = [];
  for (const s of suites) {
    const explicit = named.includes(s);
    const args: string[] = [...common];
    if (s === 'locks') {
      if (filter && !locksSuite().some((x) => x.name.includes(filter))) {
        if (explicit) throw new Error(`no locks scenario matches --filter ${filter}`);
        continue;
      }
      args.push(...(filter ? ['--filter', filter] : []), ...rest);
      plan.push({ suite: s, args });
      continue;
    }
    if (s === 'async') {
      if (filter && !asyncSuite().some((x) => x.name.includes(filter))) {
        if (explicit) throw new Error(`no async scenario matches --filter ${filter}`);
        continue;
      }
      args.push(...(filter ? ['--filter', filter] : []), ...rest);
      plan.push({ suite: s, args });
      continue;
    }
    if (s === 'family') {
      if (filter) {
        // By scenario name (bench/family/suite.ts), or by `family/<group>`.
        const match = familyScenarioNames().some((n) => n.includes(filter)) || FAMILY_GROUPS.some((g) => `family/${g}`.includes(filter));
        if (!match) {
          if (explicit) throw new Error(`no family scenario matches --filter ${filter} (names: bench/README.md; groups: ${FAMILY_GROUPS.join(', ')})`);
          continue;
        }
        args.push('--filter', filter);
      }
    } else if (s === 'task-list') {
      if (filter) {
        if (!taskListScenarios(mode === 'quick').some((x) => x.id.includes(filter))) {
          if (explicit) throw new Error(`no task-list scenario matches --filter ${filter}`);
          continue;
        }
        args.push('--filter', filter);
      }
    } else {
      if (filter) {
        // Other standalone suites (pool): the filter is passed through only when named explicitly.
        if (!explicit) continue;
        args.push('--filter', filter);
      }
      args.push(...rest);
    }
    plan.push({ suite: s, args });
  }
  if (plan.length === 0) throw new Error(`no scenario in ${suites.join(', ')} matches --filter ${filter}`);
  if (out && plan.length > 1) throw new Error(`--out needs exactly one suite (would run ${plan.map((p) => p.suite).join(', ')})`);
  // --variants exists in the locks, async and pool runners; --seed and --list only in locks and async.
  const restOk = (suite: string): boolean => suite === 'locks' || suite === 'async' || (suite === 'pool' && v.seed === undefined && !v.list);
  if (rest.length && !plan.every((p) => restOk(p.suite))) throw new Error(`${rest.join(' ')}: not supported by ${plan.map((p) => p.suite).join(', ')}`);
  let worst = 0;
  for (const { suite, args } of plan) {
    const runner = SUITE_RUNNERS[suite];
    console.log(`\n=== suite ${suite} (${mode}): node bench/${runner ?? 'run.ts'} ${args.join(' ')} ===`);
    const inProcess = IN_PROCESS[suite];
    worst = Math.max(worst, inProcess ? await inProcess(args) : await spawnRunner(runner!, args));
  }
  return worst;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  runSuites(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(2);
    },
  );
}
