// Multi-worker stress tests of MpmcQueue and SpscQueue: every value delivered exactly once,
// per-producer FIFO, blocking push/pop with no lost wake-up, and popAsync on the main thread.
// More workers than cores (2) throughout; long mode with PARKLOT_LONG=1.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import { SharedRegion } from '../../src/parking/region.ts';
import { firstMessage, LONG } from '../support/workers.ts';
import type { StressData, StressResult } from '../fixtures/queue-stress.ts';

const url = new URL('../fixtures/queue-stress.ts', import.meta.url);
const STOP = -1;
const SCALE = LONG ? 10 : 1;

interface Spawned {
  worker: Worker;
  result: Promise<StressResult>;
}

function spawn(data: StressData): Spawned {
  const worker = new Worker(url, { workerData: data });
  return { worker, result: firstMessage<StressResult>(worker, `${data.role} ${data.id}`) };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Checks a delivery: every (producer, seq) exactly once across all consumers, and within each
 * consumer the values of each producer in increasing seq order. Returns a problem or null.
 */
function checkDelivery(perConsumer: Int32Array[], producers: number, count: number): string | null {
  const seen = new Uint8Array(producers * count);
  for (let c = 0; c < perConsumer.length; c++) {
    const last = new Int32Array(producers).fill(-1);
    for (const v of perConsumer[c]!) {
      const p = v >>> 20;
      const seq = v & 0xfffff;
      if (p >= producers || seq >= count) return `consumer ${c} popped a value nobody pushed: ${v}`;
      if (seen[p * count + seq]++ !== 0) return `value p${p}#${seq} delivered twice`;
      if (seq <= last[p]!) return `consumer ${c} saw p${p}#${seq} after p${p}#${last[p]} (per-producer FIFO broken)`;
      last[p] = seq;
    }
  }
  const missing = seen.indexOf(0);
  if (missing >= 0) return `value p${Math.floor(missing / count)}#${missing % count} was lost`;
  return null;
}

async function runStress(opts: {
  kind: 'mpmc' | 'spsc';
  mode: StressData['mode'];
  producers: number;
  consumers: number;
  count: number;
  capacity: number;
}): Promise<void> {
  const region = SharedRegion.create({ bytes: 1 << 20 });
  const q = opts.kind === 'mpmc' ? new MpmcQueue({ region, capacity: opts.capacity }) : new SpscQueue({ region, capacity: opts.capacity });
  const base = { kind: opts.kind, mode: opts.mode, handle: q.handle, count: opts.count, idleMs: 10_000 };
  const consumers = Array.from({ length: opts.consumers }, (_, id) => spawn({ ...base, role: 'consumer', id }));
  const producers = Array.from({ length: opts.producers }, (_, id) => spawn({ ...base, role: 'producer', id }));
  try {
    await withTimeout(Promise.all(producers.map((p) => p.result)), 40_000, 'producers');
    // One STOP per consumer, after every value: each consumer stops after its first STOP.
    for (let c = 0; c < opts.consumers; c++) await q.pushAsync(STOP, { timeoutMs: 10_000 });
    const results = await withTimeout(Promise.all(consumers.map((c) => c.result)), 20_000, 'consumers');
    const arrays: Int32Array[] = [];
    for (const r of results) {
      if (!r.ok) throw new Error(r.error);
      arrays.push(r.values);
    }
    expect(checkDelivery(arrays, opts.producers, opts.count)).toBeNull();
    expect(arrays.reduce((n, a) => n + a.length, 0)).toBe(opts.producers * opts.count);
    expect(q.size).toBe(0);
    expect(region.freeWaiterCount()).toBe(region.waiterCount);
  } finally {
    await Promise.all([...consumers, ...producers].map((s) => s.worker.terminate()));
  }
}

describe('MpmcQueue under 4+ producers and 4+ consumers (8 workers on 2 cores)', () => {
  it('blocking push/pop on a small ring: exactly once, per-producer FIFO, no lost wake-up', async () => {
    await runStress({ kind: 'mpmc', mode: 'blocking', producers: 4, consumers: 4, count: 10_000 * SCALE, capacity: 8 });
  });

  it('capacity 1: every operation hands off through the parking lot', async () => {
    await runStress({ kind: 'mpmc', mode: 'blocking', producers: 4, consumers: 4, count: 1_500 * SCALE, capacity: 1 });
  });

  it('non-blocking tryPush/tryPop with retries: exactly once, per-producer FIFO', async () => {
    await runStress({ kind: 'mpmc', mode: 'try', producers: 4, consumers: 4, count: 10_000 * SCALE, capacity: 64 });
  });

  it('async pushAsync/popAsync inside workers', async () => {
    await runStress({ kind: 'mpmc', mode: 'async', producers: 4, consumers: 4, count: 2_000 * SCALE, capacity: 4 });
  });
});

describe('SpscQueue with one producer worker and one consumer worker', () => {
  it('blocking, capacity 4: every value once, in order', async () => {
    await runStress({ kind: 'spsc', mode: 'blocking', producers: 1, consumers: 1, count: 50_000 * SCALE, capacity: 4 });
  });

  it('non-blocking, capacity 1', async () => {
    await runStress({ kind: 'spsc', mode: 'try', producers: 1, consumers: 1, count: 3_000 * SCALE, capacity: 1 });
  });
});

describe('popAsync on the main thread', () => {
  it('consumes everything 4 producer workers push, with several popAsync calls pending at once', async () => {
    const region = SharedRegion.create({ bytes: 1 << 20 });
    const q = new MpmcQueue({ region, capacity: 4 });
    const count = 2_000 * SCALE;
    const producers = Array.from({ length: 4 }, (_, id) =>
      spawn({ kind: 'mpmc', mode: 'blocking', handle: q.handle, role: 'producer', id, count, idleMs: 10_000 }),
    );
    try {
      const got: number[][] = [[], [], []];
      // Three concurrent async consumers on the main thread's event loop.
      const loops = got.map(async (out) => {
        for (;;) {
          const v = await q.popAsync({ timeoutMs: 10_000 });
          if (v === STOP) return;
          out.push(v);
        }
      });
      await withTimeout(Promise.all(producers.map((p) => p.result)), 40_000, 'producers');
      for (let i = 0; i < got.length; i++) await q.pushAsync(STOP);
      await withTimeout(Promise.all(loops), 20_000, 'main-thread consumers');
      expect(checkDelivery(got.map((a) => Int32Array.from(a)), 4, count)).toBeNull();
      expect(region.lot.pendingAsyncParks).toBe(0);
    } finally {
      await Promise.all(producers.map((s) => s.worker.terminate()));
    }
  });

  it('a pending popAsync keeps the event loop alive and is woken by a worker', async () => {
    const region = SharedRegion.create({ bytes: 1 << 16 });
    const q = new MpmcQueue({ region, capacity: 2 });
    const pending = q.popAsync({ timeoutMs: 20_000 });
    const producer = spawn({ kind: 'mpmc', mode: 'blocking', handle: q.handle, role: 'producer', id: 3, count: 1, idleMs: 1000 });
    try {
      expect(await withTimeout(pending, 20_000, 'popAsync')).toBe((3 << 20) | 0);
      expect((await producer.result).ok).toBe(true);
    } finally {
      await producer.worker.terminate();
    }
  });
});
