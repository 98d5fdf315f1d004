/**
 * WaitGroup: workers calling done() release the waiter, which then sees every worker's write;
 * several rounds (reuse); several waiters (sync, timed, async) released by one zero; done()
 * below zero and bad add() throw and change nothing; timed and async waits time out and abort.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { TimeoutError } from '../../src/errors.ts';
import { WaitGroup, MAX_COUNT } from '../../src/lock/waitgroup.ts';
import { runWorkers, sleep } from '../support/workers.ts';

function setup(): { r: SharedRegion; wg: WaitGroup; w: (n?: number) => number } {
  const r = SharedRegion.create({ bytes: 1 << 12, waiters: 128 });
  return { r, wg: new WaitGroup({ region: r }), w: (n = 1) => r.alloc('Raw', 4 * n, 128) };
}

describe('WaitGroup in one thread', () => {
  it('counts, refuses to go below zero or above the maximum, and changes nothing then', async () => {
    const { r, wg } = setup();
    expect(wg.tryWait()).toBe(true);
    wg.wait(); // zero: returns at once
    expect(() => wg.done()).toThrow(/already zero/);
    wg.add(3);
    expect(() => wg.add(-4)).toThrow(/would go negative/);
    for (const bad of [0.5, Number.NaN, '1' as unknown as number]) expect(() => wg.add(bad)).toThrow(RangeError);
    expect(() => wg.add(MAX_COUNT)).toThrow(/exceed/);
    expect(wg.count).toBe(3);
    wg.add(-1);
    wg.done();
    expect(wg.waitFor(10)).toBe(false);
    await expect(wg.waitAsync({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const p = wg.waitAsync({ signal: ac.signal });
    ac.abort(new Error('later'));
    await expect(p).rejects.toThrow('later');
    const q = wg.waitAsync();
    await sleep(2);
    wg.done();
    await q;
    expect(Atomics.load(r.i32, wg.offset >> 2)).toBe(0); // count 0, PARKED clear
    expect(() => wg.waitFor(Number.NaN)).toThrow(RangeError);
    expect(WaitGroup.from(wg.handle).count).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });
});

describe('WaitGroup across workers', () => {
  it('8 workers call done() each round; the main thread sees every write after wait()', async () => {
    const { r, wg, w } = setup();
    const n = 8;
    const rounds = 50;
    const [round, slots] = [w(), w(n)];
    const workers = runWorkers('family-waitgroup.ts', n, (worker) => ({ mode: 'done', handle: wg.handle, worker, rounds, round, slots }), 60_000);
    let mismatches = 0;
    for (let k = 1; k <= rounds; k++) {
      wg.add(n);
      Atomics.store(r.i32, round >> 2, k);
      Atomics.notify(r.i32, round >> 2);
      if (k % 2 === 0) await wg.waitAsync();
      else wg.wait();
      for (let i = 0; i < n; i++) if (r.i32[(slots >> 2) + i] !== k) mismatches++;
    }
    await workers;
    expect(mismatches).toBe(0);
    expect(wg.count).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('one zero releases every waiting worker (sync, timed and async waits)', async () => {
    const { r, wg, w } = setup();
    const ready = w();
    wg.add(2);
    const hows = ['sync', 'timed', 'async', 'sync', 'async', 'sync'];
    const waiters = runWorkers<{ ready: number }>('family-waitgroup.ts', hows.length, (worker) => ({ mode: 'wait', handle: wg.handle, worker, ready, how: hows[worker] }), 30_000);
    await sleep(100);
    r.i32[ready >> 2] = 99; // plain: published by the done() below
    wg.done();
    wg.done();
    const res = await waiters;
    expect(res.every((x) => x.ready === 99)).toBe(true);
    expect(Atomics.load(r.i32, wg.offset >> 2)).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });
});
