/**
 * Barrier: many generations with more workers than cores (every participant sees every other's
 * write of the generation, exactly one leader per generation), with sync, async and timed waits;
 * timeouts withdraw the arrival; bad input is refused.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { TimeoutError } from '../../src/errors.ts';
import { Barrier, MAX_PARTIES } from '../../src/lock/barrier.ts';
import { WaitGroup } from '../../src/lock/waitgroup.ts';
import { runWorkers, sleep } from '../support/workers.ts';

function region(): SharedRegion {
  return SharedRegion.create({ bytes: 1 << 14, waiters: 256 });
}

describe('Barrier in one thread', () => {
  it('a one-party barrier always releases its caller as leader', () => {
    const b = new Barrier(1, { region: region() });
    for (let i = 0; i < 5; i++) expect(b.wait().leader).toBe(true);
    expect(b.generation).toBe(5);
    expect(b.tryWait()).toEqual({ leader: true });
  });

  it('timeouts withdraw the arrival; tryWait arrives only to complete a generation', async () => {
    const r = region();
    const b = new Barrier(2, { region: r });
    expect(b.tryWait()).toBeNull();
    expect(b.arrived).toBe(0);
    expect(b.waitFor(10)).toBeNull();
    expect(b.arrived).toBe(0);
    await expect(b.waitAsync({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const p = b.waitAsync({ signal: ac.signal });
    await sleep(2);
    expect(b.arrived).toBe(1);
    ac.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    expect(b.arrived).toBe(0);
    expect(b.generation).toBe(0);
    // An async waiter, then a synchronous arrival completes the generation.
    const waiter = b.waitAsync();
    await sleep(2);
    expect(b.tryWait()).toEqual({ leader: true });
    expect(await waiter).toEqual({ leader: false });
    expect(b.generation).toBe(1);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('bad input is refused', () => {
    const r = region();
    for (const bad of [0, -1, 1.5, Number.NaN, MAX_PARTIES + 1, '2' as unknown as number]) {
      expect(() => new Barrier(bad, { region: r })).toThrow(RangeError);
    }
    expect(() => new Barrier(2, { region: r, spin: -1 })).toThrow(RangeError);
    const b = new Barrier(3, { region: r });
    expect(() => b.waitFor(Number.NaN)).toThrow(RangeError);
    expect(b.arrived).toBe(0);
    expect(Barrier.from(b.handle).parties).toBe(3); // parties live in shared memory
    expect(() => Barrier.from(new WaitGroup({ region: r }).handle)).toThrow(TypeError);
  });
});

describe('Barrier across workers', () => {
  const cases: [string, number, number, 'sync' | 'async' | 'timed', number | undefined][] = [
    ['8 workers (more than cores), parking', 8, 400, 'sync', undefined],
    ['2 workers, spinning', 2, 2000, 'sync', 1000],
    ['6 workers, async waits', 6, 200, 'async', undefined],
    ['6 workers, timed waits that time out and re-arrive', 6, 200, 'timed', 0],
  ];
  for (const [name, parties, gens, how, spin] of cases) {
    it(`${gens} × 2 generations, ${name}: every write seen, one leader per generation`, async () => {
      const r = region();
      const b = new Barrier(parties, { region: r });
      const slots = r.alloc('Raw', 4 * parties, 128);
      const leaders = r.alloc('Raw', 4, 128);
      const res = await runWorkers<{ mismatches: number }>('family-barrier.ts', parties, (worker) => ({
        mode: 'gens', handle: b.handle, worker, parties, gens, slots, leaders, how, spin,
      }), 90_000);
      expect(res.reduce((a, x) => a + x.mismatches, 0)).toBe(0);
      expect(r.i32[leaders >> 2]).toBe(2 * gens);
      expect(b.arrived).toBe(0);
      expect(Atomics.load(r.i32, b.offset >> 2) & 1).toBe(0); // PARKED clear
      expect(r.freeWaiterCount()).toBe(r.waiterCount);
    });
  }
});
