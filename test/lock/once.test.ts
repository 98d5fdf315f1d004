/**
 * Once: racing callers across workers run the initializer exactly once and all see its result;
 * a throwing initializer leaves the Once un-run and the next caller retries; timed/try/async
 * forms while another thread runs it; recursion is refused instead of deadlocking.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { nowMs } from '../../src/platform/clock.ts';
import { TimeoutError } from '../../src/errors.ts';
import { Once } from '../../src/lock/once.ts';
import { runWorkers, sleep } from '../support/workers.ts';

function setup(): { r: SharedRegion; once: Once; w: () => number } {
  const r = SharedRegion.create({ bytes: 1 << 12, waiters: 128 });
  return { r, once: new Once({ region: r }), w: () => r.alloc('Raw', 4, 128) };
}

describe('Once in one thread', () => {
  it('runs once; a throwing initializer leaves it un-run; recursion throws', async () => {
    const { r, once } = setup();
    let runs = 0;
    expect(() => once.call(() => { throw new Error('first'); })).toThrow('first');
    expect(once.isCompleted).toBe(false);
    expect(() => once.call(() => once.call(() => undefined))).toThrow(/already running/);
    expect(() => once.callFor(() => once.callFor(() => undefined, 5), 5)).toThrow(/already running/);
    let inner: boolean | undefined;
    expect(() => once.call(() => { inner = once.tryCall(() => undefined); throw new Error('x'); })).toThrow('x');
    expect(inner).toBe(false); // tryCall never waits, so it reports "running" instead of throwing
    expect(once.isCompleted).toBe(false);
    await expect(once.callAsync(async () => { await sleep(1); throw new Error('async fail'); })).rejects.toThrow('async fail');
    once.call(() => runs++);
    once.call(() => runs++);
    expect(once.tryCall(() => runs++)).toBe(true);
    expect(once.callFor(() => runs++, 5)).toBe(true);
    await once.callAsync(() => runs++);
    expect(runs).toBe(1);
    expect(once.isCompleted).toBe(true);
    expect(Atomics.load(r.i32, once.offset >> 2)).toBe(4); // DONE, nothing else
    expect(() => new Once({ region: r }).call(5 as never)).toThrow(TypeError);
    expect(() => new Once({ region: r }).callFor(() => 0, Number.NaN)).toThrow(RangeError);
    expect(Once.from(once.handle).isCompleted).toBe(true);
  });

  it('callAsync runs an async initializer once; concurrent callAsync calls wait for it', async () => {
    const { once } = setup();
    let runs = 0;
    const slow = async (): Promise<void> => { await sleep(10); runs++; };
    await Promise.all([once.callAsync(slow), once.callAsync(slow), once.callAsync(slow)]);
    expect(runs).toBe(1);
    expect(once.isCompleted).toBe(true);
  });
});

describe('Once across workers', () => {
  it('8 racing workers: the initializer runs exactly once and every caller sees its result', async () => {
    const { r, once, w } = setup();
    const [runs, attempts, value] = [w(), w(), w()];
    const res = await runWorkers<{ value: number }>('family-once.ts', 8, () => ({ mode: 'race', handle: once.handle, runs, attempts, value, startAt: nowMs() + 300 }), 30_000);
    expect(r.i32[runs >> 2]).toBe(1);
    expect(r.i32[attempts >> 2]).toBe(1);
    expect(res.every((x) => x.value === 42)).toBe(true);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a throwing initializer: each failure lets one next caller retry, then it runs exactly once', async () => {
    const { r, once, w } = setup();
    const [runs, attempts, value] = [w(), w(), w()];
    const failures = 3;
    const res = await runWorkers<{ value: number; errors: number }>('family-once.ts', 8, () => ({
      mode: 'throwing', handle: once.handle, runs, attempts, value, failures, startAt: nowMs() + 300,
    }), 30_000);
    expect(r.i32[runs >> 2]).toBe(1);
    expect(r.i32[attempts >> 2]).toBe(failures + 1); // nobody ran it after it succeeded
    expect(res.reduce((a, x) => a + x.errors, 0)).toBe(failures); // each failure reached exactly its runner
    expect(res.every((x) => x.value === 42)).toBe(true);
  });

  it('try, timed and async callers while another thread runs the initializer', async () => {
    const { r, once, w } = setup();
    const [started, release, value] = [w(), w(), w()];
    const holder = runWorkers('family-once.ts', 1, () => ({ mode: 'hold', handle: once.handle, started, release, value }), 30_000);
    while (Atomics.load(r.i32, started >> 2) === 0) await sleep(1);
    let ran = 0;
    expect(once.tryCall(() => ran++)).toBe(false);
    expect(once.callFor(() => ran++, 10)).toBe(false);
    await expect(once.callAsync(() => ran++, { timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const aborted = once.callAsync(() => ran++, { signal: ac.signal });
    ac.abort(new Error('no'));
    await expect(aborted).rejects.toThrow('no');
    const waiting = once.callAsync(() => ran++);
    await sleep(5);
    Atomics.store(r.i32, release >> 2, 1);
    await waiting;
    await holder;
    expect(ran).toBe(0);
    expect(r.i32[value >> 2]).toBe(7);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });
});
