/**
 * Pool bench: `npx node bench/pool/run.ts [--quick|--full] [--filter s] [--variants a,b] [--reps n] [--out f]`.
 *
 * Runs every (scenario, variant) of bench/pool/child.ts in its own fresh process, `reps` times,
 * interleaved: each repetition runs every scenario's variants once, in an order rotated by one per
 * repetition. Prints one table per scenario (median over processes, ratio to the scenario's
 * baseline with a 95 % bootstrap CI, Mann–Whitney p, stability warnings), then the issue's targets
 * and the claims.md verdicts, and writes raw per-process values plus metadata to
 * reports/data/pool-<UTC timestamp>.json. Quick mode (default) is 3 repetitions and is labelled as
 * such everywhere; --full is 9. A failed process is recorded and reported (exit code 1), never dropped.
 */
import { envMeta } from '../lib/meta.ts';
import { listValue, parseCli, repsValue, RUN_OPTIONS, runMode } from '../lib/args.ts';
import { describeLoad, startLoadMonitor } from '../lib/load-monitor.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootstrapRatioCI, mannWhitneyU, median, stabilityWarnings, verdict, type Claim, type Direction } from '../lib/stats.ts';
import { RESULT_MARKER, type ChildResult, type Job } from './protocol.ts';
import { spin } from './tasks.ts';
import { VARIANT_INFO } from './variants.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CHILD = path.join(HERE, 'child.ts');
const THREADS = 2;

type Mode = 'quick' | 'full';

interface Scenario {
  name: string;
  what: string;
  direction: Direction;
  baseline: string;
  variants: string[];
  params: (mode: Mode, stepsPerUs: number) => Record<string, number>;
}

const PISCINA = ['piscina:sync:c1', 'piscina:async:c1', 'piscina:disabled:c1', 'piscina:sync:c4', 'piscina:async:c4', 'piscina:disabled:c4'];

const SCENARIOS: Scenario[] = [
  {
    name: 'burst',
    what: 'trivial add task, burst of 100k run() + Promise.all (tasks/s)',
    direction: 'higher-is-better',
    baseline: 'piscina:sync:c1',
    variants: ['parklot', 'parklot:message', 'parklot:batch=1', 'parklot:batch=16', 'parklot:batch=64', 'parklot:stealing', 'parklot:slots=single', 'parklot:slots=none', ...PISCINA, 'tinypool'],
    params: (m) => ({ n: 100_000, reps: m === 'full' ? 3 : 2 }),
  },
  {
    name: 'closed',
    what: 'trivial add task, 64 concurrent await-loops (piscina simple-benchmark shape) (tasks/s)',
    direction: 'higher-is-better',
    baseline: 'piscina:sync:c1',
    variants: ['parklot', 'parklot:message', 'parklot:batch=1', ...PISCINA, 'tinypool'],
    params: (m) => ({ loops: 64, ms: m === 'full' ? 2000 : 1000 }),
  },
  {
    name: 'latency',
    what: 'one task at a time, awaited (median round trip, µs)',
    direction: 'lower-is-better',
    baseline: 'piscina:sync:c1',
    variants: ['parklot', 'parklot:nospin', 'parklot:async-wait', 'parklot:message', 'piscina:sync:c1', 'piscina:async:c1', 'piscina:disabled:c1', 'tinypool'],
    params: (m) => ({ ms: m === 'full' ? 2000 : 1000 }),
  },
  {
    name: 'payload',
    what: '1 KiB string argument and result, burst of 20k (tasks/s)',
    direction: 'higher-is-better',
    baseline: 'piscina:sync:c1',
    variants: ['parklot', 'parklot:message', 'parklot:slots=single', 'parklot:slots=none', 'piscina:sync:c1', 'piscina:sync:c4', 'piscina:disabled:c4', 'tinypool'],
    params: (m) => ({ n: 20_000, reps: m === 'full' ? 3 : 2 }),
  },
  {
    name: 'cpu',
    what: '~50 µs CPU task, burst of 4000 (tasks/s; 2 threads cap it near 40k/s)',
    direction: 'higher-is-better',
    baseline: 'piscina:sync:c1',
    variants: ['parklot', 'parklot:batch=1', 'parklot:message', 'piscina:sync:c1', 'piscina:sync:c4', 'tinypool'],
    params: (m, s) => ({ n: 4000, reps: m === 'full' ? 3 : 2, stepsPerUs: s }),
  },
  {
    name: 'skewed',
    what: 'skewed sizes: 2 % of tasks 2 ms, 98 % 20 µs, burst of 3000 (tasks/s)',
    direction: 'higher-is-better',
    baseline: 'parklot:nosteal',
    variants: ['parklot:nosteal', 'parklot:stealing', 'parklot', 'piscina:sync:c1'],
    params: (m, s) => ({ n: 3000, reps: m === 'full' ? 3 : 2, stepsPerUs: s }),
  },
  {
    name: 'priority',
    what: 'priority mix: 40 priority-10 tasks (one per ms) into a backlog of 3000 50 µs tasks (median latency of the high ones, µs)',
    direction: 'lower-is-better',
    baseline: 'parklot:fifo',
    variants: ['parklot:fifo', 'parklot'],
    params: (_m, s) => ({ n: 3000, high: 40, stepsPerUs: s }),
  },
  {
    name: 'l6',
    what: "completion polling on 8 workers (threads overridden to 8), 4 concurrent await-loops of the add task: empty completion-source polls per task (claim L6; tasks/s in extra)",
    direction: 'lower-is-better',
    baseline: 'parklot:poll=all',
    variants: ['parklot:poll=all', 'parklot:poll=signalled'],
    params: (m) => ({ threads: 8, loops: 4, ms: m === 'full' ? 2000 : 1000 }),
  },
  {
    name: 'l1',
    what: 'ready fast path: take 50k values already in an MpmcQueue (ns/value)',
    direction: 'lower-is-better',
    baseline: 'l1:promise',
    variants: ['l1:promise', 'l1:ready'],
    params: (m) => ({ n: 50_000, reps: m === 'full' ? 5 : 3 }),
  },
  {
    name: 'l5',
    what: 'FuturePool alloc+free pairs on 2 threads: per-thread caches vs shared free lists (ns/pair)',
    direction: 'lower-is-better',
    baseline: 'l5:shared',
    variants: ['l5:shared', 'l5:thread'],
    params: (m) => ({ ms: m === 'full' ? 1000 : 400 }),
  },
];

VARIANT_INFO['l1:promise'] = '`await queue.popAsync()` for every value (always a Promise)';
VARIANT_INFO['l1:ready'] = '`popReady(queue)`: `{ done: true, value }` when tryPop succeeds, a Promise only otherwise';
VARIANT_INFO['l5:shared'] = 'FuturePool cache \'shared\': every alloc and free is one operation on the central MpmcQueue';
VARIANT_INFO['l5:thread'] = 'FuturePool cache \'thread\': per-thread free-list stacks, refilled/returned in batches';

/** Comparisons that carry an issue target or a claims.md claim. `candidate` over `baseline`. */
interface Comparison {
  id: string;
  scenario: string;
  candidate: string;
  /** A variant, or 'best-piscina' (the piscina variant with the best median in this run). */
  baseline: string;
  claim?: Claim;
  claimText?: string;
  /** Issue target on the benefit scale (candidate better by at least this factor). */
  target?: number;
  targetText?: string;
}

const COMPARISONS: Comparison[] = [
  { id: 'T-burst-default', scenario: 'burst', candidate: 'parklot', baseline: 'piscina:sync:c1', target: 30, targetText: '≥ 30× piscina default' },
  { id: 'T-burst-best', scenario: 'burst', candidate: 'parklot', baseline: 'best-piscina', target: 10, targetText: '≥ 10× piscina best setting' },
  { id: 'T-latency', scenario: 'latency', candidate: 'parklot', baseline: 'piscina:sync:c1', target: 1, targetText: 'round trip no worse than piscina default' },
  { id: 'T-latency-best', scenario: 'latency', candidate: 'parklot', baseline: 'best-piscina', target: 1, targetText: 'round trip no worse than piscina best' },
  { id: 'T-payload', scenario: 'payload', candidate: 'parklot', baseline: 'piscina:sync:c1', target: 3, targetText: '1 KiB payloads ≥ 3× piscina default' },
  { id: 'T-payload-best', scenario: 'payload', candidate: 'parklot', baseline: 'best-piscina', target: 3, targetText: '1 KiB payloads ≥ 3× piscina best' },
  { id: 'A/B transport (burst)', scenario: 'burst', candidate: 'parklot', baseline: 'parklot:message' },
  { id: 'A/B transport (closed)', scenario: 'closed', candidate: 'parklot', baseline: 'parklot:message' },
  { id: 'C6', scenario: 'burst', candidate: 'parklot:batch=16', baseline: 'parklot:batch=1', claim: { direction: 'higher-is-better', ratio: [1.18, 1.25] }, claimText: 'batch of 16: 15–20 % less scheduling overhead' },
  { id: 'L4 (64)', scenario: 'burst', candidate: 'parklot:batch=64', baseline: 'parklot:batch=1', claim: { direction: 'higher-is-better', ratio: [0.47, 0.47] }, claimText: 'batch send made everything 53 % slower' },
  { id: 'L4 (adaptive)', scenario: 'burst', candidate: 'parklot', baseline: 'parklot:batch=1', claim: { direction: 'higher-is-better', ratio: [0.47, 0.47] }, claimText: 'batch send made everything 53 % slower' },
  { id: 'C8', scenario: 'skewed', candidate: 'parklot:stealing', baseline: 'parklot:nosteal', claim: { direction: 'higher-is-better', ratio: [1.05, 1.10] }, claimText: 'work stealing: 5–10 % throughput (many cores)' },
  { id: 'C9 (vs single)', scenario: 'payload', candidate: 'parklot', baseline: 'parklot:slots=single', claim: { direction: 'higher-is-better', ratio: [1.05, 1.25] }, claimText: 'tiered pools: 5–25 % less allocation overhead' },
  { id: 'C9 (vs none)', scenario: 'payload', candidate: 'parklot', baseline: 'parklot:slots=none', claim: { direction: 'higher-is-better', ratio: [1.05, 1.25] }, claimText: 'tiered pools vs no pool' },
  { id: 'C9 (burst, vs single)', scenario: 'burst', candidate: 'parklot', baseline: 'parklot:slots=single', claim: { direction: 'higher-is-better', ratio: [1.05, 1.25] }, claimText: 'tiered pools: 5–25 % less allocation overhead' },
  { id: 'C7', scenario: 'priority', candidate: 'parklot', baseline: 'parklot:fifo', claim: { direction: 'lower-is-better' }, claimText: 'priorities: lower latency for high-priority tasks (no number)' },
  { id: 'L6', scenario: 'l6', candidate: 'parklot:poll=signalled', baseline: 'parklot:poll=all', claim: { direction: 'lower-is-better' }, claimText: 'poll only the source that signalled: fewer wasted polls (no number)' },
  { id: 'L1', scenario: 'l1', candidate: 'l1:ready', baseline: 'l1:promise', claim: { direction: 'lower-is-better', ratio: [0.82, 0.82] }, claimText: 'ready future: 22 % faster' },
  { id: 'L5', scenario: 'l5', candidate: 'l5:thread', baseline: 'l5:shared', claim: { direction: 'lower-is-better', ratio: [1 / 91, 1 / 91] }, claimText: 'per-thread state: 91× faster than a shared pool' },
];

interface Options {
  mode: Mode;
  reps?: number;
  filter?: string;
  variants?: string[];
  out?: string;
}

const USAGE = 'usage: node bench/pool/run.ts [--quick|--full] [--reps n] [--filter scenario] [--variants a,b] [--out file.json]';

function parsePoolArgs(argv: string[]): Options {
  const p = parseCli(argv, { ...RUN_OPTIONS, variants: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (p.values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  return { mode: runMode(p, 'quick'), reps: repsValue(p.values.reps), filter: p.values.filter, variants: listValue(p.values.variants), out: p.values.out };
}

/** xorshift steps per µs on this machine (median of 5), so "50 µs" means the same work for every variant. */
function calibrate(): number {
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const n = 2_000_000;
    const t0 = performance.now();
    spin(n);
    rates.push(n / ((performance.now() - t0) * 1000));
  }
  return median(rates);
}

interface RawRun {
  scenario: string;
  variant: string;
  rep: number;
  ok: boolean;
  value?: number;
  unit?: string;
  samples?: number[];
  extra?: Record<string, unknown>;
  error?: string;
  wallMs: number;
  loadavg1: number;
}

function runChild(job: Job, timeoutMs: number): Promise<{ ok: true; res: ChildResult } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(job)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code === 0 && line !== undefined) resolve({ ok: true, res: JSON.parse(line.slice(RESULT_MARKER.length)) as ChildResult });
      else resolve({ ok: false, error: `exit ${code ?? signal}${signal === 'SIGKILL' ? ` (timeout ${timeoutMs} ms)` : ''}: ${err.trim().split('\n').slice(-6).join(' | ')}` });
    });
  });
}

function fmt(v: number, unit: string): string {
  if (unit === 'tasks/s') return v >= 1e6 ? `${(v / 1e6).toFixed(3)} M/s` : `${(v / 1e3).toFixed(1)} k/s`;
  return `${v.toFixed(v >= 100 ? 0 : 2)} ${unit}`;
}

async function main(): Promise<void> {
  const o = parsePoolArgs(process.argv.slice(2));
  const reps = o.reps ?? (o.mode === 'full' ? 9 : 3);
  const scenarios = SCENARIOS.filter((s) => o.filter === undefined || s.name.includes(o.filter)).map((s) => ({
    ...s,
    variants: o.variants === undefined ? s.variants : s.variants.filter((v) => o.variants!.includes(v)),
  }));
  const stepsPerUs = calibrate();
  const startedAt = new Date();
  const meta = {
    suite: 'pool',
    mode: o.mode,
    quick: o.mode === 'quick',
    reps,
    threads: THREADS,
    ...envMeta(ROOT),
    date: startedAt.toISOString(),
    loadavgEnd: [] as number[],
    xorshiftStepsPerUs: stepsPerUs,
    variants: VARIANT_INFO,
    scenarios: Object.fromEntries(scenarios.map((s) => [s.name, { what: s.what, direction: s.direction, baseline: s.baseline, params: s.params(o.mode, stepsPerUs) }])),
  };
  const label = o.mode === 'quick' ? `QUICK (${reps} reps; comparisons are weak)` : `FULL (${reps} reps)`;
  process.stdout.write(`pool bench, ${label}; ${THREADS} threads (unless a scenario's params say otherwise: l6 uses 8); ${meta.cpuModel}, ${meta.availableParallelism} CPUs; load ${meta.loadAvgAtStart.map((x) => x.toFixed(2)).join(' ')}\n`);
  const jobs: { s: Scenario; v: string; rep: number }[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const s of scenarios) {
      const n = s.variants.length;
      for (let k = 0; k < n; k++) jobs.push({ s, v: s.variants[(k + rep) % n], rep });
    }
  }
  const runs: RawRun[] = [];
  const t0 = performance.now();
  const load = startLoadMonitor();
  for (let i = 0; i < jobs.length; i++) {
    const { s, v, rep } = jobs[i];
    const params = s.params(o.mode, stepsPerUs);
    const job: Job = { scenario: s.name, variant: v, threads: params.threads ?? THREADS, params };
    const load = os.loadavg()[0];
    const start = performance.now();
    const r = await runChild(job, 180_000);
    const wallMs = performance.now() - start;
    const elapsed = (performance.now() - t0) / 1000;
    const eta = (elapsed / (i + 1)) * (jobs.length - i - 1);
    process.stderr.write(`[${i + 1}/${jobs.length}] ${s.name} ${v} rep ${rep + 1}: ${r.ok ? fmt(r.res.value, r.res.unit) : `FAILED ${r.error}`}  (${elapsed.toFixed(0)} s, ~${eta.toFixed(0)} s left)\n`);
    runs.push(r.ok
      ? { scenario: s.name, variant: v, rep, ok: true, value: r.res.value, unit: r.res.unit, samples: r.res.samples, extra: r.res.extra, wallMs, loadavg1: load }
      : { scenario: s.name, variant: v, rep, ok: false, error: r.error, wallMs, loadavg1: load });
  }
  meta.loadavgEnd = os.loadavg();
  const loadDuringRun = load.stop();
  process.stdout.write(`${describeLoad(loadDuringRun)}\n`);

  // ---- summaries
  const values = (sc: string, v: string): number[] => runs.filter((r) => r.ok && r.scenario === sc && r.variant === v).map((r) => r.value!);
  const summary: Record<string, unknown>[] = [];
  let seed = 1;
  for (const s of scenarios) {
    const unit = runs.find((r) => r.ok && r.scenario === s.name)?.unit ?? '';
    process.stdout.write(`\n## ${s.name}: ${s.what} [${o.mode}]\n`);
    process.stdout.write(`${'variant'.padEnd(22)} ${'median'.padStart(12)} ${'min'.padStart(12)} ${'max'.padStart(12)}  ${'vs ' + s.baseline}\n`);
    const base = values(s.name, s.baseline);
    for (const v of s.variants) {
      const xs = values(s.name, v);
      const failed = runs.filter((r) => !r.ok && r.scenario === s.name && r.variant === v).length;
      if (xs.length === 0) {
        process.stdout.write(`${v.padEnd(22)} FAILED (${failed} processes)\n`);
        summary.push({ scenario: s.name, variant: v, failed });
        continue;
      }
      let cmp = '';
      let ci: ReturnType<typeof bootstrapRatioCI> | undefined;
      let p: number | undefined;
      if (v !== s.baseline && base.length > 0) {
        ci = bootstrapRatioCI(base, xs, { seed: seed++ });
        p = mannWhitneyU(xs, base).p;
        cmp = `${ci.ratio.toFixed(2)}× [${ci.low.toFixed(2)}, ${ci.high.toFixed(2)}] p=${p.toFixed(3)}`;
      }
      const warn = stabilityWarnings(xs);
      process.stdout.write(`${v.padEnd(22)} ${fmt(median(xs), unit).padStart(12)} ${fmt(Math.min(...xs), unit).padStart(12)} ${fmt(Math.max(...xs), unit).padStart(12)}  ${cmp}${failed > 0 ? `  (${failed} FAILED)` : ''}\n`);
      summary.push({ scenario: s.name, variant: v, unit, median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, failed, vsBaseline: ci, p, warnings: warn });
    }
  }

  const bestPiscina = (sc: string, dir: Direction): string | undefined => {
    let best: string | undefined;
    let bestV = dir === 'higher-is-better' ? -Infinity : Infinity;
    for (const v of PISCINA) {
      const xs = values(sc, v);
      if (xs.length === 0) continue;
      const m = median(xs);
      if (dir === 'higher-is-better' ? m > bestV : m < bestV) {
        bestV = m;
        best = v;
      }
    }
    return best;
  };

  process.stdout.write(`\n## Targets and claims [${o.mode}]\n`);
  const verdicts: Record<string, unknown>[] = [];
  // Absolute target: ≥ 1 M trivial tasks/s (bootstrap CI of parklot's median burst rate).
  const pk = values('burst', 'parklot');
  if (pk.length > 0) {
    const ci = bootstrapRatioCI([1e6], pk, { seed: 999 });
    const status = ci.low >= 1 ? 'met' : ci.high < 1 ? 'NOT met' : 'inconclusive';
    process.stdout.write(`T-1M      burst parklot median ${fmt(median(pk), 'tasks/s')} (CI ${fmt(ci.low * 1e6, 'tasks/s')}–${fmt(ci.high * 1e6, 'tasks/s')}) vs target ≥ 1 M/s: ${status}\n`);
    verdicts.push({ id: 'T-1M', median: median(pk), ci: { low: ci.low * 1e6, high: ci.high * 1e6 }, target: 1e6, status });
  }
  for (const c of COMPARISONS) {
    const s = scenarios.find((x) => x.name === c.scenario);
    if (s === undefined) continue;
    const baseName = c.baseline === 'best-piscina' ? bestPiscina(c.scenario, s.direction) : c.baseline;
    if (baseName === undefined) continue;
    const base = values(c.scenario, baseName);
    const cand = values(c.scenario, c.candidate);
    if (base.length === 0 || cand.length === 0) continue;
    const ci = bootstrapRatioCI(base, cand, { seed: seed++ });
    const benefit = (r: number): number => (s.direction === 'higher-is-better' ? r : 1 / r);
    const [bLo, bHi] = [benefit(ci.low), benefit(ci.high)].sort((x, y) => x - y);
    const rec: Record<string, unknown> = { id: c.id, scenario: c.scenario, candidate: c.candidate, baseline: baseName, ratio: ci.ratio, ci, benefit: benefit(ci.ratio), benefitCI: [bLo, bHi] };
    let line = `${c.id.padEnd(22)} ${c.scenario}: ${c.candidate} vs ${baseName}: ${ci.ratio.toFixed(3)}× [${ci.low.toFixed(3)}, ${ci.high.toFixed(3)}] (benefit ${benefit(ci.ratio).toFixed(2)}×)`;
    if (c.target !== undefined) {
      const status = bLo >= c.target ? 'met' : bHi < c.target ? 'NOT met' : 'inconclusive';
      line += ` target ${c.targetText}: ${status}`;
      rec.target = c.target;
      rec.status = status;
    }
    if (c.claim !== undefined) {
      const vd = verdict(ci, c.claim);
      line += ` claim "${c.claimText}": ${vd.verdict} (${vd.reason})`;
      rec.claim = c.claimText;
      rec.verdict = vd;
    }
    process.stdout.write(`${line}\n`);
    verdicts.push(rec);
  }
  const failedRuns = runs.filter((r) => !r.ok);
  if (failedRuns.length > 0) process.stdout.write(`\n${failedRuns.length} process(es) FAILED: ${failedRuns.map((r) => `${r.scenario}/${r.variant}: ${r.error}`).join('\n  ')}\n`);

  const stamp = startedAt.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const out = o.out ?? path.join(ROOT, 'reports', 'data', `pool-${stamp}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ meta: { ...meta, loadDuringRun }, runs, summary, verdicts }, null, 1)}\n`);
  process.stdout.write(`\nwrote ${path.relative(ROOT, out)}\n`);
  process.exitCode = failedRuns.length > 0 ? 1 : 0;
}

await main();
