import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nowUs, SharedRegion, type ParkResult } from '../../src/index.ts';
import { runWorkers, sleep } from '../support/workers.ts';

const yes = (): boolean => true;

/** Parks `n` async waiters on `key` with park tokens 1..n, in order. */
function parkMany(r: SharedRegion, key: number, n: number, firstToken = 1): Promise<ParkResult>[] {
  const out: Promise<ParkResult>[] = [];
  for (let i = 0; i < n; i++) out.push(r.lot.parkAsync(key, yes, { token: firstToken + i }));
  return out;
}

describe('ParkingLot: park', () => {
  it('does not park when validate fails, and returns the record', () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 4 });
    expect(r.lot.park(4, () => false)).toEqual({ result: 'invalid' });
    expect(r.freeWaiterCount()).toBe(4);
  });

  it('times out after about the time asked and calls timedOut under the lock with wasLast', () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 4 });
    const seen: [number, boolean][] = [];
    const t0 = performance.now();
    const res = r.lot.park(12, yes, { timeoutMs: 40, timedOut: (k, last) => seen.push([k, last]) });
    const elapsed = performance.now() - t0;
    expect(res).toEqual({ result: 'timedOut' });
    expect(elapsed).toBeGreaterThanOrEqual(39);
    expect(seen).toEqual([[12, true]]);
    expect(r.freeWaiterCount()).toBe(4);
    expect(r.lot.parkedCount(12)).toBe(0);
  });

  it('runs beforeSleep after queueing', () => {
    const r = SharedRegion.create({ bytes: 64 });
    let queued = -1;
    r.lot.park(16, yes, { timeoutMs: 1, beforeSleep: () => { queued = r.lot.parkedCount(16); } });
    expect(queued).toBe(1);
  });

  it('a throwing validate propagates, frees the record and leaves the bucket usable', () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 2, buckets: 1 });
    expect(() => r.lot.park(4, () => { throw new Error('boom'); })).toThrow('boom');
    expect(r.freeWaiterCount()).toBe(2);
    expect(r.lot.park(4, yes, { timeoutMs: 1 })).toEqual({ result: 'timedOut' });
  });

  it('rejects bad keys and timeouts', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    expect(() => r.lot.park(1.5, yes)).toThrow(/int32/);
    expect(() => r.lot.park(2 ** 31, yes)).toThrow(/int32/);
    expect(() => r.lot.park(4, yes, { timeoutMs: Number.NaN })).toThrow(/timeoutMs/);
    await expect(r.lot.parkAsync(4, yes, { timeoutMs: Number.NaN })).rejects.toThrow(/timeoutMs/);
    expect(() => r.lot.unparkOne(Number.NaN)).toThrow(/int32/);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('waiter-record exhaustion is a RangeError naming `waiters`; records come back', async () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 2 });
    const p = parkMany(r, 8, 2);
    await expect(r.lot.parkAsync(8, yes)).rejects.toThrow(/larger `waiters` option/);
    expect(() => r.lot.park(8, yes)).toThrow(RangeError);
    expect(r.lot.unparkAll(8)).toBe(2);
    await Promise.all(p);
    expect(r.freeWaiterCount()).toBe(2);
    const again = r.lot.parkAsync(8, yes);
    r.lot.unparkOne(8);
    expect((await again).result).toBe('unparked');
  });
});

describe('ParkingLot: unpark variants (async waiters on one thread)', () => {
  it('unparkOne wakes in FIFO order and the callback sees exact haveMore, token and beFair', async () => {
    const r = SharedRegion.create({ bytes: 64, buckets: 1 }); // one bucket: every key collides
    const a = parkMany(r, 100, 2, 10);
    const other = r.lot.parkAsync(200, yes); // same bucket, other key
    const seen: unknown[] = [];
    const cb = (u: { unparkedThreads: number; haveMore: boolean; parkToken: number; beFair: boolean; threadId: number }): number => {
      seen.push({ n: u.unparkedThreads, more: u.haveMore, tok: u.parkToken, fair: u.beFair, tid: u.threadId });
      return 40 + u.parkToken;
    };
    r.lot.unparkOne(100, cb);
    r.lot.unparkOne(100, cb);
    r.lot.unparkOne(100, cb); // nobody left on 100: callback still runs
    expect(seen).toEqual([
      { n: 1, more: true, tok: 10, fair: false, tid: r.threadId },
      { n: 1, more: false, tok: 11, fair: false, tid: r.threadId }, // 200 waits in the same bucket, but haveMore is per key
      { n: 0, more: false, tok: 0, fair: false, tid: -1 },
    ]);
    expect(await a[0]).toEqual({ result: 'unparked', token: 50 });
    expect(await a[1]).toEqual({ result: 'unparked', token: 51 });
    expect(r.lot.parkedCount(200)).toBe(1);
    r.lot.unparkOne(200);
    await other;
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('beFair turns true once the waiter passes its fairness time', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const p = r.lot.parkAsync(4, yes, { fairAtUs: nowUs() - 10 }); // already past its fairness time
    const q = r.lot.parkAsync(4, yes, { fairAtUs: null }); // never asks for fairness
    let fair: boolean[] = [];
    r.lot.unparkOne(4, (u) => { fair.push(u.beFair); return 0; });
    r.lot.unparkOne(4, (u) => { fair.push(u.beFair); return 0; });
    await Promise.all([p, q]);
    expect(fair).toEqual([true, false]);
    fair = [];
    const s = r.lot.parkAsync(4, yes); // default: 1 ms after parking
    r.lot.unparkOne(4, (u) => { fair.push(u.beFair); return 0; });
    await s;
    const t = r.lot.parkAsync(4, yes);
    await sleep(5);
    r.lot.unparkOne(4, (u) => { fair.push(u.beFair); return 0; });
    await t;
    expect(fair).toEqual([false, true]);
  });

  it('beFair is rate-limited per bucket; waiterOverdue reports the deadline alone', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const ps = [0, 1, 2].map(() => r.lot.parkAsync(4, yes, { fairAtUs: nowUs() - 10 }));
    const seen: [boolean, boolean][] = [];
    for (let i = 0; i < 3; i++) r.lot.unparkOne(4, (u) => { seen.push([u.waiterOverdue, u.beFair]); return 0; });
    await Promise.all(ps);
    // All three are overdue; only the first unpark within the 0.5 ms timer is told to be fair
    // (the loop runs in far less than 0.5 ms).
    expect(seen).toEqual([[true, true], [true, false], [true, false]]);
    await sleep(2);
    const q = r.lot.parkAsync(4, yes, { fairAtUs: nowUs() - 10 });
    let fairAgain = false;
    r.lot.unparkOne(4, (u) => { fairAgain = u.beFair; return 0; });
    await q;
    expect(fairAgain).toBe(true); // the timer re-armed and ran out
  });

  it('unparkAll wakes every waiter on the key with the token', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const ps = parkMany(r, 4, 5);
    const keep = r.lot.parkAsync(8, yes);
    expect(r.lot.unparkAll(4, 9)).toBe(5);
    for (const p of ps) expect(await p).toEqual({ result: 'unparked', token: 9 });
    expect(r.lot.parkedCount(8)).toBe(1);
    r.lot.unparkAll(8);
    await keep;
  });

  it('unparkFilter unparks, skips and stops by park token', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const ps = parkMany(r, 4, 6); // tokens 1..6
    const res = r.lot.unparkFilter(4, (t) => (t === 5 ? 'stop' : t % 2 === 0 ? 'unpark' : 'skip'), (u) => {
      expect(u.unparkedThreads).toBe(2);
      expect(u.haveMore).toBe(true);
      return 3;
    });
    expect(res.unparkedThreads).toBe(2);
    expect(await ps[1]).toEqual({ result: 'unparked', token: 3 });
    expect(await ps[3]).toEqual({ result: 'unparked', token: 3 });
    expect(r.lot.parkedCount(4)).toBe(4); // 1, 3, 5 and 6 (6 is after the stop)
    expect(r.lot.unparkAll(4)).toBe(4);
    await Promise.all(ps);
  });

  it('unparkRequeue: every op moves or wakes the right waiters', async () => {
    const r = SharedRegion.create({ bytes: 64, buckets: 64 });
    const A = 1000;
    const B = 2000;
    const ps = parkMany(r, A, 4);
    expect(r.lot.unparkRequeue(A, B, () => 'abort')).toEqual({ unparkedThreads: 0, requeuedThreads: 0, haveMoreThreads: false });
    expect(r.lot.parkedCount(A)).toBe(4);

    const one = r.lot.unparkRequeue(A, B, () => 'requeueOne');
    expect(one).toEqual({ unparkedThreads: 0, requeuedThreads: 1, haveMoreThreads: true });
    const u1 = r.lot.unparkRequeue(A, B, () => 'unparkOne', (op, res) => {
      expect(op).toBe('unparkOne');
      expect(res.unparkedThreads).toBe(1);
      return 5;
    });
    expect(u1).toEqual({ unparkedThreads: 1, requeuedThreads: 0, haveMoreThreads: true });
    expect(await ps[1]).toEqual({ result: 'unparked', token: 5 }); // tokens 1 went to B; 2 was first on A
    const rest = r.lot.unparkRequeue(A, B, () => 'requeueAll');
    expect(rest).toEqual({ unparkedThreads: 0, requeuedThreads: 2, haveMoreThreads: false });
    expect(r.lot.parkedCount(A)).toBe(0);
    expect(r.lot.parkedCount(B)).toBe(3);
    // B's FIFO is 1, 3, 4: unparkOneRequeueRest wakes 1 and moves 3, 4 back to A.
    const mixed = r.lot.unparkRequeue(B, A, () => 'unparkOneRequeueRest', () => 8);
    expect(mixed).toEqual({ unparkedThreads: 1, requeuedThreads: 2, haveMoreThreads: false });
    expect(await ps[0]).toEqual({ result: 'unparked', token: 8 });
    // A requeued async waiter times out / aborts from its new key without corrupting either queue.
    expect(r.lot.unparkOne(A, () => 6).unparkedThreads).toBe(1);
    expect(await ps[2]).toEqual({ result: 'unparked', token: 6 });
    expect(r.lot.unparkAll(A)).toBe(1);
    expect(await ps[3]).toEqual({ result: 'unparked', token: 0 });
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a throwing unpark callback still wakes the dequeued waiter (token 0)', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const p = r.lot.parkAsync(4, yes);
    expect(() => r.lot.unparkOne(4, () => { throw new Error('cb'); })).toThrow('cb');
    expect(await p).toEqual({ result: 'unparked', token: 0 });
    expect(r.lot.parkedCount(4)).toBe(0);
  });
});

describe('ParkingLot: async timeouts and aborts', () => {
  it('parkAsync times out, calls timedOut and frees its record', async () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 2 });
    let last: boolean | undefined;
    const t0 = performance.now();
    const res = await r.lot.parkAsync(4, yes, { timeoutMs: 30, timedOut: (_k, w) => { last = w; } });
    expect(res).toEqual({ result: 'timedOut' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    expect(last).toBe(true);
    expect(r.freeWaiterCount()).toBe(2);
    expect(r.lot.pendingAsyncParks).toBe(0);
  });

  it('parkAsync aborts (before and while parked) and the other waiters stay queued', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const pre = AbortSignal.abort();
    expect(await r.lot.parkAsync(4, yes, { signal: pre })).toEqual({ result: 'aborted' });
    const ac = new AbortController();
    const lasts: boolean[] = [];
    const a = r.lot.parkAsync(4, yes, { signal: ac.signal, timedOut: (_k, w) => lasts.push(w) });
    const b = r.lot.parkAsync(4, yes);
    ac.abort();
    expect(await a).toEqual({ result: 'aborted' });
    expect(lasts).toEqual([false]); // b still waits
    expect(r.lot.parkedCount(4)).toBe(1);
    r.lot.unparkOne(4, () => 2);
    expect(await b).toEqual({ result: 'unparked', token: 2 });
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('an abort that loses the race to an unpark consumes the unpark', async () => {
    const r = SharedRegion.create({ bytes: 64 });
    const ac = new AbortController();
    const p = r.lot.parkAsync(4, yes, { signal: ac.signal });
    r.lot.unparkOne(4, () => 11); // dequeued and granted…
    ac.abort(); // …before the waiter's promise ran: the grant wins
    expect(await p).toEqual({ result: 'unparked', token: 11 });
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a pending parkAsync keeps the event loop alive', async () => {
    const script = fileURLToPath(new URL('../fixtures/lot-keepalive.ts', import.meta.url));
    const run = (mode: string, killAfterMs: number): Promise<{ out: string; killed: boolean }> =>
      new Promise((resolve) => {
        const child = execFile(process.execPath, [script, mode], { timeout: killAfterMs }, (err, stdout) => {
          resolve({ out: stdout, killed: err !== null && (err as { killed?: boolean }).killed === true });
        });
        child.stdin?.end();
      });
    const timed = await run('timeout', 20_000);
    expect(timed.out).toContain('settled:timedOut');
    const forever = await run('forever', 1500);
    expect(forever.out).toContain('parked');
    expect(forever.killed).toBe(true); // still waiting when killed: the loop did not exit under it
  });
});

describe('ParkingLot: across threads', () => {
  it('the timeout-vs-unpark race never loses an unpark (sync parkers)', async () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 16 });
    const stats = r.alloc('Raw', 16);
    const [p, u] = await runWorkers<{ unparked?: number; timedOut?: number; dequeued?: number; tokenSum: number }>(
      'lot-race-worker.ts', 2,
      (i) => ({ role: i === 0 ? 'parker' : 'unparker', region: r.handle, key: 64, stats, minEach: 2000 }),
      60_000,
    );
    expect(p.unparked).toBe(u.dequeued);
    expect(p.tokenSum).toBe(u.tokenSum);
    expect(p.unparked).toBeGreaterThanOrEqual(2000);
    expect(p.timedOut).toBeGreaterThanOrEqual(2000); // both sides of the race happened, often
    expect(r.freeWaiterCount()).toBe(16);
    expect(r.lot.parkedCount(64)).toBe(0);
  });
});

describe('ParkingLot: throwing timedOut callbacks', () => {
  it('sync park rethrows and returns its record', () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 2 });
    expect(() => r.lot.park(4, yes, { timeoutMs: 1, timedOut: () => { throw new Error('t'); } })).toThrow('t');
    expect(r.freeWaiterCount()).toBe(2);
    expect(r.lot.parkedCount(4)).toBe(0);
  });

  it('parkAsync rejects with the error and returns its record', async () => {
    const r = SharedRegion.create({ bytes: 64, waiters: 2 });
    await expect(r.lot.parkAsync(4, yes, { timeoutMs: 1, timedOut: () => { throw new Error('a'); } })).rejects.toThrow('a');
    expect(r.freeWaiterCount()).toBe(2);
    expect(r.lot.pendingAsyncParks).toBe(0);
  });
});
