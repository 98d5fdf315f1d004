/**
 * The Mutex's woken bit (`wakes: 'throttled'`) and async barging, path by path, in one thread:
 * async waiters on the main thread stand in for parked threads, and the lot's unparkOne is
 * wrapped to count unparks and to pin the fairness decision (so no hand-off happens unless the
 * test asks for one). Each test fails if its mechanism is broken:
 * - an unlock that wakes a waiter while others stay parked sets WOKEN, and later unlocks then
 *   release without unparking (remove the WOKEN check in unlock/unlockSlow: unparks go up);
 * - the woken waiter clears WOKEN when it takes the lock, and when it parks again (keep WOKEN on
 *   re-park: the next unlock does not unpark and a waiter is stranded);
 * - a woken waiter aborted before its retry passes the wake on (drop dropWoken: the other waiter
 *   is stranded and the test times out);
 * - `wakes: 'every-unlock'` never sets WOKEN;
 * - an async waiter is barged until its deadline, then handed the lock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Mutex, SharedRegion } from '../../src/index.ts';
import { tuned } from '../../src/lock/tuning.ts';

const LOCKED = 1;
const PARKED = 2;
const WOKEN = 8;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Probe {
  unparks: number;
  tokens: number[];
  restore(): void;
}

/** Counts unparkOne calls on the region's lot and pins the fairness inputs of every callback. */
function probe(r: SharedRegion, overdue: () => boolean, beFair: () => boolean = overdue): Probe {
  const lot = r.lot;
  const orig = lot.unparkOne.bind(lot);
  const p: Probe = {
    unparks: 0,
    tokens: [],
    restore: () => {
      lot.unparkOne = orig;
    },
  };
  lot.unparkOne = (key, cb) => {
    p.unparks++;
    return orig(key, cb === undefined ? undefined : (res) => {
      const t = cb({ ...res, beFair: beFair(), waiterOverdue: overdue() });
      p.tokens.push(t);
      return t;
    });
  };
  return p;
}

async function parkedCount(r: SharedRegion, m: Mutex, n: number): Promise<void> {
  const end = performance.now() + 5000;
  while (r.lot.parkedCount(m.offset) !== n) {
    if (performance.now() > end) throw new Error(`expected ${n} parked waiters, have ${r.lot.parkedCount(m.offset)}`);
    await sleep(1);
  }
}

const word = (r: SharedRegion, m: Mutex): number => Atomics.load(r.i32, m.offset >> 2);

let active: Probe | undefined;
afterEach(() => {
  active?.restore();
  active = undefined;
});

describe('Mutex woken bit (wakes: throttled)', () => {
  it('one woken waiter at a time: later unlocks release without unparking; the woken one clears WOKEN when it takes the lock', async () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 16 });
    const m = new Mutex({ region: r });
    m.lock();
    const order: string[] = [];
    const a = m.lockAsync().then(() => { order.push('a'); m.unlock(); });
    const b = m.lockAsync().then(() => { order.push('b'); m.unlock(); });
    await parkedCount(r, m, 2);
    active = probe(r, () => false);
    m.unlock(); // wakes a (TOKEN_WOKEN), b stays parked
    expect(active.unparks).toBe(1);
    expect(active.tokens).toEqual([2]);
    expect(word(r, m)).toBe(PARKED | WOKEN);
    // The woken waiter has not run yet (it needs the event loop): barging re-locks do not unpark.
    for (let i = 0; i < 5; i++) {
      m.lock(); // inline barge
      expect(word(r, m) & (LOCKED | PARKED | WOKEN)).toBe(LOCKED | PARKED | WOKEN);
      m.unlock(); // inline release, keeping the hints
    }
    expect(active.unparks).toBe(1);
    await a; // a took the free lock (clearing WOKEN), then its unlock woke b
    await b;
    expect(order).toEqual(['a', 'b']);
    expect(word(r, m)).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a woken waiter that finds the lock held parks again and clears WOKEN, so the next unlock wakes again', async () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 16 });
    const m = new Mutex({ region: r });
    m.lock();
    const got: string[] = [];
    const a = m.lockAsync().then(() => { got.push('a'); m.unlock(); });
    const b = m.lockAsync().then(() => { got.push('b'); m.unlock(); });
    await parkedCount(r, m, 2);
    active = probe(r, () => false);
    m.unlock(); // wakes a with WOKEN
    m.lock(); // and takes the lock back before a runs
    await parkedCount(r, m, 2); // a retried, found it held, parked again…
    expect(word(r, m) & WOKEN).toBe(0); // …clearing WOKEN
    expect(active.unparks).toBe(1);
    m.unlock(); // so this unlock wakes the next waiter
    expect(active.unparks).toBe(2);
    await Promise.all([a, b]);
    expect(got.sort()).toEqual(['a', 'b']);
    expect(word(r, m)).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a woken async waiter aborted before its retry passes the wake on to the next waiter', async () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 16 });
    const m = new Mutex({ region: r });
    m.lock();
    const ac = new AbortController();
    const a = m.lockAsync({ signal: ac.signal });
    const b = m.lockAsync().then(() => m.unlock());
    await parkedCount(r, m, 2);
    active = probe(r, () => false);
    m.unlock(); // wakes a with WOKEN; the lock is now free with b parked
    ac.abort(new Error('gone')); // before a's retry runs
    await expect(a).rejects.toThrow('gone');
    await b; // a's dropWoken woke b: without it b would sleep forever
    expect(active.unparks).toBe(2); // the unlock and a's dropWoken (b's own unlock finds nobody parked)
    expect(word(r, m)).toBe(0);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it("wakes: 'every-unlock' never sets WOKEN", async () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 16 });
    const m = new Mutex(tuned({ region: r, wakes: 'every-unlock' }));
    m.lock();
    const a = m.lockAsync().then(() => m.unlock());
    const b = m.lockAsync().then(() => m.unlock());
    await parkedCount(r, m, 2);
    active = probe(r, () => false);
    m.unlock();
    expect(active.tokens).toEqual([0]);
    expect(word(r, m)).toBe(PARKED);
    m.lock();
    m.unlock(); // wakes the second waiter too
    expect(active.unparks).toBe(2);
    await Promise.all([a, b]);
    expect(word(r, m)).toBe(0);
  });
});

describe('Mutex async waiters are barged until their deadline', () => {
  it('not overdue: woken to retry (no hand-off); overdue: handed the lock', async () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 16 });
    const m = new Mutex({ region: r });
    let overdue = false;
    // The bucket's rate limit never allows a fair unlock here (beFair false): only the async
    // waiter's own deadline can make the unlock hand off.
    active = probe(r, () => overdue, () => false);
    m.lock();
    const a = m.lockAsync();
    await parkedCount(r, m, 1);
    m.unlock(); // not overdue: TOKEN_NORMAL (nobody else parked, so no WOKEN)
    expect(active.tokens).toEqual([0]);
    m.lock(); // a sync barger takes it before the async waiter's retry
    await parkedCount(r, m, 1); // the async waiter found it held and parked again
    overdue = true;
    m.unlock(); // now it is handed the lock
    expect(active.tokens).toEqual([0, 1]);
    expect(m.tryLock()).toBe(false); // owned by the async waiter (this thread) already
    await a;
    m.unlock();
    expect(word(r, m)).toBe(0);
  });
});
