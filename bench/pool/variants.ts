/**
 * The pools the bench compares, behind one small interface, and what each variant label means.
 * Every pool uses the same task file (bench/pool/tasks.ts) and the same thread count.
 */
import { Piscina } from 'piscina';
import Tinypool from 'tinypool';
import { WorkerPool, type WorkerPoolOptions } from '../../src/pool/index.ts';

export const TASK_FILE = new URL('./tasks.ts', import.meta.url);

export interface BenchPool {
  run(arg: unknown, opts?: { name?: string; priority?: number }): Promise<unknown>;
  close(): Promise<void>;
  /** Per-pool statistics worth keeping in the JSON (parklot only). */
  info(): Record<string, unknown>;
}

export const VARIANT_INFO: Record<string, string> = {
  parklot: "parklot WorkerPool defaults: transport 'sab', batch 'adaptive', no stealing, tiered slots with thread caches",
  'parklot:message': "parklot with transport 'message' (one postMessage per task and per result): the A/B baseline",
  'parklot:batch=1': 'parklot, batch 1: one task per turn, window of one task per worker (no batching)',
  'parklot:batch=16': 'parklot, fixed batch 16 (window 32 per worker)',
  'parklot:batch=64': 'parklot, fixed batch 64 (window 128 per worker)',
  'parklot:stealing': 'parklot, stealing on (idle workers take half of a busy worker\'s ring); batch 16',
  'parklot:nosteal': 'parklot, stealing off; batch 16 (the baseline for parklot:stealing)',
  'parklot:slots=single': 'parklot, one slot size (4064 B × 2592) and one shared free list, no thread caches',
  'parklot:slots=none': 'parklot, no payload slots: every argument and result travels by message (ids still by ring)',
  'parklot:fifo': 'parklot, every task at priority 0 (the FIFO baseline of the priority scenario)',
  'parklot:sync-wait': "parklot, idleWait 'sync' (parked workers block in Atomics.wait)",
  'parklot:async-wait': "parklot, idleWait 'async' (parked workers sleep in Atomics.waitAsync; waking them costs more)",
  'parklot:nospin': 'parklot, mainSpinUs 0 (the main thread always sleeps on its doorbell between completions)',
  'parklot:poll=all': "parklot, completionPoll 'all': every drain and idle check polls every worker's completion ring (the L6 baseline)",
  'parklot:poll=signalled': "parklot, completionPoll 'signalled': workers set a bit after pushing completions; the main thread drains only those rings (L6)",
  'piscina:sync:c1': "piscina 5.3.2 defaults: atomics 'sync', concurrentTasksPerWorker 1",
  'piscina:async:c1': "piscina, atomics 'async', concurrentTasksPerWorker 1",
  'piscina:disabled:c1': "piscina, atomics 'disabled', concurrentTasksPerWorker 1",
  'piscina:sync:c4': "piscina, atomics 'sync', concurrentTasksPerWorker 4",
  'piscina:async:c4': "piscina, atomics 'async', concurrentTasksPerWorker 4",
  'piscina:disabled:c4': "piscina, atomics 'disabled', concurrentTasksPerWorker 4",
  tinypool: 'tinypool 2.2.0 defaults (useAtomics true)',
};

export async function makePool(variant: string, threads: number): Promise<BenchPool> {
  if (variant.startsWith('parklot')) return parklot(variant, threads);
  if (variant.startsWith('piscina:')) {
    const [, atomics, c] = variant.split(':');
    const p = new Piscina({
      filename: TASK_FILE.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      atomics: atomics as 'sync' | 'async' | 'disabled',
      concurrentTasksPerWorker: Number(c.slice(1)),
    });
    return {
      run: (arg, opts) => p.run(arg, opts?.name === undefined ? undefined : { name: opts.name }),
      close: () => p.destroy(),
      info: () => ({}),
    };
  }
  if (variant === 'tinypool') {
    const p = new Tinypool({ filename: TASK_FILE.href, minThreads: threads, maxThreads: threads, idleTimeout: 60_000 });
    return {
      run: (arg, opts) => p.run(arg, opts?.name === undefined ? undefined : { name: opts.name }),
      close: () => p.destroy(),
      info: () => ({}),
    };
  }
  throw new Error(`unknown variant ${variant}`);
}

function parklot(variant: string, threads: number): BenchPool {
  const o: WorkerPoolOptions = { filename: TASK_FILE, threads };
  let fifo = false;
  switch (variant) {
    case 'parklot': break;
    case 'parklot:message': o.transport = 'message'; break;
    case 'parklot:batch=1': o.batch = 1; break;
    case 'parklot:batch=16': o.batch = 16; break;
    case 'parklot:batch=64': o.batch = 64; break;
    case 'parklot:stealing': o.stealing = true; o.batch = 16; break;
    case 'parklot:nosteal': o.stealing = false; o.batch = 16; break;
    case 'parklot:slots=single': o.slots = { tiers: [{ bytes: 4064, count: 2592 }], cache: 'shared' }; break;
    case 'parklot:slots=none': o.slots = 'none'; break;
    case 'parklot:fifo': fifo = true; break;
    case 'parklot:sync-wait': o.idleWait = 'sync'; break;
    case 'parklot:async-wait': o.idleWait = 'async'; break;
    case 'parklot:nospin': o.mainSpinUs = 0; break;
    case 'parklot:poll=all': o.completionPoll = 'all'; break;
    case 'parklot:poll=signalled': o.completionPoll = 'signalled'; break;
    default: throw new Error(`unknown parklot variant ${variant}`);
  }
  const p = new WorkerPool(o);
  return {
    run: (arg, opts) => {
      if (opts === undefined) return p.run(arg);
      return p.run(arg, { name: opts.name, priority: fifo ? 0 : opts.priority });
    },
    close: () => p.close(),
    info: () => {
      const s = p.stats;
      return {
        latencyP50Us: s.latency.p50Us,
        latencyP99Us: s.latency.p99Us,
        payloadMessages: s.payloadMessages,
        polls: s.polls,
        workers: s.workers.map((w) => ({ completed: w.completed, stolen: w.stolen, batches: w.batches, parks: w.parks, wakes: w.wakes, cap: w.cap, busyMs: Math.round(w.busyMs) })),
      };
    },
  };
}
