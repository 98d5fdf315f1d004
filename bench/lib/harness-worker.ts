// Worker side of the contended-lock harness (bench/lib/harness.ts). Attaches the lock once,
// then for each generation published by the main thread runs the WebKit LockSpeedTest loop
// until the stop flag carries that generation:
//
//   lock();                                    // throughput runs: no clock read, no allocation
//   c = counter; x = work(inside, x);          // critical section: plain read of the counter,
//   counter = c + 1;                           // local arithmetic, plain write at the end
//   unlock(); x = work(between, x); ops++
//
// A sampled run (CTL.SAMPLE = n > 0, a power of two) times one acquisition in n with
// performance.now() before and after lock() and records that wait in a log histogram; the
// other n − 1 iterations are the plain loop. Throughput figures come only from unsampled runs;
// the main thread compares sampled and unsampled ops/s to show what the sampling costs.
//
// First import: installs the counting Atomics.wait/notify wrappers when workerData.countAtomics.
import { atomicsCounts, countsDelta } from './count-atomics.ts';
import { parentPort, workerData } from 'node:worker_threads';
import { LogHistogram } from './histogram.ts';
import { attachVariant, type VariantInit } from '../locks/variants.ts';
import type { BenchLock, V8MutexPeer } from '../locks/peers.ts';
import { CTL, type WorkerMessage } from './harness-protocol.ts';

interface WorkerConfig {
  init: VariantInit;
  ctl: SharedArrayBuffer;
  index: number;
  workInside: number;
  workBetween: number;
  countAtomics: boolean;
}

const cfg = workerData as WorkerConfig;
const verbose = process.env.PARKLOT_BENCH_DEBUG === '1';
function trace(msg: string): void {
  if (verbose) process.stderr.write(`[worker ${cfg.index}] ${msg}\n`);
}
trace('module loaded');
const port = parentPort;
if (port === null) throw new Error('harness-worker must run in a worker thread');
const ctl = new Int32Array(cfg.ctl);

/** xorshift32 steps: cheap local arithmetic whose result is kept (LockSpeedTest's work). */
function work(n: number, x: number): number {
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x | 0;
}

function runPair(lock: BenchLock, gen: number, sample: number, hist: LogHistogram, x: number): { ops: number; x: number } {
  const inside = cfg.workInside;
  const between = cfg.workBetween;
  let ops = 0;
  if (sample > 0) {
    const mask = sample - 1;
    // Reads main's store(STOP, gen); until then keep going.
    while (Atomics.load(ctl, CTL.STOP) !== gen) {
      if ((ops & mask) === 0) {
        const t0 = performance.now();
        lock.lock();
        hist.record((performance.now() - t0) * 1e6);
      } else {
        lock.lock();
      }
      const c = ctl[CTL.COUNTER]; // plain read at the start of the critical section …
      x = work(inside, x);
      ctl[CTL.COUNTER] = c + 1; // … plain write at its end: any overlap loses an update
      lock.unlock();
      x = work(between, x);
      ops++;
    }
  } else {
    while (Atomics.load(ctl, CTL.STOP) !== gen) {
      lock.lock();
      const c = ctl[CTL.COUNTER]; // plain read at the start of the critical section …
      x = work(inside, x);
      ctl[CTL.COUNTER] = c + 1; // … plain write at its end: any overlap loses an update
      lock.unlock();
      x = work(between, x);
      ops++;
    }
  }
  return { ops, x };
}

function runCallback(lock: V8MutexPeer, gen: number, sample: number, hist: LogHistogram, x0: number): { ops: number; x: number } {
  const inside = cfg.workInside;
  const between = cfg.workBetween;
  let x = x0;
  let t1 = 0;
  // One closure of each kind for the whole run (no allocation per operation).
  const criticalSectionTimed = (): void => {
    t1 = performance.now();
    const c = ctl[CTL.COUNTER]; // plain read at the start of the critical section …
    x = work(inside, x);
    ctl[CTL.COUNTER] = c + 1; // … plain write at its end: any overlap loses an update
  };
  const criticalSection = (): void => {
    const c = ctl[CTL.COUNTER]; // plain read at the start of the critical section …
    x = work(inside, x);
    ctl[CTL.COUNTER] = c + 1; // … plain write at its end: any overlap loses an update
  };
  let ops = 0;
  if (sample > 0) {
    const mask = sample - 1;
    while (Atomics.load(ctl, CTL.STOP) !== gen) {
      if ((ops & mask) === 0) {
        const t0 = performance.now();
        lock.withLock(criticalSectionTimed);
        hist.record((t1 - t0) * 1e6);
      } else {
        lock.withLock(criticalSection);
      }
      x = work(between, x);
      ops++;
    }
  } else {
    while (Atomics.load(ctl, CTL.STOP) !== gen) {
      lock.withLock(criticalSection);
      x = work(between, x);
      ops++;
    }
  }
  return { ops, x };
}

async function main(): Promise<void> {
  const attached = await attachVariant(cfg.init);
  trace('lock attached');
  const hist = new LogHistogram();
  let x = (0x9e3779b9 * (cfg.index + 1)) | 0 || 1;
  port!.postMessage({ type: 'ready', index: cfg.index } satisfies WorkerMessage);
  let seen = 0;
  for (;;) {
    // Sleeps until main publishes a new generation; 'not-equal' returns at once if it already
    // did. The load below reads main's store(GEN) and so sees everything main wrote before it.
    Atomics.wait(ctl, CTL.GEN, seen);
    const gen = Atomics.load(ctl, CTL.GEN);
    if (gen === seen) continue;
    if (gen < 0) break;
    seen = gen;
    hist.reset();
    // Written by main before its GEN store, which the load above read.
    const sample = Atomics.load(ctl, CTL.SAMPLE);
    const started = performance.now();
    const c0 = atomicsCounts();
    const r =
      attached.kind === 'pair'
        ? runPair(attached.lock, gen, sample, hist, x)
        : runCallback(attached.lock, gen, sample, hist, x);
    const calls = countsDelta(c0, atomicsCounts());
    x = r.x;
    port!.postMessage({
      type: 'result',
      index: cfg.index,
      gen,
      ops: r.ops,
      activeMs: performance.now() - started,
      wait: hist.toJSON(),
      sink: x,
      ...calls,
    } satisfies WorkerMessage);
    // Release edge for the main thread's correctness check: this RMW follows every plain
    // counter write of this run in program order; main reads DONE before the counter.
    Atomics.add(ctl, CTL.DONE, 1);
    Atomics.notify(ctl, CTL.DONE);
  }
}

main().catch((err: unknown) => {
  port.postMessage({ type: 'error', index: cfg.index, message: String((err as Error)?.stack ?? err) } satisfies WorkerMessage);
});
