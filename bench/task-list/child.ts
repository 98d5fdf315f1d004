// One bench process: runs one scenario (argv[2] is its JSON Scenario) with a warm-up run and
// three measured runs, and prints `RESULT {json}` on stdout. Fresh process per sample, so JIT
// state and polymorphism never leak between variants.
import { Worker } from 'node:worker_threads';
import { SharedRegion } from '../../src/parking/region.ts';
import { TaskList } from '../../src/task-list/task-list.ts';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import { C_DONE, C_GEN, C_OPS, C_READY, C_STOP, CTL_WORDS } from './control.ts';
import type { Scenario, Spec } from './scenarios.ts';
import type { WorkerConfig } from './worker.ts';

export const RESULT_MARKER = 'RESULT ';
const WORKER_URL = new URL('./worker.ts', import.meta.url);
const MEASURED_RUNS = 3;

const ctl = new Int32Array(new SharedArrayBuffer(CTL_WORDS * 4));
const workers: Worker[] = [];
let failure: Error | undefined;

function startWorker(cfg: Omit<WorkerConfig, 'ctl'>): void {
  const w = new Worker(WORKER_URL, { workerData: { ...cfg, ctl: ctl.buffer } });
  w.on('error', (e) => {
    failure = e;
  });
  workers.push(w);
}

async function waitCount(idx: number, target: number, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (failure !== undefined) throw failure;
    const v = Atomics.load(ctl, idx);
    if (v >= target) return;
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for word ${idx} to reach ${target} (at ${v})`);
    const r = Atomics.waitAsync(ctl, idx, v, 100);
    if (r.async) await r.value;
  }
}

function release(gen: number): void {
  Atomics.store(ctl, C_DONE, 0);
  Atomics.store(ctl, C_GEN, gen);
  Atomics.notify(ctl, C_GEN);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One run; returns the metric (pairs/s or ns/msg). */
type RunFn = (gen: number, warm: boolean) => Promise<number>;

async function setup(spec: Spec): Promise<RunFn> {
  const region = SharedRegion.create({ bytes: 4 << 20, waiters: 256 });
  switch (spec.kind) {
    case 'tasklist': {
      const list = new TaskList({ region, capacity: 4096, impl: spec.impl, ...(spec.impl === 'sharded' ? { shards: 16 } : {}) });
      for (let i = 0; i < spec.workers; i++) startWorker({ role: 'tasklist', handle: list.handle, index: i, batch: spec.batch });
      await waitCount(C_READY, spec.workers);
      return async (gen, warm) => {
        const t0 = performance.now();
        release(gen);
        await sleep(warm ? spec.runMs / 2 : spec.runMs);
        Atomics.store(ctl, C_STOP, gen);
        const elapsed = performance.now() - t0;
        await waitCount(C_DONE, spec.workers);
        let ops = 0;
        for (let i = 0; i < spec.workers; i++) ops += Atomics.load(ctl, C_OPS + i);
        if (list.size !== 0) throw new Error(`bench: list not empty after a run (${list.size})`);
        return (ops / elapsed) * 1000;
      };
    }
    case 'queue-st': {
      const q = spec.queue === 'mpmc' ? new MpmcQueue({ region, capacity: spec.capacity }) : new SpscQueue({ region, capacity: spec.capacity });
      const burst = spec.capacity;
      return async (_gen, warm) => {
        const until = (warm ? spec.runMs / 2 : spec.runMs);
        let n = 0;
        let sum = 0;
        const t0 = performance.now();
        let t = t0;
        while (t - t0 < until) {
          for (let r = 0; r < 64; r++) {
            for (let b = 0; b < burst; b++) q.tryPush(b);
            for (let b = 0; b < burst; b++) sum = (sum + (q.tryPop() as number)) | 0;
          }
          n += 64 * burst;
          t = performance.now();
        }
        if (q.size !== 0) throw new Error('bench: queue not drained');
        (globalThis as { benchSink?: number }).benchSink = sum;
        return ((t - t0) * 1e6) / n;
      };
    }
    case 'queue-pc': {
      const q = spec.queue === 'mpmc' ? new MpmcQueue({ region, capacity: spec.capacity }) : new SpscQueue({ region, capacity: spec.capacity });
      startWorker({ role: 'producer', queue: spec.queue, handle: q.handle, index: 0, messages: spec.messages });
      startWorker({ role: 'consumer', queue: spec.queue, handle: q.handle, index: 1, messages: spec.messages });
      await waitCount(C_READY, 2);
      return async (gen) => {
        const t0 = performance.now();
        release(gen);
        await waitCount(C_DONE, 2);
        return ((performance.now() - t0) * 1e6) / spec.messages;
      };
    }
    case 'queue-l2': {
      const q = new MpmcQueue({ region, capacity: 1024, fastPath: spec.fastPath });
      startWorker({ role: 'producer', queue: 'mpmc', handle: q.handle, index: 0, messages: spec.messages });
      if (spec.consumer === 'sync-worker') {
        startWorker({ role: 'consumer', queue: 'mpmc', handle: q.handle, index: 1, messages: spec.messages, fastPath: spec.fastPath });
      }
      const n = spec.consumer === 'sync-worker' ? 2 : 1;
      await waitCount(C_READY, n);
      return async (gen) => {
        const t0 = performance.now();
        release(gen);
        if (spec.consumer === 'async-main') {
          let sum = 0;
          for (let i = 0; i < spec.messages; i++) sum = (sum + (await q.popAsync())) | 0;
          if (sum !== (((spec.messages * (spec.messages - 1)) / 2) % 2 ** 32 | 0)) throw new Error('bench: checksum mismatch');
        }
        await waitCount(C_DONE, n);
        return ((performance.now() - t0) * 1e6) / spec.messages;
      };
    }
  }
}

async function main(): Promise<void> {
  const scenario = JSON.parse(process.argv[2]!) as Scenario;
  const run = await setup(scenario.spec);
  await run(1, true);
  const values: number[] = [];
  for (let i = 0; i < MEASURED_RUNS; i++) values.push(await run(i + 2, false));
  const sorted = [...values].sort((a, b) => a - b);
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ id: scenario.id, value: sorted[1], runs: values })}\n`);
  await Promise.all(workers.map((w) => w.terminate()));
}

main().catch((e: unknown) => {
  process.stderr.write(`${String((e as Error).stack ?? e)}\n`);
  process.exit(1);
});
