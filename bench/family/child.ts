// One bench process of the lock-family bench: runs one (group, variant) over all the group's
// points with fresh primitives per point, and prints its metrics as one JSON line after
// RESULT_MARKER. Workers are spawned once (the most any point needs) and reused; a point uses the
// first `threads` of them. Each point: one warm-up run, then one measured run.
//
// Invariants: a run's workers all start on the same GO store and stop on the same STOP store;
// elapsed time is the child's wall time between them. Correctness is checked after every
// measured run (torn reads, lost updates, lost items): a broken variant throws, never reports.

import { Worker } from 'node:worker_threads';
import { LogHistogram } from '../lib/histogram.ts';
import { SharedRegion } from '../../src/parking/region.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import { RwLock, type RwLockPolicy } from '../../src/lock/rwlock.ts';
import { Condvar } from '../../src/lock/condvar.ts';
import { Semaphore } from '../../src/lock/semaphore.ts';
import { Barrier } from '../../src/lock/barrier.ts';
import { FutexBarrier, FutexRwLock } from './peers.ts';
import { CTL, CTL_BYTES, RESULT_MARKER, type ChildOutput, type Group, type Job, type Metrics, type Point, type RunMessage, type WorkerResult } from './protocol.ts';

type Msg = { type: 'ready' | 'armed'; index: number } | { type: 'result'; result: WorkerResult } | { type: 'error'; index: number; message: string };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as Job;
  const region = SharedRegion.create({ bytes: 1 << 20, waiters: 1024 });
  const ctlBuf = new SharedArrayBuffer(CTL_BYTES);
  const ctl = new Int32Array(ctlBuf);
  const n = Math.max(...job.points.map((p) => p.threads));
  const workers: Worker[] = [];
  let failure: Error | undefined;
  let onMsg: ((m: Msg) => void) | undefined;
  const ready: Promise<void>[] = [];
  for (let index = 0; index < n; index++) {
    const w = new Worker(new URL('./worker.ts', import.meta.url), {
      // C3's metric is wake calls: count Atomics.wait/notify in the groups that test it.
      workerData: { index, ctl: ctlBuf, region: region.handle, countAtomics: job.group === 'cv' || job.group === 'barrier' },
    });
    workers.push(w);
    ready.push(new Promise((resolve) => w.once('message', () => resolve())));
    w.on('message', (m: Msg) => {
      if (m.type === 'error') failure ??= new Error(`worker ${m.index}: ${m.message}`);
      onMsg?.(m);
    });
    w.on('error', (e) => (failure ??= e));
  }
  await Promise.all(ready);
  let gen = 0;
  const out: ChildOutput = { group: job.group, variant: job.variant, points: [] };
  try {
    for (const point of job.points) {
      const setup = setupPoint(region, job.group, job.variant, point);
      let metrics: Metrics = {};
      for (const ms of [job.warmupMs, job.runMs]) {
        gen++;
        const t = point.threads;
        const results: WorkerResult[] = [];
        let armed = 0;
        let allArmed!: () => void;
        let allDone!: () => void;
        const armedP = new Promise<void>((r) => (allArmed = r));
        const doneP = new Promise<void>((r) => (allDone = r));
        onMsg = (m) => {
          if (m.type === 'error') {
            allArmed();
            allDone();
          } else if (m.type === 'armed') {
            if (++armed === t) allArmed();
          } else if (m.type === 'result' && m.result.gen === gen) {
            results.push(m.result);
            if (results.length === t) allDone();
          }
        };
        const c0 = setup.counter();
        for (let index = 0; index < t; index++) {
          const msg: RunMessage = { type: 'run', group: job.group, variant: job.variant, point, index, gen, handles: setup.handles, offsets: setup.offsets };
          workers[index].postMessage(msg);
        }
        await armedP;
        if (failure) throw failure;
        const t0 = performance.now();
        // Release edge: workers' loads of GO read this store.
        Atomics.store(ctl, CTL.GO, gen);
        Atomics.notify(ctl, CTL.GO);
        await sleep(ms);
        Atomics.store(ctl, CTL.STOP, gen);
        const elapsedMs = performance.now() - t0;
        const timer = setTimeout(() => {
          failure ??= new Error(`${job.group}/${job.variant}: workers did not stop within 20 s (lost wake-up?)`);
          allDone();
        }, 20_000);
        await doneP;
        clearTimeout(timer);
        if (failure) throw failure;
        metrics = computeMetrics(job, point, results, elapsedMs, setup.counter() - c0);
      }
      out.points.push({ point, metrics });
    }
  } finally {
    onMsg = undefined;
    await Promise.all(workers.map((w) => w.terminate()));
  }
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(out)}\n`);
}

interface PointSetup {
  handles: Record<string, unknown>;
  offsets: { peer: number; data: number; counter: number };
  /** The plain counter the workers bump (rw writes) — read after every worker reported. */
  counter: () => number;
}

function setupPoint(region: SharedRegion, group: Group, variant: string, point: Point): PointSetup {
  const handles: Record<string, unknown> = {};
  const offsets = { peer: 0, data: region.alloc('Raw', 4 * 16, 128), counter: region.alloc('Raw', 4, 128) };
  if (group === 'rw') {
    if (variant.startsWith('parklot-')) handles.rw = new RwLock({ region, prefer: variant.slice(8) as RwLockPolicy }).handle;
    else if (variant === 'mutex') handles.mutex = new Mutex({ region }).handle;
    else if (variant === 'futex-rw') offsets.peer = region.alloc('Raw', 4 * FutexRwLock.WORDS, 128);
    else offsets.peer = region.alloc('Raw', 4, 128);
  } else if (group === 'cv') {
    handles.mutex = new Mutex({ region }).handle;
    if (variant === 'requeue') handles.cv = new Condvar({ region }).handle;
    else offsets.peer = region.alloc('Raw', 8, 128);
  } else if (group === 'semBatch') {
    handles.sem = new Semaphore(point.threads * (point.n ?? 1), { region }).handle;
  } else if (group === 'semWait') {
    handles.sem = new Semaphore(point.permits ?? 1, { region }).handle;
  } else if (variant.startsWith('parklot')) {
    handles.barrier = new Barrier(point.threads, { region }).handle;
  } else {
    offsets.peer = region.alloc('Raw', 4 * FutexBarrier.WORDS, 128);
  }
  // The workers have all reported (message receipt follows their last plain write in program
  // order, and their result post follows their final lock release), so this plain read is ordered.
  return { handles, offsets, counter: () => region.i32[offsets.counter >> 2] };
}

function computeMetrics(job: Job, point: Point, rs: WorkerResult[], elapsedMs: number, counterDelta: number): Metrics {
  const sum = (f: (r: WorkerResult) => number | undefined): number => rs.reduce((a, r) => a + (f(r) ?? 0), 0);
  const perSec = (x: number): number => (x * 1000) / elapsedMs;
  const hist = new LogHistogram();
  for (const r of rs) if (r.hist) hist.merge(r.hist);
  const ops = sum((r) => r.ops);
  switch (job.group) {
    case 'rw': {
      if (sum((r) => r.bad) !== 0) throw new Error(`${job.variant}: ${sum((r) => r.bad)} torn reads: the lock does not exclude writers from readers`);
      if (counterDelta !== sum((r) => r.writes)) throw new Error(`${job.variant}: lost update (${counterDelta} vs ${sum((r) => r.writes)} writes)`);
      return {
        opsPerSec: perSec(ops),
        readsPerSec: perSec(sum((r) => r.reads)),
        writesPerSec: perSec(sum((r) => r.writes)),
        writeWaitP99Ns: hist.count === 0 ? 0 : hist.quantile(0.99),
        writeWaitMaxNs: hist.count === 0 ? 0 : hist.maxNs,
      };
    }
    case 'cv': {
      const items = sum((r) => r.items);
      const produced = sum((r) => r.produced);
      if (Math.abs(produced - items) > (point.cap ?? 4)) throw new Error(`${job.variant}: produced ${produced} but consumed ${items}`);
      const perItem = (x: number): number => (items === 0 ? 0 : x / items);
      return {
        itemsPerSec: perSec(items),
        waitsPerItem: perItem(sum((r) => r.waits)),
        wakeCallsPerItem: perItem(sum((r) => r.notifyCalls)),
        wokenPerItem: perItem(sum((r) => r.notifyWoken)),
      };
    }
    case 'semBatch':
      return { cyclesPerSec: perSec(ops), permitsPerSec: perSec(ops * (point.n ?? 1)) };
    case 'semWait':
      return {
        opsPerSec: perSec(ops),
        acquireP50Ns: hist.quantile(0.5),
        acquireP99Ns: hist.quantile(0.99),
        parksPerOp: ops === 0 ? 0 : sum((r) => r.parks) / ops,
      };
    case 'barrier': {
      const gens = sum((r) => r.leaders);
      const perGen = (x: number): number => (gens === 0 ? 0 : x / gens);
      return {
        gensPerSec: perSec(gens),
        wakeCallsPerGen: perGen(sum((r) => r.notifyCalls)),
        wokenPerGen: perGen(sum((r) => r.notifyWoken)),
        parksPerGen: perGen(sum((r) => r.waitCalls)),
      };
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
