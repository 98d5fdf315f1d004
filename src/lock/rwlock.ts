/**
 * RwLock: a reader-writer lock on the shared-memory ParkingLot, after Rust parking_lot's
 * `raw_rwlock.rs` (itself after Boost's `upgrade_mutex`), with three wake policies. This file is
 * its public API and guards; the lock is built in layers, each a class the next one extends:
 * - rwlock-state.ts: the block (state word, owner word, policy word), the policies and the
 *   invariants; option checks; admission (one attempt to join as reader, writer or upgrader);
 * - rwlock-robust.ts: owner death: finding and claiming a dead holder's share, not recoverable;
 * - rwlock-slow.ts: the common slow paths: park (validates, liveness slices, deadlock check),
 *   drain readers, and wake queued threads per policy with hand-off;
 * - rwlock.ts (here): read / write / upgradable acquire and release, downgrade, guards.
 *
 * Misuse caught: unlocking what this thread does not hold (state left intact), write()/read()
 * while this thread holds the write lock, write() while it holds the upgradable lock. Not
 * caught: write() or upgrade() while this thread also holds a plain read lock waits for itself
 * (readers are anonymous counts) — use the timed or async forms, or upgradableRead().
 *
 * Memory: every acquiring CAS reads the releasing RMW/store of the previous holder(s) (acquire
 * edge); readers' releasing CAS and the writer's release CAS/store are the release edges. JS
 * Atomics are sequentially consistent, so these are synchronizes-with edges.
 */

import { nowMs } from '../platform/clock.ts';
import { resolveHandle, type PrimitiveHandle, type SharedRegion } from '../parking/region.ts';
import { NotRecoverableError, OwnerDiedError } from '../errors.ts';
import { abortReason, checkFromOpts, checkTimeoutMs, checkWaitOpts, type WaitAsyncOptions } from './common.ts';
import { LockGuard } from './guard.ts';
import { ensureRwLockRegistered, TAKE_ANY, TAKE_NONE, TAKE_UPGRADABLE } from './rwlock-robust.ts';
import { FAILED, KEEP_WRITER, RwLockSlowPaths } from './rwlock-slow.ts';
import {
  MAX_READ_STATE, OW_INCONSISTENT, OW_NOT_RECOVERABLE, READER_SHIFT, READERS_MASK, RW_ONE_READER, RW_PARKED, RW_UPGRADABLE, RW_WRITER,
  RW_WRITER_PARKED, TOKEN_EXCLUSIVE, TOKEN_SHARED, TOKEN_UPGRADABLE, type RwLockHandle, type RwLockOptions,
} from './rwlock-state.ts';
import { TOKEN_HANDOFF, TOKEN_NORMAL } from './tokens.ts';

export type { RwLockHandle, RwLockOptions, RwLockPolicy } from './rwlock-state.ts';
// The state bits, for tests and the soak that inspect the state word.
export { RW_ONE_READER, RW_PARKED, RW_UPGRADABLE, RW_WRITER, RW_WRITER_PARKED } from './rwlock-state.ts';

/** A held read lock; `[Symbol.dispose]` (or `release()`) unlocks it once. */
export class RwLockReadGuard extends LockGuard<RwLock> {
  protected override unlock(lock: RwLock): void {
    lock.readUnlock();
  }
}

/** A held write lock; `[Symbol.dispose]` unlocks it; `downgrade()` turns it into a read guard. */
export class RwLockWriteGuard extends LockGuard<RwLock> {
  protected override unlock(lock: RwLock): void {
    lock.writeUnlock();
  }

  /** Atomically turns the write lock into a read lock (no writer can get in between). */
  downgrade(): RwLockReadGuard {
    const l = this.heldFor('RwLockWriteGuard.downgrade');
    this.spend();
    l.downgrade();
    return new RwLockReadGuard(l);
  }
}

/** A held upgradable read lock; `upgrade()` / `upgradeAsync()` turn it into a write guard. */
export class RwLockUpgradableGuard extends LockGuard<RwLock> {
  protected override unlock(lock: RwLock): void {
    lock.upgradableUnlock();
  }

  /** Waits for the other readers to leave and returns a write guard (this guard is then spent). */
  upgrade(): RwLockWriteGuard {
    const l = this.heldFor('RwLockUpgradableGuard.upgrade');
    l.upgrade();
    this.spend();
    return new RwLockWriteGuard(l);
  }

  /** Async upgrade; on timeout/abort it rejects and this guard still holds the upgradable lock. */
  async upgradeAsync(opts?: WaitAsyncOptions): Promise<RwLockWriteGuard> {
    const l = this.heldFor('RwLockUpgradableGuard.upgradeAsync');
    await l.upgradeAsync(opts);
    this.spend();
    return new RwLockWriteGuard(l);
  }
}

export class RwLock extends RwLockSlowPaths {
  private cachedHandle: RwLockHandle | undefined;

  constructor(opts: RwLockOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    super(opts, attach);
    ensureRwLockRegistered();
  }

  /** Attaches to an RwLock from its handle (e.g. received from another thread). */
  static from(handle: RwLockHandle | PrimitiveHandle, opts: Omit<RwLockOptions, 'region' | 'prefer'> = {}): RwLock {
    checkFromOpts('RwLock', opts);
    const { region, offset } = resolveHandle(handle, 'RwLock');
    const carried = (handle as Partial<RwLockHandle>).options;
    return new RwLock({ spin: carried?.spin, ...opts }, { region, offset });
  }

  /** A plain cloneable handle: post it to a worker and call `RwLock.from(handle)` there. */
  get handle(): RwLockHandle {
    this.cachedHandle ??= Object.freeze({
      ...this.region.handleFor('RwLock', this.offset),
      kind: 'RwLock' as const,
      options: Object.freeze({ spin: this.spin }),
    });
    return this.cachedHandle;
  }

  /** Number of read holders now (an upgradable holder counts), a snapshot. */
  get readers(): number {
    return Atomics.load(this.i32, this.idx) >>> READER_SHIFT;
  }

  /** Whether a writer holds the lock now (a snapshot). */
  get isWriteLocked(): boolean {
    const s = Atomics.load(this.i32, this.idx);
    return (s & RW_WRITER) !== 0 && s >>> READER_SHIFT === 0;
  }

  /** Whether anyone holds the lock now (a snapshot). */
  get isLocked(): boolean {
    const s = Atomics.load(this.i32, this.idx);
    return (s & (RW_WRITER | READERS_MASK)) !== 0;
  }

  /** Region thread id of the thread holding (or draining for) the write lock or the upgradable lock, or -1. */
  get owner(): number {
    const o = Atomics.load(this.i32, this.ownIdx);
    return o <= 0 ? -1 : (o & ~OW_INCONSISTENT) - 1;
  }

  /** Whether the exclusive part was taken over from a dead holder and not yet marked consistent (a snapshot). */
  get isInconsistent(): boolean {
    const o = Atomics.load(this.i32, this.ownIdx);
    return o > 0 && (o & OW_INCONSISTENT) !== 0;
  }

  /** Whether the lock was unlocked while inconsistent and can never be used again. */
  get isNotRecoverable(): boolean {
    return Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE;
  }

  /**
   * After OwnerDiedError: declares the protected data repaired, so the next unlock makes the lock
   * normal again. Throws unless this thread holds the write (or upgradable) lock in that state.
   */
  markConsistent(): void {
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o === this.me) throw new Error('RwLock.markConsistent: the lock is not inconsistent (no owner died)');
    if (o !== (this.me | OW_INCONSISTENT)) throw new Error('RwLock.markConsistent: this thread does not hold the write or upgradable lock');
    // Only the holder writes its owner word (a taker claims it by CAS from a dead holder only).
    Atomics.store(this.i32, this.ownIdx, this.me);
  }

  // ------------------------------------------------------------------ read

  /** Acquires a shared lock, blocking this thread while the policy says wait. */
  read(): void {
    const s = Atomics.load(this.i32, this.idx);
    // Acquire edge: the CAS reads the last releasing write.
    if ((s & RW_WRITER) === 0 && s < MAX_READ_STATE && Atomics.compareExchange(this.i32, this.idx, s, s + RW_ONE_READER) === s) return;
    this.readSlow(Infinity);
  }

  /** Takes a shared lock if the policy admits a reader right now; never waits. */
  tryRead(): boolean {
    if (this.tryReadLoop()) return true;
    this.throwIfNotRecoverable();
    return false;
  }

  /** Waits at most `ms` for a shared lock. Returns whether it was acquired. */
  tryReadFor(ms: number): boolean {
    const t = checkTimeoutMs('RwLock.tryReadFor', ms);
    return this.tryReadLoop() || this.readSlow(t);
  }

  private readSlow(timeoutMs: number): boolean {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_WRITER) !== 0 && s >>> READER_SHIFT === 0) this.checkNotOwner('read');
    return this.lockCommon(timeoutMs, TOKEN_SHARED, this.tryReadLoop, this.validateRead, nowMs(), TAKE_NONE) !== FAILED;
  }

  /** Acquires a shared lock without blocking the event loop (rejects with TimeoutError / the signal's reason). */
  async readAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    checkWaitOpts('RwLock.readAsync', opts);
    if (this.tryReadLoop()) return;
    await this.lockCommonAsync('readAsync', opts, TOKEN_SHARED, this.tryReadLoop, this.validateRead, TAKE_NONE);
    if (opts.signal?.aborted) {
      // Aborted while the lock was being handed to us: give it back and report the abort.
      this.readUnlock();
      throw abortReason(opts.signal);
    }
  }

  /** Releases a shared lock. Throws (changing nothing) if the lock is not read-locked. */
  readUnlock(): void {
    const s = Atomics.load(this.i32, this.idx);
    // Fast path: at least two readers, or one that is not the upgradable holder. Release edge: a
    // writer draining readers (or the next acquirer) reads this CAS.
    if ((s >>> READER_SHIFT > 1 || (s >>> READER_SHIFT === 1 && (s & RW_UPGRADABLE) === 0)) &&
      Atomics.compareExchange(this.i32, this.idx, s, s - RW_ONE_READER) === s) {
      // The last reader out while a writer sleeps on key 2 wakes it.
      if ((s & (READERS_MASK | RW_WRITER_PARKED)) === (RW_ONE_READER | RW_WRITER_PARKED)) this.wakeDrainingWriter();
      return;
    }
    this.readUnlockSlow();
  }

  private readUnlockSlow(): void {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      const n = s >>> READER_SHIFT;
      if (n === 0) {
        throw new Error(`RwLock.readUnlock: the lock is not read-locked${(s & RW_WRITER) !== 0 ? ' (it is write-locked: use writeUnlock)' : ''}`);
      }
      if (n === 1 && (s & RW_UPGRADABLE) !== 0) {
        throw new Error('RwLock.readUnlock: the only reader is the upgradable holder: use upgradableUnlock');
      }
      // Release edge, as in the fast path.
      const seen = Atomics.compareExchange(i32, this.idx, s, s - RW_ONE_READER);
      if (seen === s) break;
      s = seen;
    }
    if ((s & (READERS_MASK | RW_WRITER_PARKED)) === (RW_ONE_READER | RW_WRITER_PARKED)) this.wakeDrainingWriter();
  }

  // ------------------------------------------------------------------ write

  /** Acquires the exclusive lock, blocking this thread. */
  write(): void {
    const i32 = this.i32;
    // Acquire edge: reads the last releasing write.
    if (Atomics.compareExchange(i32, this.idx, 0, RW_WRITER) === 0) {
      i32[this.ownIdx] = this.me; // setOwner(), inlined
      return;
    }
    this.writeSlow(Infinity);
  }

  /** Takes the exclusive lock if it is entirely free right now; never waits. */
  tryWrite(): boolean {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      // Free except possibly PARKED (the parked threads are still woken at unlock).
      if ((s & ~RW_PARKED) !== 0) break;
      const seen = Atomics.compareExchange(i32, this.idx, s, s | RW_WRITER);
      if (seen === s) {
        this.setOwner();
        return true;
      }
      s = seen;
    }
    this.throwIfNotRecoverable();
    const h = this.exclusiveHolder(TAKE_ANY);
    // A dead holder: take over only if that completes at once (no other reader to drain).
    if (h >= 0 && this.claim(h)) {
      if (this.tryFinishWriteTakeOver()) throw new OwnerDiedError();
      this.unclaim(h);
    }
    return false;
  }

  /** Waits at most `ms` for the exclusive lock. Returns whether it was acquired. */
  tryWriteFor(ms: number): boolean {
    const t = checkTimeoutMs('RwLock.tryWriteFor', ms);
    return this.tryWrite() || this.writeSlow(t);
  }

  private writeSlow(timeoutMs: number): boolean {
    this.checkNotOwner('write');
    const start = nowMs();
    const r = this.lockCommon(timeoutMs, TOKEN_EXCLUSIVE, this.tryWriterBit, this.validateExclusive, start, TAKE_ANY);
    if (r === FAILED) return false;
    if (r < 0) {
      // Took a dead holder's share over (owner word claimed, inconsistent): make it the write lock.
      if (!this.finishWriteTakeOver(timeoutMs, start)) {
        this.unclaim(-(r + 1));
        return false;
      }
      throw new OwnerDiedError();
    }
    this.setOwner();
    return this.waitForReaders(timeoutMs, start, 0);
  }

  /** Acquires the exclusive lock without blocking the event loop. */
  async writeAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    checkWaitOpts('RwLock.writeAsync', opts);
    const i32 = this.i32;
    if (Atomics.compareExchange(i32, this.idx, 0, RW_WRITER) === 0) {
      this.setOwner();
      return;
    }
    const start = nowMs();
    const r = await this.lockCommonAsync('writeAsync', opts, TOKEN_EXCLUSIVE, this.tryWriterBit, this.validateExclusive, TAKE_ANY, start);
    if (r < 0) {
      const s = Atomics.load(i32, this.idx);
      const prev = (s & RW_UPGRADABLE) !== 0 ? RW_ONE_READER | RW_UPGRADABLE : KEEP_WRITER;
      if (prev !== KEEP_WRITER) Atomics.add(i32, this.idx, RW_WRITER - prev); // the dead upgradable share becomes WRITER
      try {
        await this.waitForReadersAsync('writeAsync', opts, start, prev);
      } catch (e) {
        this.unclaim(-(r + 1));
        throw e;
      }
      throw new OwnerDiedError();
    }
    this.setOwner();
    await this.waitForReadersAsync('writeAsync', opts, start, 0);
    if (opts.signal?.aborted) {
      this.writeUnlock();
      throw abortReason(opts.signal);
    }
  }

  /** Releases the exclusive lock. Throws (changing nothing) unless this thread holds it. */
  writeUnlock(): void {
    const i32 = this.i32;
    // Our id in the owner word means we hold WRITER or UPGRADABLE (the slow path tells which).
    if (Atomics.load(i32, this.ownIdx) !== this.me) {
      this.unlockExclusiveOwnerSlow('writeUnlock', false);
      return;
    }
    // Plain store, before the release: a non-zero owner word always names a thread whose share is
    // still in the state word (the robust attribution, see rwlock-robust.ts).
    i32[this.ownIdx] = 0; // clearOwner(), inlined
    // Release edge: the next acquirer's CAS reads this write.
    if (Atomics.compareExchange(i32, this.idx, RW_WRITER, 0) !== RW_WRITER) this.unlockExclusiveSlow(false, 'writeUnlock');
  }

  /** Releases the exclusive lock and hands it directly to the queued threads, if any. */
  writeUnlockFair(): void {
    const i32 = this.i32;
    if (Atomics.load(i32, this.ownIdx) !== this.me) {
      this.unlockExclusiveOwnerSlow('writeUnlockFair', true);
      return;
    }
    this.clearOwner();
    if (Atomics.compareExchange(i32, this.idx, RW_WRITER, 0) !== RW_WRITER) this.unlockExclusiveSlow(true, 'writeUnlockFair');
  }

  /** writeUnlock when the owner word is not plainly ours: inconsistent (→ not recoverable), not recoverable, or misuse. */
  private unlockExclusiveOwnerSlow(what: string, _force: boolean): void {
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o === OW_NOT_RECOVERABLE) throw new NotRecoverableError();
    if (o === (this.me | OW_INCONSISTENT)) {
      this.checkWriteHeld(what);
      this.makeNotRecoverable();
      return;
    }
    this.checkWriteHeld(what); // throws: not write-locked, or held by another thread
  }

  private checkWriteHeld(what: string): void {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_WRITER) === 0 || s >>> READER_SHIFT !== 0) {
      throw new Error(`RwLock.${what}: the lock is not write-locked${s >>> READER_SHIFT !== 0 ? ' (it is read-locked: use readUnlock)' : ''}`);
    }
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o === OW_NOT_RECOVERABLE) throw new NotRecoverableError();
    if ((o & ~OW_INCONSISTENT) !== this.me) {
      throw new Error(`RwLock.${what}: the write lock is held by thread ${(o & ~OW_INCONSISTENT) - 1}, not by this thread (${this.region.threadId})`);
    }
  }

  private unlockExclusiveSlow(force: boolean, what: string): void {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_WRITER) === 0 || s >>> READER_SHIFT !== 0) {
      // We hold UPGRADABLE, not WRITER: put our id back (only we write it) and refuse.
      this.setOwner();
      this.checkWriteHeld(what);
    }
    this.wakeParked(0, (acc, r, w) => {
      // Under the main bucket lock. We hold WRITER with no readers; others can only set PARKED
      // (and their validate runs after us), so a plain store is safe.
      if (r.unparkedThreads !== 0 && (force || r.waiterOverdue || w.async)) {
        // Hand-off (also whenever an async waiter is in the batch: an async wake cannot win a
        // barge). The exclusive taker's owner word is written here, before the state store, so it
        // is never unattributed if it dies before running (robust window, see rwlock-robust.ts).
        if (w.exclusiveTid >= 0) Atomics.store(this.i32, this.ownIdx, w.exclusiveTid + 1);
        // The woken threads' shares go into the word before they wake. Release edge: each woken
        // thread's wake follows this store.
        Atomics.store(this.i32, this.idx, acc | (r.haveMore ? RW_PARKED : 0));
        return TOKEN_HANDOFF;
      }
      // Release edge for bargers and the woken retriers.
      Atomics.store(this.i32, this.idx, r.haveMore ? RW_PARKED : 0);
      return TOKEN_NORMAL;
    });
  }

  // ------------------------------------------------------------------ upgradable

  /** Acquires an upgradable read lock (shared with readers, exclusive with writers and upgraders). */
  upgradableRead(): void {
    if (this.tryUpgradableLoop()) {
      this.setOwner();
      return;
    }
    this.upgradableSlow(Infinity);
  }

  /** Takes an upgradable read lock if available right now; never waits. */
  tryUpgradableRead(): boolean {
    if (!this.tryUpgradableLoop()) {
      this.throwIfNotRecoverable();
      const h = this.exclusiveHolder(TAKE_UPGRADABLE);
      if (h >= 0 && this.claim(h)) throw new OwnerDiedError();
      return false;
    }
    this.setOwner();
    return true;
  }

  /** Waits at most `ms` for an upgradable read lock. */
  tryUpgradableReadFor(ms: number): boolean {
    const t = checkTimeoutMs('RwLock.tryUpgradableReadFor', ms);
    if (this.tryUpgradableRead()) return true;
    return this.upgradableSlow(t);
  }

  private upgradableSlow(timeoutMs: number): boolean {
    this.checkNotOwner('upgradableRead');
    const r = this.lockCommon(timeoutMs, TOKEN_UPGRADABLE, this.tryUpgradableLoop, this.validateUpgradable, nowMs(), TAKE_UPGRADABLE);
    if (r === FAILED) return false;
    if (r < 0) throw new OwnerDiedError(); // the dead upgradable holder's share is ours as it was
    this.setOwner();
    return true;
  }

  /** Async upgradable read lock. */
  async upgradableReadAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    checkWaitOpts('RwLock.upgradableReadAsync', opts);
    if (this.tryUpgradableRead()) return;
    const r = await this.lockCommonAsync('upgradableReadAsync', opts, TOKEN_UPGRADABLE, this.tryUpgradableLoop, this.validateUpgradable, TAKE_UPGRADABLE);
    if (r < 0) throw new OwnerDiedError();
    this.setOwner();
    if (opts.signal?.aborted) {
      this.upgradableUnlock();
      throw abortReason(opts.signal);
    }
  }

  private checkUpgradableHeld(what: string): void {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_UPGRADABLE) === 0 || (s & RW_WRITER) !== 0) throw new Error(`RwLock.${what}: the lock is not held upgradable`);
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o === OW_NOT_RECOVERABLE) throw new NotRecoverableError();
    if ((o & ~OW_INCONSISTENT) !== this.me) {
      throw new Error(`RwLock.${what}: the upgradable lock is held by thread ${(o & ~OW_INCONSISTENT) - 1}, not by this thread (${this.region.threadId})`);
    }
  }

  private checkConsistent(what: string): void {
    if ((Atomics.load(this.i32, this.ownIdx) & OW_INCONSISTENT) !== 0) {
      throw new Error(`RwLock.${what}: the lock is inconsistent (a previous owner died): call markConsistent() first, or unlock`);
    }
  }

  /** Releases an upgradable read lock. */
  upgradableUnlock(): void {
    this.checkUpgradableHeld('upgradableUnlock');
    const i32 = this.i32;
    if (Atomics.load(i32, this.ownIdx) !== this.me) {
      // Inconsistent: the share becomes WRITER held forever (other readers still drain out), then not recoverable.
      Atomics.add(i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
      this.makeNotRecoverable();
      return;
    }
    this.clearOwner();
    let s = Atomics.load(i32, this.idx);
    while ((s & RW_PARKED) === 0) {
      // Release edge, as readUnlock.
      const seen = Atomics.compareExchange(i32, this.idx, s, s - (RW_ONE_READER | RW_UPGRADABLE));
      if (seen === s) {
        return;
      }
      s = seen;
    }
    this.wakeParked(0, (acc, r, w) => {
      // Other readers may change the count concurrently: CAS our share out.
      let cur = Atomics.load(i32, this.idx);
      const handoff = r.unparkedThreads !== 0 && (r.waiterOverdue || w.async);
      // The exclusive taker's owner word before its share (robust window, see rwlock-robust.ts).
      if (handoff && w.exclusiveTid >= 0) Atomics.store(i32, this.ownIdx, w.exclusiveTid + 1);
      for (;;) {
        let next = cur - (RW_ONE_READER | RW_UPGRADABLE) + (handoff ? acc : 0);
        next = r.haveMore ? next | RW_PARKED : next & ~RW_PARKED;
        const seen = Atomics.compareExchange(i32, this.idx, cur, next);
        if (seen === cur) return handoff ? TOKEN_HANDOFF : TOKEN_NORMAL;
        cur = seen;
      }
    });
  }

  /** Turns the upgradable lock into the write lock, waiting for the other readers to leave. */
  upgrade(): void {
    this.checkUpgradableHeld('upgrade');
    // Acquire edge for the drained readers comes from waitForReaders' loads.
    const old = Atomics.add(this.i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
    if (old >>> READER_SHIFT !== 1) this.waitForReaders(Infinity, nowMs(), RW_ONE_READER | RW_UPGRADABLE);
  }

  /** Upgrades only if this thread is the only reader now; never waits. */
  tryUpgrade(): boolean {
    this.checkUpgradableHeld('tryUpgrade');
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if (s >>> READER_SHIFT !== 1) return false;
      const seen = Atomics.compareExchange(i32, this.idx, s, s - (RW_ONE_READER | RW_UPGRADABLE) + RW_WRITER);
      if (seen === s) return true;
      s = seen;
    }
  }

  /** Waits at most `ms` for the other readers to leave; on timeout the upgradable lock is still held. */
  tryUpgradeFor(ms: number): boolean {
    const t = checkTimeoutMs('RwLock.tryUpgradeFor', ms);
    this.checkUpgradableHeld('tryUpgradeFor');
    const old = Atomics.add(this.i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
    if (old >>> READER_SHIFT === 1) return true;
    return this.waitForReaders(t, nowMs(), RW_ONE_READER | RW_UPGRADABLE);
  }

  /** Async upgrade; on timeout/abort it rejects and the upgradable lock is still held. */
  async upgradeAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    checkWaitOpts('RwLock.upgradeAsync', opts);
    this.checkUpgradableHeld('upgradeAsync');
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    const old = Atomics.add(this.i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
    if (old >>> READER_SHIFT === 1) return;
    await this.waitForReadersAsync('upgradeAsync', opts, nowMs(), RW_ONE_READER | RW_UPGRADABLE);
  }

  /** Atomically turns the write lock into a read lock, waking queued readers. */
  downgrade(): void {
    this.checkWriteHeld('downgrade');
    this.checkConsistent('downgrade');
    this.clearOwner();
    // Release edge for the readers we admit.
    const old = Atomics.add(this.i32, this.idx, RW_ONE_READER - RW_WRITER);
    if ((old & RW_PARKED) !== 0) this.wakeParked(RW_ONE_READER, this.clearParkedIfNoMore);
  }

  /** Atomically turns the write lock into an upgradable read lock. */
  downgradeToUpgradable(): void {
    this.checkWriteHeld('downgradeToUpgradable');
    // Release edge for the readers we admit; the owner word keeps our id (we still hold UPGRADABLE).
    const old = Atomics.add(this.i32, this.idx, (RW_ONE_READER | RW_UPGRADABLE) - RW_WRITER);
    if ((old & RW_PARKED) !== 0) this.wakeParked(RW_ONE_READER | RW_UPGRADABLE, this.clearParkedIfNoMore);
  }

  /** Turns the upgradable lock into a plain read lock, waking a queued writer/upgrader. */
  downgradeUpgradable(): void {
    this.checkUpgradableHeld('downgradeUpgradable');
    this.checkConsistent('downgradeUpgradable');
    this.clearOwner();
    const old = Atomics.sub(this.i32, this.idx, RW_UPGRADABLE);
    if ((old & RW_PARKED) !== 0) this.wakeParked(RW_ONE_READER, this.clearParkedIfNoMore);
  }

  // ------------------------------------------------------------------ guards and helpers

  acquireRead(): RwLockReadGuard {
    this.read();
    return new RwLockReadGuard(this);
  }

  acquireWrite(): RwLockWriteGuard {
    this.write();
    return new RwLockWriteGuard(this);
  }

  acquireUpgradable(): RwLockUpgradableGuard {
    this.upgradableRead();
    return new RwLockUpgradableGuard(this);
  }

  async acquireReadAsync(opts?: WaitAsyncOptions): Promise<RwLockReadGuard> {
    await this.readAsync(opts);
    return new RwLockReadGuard(this);
  }

  async acquireWriteAsync(opts?: WaitAsyncOptions): Promise<RwLockWriteGuard> {
    await this.writeAsync(opts);
    return new RwLockWriteGuard(this);
  }

  async acquireUpgradableAsync(opts?: WaitAsyncOptions): Promise<RwLockUpgradableGuard> {
    await this.upgradableReadAsync(opts);
    return new RwLockUpgradableGuard(this);
  }

  /** Runs `fn` under a shared lock. */
  withRead<T>(fn: () => T): T {
    this.read();
    try {
      return fn();
    } finally {
      this.readUnlock();
    }
  }

  /** Runs `fn` under the exclusive lock. */
  withWrite<T>(fn: () => T): T {
    this.write();
    try {
      return fn();
    } finally {
      this.writeUnlock();
    }
  }

  async withReadAsync<T>(fn: () => T | Promise<T>, opts?: WaitAsyncOptions): Promise<T> {
    await this.readAsync(opts);
    try {
      return await fn();
    } finally {
      this.readUnlock();
    }
  }

  async withWriteAsync<T>(fn: () => T | Promise<T>, opts?: WaitAsyncOptions): Promise<T> {
    await this.writeAsync(opts);
    try {
      return await fn();
    } finally {
      this.writeUnlock();
    }
  }
}
