/**
 * Multi-worker stress tests for Mutex. Each would fail if mutual exclusion (exact counter), a
 * wake-up (bounded completion via runWorkers' timeout), an async waiter (main thread finishes),
 * fairness (progress in every window) or cleanup (PARKED bit, waiter records) broke.
 * More workers than the machine's cores throughout (8 on the 2-core CI machines).
 */
import { describe, expect, it } from 'vitest';
import { Mutex, SharedRegion, nowMs } from '../../src/index.ts';
import { tuned, type MutexTuning } from '../../src/lock/tuning.ts';
import { runWorkers } from '../support/workers.ts';

const WORKERS = 8;
const ITERS = process.env.PARKLOT_LONG ? 200_000 : 20_000;

const modes: [string, Omit<MutexTuning, 'region'>][] = [
  ['spin 0, dynamic fairness', { spin: 0 }],
  ['adaptive spin, dynamic fairness', {}],
  ['adaptive spin, no fairness', { fairness: 'none' }],
  ['spin 0, fifo', { spin: 0, fairness: 'fifo' }],
  ['adaptive spin, fifo', { fairness: 'fifo' }],
  ['fixed spin 100, fairness 0.2 ms', { spin: 100, fairness: { timeoutMs: 0.2 } }],
  ['adaptive spin, wakes every-unlock', { wakes: 'every-unlock' }],
  ["spin 'ema' (glibc policy)", { spin: 'ema' }],
];

function setup(opts: Omit<MutexTuning, 'region'> = {}): { r: SharedRegion; m: Mutex; counter: number } {
  const r = SharedRegion.create({ bytes: 4096, waiters: 256 });
  return { r, m: new Mutex(tuned({ region: r, ...opts })), counter: r.alloc('Raw', 4, 128) };
}

function clean(r: SharedRegion, m: Mutex): void {
  expect(Atomics.load(r.i32, m.offset >> 2)).toBe(0); // free, and no stuck PARKED bit
  expect(r.freeWaiterCount()).toBe(r.waiterCount); // every waiter record returned
}

describe('Mutex stress: mutual exclusion and no lost wake-up', () => {
  for (const [name, opts] of modes) {
    it(`${WORKERS} workers × ${ITERS} increments, ${name}`, async () => {
      const { r, m, counter } = setup(opts);
      const iters = opts.fairness === 'fifo' ? ITERS / 4 : ITERS;
      await runWorkers('mutex-worker.ts', WORKERS, () => ({ mode: 'count', handle: m.handle, counter, iters, work: 20 }), 120_000);
      expect(r.i32[counter >> 2]).toBe(WORKERS * iters);
      clean(r, m);
    });
  }

  it('lockAsync from the main thread mixed with sync workers: exact total, main never starved', async () => {
    const { r, m, counter } = setup();
    const c = counter >> 2;
    const mainIters = 300;
    let mainDone = 0;
    let maxAsyncWait = 0;
    const workers = runWorkers('mutex-worker.ts', 6, () => ({ mode: 'count', handle: m.handle, counter, iters: ITERS, work: 20 }), 120_000);
    const main = (async () => {
      for (let i = 0; i < mainIters; i++) {
        const t0 = nowMs();
        await m.lockAsync();
        maxAsyncWait = Math.max(maxAsyncWait, nowMs() - t0);
        const v = r.i32[c];
        await Promise.resolve(); // hold across a microtask: other threads must still be excluded
        r.i32[c] = v + 1;
        m.unlock();
        mainDone++;
        if (i % 16 === 0) await new Promise((res) => setImmediate(res));
      }
    })();
    await Promise.all([workers, main]);
    expect(mainDone).toBe(mainIters);
    expect(r.i32[c]).toBe(6 * ITERS + mainIters);
    // Hand-off to async waiters: a generous bound (the fairness bound is ≤ 1 ms, plus event-loop hops).
    expect(maxAsyncWait).toBeLessThan(1000);
    clean(r, m);
  });

  it('timeouts under contention lose no update and leave no PARKED bit or waiter record', async () => {
    const { r, m, counter } = setup();
    const results = await runWorkers<{ ok: number }>('mutex-worker.ts', WORKERS,
      (worker) => ({ mode: 'timeouts', handle: m.handle, counter, iters: 3000, ms: 0.3, worker }), 120_000);
    const ok = results.reduce((a, x) => a + x.ok, 0);
    expect(r.i32[counter >> 2]).toBe(ok);
    expect(ok).toBeGreaterThan(0);
    expect(ok).toBeLessThan(WORKERS * 3000); // some attempts really timed out
    clean(r, m);
  });
});

describe('Mutex stress: sync and async waiters mixed, with timeouts, aborts and unlockFair', () => {
  for (const wakes of ['throttled', 'every-unlock'] as const) {
    it(`${WORKERS} workers (half async), wakes ${wakes}: exact total, no lost wake-up, clean end state`, async () => {
      const { r, m, counter } = setup({ wakes });
      const results = await runWorkers<{ ok: number }>('mutex-worker.ts', WORKERS,
        (worker) => ({ mode: 'mixed', handle: m.handle, counter, iters: 4000, work: 20, worker }), 120_000);
      const ok = results.reduce((a, x) => a + x.ok, 0);
      expect(r.i32[counter >> 2]).toBe(ok);
      expect(ok).toBeGreaterThan(WORKERS * 1000);
      clean(r, m);
    });
  }
});

describe('Mutex stress: fairness', () => {
  it('with the fairness bound on, every worker makes progress in every 100 ms window', async () => {
    const { r, m, counter } = setup();
    const nWindows = 12;
    const windows = r.alloc('Raw', WORKERS * nWindows * 4, 128);
    const startAt = nowMs() + 1500; // after all workers have started
    const stopAt = startAt + nWindows * 100;
    const res = await runWorkers<{ n: number; maxWait: number }>('mutex-worker.ts', WORKERS,
      (worker) => ({ mode: 'progress', handle: m.handle, counter, windows, worker, nWindows, startAt, stopAt, work: 50 }), 60_000);
    const total = res.reduce((a, x) => a + x.n, 0);
    expect(r.i32[counter >> 2]).toBe(total);
    const starved: string[] = [];
    for (let w = 0; w < WORKERS; w++) {
      for (let k = 1; k < nWindows - 1; k++) { // the first and last windows are partial
        if (Atomics.load(r.i32, (windows >> 2) + w * nWindows + k) === 0) starved.push(`worker ${w} window ${k}`);
      }
    }
    expect(starved).toEqual([]);
    // Longest single wait: a generous multiple of the ≤ 1 ms fairness bound (the OS may deschedule anyone).
    expect(Math.max(...res.map((x) => x.maxWait))).toBeLessThan(500);
    clean(r, m);
  });
});

