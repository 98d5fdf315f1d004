/**
 * Semaphore when a queued worker dies: the region purges its waiter record, and the semaphore's
 * death handler re-dispatches, so neither a stale PARKED bit nor a dead head of the FIFO blocks
 * the others. Both would hang (time out) without the handler.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { Semaphore } from '../../src/lock/semaphore.ts';
import { sleep, startWorker } from '../support/workers.ts';

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function setup(permits: number): { r: SharedRegion; s: Semaphore } {
  const r = SharedRegion.create({ bytes: 4096, waiters: 64, threads: 32 });
  return { r, s: new Semaphore(permits, { region: r }) };
}

describe('Semaphore: a queued worker dies', () => {
  it('the last queued waiter dies: PARKED is cleared and the free permits are usable again', async () => {
    const { r, s } = setup(3);
    const w = startWorker('family-semaphore.ts', { mode: 'acquire-once', handle: s.handle, n: 5, worker: 0 });
    r.watch(w.worker);
    await until(() => r.lot.parkedCount(s.offset) === 1, 'the worker to park');
    expect(s.tryAcquire(1)).toBe(false); // FIFO: someone is queued ahead
    await w.worker.terminate();
    await until(() => s.tryAcquire(1), 'the permits to become available');
    expect(s.available).toBe(2);
    s.release(1);
    expect(Atomics.load(r.i32, s.offset >> 2)).toBe(3 * 2); // 3 permits, PARKED clear
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('the head of the queue dies: the small request behind it is granted', async () => {
    const { r, s } = setup(2);
    const big = startWorker('family-semaphore.ts', { mode: 'acquire-once', handle: s.handle, n: 5, worker: 0 });
    r.watch(big.worker);
    await until(() => r.lot.parkedCount(s.offset) === 1, 'the big request to park');
    const small = startWorker('family-semaphore.ts', { mode: 'acquire-once', handle: s.handle, n: 1, worker: 1 });
    r.watch(small.worker);
    await until(() => r.lot.parkedCount(s.offset) === 2, 'the small request to queue behind it');
    await big.worker.terminate();
    expect(await Promise.race([small.firstMessage, sleep(20_000).then(() => 'stuck')])).toBe('got');
    await small.exited;
    expect(s.available).toBe(1); // the small worker took one and died holding it (no owner)
  });
});
