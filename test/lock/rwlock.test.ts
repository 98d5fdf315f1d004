/**
 * RwLock: API behaviour in one thread (fast paths, upgrade/downgrade, errors leaving state
 * intact, async forms) and multi-worker properties: readers overlap, writers are exclusive
 * (torn-read and lost-update checks), a writer is not starved by continuous readers under
 * 'fair', and no PARKED bit or waiter record is left behind. More workers than cores throughout.
 */
import { describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { nowMs } from '../../src/platform/clock.ts';
import { TimeoutError } from '../../src/errors.ts';
import { RwLock, RW_PARKED, RW_WRITER, type RwLockPolicy } from '../../src/lock/rwlock.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import { runWorkers, sleep } from '../support/workers.ts';

const POLICIES: RwLockPolicy[] = ['fair', 'readers', 'writers'];

function setup(prefer: RwLockPolicy = 'fair'): { r: SharedRegion; rw: RwLock; words: (n: number) => number } {
  const r = SharedRegion.create({ bytes: 1 << 14, waiters: 256 });
  const rw = new RwLock({ region: r, prefer });
  return { r, rw, words: (n) => r.alloc('Raw', 4 * n, 128) };
}

function state(rw: RwLock): number {
  return Atomics.load(rw.region.i32, rw.offset >> 2);
}

function clean(r: SharedRegion, rw: RwLock): void {
  expect(state(rw)).toBe(0); // free, no PARKED / WRITER_PARKED left
  expect(rw.owner).toBe(-1);
  expect(r.freeWaiterCount()).toBe(r.waiterCount);
}

describe('RwLock in one thread', () => {
  it('readers share, writers exclude, try forms never wait', () => {
    const { r, rw } = setup();
    rw.read();
    rw.read();
    expect(rw.readers).toBe(2);
    expect(rw.tryWrite()).toBe(false);
    expect(rw.tryRead()).toBe(true);
    rw.readUnlock();
    rw.readUnlock();
    rw.readUnlock();
    expect(rw.tryWrite()).toBe(true);
    expect(rw.isWriteLocked).toBe(true);
    expect(rw.owner).toBe(rw.region.threadId);
    expect(rw.tryRead()).toBe(false);
    expect(rw.tryUpgradableRead()).toBe(false);
    rw.writeUnlock();
    clean(r, rw);
  });

  it('timed forms time out and leave the state as it was', () => {
    const { r, rw } = setup();
    rw.read();
    const t0 = nowMs();
    expect(rw.tryWriteFor(15)).toBe(false);
    expect(nowMs() - t0).toBeGreaterThanOrEqual(14);
    expect(rw.readers).toBe(1);
    expect(state(rw) & RW_WRITER).toBe(0); // the pending writer gave WRITER back
    expect(rw.tryRead()).toBe(true); // and readers are admitted again
    rw.readUnlock();
    rw.readUnlock();
    rw.write();
    // Waiting on a lock this thread holds is refused, even with a timeout (as Mutex does).
    expect(() => rw.tryReadFor(5)).toThrow(/deadlock/);
    expect(() => rw.tryUpgradableReadFor(5)).toThrow(/deadlock/);
    rw.writeUnlock();
    clean(r, rw);
  });

  it('upgradable read: shares with readers, excludes upgraders, upgrades and downgrades', () => {
    const { r, rw } = setup();
    rw.upgradableRead();
    expect(rw.tryRead()).toBe(true);
    expect(rw.tryUpgradableRead()).toBe(false);
    expect(rw.tryWrite()).toBe(false);
    expect(rw.tryUpgrade()).toBe(false); // another reader is in
    expect(rw.tryUpgradeFor(5)).toBe(false); // still upgradable afterwards
    expect(rw.readers).toBe(2);
    rw.readUnlock();
    rw.upgrade();
    expect(rw.isWriteLocked).toBe(true);
    rw.downgradeToUpgradable();
    expect(rw.readers).toBe(1);
    expect(rw.tryRead()).toBe(true);
    rw.readUnlock();
    expect(rw.tryUpgrade()).toBe(true);
    rw.downgrade();
    expect(rw.readers).toBe(1);
    expect(rw.tryWrite()).toBe(false);
    rw.readUnlock();
    rw.upgradableRead();
    rw.downgradeUpgradable();
    expect(rw.tryUpgradableRead()).toBe(true); // the upgradable slot is free again
    rw.upgradableUnlock();
    rw.readUnlock();
    clean(r, rw);
  });

  it('guards release on dispose; a write guard downgrades; an upgradable guard upgrades', () => {
    const { r, rw } = setup();
    {
      using g = rw.acquireRead();
      expect(rw.readers).toBe(1);
      g.release();
      g.release(); // once only
    }
    {
      using w = rw.acquireWrite();
      using rg = w.downgrade();
      expect(rw.readers).toBe(1);
      expect(() => w.downgrade()).toThrow(/already released/);
      void rg;
    }
    {
      using u = rw.acquireUpgradable();
      using w = u.upgrade();
      expect(rw.isWriteLocked).toBe(true);
      void w;
    }
    expect(rw.withRead(() => rw.readers)).toBe(1);
    expect(rw.withWrite(() => rw.isWriteLocked)).toBe(true);
    expect(() => rw.withWrite(() => { throw new Error('boom'); })).toThrow('boom');
    clean(r, rw);
  });

  it('misuse throws clear errors and changes nothing', () => {
    const { r, rw } = setup();
    expect(() => rw.readUnlock()).toThrow(/not read-locked/);
    expect(() => rw.writeUnlock()).toThrow(/not write-locked/);
    expect(() => rw.upgradableUnlock()).toThrow(/not held upgradable/);
    expect(() => rw.upgrade()).toThrow(/not held upgradable/);
    expect(() => rw.downgrade()).toThrow(/not write-locked/);
    expect(state(rw)).toBe(0);
    rw.write();
    expect(() => rw.readUnlock()).toThrow(/write-locked: use writeUnlock/);
    expect(() => rw.write()).toThrow(/deadlock/);
    expect(() => rw.read()).toThrow(/deadlock/);
    expect(rw.isWriteLocked).toBe(true);
    rw.writeUnlock();
    rw.read();
    expect(() => rw.writeUnlock()).toThrow(/read-locked: use readUnlock/);
    expect(rw.readers).toBe(1);
    rw.readUnlock();
    rw.upgradableRead();
    expect(() => rw.readUnlock()).toThrow(/use upgradableUnlock/);
    expect(() => rw.write()).toThrow(/deadlock/);
    expect(() => rw.writeUnlock()).toThrow(/not write-locked/);
    expect(rw.owner).toBe(rw.region.threadId); // still the upgradable holder
    rw.upgradableUnlock();
    clean(r, rw);
  });

  it('bad options and handles are refused', () => {
    const r = SharedRegion.create({ bytes: 4096 });
    expect(() => new RwLock({ region: r, prefer: 'nobody' as RwLockPolicy })).toThrow(RangeError);
    expect(() => new RwLock({ region: r, spin: -1 })).toThrow(RangeError);
    expect(() => new RwLock({ region: r, spin: 1.5 })).toThrow(RangeError);
    expect(() => new RwLock({ region: {} as SharedRegion })).toThrow(TypeError);
    const m = new Mutex({ region: r });
    expect(() => RwLock.from(m.handle)).toThrow(TypeError);
    expect(() => RwLock.from({ ...new RwLock({ region: r }).handle, offset: 3 } as never)).toThrow(RangeError);
    const rw = new RwLock({ region: r, prefer: 'writers' });
    expect(RwLock.from(rw.handle).prefer).toBe('writers');
    expect(RwLock.from(rw.handle)).not.toBe(rw);
    expect(() => rw.tryReadFor(Number.NaN)).toThrow(RangeError);
  });

  it('async forms: wait, time out, abort, and hand-off leave no residue', async () => {
    const { r, rw } = setup();
    rw.write();
    await expect(rw.readAsync({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(rw.writeAsync({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    const aborted = rw.upgradableReadAsync({ signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    const reader = rw.readAsync();
    const reader2 = rw.acquireReadAsync();
    await sleep(5);
    rw.writeUnlock(); // async waiters receive the lock by hand-off
    await reader;
    const g = await reader2;
    expect(rw.readers).toBe(2);
    // A writer waiting for two readers to drain, asynchronously.
    const writer = rw.writeAsync();
    await sleep(5);
    expect(rw.readers).toBe(2);
    rw.readUnlock();
    g.release();
    await writer;
    expect(rw.isWriteLocked).toBe(true);
    rw.writeUnlock();
    // upgradeAsync times out while a reader stays, and the upgradable lock is still held.
    rw.upgradableRead();
    rw.read();
    await expect(rw.upgradeAsync({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    expect(rw.readers).toBe(2);
    rw.readUnlock();
    await rw.upgradeAsync();
    expect(rw.isWriteLocked).toBe(true);
    rw.writeUnlock();
    expect(await rw.withWriteAsync(async () => rw.isWriteLocked)).toBe(true);
    expect(await rw.withReadAsync(async () => rw.readers)).toBe(1);
    clean(r, rw);
  });
});

describe('RwLock across workers', () => {
  it('readers hold the lock at the same time (observed overlap)', async () => {
    const { r, rw, words } = setup();
    const [inside, gate] = [words(1), words(1)];
    const res = await runWorkers<{ max: number }>('family-rwlock.ts', 4, (worker) => ({ mode: 'overlap', handle: rw.handle, iters: 20, worker, inside, stop: gate, k: 4 }), 60_000);
    expect(Math.max(...res.map((x) => x.max))).toBeGreaterThanOrEqual(2);
    clean(r, rw);
  });

  for (const prefer of POLICIES) {
    it(`writers are exclusive and readers see no torn data (prefer '${prefer}', 6 workers, all operations)`, async () => {
      const { r, rw, words } = setup(prefer);
      const k = 16;
      const [inside, writersInside, counter, data] = [words(1), words(1), words(1), words(k)];
      const iters = 3000;
      const res = await runWorkers<{ writes: number; violations: number }>('family-rwlock.ts', 6, (worker) => ({
        mode: 'mixed', handle: rw.handle, iters, worker, inside, writersInside, counter, data, k, seed: 7,
      }), 90_000);
      const writes = res.reduce((a, x) => a + x.writes, 0);
      expect(res.reduce((a, x) => a + x.violations, 0)).toBe(0);
      expect(writes).toBeGreaterThan(0);
      expect(r.i32[counter >> 2]).toBe(writes); // no lost update
      expect(r.i32[data >> 2]).toBe(writes); // every write bumped the data once
      clean(r, rw);
    });
  }

  it("'fair': a writer is not starved by continuous overlapping readers", async () => {
    const { r, rw, words } = setup('fair');
    const [stop, counter, started] = [words(1), words(1), words(1)];
    const stopAt = nowMs() + 10_000;
    const writes = 20;
    const res = await runWorkers<{ reads?: number; inTime?: number }>('family-rwlock.ts', 4, (worker) => (worker < 3
      ? { mode: 'reader', handle: rw.handle, worker, stop, stopAt, holdUs: 2000, inside: started }
      : { mode: 'writer', handle: rw.handle, worker, stop, stopAt, counter, iters: writes, gapUs: 500, inside: started, k: 3 }), 60_000);
    expect(r.i32[started >> 2]).toBe(3); // the three readers were all reading before the writer began
    expect(res[3].inTime).toBe(writes); // every write got in while the readers were still reading
    expect(r.i32[counter >> 2]).toBe(writes);
    expect(res.slice(0, 3).every((x) => (x.reads ?? 0) > 0)).toBe(true);
    clean(r, rw);
  });

  it('async readers and writers on the main thread mixed with sync workers', async () => {
    const { r, rw, words } = setup('fair');
    const k = 8;
    const [inside, writersInside, counter, data] = [words(1), words(1), words(1), words(k)];
    const workers = runWorkers<{ writes: number; violations: number }>('family-rwlock.ts', 4, (worker) => ({
      mode: 'mixed', handle: rw.handle, iters: 2000, worker, inside, writersInside, counter, data, k, seed: 3,
    }), 90_000);
    const i32 = r.i32;
    let mainWrites = 0;
    let bad = 0;
    for (let i = 0; i < 200; i++) {
      if (i % 3 === 0) {
        await rw.writeAsync();
        if (Atomics.add(i32, writersInside >> 2, 1) !== 0 || Atomics.load(i32, inside >> 2) !== 0) bad++;
        await Promise.resolve(); // hold across a microtask
        const v = i32[data >> 2] + 1;
        for (let j = 0; j < k; j++) i32[(data >> 2) + j] = v;
        i32[counter >> 2]++;
        mainWrites++;
        Atomics.sub(i32, writersInside >> 2, 1);
        rw.writeUnlock();
      } else {
        using g = await rw.acquireReadAsync();
        if (Atomics.load(i32, writersInside >> 2) !== 0) bad++;
        const v = i32[data >> 2];
        for (let j = 1; j < k; j++) if (i32[(data >> 2) + j] !== v) bad++;
        void g;
      }
      if (i % 16 === 0) await new Promise((res) => setImmediate(res));
    }
    const res = await workers;
    expect(bad).toBe(0);
    expect(res.reduce((a, x) => a + x.violations, 0)).toBe(0);
    expect(i32[counter >> 2]).toBe(mainWrites + res.reduce((a, x) => a + x.writes, 0));
    clean(r, rw);
  });

  it('timed and async waits on a lock another thread holds time out and change nothing', async () => {
    const { r, rw, words } = setup();
    const flag = words(1);
    const held = words(1);
    const holder = runWorkers('family-rwlock.ts', 1, (worker) => ({ mode: 'hold-write', handle: rw.handle, worker, stop: flag, inside: held }), 30_000);
    while (Atomics.load(r.i32, held >> 2) === 0) await sleep(1);
    expect(rw.tryReadFor(10)).toBe(false);
    expect(rw.tryUpgradableReadFor(5)).toBe(false);
    expect(rw.tryWriteFor(5)).toBe(false);
    await expect(rw.readAsync({ timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(rw.writeAsync({ timeoutMs: 5 })).rejects.toBeInstanceOf(TimeoutError);
    expect(state(rw)).toBe(RW_WRITER); // still write-locked by the worker, PARKED cleared by the last leaver
    const reader = rw.readAsync(); // then a real wait: the worker's unlock hands the lock over
    await sleep(5);
    Atomics.store(r.i32, flag >> 2, 1);
    await reader;
    expect(rw.readers).toBe(1);
    rw.readUnlock();
    await holder;
    clean(r, rw);
  });

  it('leaves PARKED clear after contention ends', async () => {
    const { r, rw, words } = setup('writers');
    const k = 4;
    const [inside, writersInside, counter, data] = [words(1), words(1), words(1), words(k)];
    await runWorkers('family-rwlock.ts', 8, (worker) => ({ mode: 'mixed', handle: rw.handle, iters: 800, worker, inside, writersInside, counter, data, k, seed: 11 }), 90_000);
    expect(state(rw) & RW_PARKED).toBe(0);
    clean(r, rw);
  });
});
