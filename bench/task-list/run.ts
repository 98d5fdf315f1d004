// Task-list bench: `npx node bench/task-list/run.ts [--quick|--full] [--reps n] [--filter substr] [--out file]`.
//
// Measures claims C5 (TaskList insert+remove pairs/s for 'locked' / 'lockfree' / 'sharded' at
// 1, 2, 4, 8 workers), L7 (MpmcQueue ns per message at capacities 1, 64, 1024, one thread and
// one producer + one consumer worker), L2 (try-then-park vs always-park pops, async on the main
// thread and blocking in a worker) and SpscQueue vs MpmcQueue. Scenarios: scenarios.ts.
//
// Method: every sample is a fresh process (child.ts) running one scenario; repetitions are
// interleaved (each repetition runs every scenario once, in an order rotated by one per
// repetition), so slow drifts of a noisy machine hit all variants alike. Reported: medians,
// candidate/baseline ratios of medians with a 95 % percentile-bootstrap CI (bench/lib/stats.ts),
// Mann–Whitney U p-values, and the claims.md verdict where the claim has a number. Raw samples
// and metadata (Node/V8, CPU, availableParallelism, date, git) go to
// reports/data/task-list-<date>.json. A failed process is recorded and makes the exit code 1.

import { envMeta } from '../lib/meta.ts';
import { parseCli, repsValue, RUN_OPTIONS, runMode } from '../lib/args.ts';
import { describeLoad, startLoadMonitor } from '../lib/load-monitor.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapRatioCI, mannWhitneyU, median, stabilityWarnings, verdict, type Claim } from '../lib/stats.ts';
import { scenarios, type Scenario } from './scenarios.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CHILD = path.join(HERE, 'child.ts');
const RESULT_MARKER = 'RESULT ';

/** Claims with a number, as candidate/baseline ratios of the scenario's metric. */
const CLAIMS: { match: RegExp; text: string; claim: Claim }[] = [
  {
    match: /^tasklist\/(lockfree|sharded)\//,
    text: 'C5: lock-free / segmented list +20–30 % ops/s over one list under one mutex',
    claim: { direction: 'higher-is-better', ratio: [1.2, 1.3] },
  },
  {
    match: /^mpmc\/(st|pc)\/cap:1024$/,
    text: 'L7: bounded channel of 1000 at 384 ns vs capacity 1 at 2965 ns (ratio 0.13)',
    claim: { direction: 'lower-is-better', ratio: [384 / 2965, 384 / 2965] },
  },
  {
    match: /^l2\/try-then-park\//,
    text: 'L2: optimistic try before awaiting, 249× faster in pipelined mode',
    claim: { direction: 'lower-is-better', ratio: [1 / 249, 1 / 249] },
  },
];

interface Options {
  quick: boolean;
  reps: number;
  filter?: string;
  out?: string;
}

const USAGE = 'usage: node bench/task-list/run.ts [--quick|--full] [--reps n] [--filter substr] [--out file.json]';

/** Full mode (9 repetitions) unless --quick (3). */
function parseTaskListArgs(argv: string[]): Options {
  const p = parseCli(argv, RUN_OPTIONS, USAGE);
  const quick = runMode(p, 'full') === 'quick';
  return { quick, reps: repsValue(p.values.reps) ?? (quick ? 3 : 9), filter: p.values.filter, out: p.values.out };
}

function runChild(s: Scenario): Promise<{ value: number; runs: number[] } | { error: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CHILD, JSON.stringify(s)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || line === undefined) resolve({ error: `exit ${code}: ${err.trim().split('\n').slice(0, 3).join(' | ')}` });
      else {
        const r = JSON.parse(line.slice(RESULT_MARKER.length)) as { value: number; runs: number[] };
        resolve({ value: r.value, runs: r.runs });
      }
    });
  });
}

function fmtDuration(ms: number): string {
  const sec = Math.max(0, Math.round(ms / 1000));
  return sec >= 60 ? `${Math.floor(sec / 60)}m${String(sec % 60).padStart(2, '0')}s` : `${sec}s`;
}

const fmt = (v: number, unit: string): string =>
  unit === 'pairs/s' ? `${(v / 1e6).toFixed(2)} M/s` : v >= 1000 ? `${(v / 1000).toFixed(2)} µs` : `${v.toFixed(1)} ns`;

async function main(): Promise<number> {
  const opts = parseTaskListArgs(process.argv.slice(2));
  let list = scenarios(opts.quick);
  if (opts.filter !== undefined) list = list.filter((s) => s.id.includes(opts.filter!));
  if (list.length === 0) throw new Error(`no scenario matches --filter ${opts.filter}`);
  const meta = {
    ...envMeta(ROOT),
    mode: opts.quick ? 'quick' : 'full',
    reps: opts.reps,
    method:
      'fresh process per sample; warm-up run + 3 measured runs per process, sample = their median; repetitions interleaved ' +
      '(order rotated per repetition); ratios = median(candidate)/median(baseline), 95% percentile bootstrap (10k, seeded).',
  };
  process.stderr.write(
    `task-list bench (${meta.mode}, ${opts.reps} reps × ${list.length} scenarios) on ${meta.cpuModel}, ` +
      `${meta.availableParallelism} cores, Node ${meta.node}, load ${meta.loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
  const samples = new Map<string, number[]>(list.map((s) => [s.id, []]));
  const raw: { id: string; rep: number; value?: number; runs?: number[]; error?: string }[] = [];
  const failures: string[] = [];
  const started = performance.now();
  const load = startLoadMonitor();
  const total = opts.reps * list.length;
  let done = 0;
  for (let rep = 0; rep < opts.reps; rep++) {
    for (let k = 0; k < list.length; k++) {
      const s = list[(k + rep) % list.length]!;
      // Progress: scenario (set), variant, repetition, time left (from the pace so far).
      const elapsed = performance.now() - started;
      // Before the first process ends: a nominal 1.5 s per process.
      const left = done > 0 ? (elapsed / done) * (total - done) : 1500 * total;
      process.stderr.write(
        `[${String(done + 1).padStart(String(total).length)}/${total}] ${s.set}  ${s.variant}  rep ${rep + 1}/${opts.reps}  ~${fmtDuration(left)} left\n`,
      );
      const r = await runChild(s);
      done++;
      if ('error' in r) {
        failures.push(`${s.id} rep ${rep}: ${r.error}`);
        raw.push({ id: s.id, rep, error: r.error });
        process.stderr.write(`  FAILED ${s.id}: ${r.error}\n`);
      } else {
        samples.get(s.id)!.push(r.value);
        raw.push({ id: s.id, rep, value: r.value, runs: r.runs });
      }
    }
    process.stderr.write(`  repetition ${rep + 1}/${opts.reps} done (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }

  const summaries: Record<string, unknown>[] = [];
  const sets = [...new Set(list.map((s) => s.set))];
  let seed = 1;
  for (const set of sets) {
    const members = list.filter((s) => s.set === set);
    const base = members[0]!.baseline;
    const baseSamples = samples.get(base);
    console.log(`\n${set}  (${members[0]!.group}, ${members[0]!.unit}, ${members[0]!.direction})`);
    console.log('  scenario                                  median        ratio vs baseline [95% CI]   MWU p    verdict');
    for (const s of members) {
      const xs = samples.get(s.id)!;
      if (xs.length === 0) {
        console.log(`  ${s.id.padEnd(40)}  (no samples)`);
        continue;
      }
      const row: Record<string, unknown> = {
        id: s.id, group: s.group, set, unit: s.unit, direction: s.direction, baseline: base,
        samples: xs, median: median(xs), warnings: stabilityWarnings(xs),
      };
      let line = `  ${s.id.padEnd(40)}  ${fmt(median(xs), s.unit).padStart(10)}`;
      if (s.id !== base && baseSamples !== undefined && baseSamples.length > 0) {
        const ci = bootstrapRatioCI(baseSamples, xs, { seed: seed++ });
        const mw = mannWhitneyU(baseSamples, xs);
        row.ratio = ci;
        row.mannWhitneyP = mw.p;
        line += `    ${ci.ratio.toFixed(3)} [${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}]`.padEnd(33) + `${mw.p.toFixed(4).padStart(7)}`;
        const c = CLAIMS.find((x) => x.match.test(s.id));
        if (c !== undefined) {
          const v = verdict(ci, c.claim);
          row.claim = { text: c.text, ...c.claim, verdict: v.verdict, reason: v.reason };
          line += `   ${v.verdict}`;
        }
      } else if (s.id === base) {
        line += '    (baseline)';
      }
      if ((row.warnings as string[]).length > 0) line += `  ⚠ ${(row.warnings as string[]).join('; ')}`;
      console.log(line);
      summaries.push(row);
    }
  }
  if (failures.length > 0) console.log(`\n${failures.length} FAILED processes:\n  ${failures.join('\n  ')}`);

  const loadDuringRun = load.stop();
  console.log(describeLoad(loadDuringRun));
  const stamp = meta.date.replace(/[:.]/g, '-');
  const out = opts.out ?? path.join(ROOT, 'reports', 'data', `task-list-${stamp}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ suite: 'task-list', meta: { ...meta, durationMs: performance.now() - started, failures, loadDuringRun }, scenarios: list, summaries, raw }, null, 2)}\n`,
  );
  process.stderr.write(`wrote ${path.relative(ROOT, out)}\n`);
  return failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
    process.exit(2);
  },
);
