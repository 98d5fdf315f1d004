import { describe, expect, it } from 'vitest';
import { Mutex, SharedRegion, TimeoutError } from '../../src/index.ts';
import { PARKED } from '../../src/lock/mutex-word.ts';
import { tuned } from '../../src/lock/tuning.ts';
import { runWorkers, startWorker, sleep } from '../support/workers.ts';

const region = (): SharedRegion => SharedRegion.create({ bytes: 1024, waiters: 64 });
const word = (m: Mutex): number => Atomics.load(m.region.i32, m.offset >> 2);

describe('Mutex: single thread', () => {
  it('lock, unlock, tryLock, owner and isLocked', () => {
    const m = new Mutex({ region: region() });
    expect(m.isLocked).toBe(false);
    expect(m.owner).toBe(-1);
    m.lock();
    expect(m.isLocked).toBe(true);
    expect(m.owner).toBe(m.region.threadId); // main thread's threadId
    expect(m.tryLock()).toBe(false);
    m.unlock();
    expect(m.tryLock()).toBe(true);
    m.unlock();
    expect(word(m)).toBe(0);
  });

  it('unlock of an unlocked mutex throws and changes nothing', () => {
    const m = new Mutex({ region: region() });
    expect(() => m.unlock()).toThrow(/not locked/);
    expect(() => m.unlockFair()).toThrow(/not locked/);
    expect(word(m)).toBe(0);
    m.lock();
    m.unlock();
  });

  it('locking twice from one thread is reported as a deadlock, not a hang', () => {
    const m = new Mutex({ region: region() });
    m.lock();
    expect(() => m.lock()).toThrow(/deadlock/);
    expect(m.owner).toBe(m.region.threadId);
    // The failed attempt set PARKED but left ownership alone; unlock still works and clears it.
    m.unlock();
    expect(m.isLocked).toBe(false);
    m.lock();
    m.unlock();
    expect(word(m) & ~PARKED).toBe(0);
  });

  it('tryLockFor on a free lock succeeds at once; negative means no wait; NaN is an error', () => {
    const m = new Mutex({ region: region() });
    expect(m.tryLockFor(10)).toBe(true);
    expect(() => m.tryLockFor(Number.NaN)).toThrow(RangeError);
    m.unlock();
    expect(m.tryLockFor(-5)).toBe(true);
    m.unlock();
  });

  it('guards: using, release once, acquireAsync with await using', async () => {
    const m = new Mutex({ region: region() });
    {
      using g = m.acquire();
      expect(m.isLocked).toBe(true);
      g.release();
      expect(m.isLocked).toBe(false);
      // the `using` disposal at block end must not unlock a second time (it would throw)
    }
    {
      using _g = m.acquire();
      expect(m.isLocked).toBe(true);
    }
    expect(m.isLocked).toBe(false);
    {
      await using _g2 = await m.acquireAsync();
      expect(m.isLocked).toBe(true);
    }
    expect(m.isLocked).toBe(false);
  });

  it('withLock and withLockAsync unlock on return and on throw', async () => {
    const m = new Mutex({ region: region() });
    expect(m.withLock(() => 5)).toBe(5);
    expect(() => m.withLock(() => { throw new Error('x'); })).toThrow('x');
    expect(m.isLocked).toBe(false);
    expect(await m.withLockAsync(async () => { await sleep(1); return 6; })).toBe(6);
    await expect(m.withLockAsync(() => Promise.reject(new Error('y')))).rejects.toThrow('y');
    expect(m.isLocked).toBe(false);
  });

  it('validates options', () => {
    const r = region();
    expect(() => new Mutex({ region: r, spin: -1 })).toThrow(/`spin`/);
    expect(() => new Mutex({ region: r, spin: 'fast' as never })).toThrow(/`spin`/);
    expect(() => new Mutex({ region: r, fairness: 'sometimes' as never })).toThrow(/`fairness`/);
    expect(() => new Mutex({ region: r, fairness: { timeoutMs: -1 } })).toThrow(/`fairness`/);
    expect(() => new Mutex({ region: r, fairness: { timeoutMs: Infinity } })).toThrow(/`fairness`/);
    expect(() => new Mutex({ region: {} as never })).toThrow(/SharedRegion/);
    expect(() => new Mutex(null as never)).toThrow(TypeError);
    for (const o of [{ spin: 0 }, { spin: 50 }, { fairness: 'fifo' as const }, { fairness: 'none' as const }, { fairness: { timeoutMs: 0.5 } }]) {
      const m = new Mutex({ region: r, ...o });
      m.lock();
      m.unlock();
    }
  });

  it('options travel with the handle and can be overridden', () => {
    const r = region();
    const m = new Mutex(tuned({ region: r, spin: 0, fairness: 'fifo', wakes: 'every-unlock' }));
    expect(m.handle.options).toEqual({ spin: 0, fairness: 'fifo', wakes: 'every-unlock' });
    expect(Mutex.from(m.handle).handle.options).toEqual({ spin: 0, fairness: 'fifo', wakes: 'every-unlock' });
    expect(Mutex.from(m.handle, { fairness: 'none' }).handle.options).toEqual({ spin: 0, fairness: 'none', wakes: 'every-unlock' });
    expect(new Mutex({ region: r }).handle.options).toEqual({ spin: 'adaptive', fairness: 'dynamic', wakes: 'throttled' });
    expect(() => new Mutex(tuned({ region: r, wakes: 'sometimes' as never }))).toThrow(/`wakes` must be 'throttled' or 'every-unlock'/);
    expect(() => new Mutex({ region: r, spin: 'fast' as never })).toThrow(/`spin` must be 'adaptive', 'ema' or an integer/);
  });

  it('stats count acquisitions when on and are null when off', () => {
    const r = region();
    const off = new Mutex({ region: r });
    expect(off.stats).toBeNull();
    const m = new Mutex({ region: r, stats: true });
    m.lock();
    m.unlock();
    expect(m.tryLock()).toBe(true);
    m.unlock();
    expect(m.tryLockFor(1)).toBe(true);
    m.unlock();
    expect(m.stats).toMatchObject({ acquisitions: 3, contendedAcquisitions: 0, parks: 0 });
  });
});

describe('Mutex: async waiters on the main thread', () => {
  it('lockAsync waits for an async holder and gets the lock by hand-off', async () => {
    const m = new Mutex({ region: region(), stats: true });
    await m.lockAsync();
    const order: string[] = [];
    const waiter = m.lockAsync().then(() => { order.push('waiter'); m.unlock(); });
    await sleep(5);
    expect(m.stats?.parks).toBe(1);
    order.push('holder');
    m.unlock();
    await waiter;
    expect(order).toEqual(['holder', 'waiter']);
    expect(m.stats?.handoffsReceived).toBe(1);
    expect(word(m)).toBe(0);
  });

  it('lockAsync rejects with TimeoutError after timeoutMs and leaves no PARKED bit or record', async () => {
    const r = region();
    const m = new Mutex({ region: r });
    await m.lockAsync();
    const t0 = performance.now();
    await expect(m.lockAsync({ timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(word(m) & PARKED).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
    m.unlock();
    expect(m.tryLock()).toBe(true);
    m.unlock();
  });

  it('lockAsync rejects with the signal reason (before and while waiting)', async () => {
    const r = region();
    const m = new Mutex({ region: r });
    await m.lockAsync();
    await expect(m.lockAsync({ signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow('early');
    const ac = new AbortController();
    const p = m.lockAsync({ signal: ac.signal });
    const q = m.lockAsync(); // a second waiter must keep PARKED set after the first leaves
    await sleep(2);
    ac.abort(new Error('late'));
    await expect(p).rejects.toThrow('late');
    expect(word(m) & PARKED).toBe(PARKED);
    m.unlock();
    await q;
    expect(m.owner).toBe(m.region.threadId);
    m.unlock();
    expect(word(m)).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
    await expect(m.lockAsync({ signal: {} as never })).rejects.toThrow(/AbortSignal/);
    await expect(m.lockAsync({ timeoutMs: Number.NaN })).rejects.toThrow(RangeError);
    expect(word(m)).toBe(0); // bad options were rejected before touching the lock
  });

  it('an abort racing a hand-off passes the lock on instead of leaking it', async () => {
    const r = region();
    const m = new Mutex({ region: r });
    await m.lockAsync();
    const ac = new AbortController();
    const p = m.lockAsync({ signal: ac.signal });
    const q = m.lockAsync();
    await sleep(2);
    m.unlock(); // hands off to p …
    ac.abort(new Error('too late')); // … whose promise has not run yet
    await expect(p).rejects.toThrow('too late');
    await q; // p passed the lock on to q
    expect(m.owner).toBe(m.region.threadId);
    m.unlock();
    expect(word(m)).toBe(0);
  });
});

describe('Mutex: across threads', () => {
  it('unlock by a non-owner throws and leaves the lock held', async () => {
    const r = region();
    const m = new Mutex({ region: r });
    m.lock();
    const [res] = await runWorkers<{ error: string | null }>('mutex-worker.ts', 1, () => ({ mode: 'unlock-foreign', handle: m.handle }), 20_000);
    expect(res.error).toContain(`held by thread ${r.threadId}, not by this thread`);
    expect(m.owner).toBe(m.region.threadId);
    m.unlock();
  });

  it('tryLockFor gives up after about the time asked and the lock works for everyone after', async () => {
    const r = region();
    const m = new Mutex({ region: r });
    m.lock();
    const results = await runWorkers<{ ok: boolean; elapsed: number }>('mutex-worker.ts', 3, () => ({ mode: 'trylockfor', handle: m.handle, ms: 50 }), 20_000);
    for (const x of results) {
      expect(x.ok).toBe(false);
      expect(x.elapsed).toBeGreaterThanOrEqual(49);
      expect(x.elapsed).toBeLessThan(5000);
    }
    expect(word(m) & PARKED).toBe(0); // the last to leave cleared PARKED
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
    m.unlock();
    const again = await runWorkers<{ ok: boolean }>('mutex-worker.ts', 2, () => ({ mode: 'trylockfor', handle: m.handle, ms: 5000 }), 20_000);
    expect(again.every((x) => x.ok)).toBe(true);
  });

  it('a sync worker waiting on a main-thread holder gets the lock when it is released', async () => {
    const r = region();
    const m = new Mutex({ region: r });
    m.lock();
    const w = startWorker('mutex-worker.ts', { mode: 'trylockfor', handle: m.handle, ms: 10_000 });
    const deadline = performance.now() + 20_000;
    while ((word(m) & PARKED) === 0 && performance.now() < deadline) await sleep(5);
    expect(word(m) & PARKED).toBe(PARKED); // the worker parked behind us
    m.unlock();
    expect(await w.firstMessage).toMatchObject({ ok: true });
    await w.exited;
    expect(word(m)).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });
});
