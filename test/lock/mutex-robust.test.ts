/**
 * Robust owner death (glibc's EOWNERDEAD / ENOTRECOVERABLE for worker threads) and debug deadlock
 * detection. Each test would hang or fail if a dead owner's lock were not recovered.
 */
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DeadlockError, Mutex, NotRecoverableError, OwnerDiedError, SharedRegion } from '../../src/index.ts';
import { PARKED } from '../../src/lock/mutex-word.ts';
import { startWorker, sleep } from '../support/workers.ts';

const word = (m: Mutex): number => Atomics.load(m.region.i32, m.offset >> 2);

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A worker holding `m` forever, watched by the region; resolves once it holds the lock. */
async function deadHolder(r: SharedRegion, m: Mutex): Promise<Worker> {
  const h = startWorker('robust-worker.ts', { mode: 'hold-forever', handle: m.handle });
  r.watch(h.worker);
  expect(await h.firstMessage).toBe('held');
  return h.worker;
}

function setup(): { r: SharedRegion; m: Mutex; counter: number } {
  const r = SharedRegion.create({ bytes: 1024, waiters: 16, threads: 32 });
  return { r, m: new Mutex({ region: r }), counter: r.alloc('Raw', 4) };
}

describe('Mutex: owner death', () => {
  it('a parked waiter gets OwnerDiedError with the lock when the holder is terminated; the lock then works', async () => {
    const { r, m, counter } = setup();
    const holder = await deadHolder(r, m);
    const waiter = startWorker('robust-worker.ts', { mode: 'lock', handle: m.handle, counter, consistent: true });
    await until(() => (word(m) & PARKED) !== 0, 'the waiter to park');
    await holder.terminate();
    expect(await waiter.firstMessage).toEqual({ error: 'OwnerDiedError' });
    await waiter.exited;
    expect(r.i32[counter >> 2]).toBe(1); // repaired under the lock
    expect(word(m)).toBe(0);
    m.lock(); // normal again: no error
    m.unlock();
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a death while the lock is free but has parked waiters wakes one (the dead thread may have been the woken waiter)', async () => {
    // Found by the SPIN model (verify/rwlock-robust.pml -DDIE_WOKEN): an unlock wakes one waiter to
    // retry (TOKEN_NORMAL) and that waiter dies before retrying: the lock is free, PARKED is set,
    // and nobody would wake the others. Simulated: a waiter parks behind the main thread, which
    // then leaves the word as that unlock would have (free + PARKED); then an unrelated watched
    // thread dies. The region's death handler must wake the waiter.
    const { r, m, counter } = setup();
    m.lock();
    const waiter = startWorker('robust-worker.ts', { mode: 'lock', handle: m.handle, counter, consistent: true });
    await until(() => (word(m) & PARKED) !== 0 && r.lot.parkedCount(m.offset) === 1, 'the waiter to park');
    Atomics.store(r.i32, m.offset >> 2, PARKED); // "unlocked, and the woken waiter died"
    const other = startWorker('robust-worker.ts', { mode: 'hold-forever', handle: new Mutex({ region: r }).handle });
    r.watch(other.worker);
    expect(await other.firstMessage).toBe('held');
    await other.worker.terminate();
    expect(await Promise.race([waiter.firstMessage, sleep(5_000).then(() => 'still parked')])).toEqual({ ok: true });
    await waiter.exited;
    expect(word(m) & ~PARKED).toBe(0);
  });

  it('dead threads\' records are reclaimed when the table is full, except one a lock still names', async () => {
    // Found by the 30-minute soak: a pool that keeps replacing workers ran out of thread records
    // (they were never released) and its exit handler threw.
    const r = SharedRegion.create({ bytes: 1024, waiters: 16, threads: 4 });
    const m = new Mutex({ region: r }); // main: record 1
    const m2 = new Mutex({ region: r });
    const counter = r.alloc('Raw', 4);
    await (await deadHolder(r, m)).terminate(); // record 2: dead, still named by m
    for (let k = 0; k < 2; k++) { // records 3, 4: dead, named by nothing
      const w = startWorker('robust-worker.ts', { mode: 'lock', handle: m2.handle, counter, consistent: true });
      r.watch(w.worker);
      expect(await w.firstMessage).toEqual({ ok: true });
      await w.exited;
    }
    await sleep(2_100); // RECLAIM_AFTER_S (1 s, whole seconds)
    for (let k = 0; k < 3; k++) {
      // A full table: watch() reclaims a dead record; the dead holder's record survives (m names it).
      const w = startWorker('robust-worker.ts', { mode: 'lock', handle: m.handle, counter, consistent: true });
      r.watch(w.worker);
      const res = await w.firstMessage;
      await w.exited;
      expect(res).toEqual(k === 0 ? { error: 'OwnerDiedError' } : { ok: true });
      if (k === 0) await sleep(1_100); // the recoverer's own record must age before reuse
    }
    expect(word(m)).toBe(0);
  });

  it('lockAsync, tryLock and tryLockFor find a dead owner without any waiter being woken', async () => {
    const { r, m } = setup();
    await (await deadHolder(r, m)).terminate();
    await expect(m.lockAsync()).rejects.toBeInstanceOf(OwnerDiedError);
    expect(m.owner).toBe(m.region.threadId); // held by us
    expect(m.isInconsistent).toBe(true);
    m.markConsistent();
    expect(m.isInconsistent).toBe(false);
    m.unlock();

    const m2 = new Mutex({ region: r });
    await (await deadHolder(r, m2)).terminate();
    expect(() => m2.tryLock()).toThrow(OwnerDiedError);
    m2.markConsistent();
    m2.unlock();

    const m3 = new Mutex({ region: r });
    await (await deadHolder(r, m3)).terminate();
    expect(() => m3.tryLockFor(5_000)).toThrow(OwnerDiedError);
    m3.markConsistent();
    m3.unlock();
    expect(m3.tryLock()).toBe(true);
    m3.unlock();
  });

  it('unlocking without markConsistent makes the lock not recoverable for everyone, waiters included', async () => {
    const { r, m, counter } = setup();
    await (await deadHolder(r, m)).terminate();
    expect(() => m.lock()).toThrow(OwnerDiedError);
    // A worker queues behind us while we "repair"…
    const waiter = startWorker('robust-worker.ts', { mode: 'lock', handle: m.handle, counter, consistent: true });
    await until(() => (word(m) & PARKED) !== 0, 'the waiter to park');
    m.unlock(); // …but we unlock without markConsistent()
    expect(await waiter.firstMessage).toEqual({ error: 'NotRecoverableError' });
    expect(m.isNotRecoverable).toBe(true);
    expect(() => m.lock()).toThrow(NotRecoverableError);
    expect(() => m.tryLock()).toThrow(NotRecoverableError);
    expect(() => m.tryLockFor(1)).toThrow(NotRecoverableError);
    await expect(m.lockAsync()).rejects.toBeInstanceOf(NotRecoverableError);
    expect(() => m.unlock()).toThrow(NotRecoverableError);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('a waiter that dies while parked is purged and never receives the lock', async () => {
    const { r, m } = setup();
    m.lock();
    const doomed = startWorker('robust-worker.ts', { mode: 'lock', handle: m.handle, counter: 0, consistent: true });
    r.watch(doomed.worker);
    await until(() => r.lot.parkedCount(m.offset) === 1, 'the doomed waiter to park');
    await doomed.worker.terminate();
    expect(r.lot.parkedCount(m.offset)).toBe(0); // purged on exit
    expect(r.freeWaiterCount()).toBe(r.waiterCount); // its record came back
    m.unlockFair(); // nobody left to hand off to: the lock is simply free
    expect(word(m)).toBe(0);
  });

  it('markConsistent is refused when there is nothing to mark', () => {
    const { m } = setup();
    expect(() => m.markConsistent()).toThrow(/does not hold/);
    m.lock();
    expect(() => m.markConsistent()).toThrow(/not inconsistent/);
    m.unlock();
  });

  it('watch rejects things that are not workers', () => {
    const { r } = setup();
    expect(() => r.watch({ threadId: -1, once: () => undefined })).toThrow(TypeError);
  });
});

describe('Mutex: deadlock detection (debug)', () => {
  it('an AB/BA pair across two workers yields DeadlockError instead of hanging', async () => {
    const r = SharedRegion.create({ bytes: 1024, debug: { deadlockDetection: true } });
    expect(r.deadlockDetection).toBe(true);
    const a = new Mutex({ region: r });
    const b = new Mutex({ region: r });
    const go = r.alloc('Raw', 4);
    const w1 = startWorker('robust-worker.ts', { mode: 'ab', first: a.handle, second: b.handle, go });
    const w2 = startWorker('robust-worker.ts', { mode: 'ab', first: b.handle, second: a.handle, go });
    expect(await w1.firstMessage).toBe('first');
    expect(await w2.firstMessage).toBe('first');
    const results: { ok?: boolean; error?: string; message?: string }[] = [];
    w1.worker.on('message', (x) => results.push(x));
    w2.worker.on('message', (x) => results.push(x));
    Atomics.store(r.i32, go >> 2, 1);
    await Promise.race([Promise.all([w1.exited, w2.exited]), sleep(30_000).then(() => { throw new Error('deadlock was not detected'); })]);
    const errors = results.filter((x) => x.error !== undefined);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0].error).toBe('DeadlockError');
    expect(errors[0].message).toMatch(/deadlock: thread \d+ waits for the lock at offset \d+, held by thread \d+/);
    expect(results.length).toBe(2);
    expect(a.isLocked || b.isLocked).toBe(false);
  });

  it('is off by default, and DeadlockError names every thread and lock of the cycle', () => {
    const r = SharedRegion.create({ bytes: 256 });
    expect(r.deadlockDetection).toBe(false);
    expect(new DeadlockError([{ threadId: 1, lockOffset: 8 }, { threadId: 2, lockOffset: 12 }]).message).toContain('held by thread 2');
  });
});
