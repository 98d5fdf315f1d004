// Bench worker: waits for each run's generation word, runs its role, reports ops and finishes.
// The control block is a plain SharedArrayBuffer private to the bench harness (not a parklot
// primitive), so the harness sleeps on it with Atomics.wait directly.
import { workerData } from 'node:worker_threads';
import { TaskList } from '../../src/task-list/task-list.ts';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import type { PrimitiveHandle } from '../../src/parking/region.ts';
import { C_DONE, C_GEN, C_OPS, C_READY, C_STOP } from './control.ts';

export interface WorkerConfig {
  role: 'tasklist' | 'producer' | 'consumer';
  handle: PrimitiveHandle;
  queue?: 'mpmc' | 'spsc';
  fastPath?: boolean;
  index: number;
  ctl: SharedArrayBuffer;
  batch?: number;
  messages?: number;
}

const cfg = workerData as WorkerConfig;
const ctl = new Int32Array(cfg.ctl);

function waitGen(last: number): number {
  for (;;) {
    const g = Atomics.load(ctl, C_GEN);
    if (g !== last) return g;
    Atomics.wait(ctl, C_GEN, last);
  }
}

function finish(ops: number): void {
  Atomics.store(ctl, C_OPS + cfg.index, ops);
  Atomics.add(ctl, C_DONE, 1);
  Atomics.notify(ctl, C_DONE);
}

let sink = 0;

function tasklistLoop(): void {
  const list = TaskList.from(cfg.handle);
  const batch = cfg.batch ?? 16;
  const tickets: number[] = Array.from({ length: batch }, () => 0);
  Atomics.add(ctl, C_READY, 1);
  Atomics.notify(ctl, C_READY);
  let gen = 0;
  for (;;) {
    gen = waitGen(gen);
    let ops = 0;
    // Each task registers and unregisters itself on its own thread (asyncio's pattern).
    while (Atomics.load(ctl, C_STOP) !== gen) {
      for (let k = 0; k < batch; k++) tickets[k] = list.insert(k);
      for (let k = 0; k < batch; k++) if (!list.remove(tickets[k]!)) throw new Error('remove failed');
      ops += batch;
    }
    finish(ops);
  }
}

function queueLoop(): void {
  const q = cfg.queue === 'spsc' ? SpscQueue.from(cfg.handle, { fastPath: cfg.fastPath }) : MpmcQueue.from(cfg.handle, { fastPath: cfg.fastPath });
  const n = cfg.messages ?? 0;
  Atomics.add(ctl, C_READY, 1);
  Atomics.notify(ctl, C_READY);
  let gen = 0;
  for (;;) {
    gen = waitGen(gen);
    if (cfg.role === 'producer') {
      for (let i = 0; i < n; i++) q.push(i);
    } else {
      let sum = 0;
      for (let i = 0; i < n; i++) sum = (sum + q.pop()) | 0;
      // Every message must arrive exactly once: 0 + 1 + … + (n-1), modulo 2^32.
      if (sum !== ((((n * (n - 1)) / 2) % 2 ** 32) | 0)) throw new Error(`consumer checksum ${sum} != expected`);
      sink ^= sum;
    }
    finish(n);
  }
}

if (cfg.role === 'tasklist') tasklistLoop();
else queueLoop();
(globalThis as { benchSink?: number }).benchSink = sink;
