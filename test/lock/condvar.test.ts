/**
 * Condvar: timed waits time out with the mutex held again; bad input changes nothing; notifyAll
 * wakes every waiter (requeued onto the mutex, whether it is held or free); notifyOne wakes one;
 * a bounded-buffer producer/consumer over 6 workers delivers every item exactly once with
 * notifyOne, notifyAll, one shared condvar, timed waits, and an async consumer on the main thread.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { nowMs } from '../../src/platform/clock.ts';
import { TimeoutError } from '../../src/errors.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import { Condvar } from '../../src/lock/condvar.ts';
import { runWorkers, sleep } from '../support/workers.ts';

function setup(): { r: SharedRegion; m: Mutex; a: Condvar; b: Condvar } {
  const r = SharedRegion.create({ bytes: 1 << 16, waiters: 256 });
  return { r, m: new Mutex({ region: r }), a: new Condvar({ region: r }), b: new Condvar({ region: r }) };
}

function clean(r: SharedRegion, m: Mutex, ...cvs: Condvar[]): void {
  expect(Atomics.load(r.i32, m.offset >> 2)).toBe(0); // mutex free, no stuck PARKED bit
  for (const cv of cvs) {
    expect(cv.waiters).toBe(0);
    expect(Atomics.load(r.i32, (cv.offset >> 2) + 1)).toBe(0); // MUTEX word cleared
  }
  expect(r.freeWaiterCount()).toBe(r.waiterCount);
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = nowMs() + ms;
  while (!cond()) {
    if (nowMs() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

describe('Condvar in one thread', () => {
  it('waitFor times out and returns with the mutex held again', () => {
    const { r, m, a } = setup();
    m.lock();
    const t0 = nowMs();
    expect(a.waitFor(m, 20)).toBe(false);
    expect(nowMs() - t0).toBeGreaterThanOrEqual(19);
    expect(m.owner).toBe(m.region.threadId);
    expect(a.waitFor(m, 0)).toBe(false);
    expect(m.owner).toBe(m.region.threadId);
    m.unlock();
    clean(r, m, a);
  });

  it('notify with nobody waiting does nothing', () => {
    const { r, m, a } = setup();
    expect(a.notifyOne()).toBe(false);
    expect(a.notifyAll()).toBe(0);
    expect(Atomics.load(r.i32, a.offset >> 2)).toBe(0); // SEQ untouched: the fast path is one load
    clean(r, m, a);
  });

  it('bad input throws and leaves the mutex and condvar as they were', () => {
    const { r, m, a } = setup();
    expect(() => a.wait(m)).toThrow(/must be locked by this thread/);
    expect(() => a.waitFor(m, Number.NaN)).toThrow(RangeError);
    expect(() => a.wait({} as Mutex)).toThrow(TypeError);
    const other = new Mutex({ region: SharedRegion.create({ bytes: 4096 }) });
    other.lock();
    expect(() => a.wait(other)).toThrow(/different SharedRegion/);
    other.unlock();
    expect(() => Condvar.from(m.handle)).toThrow(TypeError);
    expect(() => new Condvar({ region: 5 as never })).toThrow(TypeError);
    expect(Condvar.from(a.handle).offset).toBe(a.offset);
    clean(r, m, a);
  });

  it('waitAsync: timeout and abort reject with the mutex held again; a second mutex is refused', async () => {
    const { r, m, a } = setup();
    await m.lockAsync();
    await expect(a.waitAsync(m, { timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    expect(m.owner).toBe(m.region.threadId);
    const ac = new AbortController();
    const p = a.waitAsync(m, { signal: ac.signal });
    await sleep(2);
    ac.abort(new Error('enough'));
    await expect(p).rejects.toThrow('enough');
    expect(m.owner).toBe(m.region.threadId);
    await expect(a.waitAsync(m, { signal: ac.signal })).rejects.toThrow('enough'); // already aborted: never released
    expect(m.owner).toBe(m.region.threadId);
    // One waiter with m; a waiter with another mutex is refused (holding its mutex still).
    const pending = a.waitAsync(m);
    const m2 = new Mutex({ region: r });
    m2.lock();
    await expect(a.waitAsync(m2)).rejects.toThrow(/different mutex/);
    expect(m2.owner).toBe(m2.region.threadId);
    m2.unlock();
    await m.lockAsync(); // m was released by the pending waiter
    expect(a.notifyOne()).toBe(true); // mutex held: requeued onto it
    m.unlock(); // hands m to the async waiter
    await pending;
    expect(m.owner).toBe(m.region.threadId);
    m.unlock();
    clean(r, m, a);
  });
});

describe('Condvar across workers', () => {
  for (const held of [true, false]) {
    it(`notifyAll wakes every waiter (mutex ${held ? 'held: requeue all' : 'free: wake one, requeue the rest'})`, async () => {
      const { r, m, a } = setup();
      const flag = r.alloc('Raw', 4, 128);
      const K = 5;
      const done = runWorkers('family-condvar.ts', K, () => ({ mode: 'wait-flag', mutex: m.handle, notEmpty: a.handle, flag }), 30_000);
      await until(() => r.lot.parkedCount(a.offset) === K, 'all waiters parked');
      m.lock();
      r.i32[flag >> 2] = 1;
      let n: number;
      if (held) {
        n = a.notifyAll();
        m.unlock();
      } else {
        m.unlock();
        n = a.notifyAll();
      }
      expect(n).toBe(K);
      await done; // a waiter left behind would hang here until runWorkers' timeout
      clean(r, m, a);
    });
  }

  it('notifyOne wakes exactly one waiter', async () => {
    const { r, m, a } = setup();
    const flag = r.alloc('Raw', 4, 128);
    const K = 3;
    let exited = 0;
    const done = runWorkers('family-condvar.ts', K, () => ({ mode: 'wait-flag', mutex: m.handle, notEmpty: a.handle, flag }), 30_000)
      .then((x) => { exited = K; return x; });
    await until(() => r.lot.parkedCount(a.offset) === K, 'all waiters parked');
    m.lock();
    r.i32[flag >> 2] = 1;
    expect(a.notifyOne()).toBe(true);
    m.unlock();
    await until(() => a.waiters === K - 1, 'one waiter to leave');
    await sleep(50);
    expect(r.lot.parkedCount(a.offset)).toBe(K - 1); // the others still sleep on the condvar
    expect(exited).toBe(0);
    expect(a.notifyAll()).toBe(K - 1);
    await done;
    clean(r, m, a);
  });

  const modes: ['one' | 'all' | 'shared', boolean][] = [['one', false], ['all', false], ['shared', false], ['all', true]];
  for (const [notify, timed] of modes) {
    it(`bounded buffer, 3 producers / 3 consumers: every item delivered once (notify ${notify}${timed ? ', timed waits' : ''})`, async () => {
      const { r, m, a, b } = setup();
      const cap = 4;
      const per = 1500;
      const buf = r.alloc('Raw', 4 * (3 + cap), 128);
      const seen = r.alloc('Raw', 4 * 3 * per, 128);
      await runWorkers('family-condvar.ts', 6, (i) => ({
        mode: i < 3 ? 'produce' : 'consume', mutex: m.handle, notEmpty: a.handle, notFull: b.handle,
        buf, cap, seen, first: (i % 3) * per, count: per, notify, timed,
      }), 90_000);
      const s = new Int32Array(r.buffer, seen, 3 * per);
      expect(s.every((x) => x === 1)).toBe(true);
      expect(r.i32[(buf >> 2) + 2]).toBe(0); // buffer empty
      clean(r, m, a, b);
    });
  }

  it('an async consumer on the main thread (lockAsync + waitAsync) shares the buffer with workers', async () => {
    const { r, m, a, b } = setup();
    const cap = 3;
    const per = 600;
    const buf = r.alloc('Raw', 4 * (3 + cap), 128);
    const seen = r.alloc('Raw', 4 * 2 * per, 128);
    // 2 producers, 1 worker consumer taking half, the main thread taking the other half.
    const workers = runWorkers('family-condvar.ts', 3, (i) => ({
      mode: i < 2 ? 'produce' : 'consume', mutex: m.handle, notEmpty: a.handle, notFull: b.handle,
      buf, cap, seen, first: i * per, count: per, notify: 'all', timed: false,
    }), 90_000);
    const i32 = r.i32;
    const B = buf >> 2;
    for (let k = 0; k < per; k++) {
      await m.lockAsync();
      while (i32[B + 2] === 0) await a.waitAsync(m);
      const item = i32[B + 3 + i32[B]];
      i32[B] = (i32[B] + 1) % cap;
      i32[B + 2]--;
      b.notifyAll();
      m.unlock();
      Atomics.add(i32, (seen >> 2) + item, 1);
    }
    await workers;
    expect(new Int32Array(r.buffer, seen, 2 * per).every((x) => x === 1)).toBe(true);
    clean(r, m, a, b);
  });
});

describe('Condvar.waitAsync: hand-off after requeue', () => {
  it('an async waiter requeued onto the mutex is woken to re-lock when not overdue, and handed the mutex when overdue', async () => {
    const { r, m, a } = setup();
    for (const overdue of [false, true]) {
      await m.lockAsync();
      const woke = a.waitAsync(m);
      const end = nowMs() + 5_000;
      while (r.lot.parkedCount(a.offset) !== 1) {
        if (nowMs() > end) throw new Error('the async waiter did not park');
        await sleep(1);
      }
      m.lock();
      a.notifyAll(); // requeued onto the (held) mutex
      // Force the unlock's fairness view: the async waiter gets the mutex by hand-off only when overdue.
      const lot = r.lot;
      const orig = lot.unparkOne.bind(lot);
      const tokens: number[] = [];
      lot.unparkOne = (key, cb) => orig(key, cb === undefined ? undefined : (res) => {
        const t = cb({ ...res, beFair: false, waiterOverdue: overdue });
        tokens.push(t);
        return t;
      });
      try {
        m.unlock();
      } finally {
        lot.unparkOne = orig;
      }
      expect(tokens).toEqual([overdue ? 1 : 0]); // TOKEN_HANDOFF, or TOKEN_NORMAL (nobody else waits: no WOKEN)
      if (overdue) expect(m.tryLock()).toBe(false); // already owned by the woken async waiter (this thread)
      await woke;
      expect(m.owner).toBeGreaterThanOrEqual(0);
      m.unlock();
    }
    clean(r, m, a);
  });
});
