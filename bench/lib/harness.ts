// Multi-worker harness for contended lock scenarios (WebKit LockSpeedTest / parking_lot
// `benchmark/src/bin/mutex.rs` shape, in worker threads over SharedArrayBuffer).
//
// - Workers are spawned once per harness and attach the lock once.
// - Each run is released through a shared generation word (store + notify; workers sleep in
//   Atomics.wait on it) and lasts a fixed wall time: the main thread stores the run's
//   generation into a stop flag after `durationMs`. Throughput = total ops / that wall time.
// - A throughput run reads no clock and allocates nothing inside the workers' loop: two
//   performance.now() calls per acquisition (≈ 2 × 60 ns here) dilute and reshape contention
//   (they turned a 2× loss at 2 workers into an apparent 7 % one). Wait times come from
//   separate *sampled* runs (`run(ms, sampleEvery)`): each worker times one acquisition in
//   `sampleEvery` and records it in its own log histogram. A sampled run's ops/s is kept too,
//   so the bench can show that the sampling leaves the throughput (and so the ratios) alone.
// - After every run the main thread compares the protected plain counter's advance with the
//   ops the workers reported and throws LostUpdateError if they differ: a variant that loses
//   an update fails loudly instead of producing a number.
//
// - Context switches: the main thread reads process.resourceUsage() (getrusage(RUSAGE_SELF):
//   every thread of the process) just before the release store and again after the run's last
//   DONE, so a run's delta covers the workers' loops plus a few switches that are not the lock's:
//   the main thread's sleep through the run and its wake-ups for the result messages (about
//   threads + 2), each worker's wake from and return to its GEN wait (2 per worker), and any
//   V8 platform thread (GC, compiler) that ran meanwhile. Nothing is subtracted; with ≥ 10⁴
//   operations per run that is below 0.1 % of an acquisition's share. Every variant has the same.
// - `countAtomics: true` makes each worker count its Atomics.wait / Atomics.notify calls (and
//   the waiters those notifies woke) during the run (bench/lib/count-atomics.ts); the worker's
//   own GEN wait is outside the counted window.
//
// Invariants: one harness per lock; runs never overlap (run() awaits every worker's result and
// DONE before returning); close() always ends every worker, also after an error.

import { Worker } from 'node:worker_threads';
import { LogHistogram, type HistogramData } from './histogram.ts';
import { CTL, CTL_BYTES, type WorkerMessage } from './harness-protocol.ts';
import type { VariantInit } from '../locks/variants.ts';

/** Stage tracing to stderr, for diagnosing hangs: PARKLOT_BENCH_DEBUG=1. */
const verbose = process.env.PARKLOT_BENCH_DEBUG === '1';
const t0Trace = performance.now();
function trace(msg: string): void {
  if (verbose) process.stderr.write(`[harness ${(performance.now() - t0Trace).toFixed(0)} ms] ${msg}\n`);
}

/** Thrown when the protected counter lost updates: the "lock" did not exclude. */
export class LostUpdateError extends Error {
  override name = 'LostUpdateError';
}

export interface HarnessConfig {
  /** The created lock (from setupVariant) every worker attaches. */
  init: VariantInit;
  /** Worker threads contending for the lock. */
  threads: number;
  /** xorshift steps inside each critical section. */
  workInside: number;
  /** xorshift steps between critical sections. */
  workBetween: number;
  /** How long after the stop flag workers may take to report before the run fails. @defaultValue 10000 */
  finishTimeoutMs?: number;
  /** How long one worker may take to start and attach the lock. @defaultValue 15000 */
  startTimeoutMs?: number;
  /** Count every Atomics.wait / Atomics.notify the workers make in a run. @defaultValue false */
  countAtomics?: boolean;
}

/** One timed run of all workers. */
export interface ContendedRun {
  /** Wall time from the release store to the stop store, measured by the main thread. */
  elapsedMs: number;
  /** 0: a throughput run (no clock in the loop); n: one acquisition in n was timed. */
  sampleEvery: number;
  opsPerWorker: number[];
  totalOps: number;
  opsPerSec: number;
  /** Advance of the protected counter; equals totalOps or the run throws. */
  counterDelta: number;
  /** least-served / most-served worker's ops (1 = perfectly even). */
  minMaxRatio: number;
  /** Merged wait histogram (ns) of the sampled acquisitions; empty in a throughput run. */
  wait: HistogramData;
  waitP50Ns: number;
  waitP99Ns: number;
  waitMaxNs: number;
  /** Per worker: time between its wake-up and its last operation. */
  activeMsPerWorker: number[];
  /** Voluntary / involuntary context switches of the whole process during the run (getrusage). */
  voluntaryCtxSwitches: number;
  involuntaryCtxSwitches: number;
  /** Summed over workers; present when the harness counted Atomics calls (`countAtomics`). */
  atomics?: { waitCalls: number; notifyCalls: number; notifyWoken: number };
}

type ResultMessage = Extract<WorkerMessage, { type: 'result' }>;

export class ContendedHarness {
  readonly #cfg: Required<HarnessConfig>;
  readonly #ctl: Int32Array;
  readonly #workers: Worker[];
  #gen = 0;
  #failure: Error | undefined;
  /** Collector of the current run's results; `undefined` means "a failure was recorded". */
  #pending: ((m: ResultMessage | undefined) => void) | undefined;
  #closed = false;

  private constructor(cfg: Required<HarnessConfig>, ctl: Int32Array, workers: Worker[]) {
    this.#cfg = cfg;
    this.#ctl = ctl;
    this.#workers = workers;
  }

  /** Spawns the workers and resolves once all of them have attached the lock. */
  static async start(config: HarnessConfig): Promise<ContendedHarness> {
    const cfg: Required<HarnessConfig> = { finishTimeoutMs: 10_000, startTimeoutMs: 15_000, countAtomics: false, ...config };
    if (!Number.isInteger(cfg.threads) || cfg.threads < 1) throw new RangeError('threads must be ≥ 1');
    const ctlBuf = new SharedArrayBuffer(CTL_BYTES);
    const ctl = new Int32Array(ctlBuf);
    const url = new URL('./harness-worker.ts', import.meta.url);
    const workers: Worker[] = [];
    const h = new ContendedHarness(cfg, ctl, workers);
    // Workers start one at a time: creating several isolates concurrently under
    // --harmony-struct (V8 shared space) deadlocked in ~3 % of processes on Node 24.21
    // (isolate init vs. a shared-space global safepoint; seen with gdb). Serial start avoids
    // the overlap; the timeout turns any remaining hang into a loud error.
    try {
      for (let index = 0; index < cfg.threads; index++) {
        const w = new Worker(url, {
          workerData: {
            init: cfg.init,
            ctl: ctlBuf,
            index,
            workInside: cfg.workInside,
            workBetween: cfg.workBetween,
            countAtomics: cfg.countAtomics,
          },
        });
        workers.push(w);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`worker ${index} did not start within ${cfg.startTimeoutMs} ms`)),
            cfg.startTimeoutMs,
          );
          const onMsg = (m: WorkerMessage): void => {
            if (m.type === 'ready') {
              clearTimeout(timer);
              w.off('message', onMsg);
              resolve();
            } else if (m.type === 'error') {
              clearTimeout(timer);
              reject(new Error(`worker ${index}: ${m.message}`));
            }
          };
          w.on('message', onMsg);
          w.once('error', (e) => {
            clearTimeout(timer);
            reject(e);
          });
          w.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`worker ${index} exited (${code}) before ready`));
          });
        });
        trace(`worker ${index} ready`);
      }
    } catch (err) {
      await h.close();
      throw err;
    }
    for (const w of workers) {
      w.removeAllListeners('exit');
      w.removeAllListeners('error');
      w.on('message', (m: WorkerMessage) => h.#onMessage(m));
      w.on('error', (err) => h.#fail(err));
      w.on('exit', (code) => {
        if (!h.#closed) h.#fail(new Error(`a bench worker exited unexpectedly (code ${code})`));
      });
    }
    return h;
  }

  #onMessage(m: WorkerMessage): void {
    if (m.type === 'result') this.#pending?.(m);
    else if (m.type === 'error') this.#fail(new Error(`worker ${m.index}: ${m.message}`));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#pending?.(undefined); // wake run() so it can throw
  }

  /**
   * Runs all workers for `durationMs` and returns the checked result. `sampleEvery` 0 (default)
   * is a throughput run with no clock reads in the loop; a power of two n times one acquisition in n.
   */
  async run(durationMs: number, sampleEvery = 0): Promise<ContendedRun> {
    if (!(sampleEvery === 0 || (Number.isInteger(sampleEvery) && sampleEvery > 0 && (sampleEvery & (sampleEvery - 1)) === 0))) {
      throw new RangeError(`sampleEvery must be 0 or a power of two, got ${sampleEvery}`);
    }
    if (this.#closed) throw new Error('harness is closed');
    if (this.#failure) throw this.#failure;
    const ctl = this.#ctl;
    const n = this.#workers.length;
    const gen = ++this.#gen;
    const results: ResultMessage[] = [];
    let allIn!: () => void;
    const collected = new Promise<void>((resolve) => (allIn = resolve));
    this.#pending = (m) => {
      if (m === undefined) return allIn();
      if (m.gen === gen) results.push(m);
      if (results.length === n) allIn();
    };
    // Workers are idle (previous run fully reported), so this plain read of the counter is
    // ordered after their last writes by the DONE load that ended the previous run.
    const counterBefore = ctl[CTL.COUNTER];
    const doneBefore = Atomics.load(ctl, CTL.DONE);
    // Plain store: the GEN store below publishes it (workers load SAMPLE after reading GEN).
    Atomics.store(ctl, CTL.SAMPLE, sampleEvery);
    const ru0 = process.resourceUsage();
    const t0 = performance.now();
    // Release edge: workers' load of GEN reads this store; notify wakes all sleepers.
    Atomics.store(ctl, CTL.GEN, gen);
    Atomics.notify(ctl, CTL.GEN);
    await new Promise((r) => setTimeout(r, durationMs));
    // Workers poll STOP with Atomics.load each operation and stop once it reads this store.
    Atomics.store(ctl, CTL.STOP, gen);
    const elapsedMs = performance.now() - t0;
    trace(`run ${gen}: stop set after ${elapsedMs.toFixed(0)} ms`);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.#cfg.finishTimeoutMs)));
    const outcome = await Promise.race([collected, timedOut]);
    clearTimeout(timer);
    this.#pending = undefined;
    trace(`run ${gen}: ${results.length}/${n} results (${outcome === 'timeout' ? 'timeout' : 'all in'})`);
    if (this.#failure) throw this.#failure;
    if (outcome === 'timeout') {
      this.#failure = new Error(
        `run ${gen}: only ${results.length}/${n} workers finished within ${this.#cfg.finishTimeoutMs} ms ` +
          `after the stop flag (deadlock or lost wake-up in variant ${this.#cfg.init.name}?)`,
      );
      throw this.#failure;
    }
    // Acquire edge for the check: wait until every worker's DONE add (which follows its last
    // plain counter write) is visible; the message and the add race, so wait on the word.
    while (Atomics.load(ctl, CTL.DONE) - doneBefore < n) {
      Atomics.wait(ctl, CTL.DONE, Atomics.load(ctl, CTL.DONE), 100);
    }
    const ru1 = process.resourceUsage();
    trace(`run ${gen}: DONE observed`);
    const counterDelta = (ctl[CTL.COUNTER] - counterBefore) | 0;
    results.sort((a, b) => a.index - b.index);
    const opsPerWorker = results.map((r) => r.ops);
    const totalOps = opsPerWorker.reduce((s, x) => s + x, 0);
    // Int32 counter: compare modulo 2^32 (a run never does 2^32 ops).
    if (counterDelta !== (totalOps | 0)) {
      this.#failure = new LostUpdateError(
        `lost update in variant ${this.#cfg.init.name}: the protected counter advanced by ${counterDelta} ` +
          `but the ${n} workers reported ${totalOps} critical sections (run ${gen}); this "lock" does not exclude`,
      );
      throw this.#failure;
    }
    const wait = new LogHistogram();
    for (const r of results) wait.merge(r.wait);
    const maxOps = Math.max(...opsPerWorker);
    return {
      elapsedMs,
      sampleEvery,
      opsPerWorker,
      totalOps,
      opsPerSec: (totalOps * 1000) / elapsedMs,
      counterDelta,
      minMaxRatio: maxOps === 0 ? 0 : Math.min(...opsPerWorker) / maxOps,
      wait: wait.toJSON(),
      waitP50Ns: wait.quantile(0.5),
      waitP99Ns: wait.quantile(0.99),
      waitMaxNs: wait.maxNs,
      activeMsPerWorker: results.map((r) => r.activeMs),
      voluntaryCtxSwitches: ru1.voluntaryContextSwitches - ru0.voluntaryContextSwitches,
      involuntaryCtxSwitches: ru1.involuntaryContextSwitches - ru0.involuntaryContextSwitches,
      ...(this.#cfg.countAtomics
        ? {
            atomics: {
              waitCalls: results.reduce((a, r) => a + r.waitCalls, 0),
              notifyCalls: results.reduce((a, r) => a + r.notifyCalls, 0),
              notifyWoken: results.reduce((a, r) => a + r.notifyWoken, 0),
            },
          }
        : {}),
    };
  }

  /** Tells the workers to exit and waits for them (terminating any that do not). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    trace('closing');
    // Workers read −1 from GEN and leave their loop (if they are not stuck in a lock).
    Atomics.store(this.#ctl, CTL.GEN, -1);
    Atomics.notify(this.#ctl, CTL.GEN);
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
            w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            if (w.threadId === -1) {
              clearTimeout(t);
              resolve();
            }
          }),
      ),
    );
  }
}

export interface ContendedPlan extends HarnessConfig {
  /** Discarded runs first (JIT warm-up). */
  warmupRuns: number;
  warmupMs: number;
  /** Measured throughput runs (no clock in the loop). */
  runs: number;
  durationMs: number;
  /** Sampled runs after the throughput runs, for wait times (same duration). @defaultValue 0 */
  sampledRuns?: number;
  /** One acquisition in this many is timed in a sampled run. @defaultValue 64 */
  sampleEvery?: number;
}

/** Starts a harness, does the warm-up and measured runs, and always closes it. */
export async function runContended(
  plan: ContendedPlan,
): Promise<{ warmup: ContendedRun[]; runs: ContendedRun[]; sampled: ContendedRun[] }> {
  const h = await ContendedHarness.start(plan);
  try {
    const warmup: ContendedRun[] = [];
    for (let i = 0; i < plan.warmupRuns; i++) warmup.push(await h.run(plan.warmupMs));
    const runs: ContendedRun[] = [];
    for (let i = 0; i < plan.runs; i++) runs.push(await h.run(plan.durationMs));
    const sampled: ContendedRun[] = [];
    for (let i = 0; i < (plan.sampledRuns ?? 0); i++) sampled.push(await h.run(plan.durationMs, plan.sampleEvery ?? 64));
    return { warmup, runs, sampled };
  } finally {
    await h.close();
  }
}
