// One bench process = one (scenario, variant, repetition). bench/run.ts spawns this file in a
// fresh `node --harmony-struct` process with a JSON job as argv[2]; it prints exactly one line
// `BENCH_RESULT <json>` on stdout (or exits non-zero with the error on stderr).
//
// - `uncontended`: single thread, tinybench; each tinybench iteration runs `inner`
//   lock()+unlock() pairs and reports its mean as the sample (overriddenDuration), so timer
//   cost (~60 ns per now()) is amortised over the batch instead of dominating a ~20 ns op.
// - `contended`: the multi-worker harness (bench/lib/harness.ts): warm-up, then throughput runs
//   (no clock in the loop), then sampled runs that time one acquisition in `sampleEvery`.

import { pathToFileURL } from 'node:url';
import { Bench } from 'tinybench';
import { runContended, type ContendedRun } from '../lib/harness.ts';
import { LogHistogram, type HistogramData } from '../lib/histogram.ts';
import { attachVariant, setupVariant, type VariantName, type ParklotOptions } from './variants.ts';
import type { BenchLock, V8MutexPeer } from './peers.ts';

export interface UncontendedJob {
  kind: 'uncontended';
  variant: VariantName;
  options?: ParklotOptions;
  /** tinybench measuring time per process (ms). */
  timeMs: number;
  warmupMs: number;
  /** lock()+unlock() pairs per tinybench iteration. */
  inner: number;
}

export interface ContendedJob {
  kind: 'contended';
  variant: VariantName;
  options?: ParklotOptions;
  threads: number;
  workInside: number;
  workBetween: number;
  warmupRuns: number;
  warmupMs: number;
  runs: number;
  durationMs: number;
  /** Sampled runs after the throughput runs (wait times): one acquisition in `sampleEvery` timed. */
  sampledRuns: number;
  sampleEvery: number;
  /** Count the workers' Atomics.wait/notify calls (bench/lib/count-atomics.ts). */
  countAtomics?: boolean;
}

export type Job = UncontendedJob | ContendedJob;

/** Per-process result of an uncontended job; ns per lock()+unlock() pair. */
export interface UncontendedResult {
  kind: 'uncontended';
  /** Median of the per-iteration means: this process's value. */
  nsPerOp: number;
  opsPerSec: number;
  meanNs: number;
  sdNs: number;
  minNs: number;
  maxNs: number;
  p99Ns: number;
  rme: number;
  samplesCount: number;
  /** Up to 101 evenly spaced order statistics of the samples (ns/op), min … max. */
  samplesNs: number[];
  /** Callback executions counted by V8's critical section (0 for lock/unlock variants). */
  callbacks: number;
}

/** A run without its histogram (scalars only); the process keeps one merged histogram. */
export type ContendedRunScalars = Omit<ContendedRun, 'wait'>;

export interface ContendedResult {
  kind: 'contended';
  warmup: ContendedRunScalars[];
  /** Throughput runs: no clock read in the workers' loop. */
  runs: ContendedRunScalars[];
  /** Sampled runs (one acquisition in `sampleEvery` timed): the source of every wait figure. */
  sampled?: ContendedRunScalars[];
  /** Wait histogram (ns) merged over the sampled runs. */
  wait: HistogramData;
}

export type ChildResult = (UncontendedResult | ContendedResult) & { processMs: number };

export const RESULT_MARKER = 'BENCH_RESULT ';

/** Side effect of V8's callback in the uncontended loop (module scope: cannot be elided). */
let sink = 0;

function pairLoop(lock: BenchLock, n: number): void {
  for (let i = 0; i < n; i++) {
    lock.lock();
    lock.unlock();
  }
}

function callbackLoop(lock: V8MutexPeer, n: number, fn: () => void): void {
  for (let i = 0; i < n; i++) lock.withLock(fn);
}

async function uncontended(job: UncontendedJob): Promise<UncontendedResult> {
  const attached = await attachVariant(await setupVariant(job.variant, job.options));
  const inner = job.inner;
  const bump = (): void => {
    sink++;
  };
  const bench = new Bench({
    time: job.timeMs,
    warmupTime: job.warmupMs,
    retainSamples: true,
    throws: true,
  });
  bench.add(job.variant, () => {
    const t0 = bench.now();
    if (attached.kind === 'pair') pairLoop(attached.lock, inner);
    else callbackLoop(attached.lock, inner, bump);
    const dt = bench.now() - t0;
    return { overriddenDuration: dt / inner, overriddenIterationCost: dt };
  });
  await bench.run();
  const r = bench.tasks[0].result;
  if (r.state !== 'completed') throw new Error(`tinybench task ended in state ${r.state}`);
  const lat = r.latency;
  const samples = lat.samples ?? [lat.p50];
  const picks: number[] = [];
  const k = Math.min(101, samples.length);
  for (let i = 0; i < k; i++) {
    const idx = k === 1 ? 0 : Math.round((i * (samples.length - 1)) / (k - 1));
    picks.push(+(samples[idx] * 1e6).toFixed(3));
  }
  const ns = lat.p50 * 1e6;
  return {
    kind: 'uncontended',
    nsPerOp: ns,
    opsPerSec: 1e9 / ns,
    meanNs: lat.mean * 1e6,
    sdNs: lat.sd * 1e6,
    minNs: lat.min * 1e6,
    maxNs: lat.max * 1e6,
    p99Ns: lat.p99 * 1e6,
    rme: lat.rme,
    samplesCount: lat.samplesCount,
    samplesNs: picks,
    callbacks: sink,
  };
}

async function contended(job: ContendedJob): Promise<ContendedResult> {
  const init = await setupVariant(job.variant, job.options);
  const r = await runContended({
    init,
    threads: job.threads,
    workInside: job.workInside,
    workBetween: job.workBetween,
    warmupRuns: job.warmupRuns,
    warmupMs: job.warmupMs,
    runs: job.runs,
    durationMs: job.durationMs,
    sampledRuns: job.sampledRuns,
    sampleEvery: job.sampleEvery,
    countAtomics: job.countAtomics === true,
  });
  const strip = ({ wait: _wait, ...rest }: ContendedRun): ContendedRunScalars => rest;
  const merged = new LogHistogram();
  for (const run of r.sampled) merged.merge(run.wait);
  return {
    kind: 'contended',
    warmup: r.warmup.map(strip),
    runs: r.runs.map(strip),
    sampled: r.sampled.map(strip),
    wait: merged.toJSON(),
  };
}

/** Runs one job in this process. Exported for tests; the CLI path is below. */
export async function runJob(job: Job): Promise<ChildResult> {
  const t0 = performance.now();
  const res = job.kind === 'uncontended' ? await uncontended(job) : await contended(job);
  return { ...res, processMs: performance.now() - t0 };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const job = JSON.parse(process.argv[2] ?? '') as Job;
  runJob(job).then(
    (res) => {
      process.stdout.write(`${RESULT_MARKER}${JSON.stringify(res)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      // A worker stuck in native code (e.g. isolate creation) can keep process.exit() from
      // returning; make sure the runner sees this process end.
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 3000).unref();
      process.exit(1);
    },
  );
}
