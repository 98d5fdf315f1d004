/**
 * Once when the thread running the initializer dies: like a throwing initializer, the Once goes
 * back to "not run" and a waiting caller runs it. Would hang (time out) without the death handler.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { nowMs } from '../../src/platform/clock.ts';
import { Once } from '../../src/lock/once.ts';
import { runWorkers, sleep, startWorker } from '../support/workers.ts';

describe('Once: the runner dies', () => {
  it('a waiter runs the initializer after the runner is terminated mid-run', async () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 64, threads: 32 });
    const once = new Once({ region: r });
    const w = (): number => r.alloc('Raw', 4, 128);
    const [started, release, value, runs, attempts] = [w(), w(), w(), w(), w()];
    const runner = startWorker('family-once.ts', { mode: 'hold', handle: once.handle, started, release, value });
    r.watch(runner.worker);
    while (Atomics.load(r.i32, started >> 2) === 0) await sleep(1);
    const waiter = runWorkers<{ value: number }>('family-once.ts', 1, () => ({ mode: 'race', handle: once.handle, runs, attempts, value, startAt: nowMs() }), 20_000);
    await sleep(50);
    expect(once.isCompleted).toBe(false);
    await runner.worker.terminate(); // never released: dies inside the initializer
    const [res] = await waiter;
    expect(res.value).toBe(42); // the waiter's initializer ran
    expect(r.i32[runs >> 2]).toBe(1);
    expect(once.isCompleted).toBe(true);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });
});
