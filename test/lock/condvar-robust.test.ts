/**
 * Condvar with a mutex whose holder dies: waiters already requeued onto it are released by the
 * death (one gets OwnerDiedError out of wait(), with the mutex held); a notify after the holder
 * died wakes the waiters instead of requeueing them onto a mutex nobody will unlock; waiting with
 * an inconsistent mutex is refused. Each would hang (and time out) if the property broke.
 */
import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { SharedRegion } from '../../src/parking/region.ts';
import { OwnerDiedError } from '../../src/errors.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import { Condvar } from '../../src/lock/condvar.ts';
import { sleep, startWorker } from '../support/workers.ts';

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function setup(): { r: SharedRegion; m: Mutex; cv: Condvar; flag: number } {
  const r = SharedRegion.create({ bytes: 4096, waiters: 64, threads: 32 });
  return { r, m: new Mutex({ region: r }), cv: new Condvar({ region: r }), flag: r.alloc('Raw', 4, 128) };
}

function waiters(r: SharedRegion, m: Mutex, cv: Condvar, flag: number, k: number): { done: Promise<unknown[]>; started: Promise<unknown[]> } {
  const ws = Array.from({ length: k }, () => startWorker('family-condvar.ts', { mode: 'wait-flag-robust', mutex: m.handle, notEmpty: cv.handle, flag }));
  for (const w of ws) r.watch(w.worker);
  const done = Promise.all(ws.map((w) => new Promise((resolve) => w.worker.on('message', (x) => { if (x !== 'waiting') resolve(x); }))));
  return { done, started: Promise.all(ws.map((w) => w.firstMessage)) };
}

async function holder(r: SharedRegion, m: Mutex, cv: Condvar): Promise<Worker> {
  const h = startWorker('family-condvar.ts', { mode: 'hold-forever', mutex: m.handle, notEmpty: cv.handle });
  r.watch(h.worker);
  expect(await h.firstMessage).toBe('held');
  return h.worker;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => { throw new Error(`${what}: still waiting after ${ms} ms (stranded waiters?)`); })]);
}

describe('Condvar: the mutex holder dies', () => {
  it('waiters requeued onto the mutex are released when its holder dies; one gets OwnerDiedError', async () => {
    const { r, m, cv, flag } = setup();
    const K = 3;
    const w = waiters(r, m, cv, flag, K);
    await w.started;
    await until(() => r.lot.parkedCount(cv.offset) === K, 'the waiters to park');
    const h = await holder(r, m, cv);
    Atomics.store(r.i32, flag >> 2, 1);
    expect(cv.notifyAll()).toBe(K); // mutex held by a live thread: all requeued onto it
    expect(r.lot.parkedCount(m.offset)).toBe(K);
    await h.terminate();
    const res = (await withTimeout(w.done, 20_000, 'waiters')) as { error?: string }[];
    expect(res.filter((x) => x.error === 'OwnerDiedError').length).toBe(1);
    expect(res.filter((x) => x.error === undefined).length).toBe(K - 1);
    expect(Atomics.load(r.i32, m.offset >> 2)).toBe(0);
  });

  it('a notify after the holder died wakes the waiters instead of requeueing them onto the dead mutex', async () => {
    const { r, m, cv, flag } = setup();
    const K = 3;
    const w = waiters(r, m, cv, flag, K);
    await w.started;
    await until(() => r.lot.parkedCount(cv.offset) === K, 'the waiters to park');
    await (await holder(r, m, cv)).terminate();
    Atomics.store(r.i32, flag >> 2, 1);
    expect(cv.notifyAll()).toBe(K);
    const res = (await withTimeout(w.done, 20_000, 'waiters')) as { error?: string }[];
    expect(res.filter((x) => x.error === 'OwnerDiedError').length).toBe(1);
    expect(Atomics.load(r.i32, m.offset >> 2)).toBe(0);
  });

  it('notifyOne after the holder died wakes one waiter, which takes the mutex over', async () => {
    const { r, m, cv, flag } = setup();
    const w = waiters(r, m, cv, flag, 1);
    await w.started;
    await until(() => r.lot.parkedCount(cv.offset) === 1, 'the waiter to park');
    await (await holder(r, m, cv)).terminate();
    Atomics.store(r.i32, flag >> 2, 1);
    expect(cv.notifyOne()).toBe(true);
    expect(await withTimeout(w.done, 20_000, 'waiter')).toEqual([{ error: 'OwnerDiedError' }]);
  });

  it('waiting with an inconsistent mutex is refused until markConsistent()', async () => {
    const { r, m, cv } = setup();
    await (await holder(r, m, cv)).terminate();
    expect(() => m.lock()).toThrow(OwnerDiedError);
    expect(() => cv.waitFor(m, 1)).toThrow(/markConsistent/);
    expect(m.isInconsistent).toBe(true); // unchanged, still held by us
    m.markConsistent();
    expect(cv.waitFor(m, 1)).toBe(false);
    m.unlock();
    expect(Atomics.load(r.i32, m.offset >> 2)).toBe(0);
  });
});
