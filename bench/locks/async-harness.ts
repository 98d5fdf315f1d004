// Multi-worker harness of the async contended-lock bench (lock/async/*). Same discipline as the
// sync harness (bench/lib/harness.ts), for a loop of async critical sections:
//
// - Workers are spawned once per harness and attach the lock once (bench/locks/async-worker.ts).
// - A run is released through a shared generation word (store + notify; workers sleep in
//   Atomics.wait on it) and lasts a fixed wall time: the main thread stores the run's generation
//   into a stop flag after `durationMs`. Throughput = total ops / that wall time (main's clock,
//   release store to stop store); the workers read no clock inside their loop.
// - After every run the main thread compares the protected plain counter's advance with the ops
//   the workers reported and throws LostUpdateError (the sync harness's class) if they differ.
// - A run whose workers do not all report within `finishTimeoutMs` after the stop flag fails
//   (a hang: a lost wake-up, or a worker whose event loop ended early).
//
// Invariants: one harness per lock; runs never overlap; close() always ends every worker.

import { Worker } from 'node:worker_threads';
import { LostUpdateError } from '../lib/harness.ts';
import type { AsyncLockInit } from './async-locks.ts';
import { ACTL, ACTL_BYTES, type AsyncWorkerConfig, type AsyncWorkerMessage } from './async-protocol.ts';

export { LostUpdateError };

export interface AsyncHarnessConfig {
  /** The created lock (setupAsyncLock) every worker attaches. */
  init: AsyncLockInit;
  threads: number;
  /** parklot only: how many workers (the first ones) use the blocking lock(). @defaultValue 0 */
  syncWorkers?: number;
  /** @defaultValue 10000 */
  finishTimeoutMs?: number;
  /** @defaultValue 15000 */
  startTimeoutMs?: number;
}

/** One timed run of all workers. */
export interface AsyncRun {
  /** Wall time from the release store to the stop store, main thread's clock. */
  elapsedMs: number;
  opsPerWorker: number[];
  totalOps: number;
  opsPerSec: number;
  /** Advance of the protected counter; equals totalOps or the run throws. */
  counterDelta: number;
  /** least-served / most-served worker's ops (1 = perfectly even). */
  minMaxRatio: number;
  /** Per worker: time from its wake-up to the end of its loop. */
  activeMsPerWorker: number[];
}

type ResultMessage = Extract<AsyncWorkerMessage, { type: 'result' }>;

export class AsyncHarness {
  readonly #cfg: Required<AsyncHarnessConfig>;
  readonly #ctl: Int32Array;
  readonly #workers: Worker[];
  #gen = 0;
  #failure: Error | undefined;
  #pending: ((m: ResultMessage | undefined) => void) | undefined;
  #closed = false;

  private constructor(cfg: Required<AsyncHarnessConfig>, ctl: Int32Array, workers: Worker[]) {
    this.#cfg = cfg;
    this.#ctl = ctl;
    this.#workers = workers;
  }

  /** Spawns the workers (concurrently: no --harmony-struct here) and waits until all attached. */
  static async start(config: AsyncHarnessConfig): Promise<AsyncHarness> {
    const cfg: Required<AsyncHarnessConfig> = { syncWorkers: 0, finishTimeoutMs: 10_000, startTimeoutMs: 15_000, ...config };
    if (!Number.isInteger(cfg.threads) || cfg.threads < 1) throw new RangeError('threads must be ≥ 1');
    if (cfg.syncWorkers > 0 && cfg.init.name !== 'parklot') throw new RangeError('syncWorkers needs the parklot lock');
    const ctlBuf = new SharedArrayBuffer(ACTL_BYTES);
    const ctl = new Int32Array(ctlBuf);
    const url = new URL('./async-worker.ts', import.meta.url);
    const workers: Worker[] = [];
    const h = new AsyncHarness(cfg, ctl, workers);
    const started: Promise<void>[] = [];
    for (let index = 0; index < cfg.threads; index++) {
      const w = new Worker(url, {
        workerData: { init: cfg.init, ctl: ctlBuf, index, sync: index < cfg.syncWorkers } satisfies AsyncWorkerConfig,
      });
      workers.push(w);
      started.push(
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`worker ${index} did not start within ${cfg.startTimeoutMs} ms`)), cfg.startTimeoutMs);
          const onMsg = (m: AsyncWorkerMessage): void => {
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
        }),
      );
    }
    try {
      await Promise.all(started);
    } catch (err) {
      await h.close();
      throw err;
    }
    for (const w of workers) {
      w.removeAllListeners('exit');
      w.removeAllListeners('error');
      w.on('message', (m: AsyncWorkerMessage) => h.#onMessage(m));
      w.on('error', (err) => h.#fail(err));
      w.on('exit', (code) => {
        if (!h.#closed) h.#fail(new Error(`an async bench worker exited unexpectedly (code ${code})`));
      });
    }
    return h;
  }

  #onMessage(m: AsyncWorkerMessage): void {
    if (m.type === 'result') this.#pending?.(m);
    else if (m.type === 'error') this.#fail(new Error(`worker ${m.index}: ${m.message}`));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    this.#pending?.(undefined);
  }

  /** Runs all workers for `durationMs` and returns the checked result. */
  async run(durationMs: number): Promise<AsyncRun> {
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
    // Workers are idle (the previous run was fully reported and its DONE adds observed), so
    // this plain read is ordered after their last counter writes.
    const counterBefore = ctl[ACTL.COUNTER];
    const doneBefore = Atomics.load(ctl, ACTL.DONE);
    const t0 = performance.now();
    // Release edge: the workers' load of GEN reads this store; notify wakes every sleeper.
    Atomics.store(ctl, ACTL.GEN, gen);
    Atomics.notify(ctl, ACTL.GEN);
    await new Promise((r) => setTimeout(r, durationMs));
    Atomics.store(ctl, ACTL.STOP, gen);
    const elapsedMs = performance.now() - t0;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), this.#cfg.finishTimeoutMs)));
    const outcome = await Promise.race([collected, timedOut]);
    clearTimeout(timer);
    this.#pending = undefined;
    if (this.#failure) throw this.#failure;
    if (outcome === 'timeout') {
      this.#failure = new Error(
        `run ${gen}: only ${results.length}/${n} workers finished within ${this.#cfg.finishTimeoutMs} ms ` +
          `after the stop flag (deadlock or lost wake-up in async variant ${this.#cfg.init.name}?)`,
      );
      throw this.#failure;
    }
    // Acquire edge for the check: every worker's DONE add follows its last counter write.
    while (Atomics.load(ctl, ACTL.DONE) - doneBefore < n) {
      Atomics.wait(ctl, ACTL.DONE, Atomics.load(ctl, ACTL.DONE), 100);
    }
    const counterDelta = (ctl[ACTL.COUNTER] - counterBefore) | 0;
    results.sort((a, b) => a.index - b.index);
    const opsPerWorker = results.map((r) => r.ops);
    const totalOps = opsPerWorker.reduce((s, x) => s + x, 0);
    // Int32 counter: compare modulo 2^32.
    if (counterDelta !== (totalOps | 0)) {
      this.#failure = new LostUpdateError(
        `lost update in async variant ${this.#cfg.init.name}: the protected counter advanced by ${counterDelta} ` +
          `but the ${n} workers reported ${totalOps} critical sections (run ${gen}); this "lock" does not exclude`,
      );
      throw this.#failure;
    }
    const maxOps = Math.max(...opsPerWorker);
    return {
      elapsedMs,
      opsPerWorker,
      totalOps,
      opsPerSec: (totalOps * 1000) / elapsedMs,
      counterDelta,
      minMaxRatio: maxOps === 0 ? 0 : Math.min(...opsPerWorker) / maxOps,
      activeMsPerWorker: results.map((r) => r.activeMs),
    };
  }

  /** Tells the workers to exit and waits for them (terminating any that do not within 2 s). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    Atomics.store(this.#ctl, ACTL.GEN, -1);
    Atomics.notify(this.#ctl, ACTL.GEN);
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

export interface AsyncPlan extends AsyncHarnessConfig {
  warmupRuns: number;
  warmupMs: number;
  runs: number;
  durationMs: number;
}

/** Starts a harness, does the warm-up and measured runs, and always closes it. */
export async function runAsyncContended(plan: AsyncPlan): Promise<{ warmup: AsyncRun[]; runs: AsyncRun[] }> {
  const h = await AsyncHarness.start(plan);
  try {
    const warmup: AsyncRun[] = [];
    for (let i = 0; i < plan.warmupRuns; i++) warmup.push(await h.run(plan.warmupMs));
    const runs: AsyncRun[] = [];
    for (let i = 0; i < plan.runs; i++) runs.push(await h.run(plan.durationMs));
    return { warmup, runs };
  } finally {
    await h.close();
  }
}
