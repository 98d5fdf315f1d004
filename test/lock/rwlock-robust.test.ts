/**
 * RwLock robustness: a writer or upgradable holder terminated while holding the lock (also
 * between its acquiring CAS and its owner-word store) → the next writer gets OwnerDiedError with
 * the lock held, recovers via markConsistent(), and the lock works again; unlocking without
 * markConsistent() makes it not recoverable. Also: async waiters get hand-off even when they are
 * not first in a wake batch, and debug deadlock detection for RwLock.write and Mutex.lockAsync.
 * Every wait is bounded, so a lost wake-up fails instead of hanging.
 */
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Mutex, NotRecoverableError, OwnerDiedError, RwLock, SharedRegion, TimeoutError } from '../../src/index.ts';
import { RW_PARKED } from '../../src/lock/rwlock.ts';
import type { UnparkResult } from '../../src/parking/lot.ts';
import { startWorker, sleep } from '../support/workers.ts';

const FX = 'rwlock-robust.ts';
const state = (rw: RwLock): number => Atomics.load(rw.region.i32, rw.offset >> 2);

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => { throw new Error(`${what}: no answer within ${ms} ms`); })]);
}

function setup(): { r: SharedRegion; rw: RwLock; counter: number } {
  const r = SharedRegion.create({ bytes: 4096, waiters: 32, threads: 64 });
  return { r, rw: new RwLock({ region: r }), counter: r.alloc('Raw', 4) };
}

/** A worker holding `rw` (per `mode`) until terminated, watched by the region. */
async function holder(r: SharedRegion, rw: RwLock, mode: string): Promise<Worker> {
  const h = startWorker(FX, { mode, handle: rw.handle });
  r.watch(h.worker);
  expect(await h.firstMessage).toBe('held');
  return h.worker;
}

function clean(r: SharedRegion, rw: RwLock): void {
  expect(state(rw)).toBe(0);
  expect(rw.owner).toBe(-1);
  expect(rw.isInconsistent).toBe(false);
  expect(r.freeWaiterCount()).toBe(r.waiterCount);
}

describe('RwLock: owner death', () => {
  for (const [hold, form] of [['hold-write', 'write'], ['hold-upgradable', 'write'], ['hold-write', 'tryWriteFor'], ['hold-write', 'writeAsync'], ['hold-upgradable', 'upgradable']]) {
    it(`a parked ${form} waiter gets OwnerDiedError within a bound when a '${hold}' holder is terminated; the lock then works`, async () => {
      const { r, rw, counter } = setup();
      const dead = await holder(r, rw, hold);
      const waiter = startWorker(FX, { mode: 'acquire', form, handle: rw.handle, counter, consistent: true });
      await until(() => r.lot.parkedCount(rw.offset) === 1, 'the waiter to park');
      await dead.terminate();
      expect(await within(waiter.firstMessage, 5_000, 'waiter')).toEqual({ error: 'OwnerDiedError' });
      await waiter.exited;
      expect(r.i32[counter >> 2]).toBe(1); // repaired under the lock
      if (hold === 'hold-upgradable') {
        rw.write(); // the dead upgradable share was released by the taker
        rw.writeUnlock();
      }
      clean(r, rw);
      rw.write();
      rw.writeUnlock();
      rw.read();
      rw.readUnlock();
      clean(r, rw);
    });
  }

  it('with no waiter, every write form finds the dead owner itself', async () => {
    const { r, rw } = setup();
    for (const [hold, attempt] of [
      ['hold-write', (): unknown => rw.write()],
      ['hold-write', (): unknown => rw.tryWrite()],
      ['hold-write', (): unknown => rw.tryWriteFor(5_000)],
      ['hold-upgradable', (): unknown => rw.tryWrite()],
    ] as const) {
      await (await holder(r, rw, hold)).terminate();
      expect(attempt).toThrow(OwnerDiedError);
      expect(rw.isInconsistent).toBe(true);
      expect(rw.owner).toBe(rw.region.threadId); // the main thread holds it
      rw.markConsistent();
      rw.writeUnlock();
      clean(r, rw);
    }
    await (await holder(r, rw, 'hold-write')).terminate();
    await expect(rw.writeAsync()).rejects.toBeInstanceOf(OwnerDiedError);
    rw.markConsistent();
    rw.writeUnlock();
    await (await holder(r, rw, 'hold-upgradable')).terminate();
    expect(() => rw.tryUpgradableRead()).toThrow(OwnerDiedError);
    rw.markConsistent();
    rw.upgradableUnlock();
    clean(r, rw);
  });

  it('after a recovered death, live writers never get a spurious OwnerDiedError (stale PENDING of the dead holder)', async () => {
    // Regression (found by the chaos soak): the dead holder's PENDING word was never cleared on
    // take-over, so a waiter racing a live holder's release blamed the lock on the dead thread and
    // "took over" a lock it did not hold (hundreds per second, with writers overlapping).
    for (const hold of ['hold-write', 'hold-upgradable'] as const) {
      const { r, rw, counter } = setup();
      await (await holder(r, rw, hold)).terminate();
      expect(() => rw.write()).toThrow(OwnerDiedError);
      rw.markConsistent();
      rw.writeUnlock();
      clean(r, rw);
      const hs = [0, 1].map(() => startWorker(FX, { mode: 'hammer', handle: rw.handle, counter }));
      for (const h of hs) r.watch(h.worker);
      await sleep(1_000);
      Atomics.store(r.i32, (counter >> 2) + 1, 1);
      const res = (await within(Promise.all(hs.map((h) => h.firstMessage)), 20_000, 'hammer workers')) as { ok: number; spurious: number; overlaps: number }[];
      for (const x of res) {
        expect(x.spurious).toBe(0);
        expect(x.overlaps).toBe(0);
        expect(x.ok).toBeGreaterThan(0);
      }
      clean(r, rw);
    }
  });

  it('a death between the acquiring CAS and the owner-word store is NOT attributed (documented): waiters time out, nobody takes over', async () => {
    // The documented gap (rwlock.ts header, Owner death): safety first — no take-over without a
    // named dead owner, so a waiter can never "take over" a lock a live thread holds.
    const { r, rw } = setup();
    await (await holder(r, rw, 'hold-window')).terminate();
    expect(rw.tryWrite()).toBe(false);
    expect(rw.tryWriteFor(30)).toBe(false);
    await expect(rw.writeAsync({ timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
    expect(rw.tryRead()).toBe(false);
    expect(rw.isInconsistent).toBe(false);
    expect(state(rw) & ~RW_PARKED).not.toBe(0); // still held by the dead thread's share
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('readers wait behind a dead writer until a writer repairs it (they never see its data)', async () => {
    const { r, rw, counter } = setup();
    await (await holder(r, rw, 'hold-write')).terminate();
    expect(rw.tryRead()).toBe(false);
    const reader = startWorker(FX, { mode: 'acquire', form: 'read', handle: rw.handle, counter, consistent: true });
    await until(() => r.lot.parkedCount(rw.offset) === 1, 'the reader to park');
    await sleep(30);
    expect(r.lot.parkedCount(rw.offset)).toBe(1); // still waiting
    expect(() => rw.write()).toThrow(OwnerDiedError);
    rw.markConsistent();
    rw.writeUnlock();
    expect(await within(reader.firstMessage, 5_000, 'reader')).toEqual({ ok: true });
    await reader.exited;
    clean(r, rw);
  });

  it('unlocking without markConsistent makes the lock not recoverable for everyone, waiters included', async () => {
    const { r, rw, counter } = setup();
    await (await holder(r, rw, 'hold-write')).terminate();
    expect(() => rw.write()).toThrow(OwnerDiedError);
    const writer = startWorker(FX, { mode: 'acquire', form: 'write', handle: rw.handle, counter, consistent: true });
    const reader = startWorker(FX, { mode: 'acquire', form: 'read', handle: rw.handle, counter, consistent: true });
    await until(() => r.lot.parkedCount(rw.offset) === 2, 'two waiters to park');
    rw.writeUnlock(); // no markConsistent()
    expect(await within(writer.firstMessage, 5_000, 'writer')).toEqual({ error: 'NotRecoverableError' });
    expect(await within(reader.firstMessage, 5_000, 'reader')).toEqual({ error: 'NotRecoverableError' });
    expect(rw.isNotRecoverable).toBe(true);
    expect(() => rw.write()).toThrow(NotRecoverableError);
    expect(() => rw.tryWrite()).toThrow(NotRecoverableError);
    expect(() => rw.tryWriteFor(1)).toThrow(NotRecoverableError);
    expect(() => rw.read()).toThrow(NotRecoverableError);
    expect(() => rw.tryRead()).toThrow(NotRecoverableError);
    expect(() => rw.upgradableRead()).toThrow(NotRecoverableError);
    await expect(rw.writeAsync()).rejects.toBeInstanceOf(NotRecoverableError);
    await expect(rw.readAsync()).rejects.toBeInstanceOf(NotRecoverableError);
    expect(() => rw.writeUnlock()).toThrow(NotRecoverableError);
    await Promise.all([writer.exited, reader.exited]);
    expect(r.freeWaiterCount()).toBe(r.waiterCount);
  });

  it('markConsistent is refused when there is nothing to mark', () => {
    const { rw } = setup();
    expect(() => rw.markConsistent()).toThrow(/does not hold/);
    rw.write();
    expect(() => rw.markConsistent()).toThrow(/not inconsistent/);
    rw.writeUnlock();
  });
});

describe('RwLock: async hand-off', () => {
  it('an async waiter that is not first in a wake batch still receives the lock by hand-off', async () => {
    const { r, rw, counter } = setup();
    rw.write();
    const sync = startWorker(FX, { mode: 'acquire', form: 'read', handle: rw.handle, counter, consistent: true });
    await until(() => r.lot.parkedCount(rw.offset) === 1, 'the sync reader to park');
    const got = rw.readAsync();
    await until(() => r.lot.parkedCount(rw.offset) === 2, 'the async reader to park');
    // Make the batch's first (sync) waiter look not overdue, so only the async one can force hand-off.
    const lot = r.lot;
    const orig = lot.unparkFilter.bind(lot);
    const tokens: number[] = [];
    lot.unparkFilter = (key, filter, cb) => orig(key, filter, cb === undefined ? undefined : (res: UnparkResult) => {
      const t = cb({ ...res, beFair: false, waiterOverdue: false });
      tokens.push(t);
      return t;
    });
    try {
      rw.writeUnlock();
    } finally {
      lot.unparkFilter = orig;
    }
    expect(tokens).toEqual([1]); // TOKEN_HANDOFF: both readers woke owning their share
    await within(got, 5_000, 'readAsync');
    expect(await within(sync.firstMessage, 5_000, 'sync reader')).toEqual({ ok: true });
    rw.readUnlock();
    await sync.exited;
    expect(state(rw) & ~RW_PARKED).toBe(0);
  });
});

describe('deadlock detection (debug): RwLock write and Mutex lockAsync', () => {
  async function abba(mode: string, make: (r: SharedRegion) => { handle: unknown; isLocked: boolean }, async = false): Promise<void> {
    const r = SharedRegion.create({ bytes: 4096, debug: { deadlockDetection: true } });
    const a = make(r);
    const b = make(r);
    const go = r.alloc('Raw', 4);
    const w1 = startWorker(FX, { mode, first: a.handle, second: b.handle, go, async });
    const w2 = startWorker(FX, { mode, first: b.handle, second: a.handle, go, async });
    expect(await w1.firstMessage).toBe('first');
    expect(await w2.firstMessage).toBe('first');
    const results: { ok?: boolean; error?: string; message?: string }[] = [];
    w1.worker.on('message', (x) => results.push(x));
    w2.worker.on('message', (x) => results.push(x));
    Atomics.store(r.i32, go >> 2, 1);
    await within(Promise.all([w1.exited, w2.exited]), 30_000, 'deadlock was not detected');
    const errors = results.filter((x) => x.error !== undefined);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors[0].error).toBe('DeadlockError');
    expect(errors[0].message).toMatch(/deadlock: thread \d+ waits for the lock at offset \d+, held by thread \d+/);
    expect(errors[0].message).toContain(`offset ${(a.handle as { offset: number }).offset}`);
    expect(results.length).toBe(2);
    expect(a.isLocked || b.isLocked).toBe(false);
  }

  it('RwLock write AB/BA across two workers → DeadlockError, not a hang', async () => {
    await abba('rw-ab', (r) => new RwLock({ region: r }));
  });

  it('RwLock writeAsync AB/BA across two workers → DeadlockError, not a hang', async () => {
    await abba('rw-ab', (r) => new RwLock({ region: r }), true);
  });

  it('Mutex lockAsync AB/BA across two workers → DeadlockError, not a hang', async () => {
    await abba('mutex-ab-async', (r) => new Mutex({ region: r }));
  });

  it('lockAsync behind a lock held by another task of the same thread is not a deadlock', async () => {
    const r = SharedRegion.create({ bytes: 256, debug: { deadlockDetection: true } });
    const m = new Mutex({ region: r });
    await m.lockAsync();
    const second = m.lockAsync();
    await sleep(5);
    m.unlock();
    await within(second, 5_000, 'second lockAsync');
    m.unlock();
  });
});
