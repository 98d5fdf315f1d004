/**
 * RwLock: a reader-writer lock on the shared-memory ParkingLot, after Rust parking_lot's
 * `raw_rwlock.rs` (itself after Boost's `upgrade_mutex`), with three wake policies.
 *
 * State word (word 0 of the block, an Int32; its byte offset is the main parking key):
 *
 * | bits 4..30   | bit 3  | bit 2      | bit 1         | bit 0  | meaning                                   |
 * |--------------|--------|------------|---------------|--------|-------------------------------------------|
 * | reader count | WRITER | UPGRADABLE | WRITER_PARKED | PARKED |                                           |
 * | 0            | 0      | 0          | 0             | 0      | free                                       |
 * | n > 0        | 0      | 0          | 0             | x      | read-locked by n readers                   |
 * | n > 0        | 0      | 1          | 0             | x      | n readers, one of them upgradable          |
 * | 0            | 1      | 0          | 0             | x      | write-locked                               |
 * | n > 0        | 1      | 0          | x             | x      | a writer owns WRITER and waits for n readers to drain |
 *
 * PARKED: some thread waits in the main queue (key = offset). WRITER_PARKED: the WRITER holder is
 * parked on the second key (offset + 4, the owner word, part of this block) waiting for readers to
 * drain; only the WRITER holder ever parks there, so at most one thread does.
 *
 * Word 1 (OWNER) holds `threadId + 1` of the thread that holds WRITER or UPGRADABLE, 0 otherwise.
 * Only that thread writes it: its own id after it obtained the bit, 0 before it gives the bit up.
 * So a thread that reads its own id there holds the bit: that catches unlock by a non-owner and
 * self-deadlock (write() while holding write) without touching the fast-path CAS. The writes are
 * plain stores (an Atomics.store is an XCHG on x86 and doubled the cost of write+writeUnlock):
 * they happen only while holding the bit, so the acquiring and releasing CASes order them between
 * holders, and by coherence a thread can never read back its own id after clearing it (its clear
 * happens-before its later read). Other threads read it only as a snapshot (`owner`).
 * Word 2 holds the policy, written once at creation (before the handle can be posted).
 *
 * Algorithm (parking_lot):
 * - read: CAS `+ONE_READER` while the policy admits readers (below). write: CAS 0 → WRITER; on
 *   failure, grab WRITER whenever neither WRITER nor UPGRADABLE is set (even with readers present
 *   — then new readers block), then wait for the readers to drain (spin, then park on key 2).
 * - Waiters spin a little while nobody is parked, then set PARKED and park on the main key with a
 *   park token saying what they want (SHARED, EXCLUSIVE, UPGRADABLE); `validate` re-checks under
 *   the bucket lock that PARKED is set and they are still blocked, so no wake-up is lost.
 * - Unlocking with PARKED set calls `unparkFilter` on the main key, which wakes readers and at most
 *   one writer/upgrader (per policy) in one bucket pass. The last reader to leave while
 *   WRITER_PARKED is set wakes the draining writer on key 2.
 * - Fairness: if the first woken waiter has waited past its deadline (1 ms, CPython's
 *   TIME_TO_BE_FAIR) or is async, or `writeUnlockFair()` is used, the lock is handed over: the
 *   callback stores the woken threads' shares into the word under the bucket lock and they wake
 *   up owning it (TOKEN_HANDOFF). Otherwise woken threads retry (TOKEN_NORMAL).
 * - Upgradable read: a shared lock that excludes other upgraders and writers; `upgrade()` turns it
 *   into WRITER and drains the other readers; `downgrade()` turns a write lock into a read lock.
 *
 * Policies (all wake every reader they admit in one `unparkFilter` call):
 * - 'fair' (default, parking_lot): readers block while WRITER is set, so a waiting writer stops
 *   new readers and is never starved; unlocks wake, in FIFO order, the readers queued before the
 *   first writer plus that writer (phases alternate).
 * - 'readers' (C4's reader-preferring wake): a reader may join whenever a reader holds the lock,
 *   even if a writer is waiting (writers can starve under continuous reads); unlocks wake every
 *   queued reader plus at most one writer (which then drains the readers).
 * - 'writers': readers block while WRITER is set, and unlocks wake the first queued writer alone
 *   if there is one (readers only when no writer is queued); readers can starve.
 *
 * Invariants
 * - PARKED is set whenever a thread is queued on the main key; it is cleared only under that
 *   bucket lock (unpark callbacks, or the last waiter leaving on timeout/abort).
 * - WRITER_PARKED implies WRITER; it is cleared under the key-2 bucket lock, or by the WRITER
 *   holder itself when it stops waiting.
 * - Every holder's share is in the word: n readers = n × ONE_READER (an upgradable holder counts
 *   as a reader), a writer = WRITER. A hand-off adds the woken threads' shares before they wake.
 *
 * Misuse caught: unlocking what this thread does not hold (state left intact), write()/read()
 * while this thread holds the write lock, write() while it holds the upgradable lock. Not
 * caught: write() or upgrade() while this thread also holds a plain read lock waits for itself
 * (readers are anonymous counts) — use the timed or async forms, or upgradableRead().
 *
 * Owner death: not handled yet. A writer (or upgrader) that dies holding the lock blocks everyone
 * until their timeouts; its threadId is in the OWNER word for that work (written after the
 * acquiring CAS, so a death between the two leaves OWNER 0). A reader that dies holding a read
 * lock is an anonymous count and is never released. A waiter that dies is purged by the region;
 * a stale PARKED bit then only costs one slow unlock.
 *
 * Memory: every acquiring CAS reads the releasing RMW/store of the previous holder(s) (acquire
 * edge); readers' releasing CAS and the writer's release CAS/store are the release edges. JS
 * Atomics are sequentially consistent, so these are synchronizes-with edges.
 */

import { availableParallelism } from 'node:os';
import { threadId } from 'node:worker_threads';
import { nowMs, nowUs } from '../parking/clock.ts';
import type { FilterOp, ParkResult, UnparkResult } from '../parking/lot.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, type WaitAsyncOptions } from './common.ts';
import { TOKEN_HANDOFF, TOKEN_NORMAL } from './mutex.ts';

/** State bits. */
export const RW_PARKED = 1;
export const RW_WRITER_PARKED = 2;
export const RW_UPGRADABLE = 4;
export const RW_WRITER = 8;
export const RW_ONE_READER = 16;
const READER_SHIFT = 4;
const READERS_MASK = ~15;
const MAX_READERS = (1 << 27) - 1; // keeps the word a positive Int32
const MAX_READ_STATE = MAX_READERS << 4; // a state below this has room for one more reader

/** Park tokens: what a queued thread wants (its share of the state). */
const TOKEN_SHARED = RW_ONE_READER;
const TOKEN_EXCLUSIVE = RW_WRITER;
const TOKEN_UPGRADABLE = RW_ONE_READER | RW_UPGRADABLE;

/** Words of the block. */
const W_STATE = 0;
const W_OWNER = 1;
const W_POLICY = 2;
const BLOCK_BYTES = 12;

const POLICIES = ['fair', 'readers', 'writers'] as const;
export type RwLockPolicy = (typeof POLICIES)[number];
const P_FAIR = 1;
const P_READERS = 2;
const P_WRITERS = 3;

const CORES = availableParallelism();
const DEFAULT_SPIN = CORES > 1 ? 40 : 0;
const hasPause = typeof (Atomics as { pause?: unknown }).pause === 'function';

/** lockCommon outcomes. */
const FAILED = 0;
const ACQUIRED = 1;
const HANDED_OFF = 2;

export interface RwLockOptions {
  /** Region to allocate the lock in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /** Wake policy, fixed at creation and shared by every thread. Default 'fair'. */
  prefer?: RwLockPolicy;
  /** Spin budget (Atomics.pause rounds) before parking, per thread. Default 40 (0 on one core). */
  spin?: number;
}

export interface RwLockHandle extends PrimitiveHandle {
  readonly kind: 'RwLock';
  readonly options: { readonly spin: number };
}

function checkPolicy(v: unknown): RwLockPolicy {
  if ((POLICIES as readonly unknown[]).includes(v)) return v as RwLockPolicy;
  throw new RangeError(`RwLock option \`prefer\` must be 'fair', 'readers' or 'writers', got ${JSON.stringify(v)}`);
}

function checkSpin(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1_000_000) return v;
  throw new RangeError(`RwLock option \`spin\` must be an integer from 0 to 1000000, got ${JSON.stringify(v)}`);
}

function pause(i: number): void {
  if (hasPause) Atomics.pause(i);
}

/** A held read lock; `[Symbol.dispose]` (or `release()`) unlocks it once. */
export class RwLockReadGuard implements Disposable, AsyncDisposable {
  private lock: RwLock | null;
  constructor(lock: RwLock) {
    this.lock = lock;
  }
  release(): void {
    const l = this.lock;
    if (l === null) return;
    this.lock = null;
    l.readUnlock();
  }
  [Symbol.dispose](): void {
    this.release();
  }
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}

/** A held write lock; `[Symbol.dispose]` unlocks it; `downgrade()` turns it into a read guard. */
export class RwLockWriteGuard implements Disposable, AsyncDisposable {
  private lock: RwLock | null;
  constructor(lock: RwLock) {
    this.lock = lock;
  }
  private take(what: string): RwLock {
    const l = this.lock;
    if (l === null) throw new Error(`RwLockWriteGuard.${what}: the guard was already released`);
    this.lock = null;
    return l;
  }
  release(): void {
    if (this.lock !== null) this.take('release').writeUnlock();
  }
  /** Atomically turns the write lock into a read lock (no writer can get in between). */
  downgrade(): RwLockReadGuard {
    const l = this.take('downgrade');
    l.downgrade();
    return new RwLockReadGuard(l);
  }
  [Symbol.dispose](): void {
    this.release();
  }
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}

/** A held upgradable read lock; `upgrade()` / `upgradeAsync()` turn it into a write guard. */
export class RwLockUpgradableGuard implements Disposable, AsyncDisposable {
  private lock: RwLock | null;
  constructor(lock: RwLock) {
    this.lock = lock;
  }
  release(): void {
    const l = this.lock;
    if (l === null) return;
    this.lock = null;
    l.upgradableUnlock();
  }
  /** Waits for the other readers to leave and returns a write guard (this guard is then spent). */
  upgrade(): RwLockWriteGuard {
    const l = this.lock;
    if (l === null) throw new Error('RwLockUpgradableGuard.upgrade: the guard was already released');
    l.upgrade();
    this.lock = null;
    return new RwLockWriteGuard(l);
  }
  /** Async upgrade; on timeout/abort it rejects and this guard still holds the upgradable lock. */
  async upgradeAsync(opts?: WaitAsyncOptions): Promise<RwLockWriteGuard> {
    const l = this.lock;
    if (l === null) throw new Error('RwLockUpgradableGuard.upgradeAsync: the guard was already released');
    await l.upgradeAsync(opts);
    this.lock = null;
    return new RwLockWriteGuard(l);
  }
  [Symbol.dispose](): void {
    this.release();
  }
  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}

export class RwLock {
  /** The region holding the lock. */
  readonly region: SharedRegion;
  /** Byte offset of the state word (also the main parking key). */
  readonly offset: number;
  /** The wake policy (shared by every thread; fixed at creation). */
  readonly prefer: RwLockPolicy;
  private readonly i32: Int32Array;
  private readonly idx: number;
  private readonly ownIdx: number;
  /** Second parking key: the owner word's byte offset (part of this block). */
  private readonly key2: number;
  /** This thread's owner-word value. */
  private readonly me: number;
  private readonly policy: number;
  private readonly spin: number;
  private cachedHandle: RwLockHandle | undefined;

  constructor(opts: RwLockOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new RwLock(opts): opts must be an object');
    this.spin = checkSpin(opts.spin ?? DEFAULT_SPIN);
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
      this.i32 = this.region.i32;
      // Written once at creation, before the handle existed; the handle's transfer orders it.
      const p = Atomics.load(this.i32, (this.offset >> 2) + W_POLICY);
      if (p < P_FAIR || p > P_WRITERS) throw new TypeError(`RwLock.from: corrupt policy word ${p} at offset ${this.offset}`);
      this.policy = p;
    } else {
      const prefer = checkPolicy(opts.prefer ?? 'fair');
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new RwLock: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('RwLock', BLOCK_BYTES);
      this.i32 = region.i32;
      this.policy = POLICIES.indexOf(prefer) + 1;
      Atomics.store(this.i32, (this.offset >> 2) + W_POLICY, this.policy);
    }
    this.prefer = POLICIES[this.policy - 1];
    this.idx = (this.offset >> 2) + W_STATE;
    this.ownIdx = (this.offset >> 2) + W_OWNER;
    this.key2 = this.offset + 4 * W_OWNER;
    this.me = threadId + 1;
  }

  /** Attaches to an RwLock from its handle (e.g. received from another thread). */
  static from(handle: RwLockHandle | PrimitiveHandle, opts: Omit<RwLockOptions, 'region' | 'prefer'> = {}): RwLock {
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

  /** `threadId` of the thread holding (or draining for) the write lock or the upgradable lock, or -1. */
  get owner(): number {
    return Atomics.load(this.i32, this.ownIdx) - 1;
  }

  // ------------------------------------------------------------------ admission rules

  /** Whether a new reader may join in state `s`. */
  private canRead(s: number): boolean {
    if ((s & RW_WRITER) === 0) return true;
    // 'readers': a draining writer does not stop readers while readers still hold the lock.
    return this.policy === P_READERS && s >>> READER_SHIFT !== 0;
  }

  /** One attempt loop to join as a reader; false if the policy says wait. */
  private readonly tryReadLoop = (): boolean => {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (let i = 0; ; i++) {
      if (!this.canRead(s)) return false;
      if (s >>> READER_SHIFT >= MAX_READERS) throw new RangeError(`RwLock: too many readers (max ${MAX_READERS})`);
      // Acquire edge: reads the last releasing write (writer unlock / hand-off store).
      const seen = Atomics.compareExchange(i32, this.idx, s, s + RW_ONE_READER);
      if (seen === s) return true;
      s = seen;
      pause(i); // readers contend on the count: give the winner room
    }
  };

  /** Grab WRITER if neither WRITER nor UPGRADABLE is set (readers may remain: drain them next). */
  private readonly tryWriterBit = (): boolean => {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0) return false;
      // Acquire edge (for the part of the lock already free).
      const seen = Atomics.compareExchange(i32, this.idx, s, s | RW_WRITER);
      if (seen === s) return true;
      s = seen;
    }
  };

  private readonly tryUpgradableLoop = (): boolean => {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (let i = 0; ; i++) {
      if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0) return false;
      if (s >>> READER_SHIFT >= MAX_READERS) throw new RangeError(`RwLock: too many readers (max ${MAX_READERS})`);
      const seen = Atomics.compareExchange(i32, this.idx, s, s + (RW_ONE_READER | RW_UPGRADABLE));
      if (seen === s) return true;
      s = seen;
      pause(i);
    }
  };

  // Validates run under the main bucket lock: park only if PARKED is still set (so the next
  // unlock will come to the lot) and the thread is still blocked.
  private readonly validateRead = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return (s & RW_PARKED) !== 0 && !this.canRead(s);
  };

  private readonly validateExclusive = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return (s & RW_PARKED) !== 0 && (s & (RW_WRITER | RW_UPGRADABLE)) !== 0;
  };

  private readonly validateDrain = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return s >>> READER_SHIFT !== 0 && (s & RW_WRITER_PARKED) !== 0;
  };

  private readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    // Under the main bucket lock: the last waiter leaving clears PARKED.
    if (wasLast) Atomics.and(this.i32, this.idx, ~RW_PARKED);
  };

  private readonly clearWriterParked = (): void => {
    // Under the key-2 bucket lock; only the WRITER holder parks there, so it was the last.
    Atomics.and(this.i32, this.idx, ~RW_WRITER_PARKED);
  };

  private setOwner(): void {
    // Plain store, ordered by the lock (see the header): we hold WRITER or UPGRADABLE.
    this.i32[this.ownIdx] = this.me;
  }

  private clearOwner(): void {
    // Plain store before the bit is given up; the releasing RMW that follows orders it.
    this.i32[this.ownIdx] = 0;
  }

  private checkNotOwner(what: string): void {
    // Reading our own id means this thread holds WRITER or UPGRADABLE (see the header).
    if (Atomics.load(this.i32, this.ownIdx) === this.me) {
      throw new Error(
        `RwLock.${what}: deadlock: this thread (${threadId}) already holds the write or upgradable lock; ` +
          'between async tasks of one thread use the async forms',
      );
    }
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
    return this.tryReadLoop();
  }

  /** Waits at most `ms` for a shared lock. Returns whether it was acquired. */
  tryReadFor(ms: number): boolean {
    const t = checkTimeoutMs('RwLock.tryReadFor', ms);
    return this.tryReadLoop() || this.readSlow(t);
  }

  private readSlow(timeoutMs: number): boolean {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_WRITER) !== 0 && s >>> READER_SHIFT === 0) this.checkNotOwner('read');
    return this.lockCommon(timeoutMs, TOKEN_SHARED, this.tryReadLoop, this.validateRead, nowMs()) !== FAILED;
  }

  /** Acquires a shared lock without blocking the event loop (rejects with TimeoutError / the signal's reason). */
  async readAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    if (this.tryReadLoop()) return;
    await this.lockCommonAsync('readAsync', opts, TOKEN_SHARED, this.tryReadLoop, this.validateRead);
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

  private wakeDrainingWriter(): void {
    this.region.lot.unparkOne(this.key2, this.clearWriterParkedToken);
  }

  private readonly clearWriterParkedToken = (): number => {
    this.clearWriterParked();
    return TOKEN_NORMAL;
  };

  // ------------------------------------------------------------------ write

  /** Acquires the exclusive lock, blocking this thread. */
  write(): void {
    // Acquire edge: reads the last releasing write.
    if (Atomics.compareExchange(this.i32, this.idx, 0, RW_WRITER) === 0) {
      this.setOwner();
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
      if ((s & ~RW_PARKED) !== 0) return false;
      const seen = Atomics.compareExchange(i32, this.idx, s, s | RW_WRITER);
      if (seen === s) {
        this.setOwner();
        return true;
      }
      s = seen;
    }
  }

  /** Waits at most `ms` for the exclusive lock. Returns whether it was acquired. */
  tryWriteFor(ms: number): boolean {
    const t = checkTimeoutMs('RwLock.tryWriteFor', ms);
    return this.tryWrite() || this.writeSlow(t);
  }

  private writeSlow(timeoutMs: number): boolean {
    this.checkNotOwner('write');
    const start = nowMs();
    if (this.lockCommon(timeoutMs, TOKEN_EXCLUSIVE, this.tryWriterBit, this.validateExclusive, start) === FAILED) return false;
    this.setOwner();
    return this.waitForReaders(timeoutMs, start, 0);
  }

  /** Acquires the exclusive lock without blocking the event loop. */
  async writeAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    if (Atomics.compareExchange(this.i32, this.idx, 0, RW_WRITER) === 0) {
      this.setOwner();
      return;
    }
    const start = nowMs();
    await this.lockCommonAsync('writeAsync', opts, TOKEN_EXCLUSIVE, this.tryWriterBit, this.validateExclusive, start);
    this.setOwner();
    await this.waitForReadersAsync('writeAsync', opts, start, 0);
    if (opts.signal?.aborted) {
      this.writeUnlock();
      throw abortReason(opts.signal);
    }
  }

  /** Releases the exclusive lock. Throws (changing nothing) unless this thread holds it. */
  writeUnlock(): void {
    // Our id in the owner word means we hold WRITER or UPGRADABLE (the slow path tells which).
    if (Atomics.load(this.i32, this.ownIdx) !== this.me) this.checkWriteHeld('writeUnlock');
    this.clearOwner();
    // Release edge: the next acquirer's CAS reads this write.
    if (Atomics.compareExchange(this.i32, this.idx, RW_WRITER, 0) === RW_WRITER) return;
    this.unlockExclusiveSlow(false, 'writeUnlock');
  }

  /** Releases the exclusive lock and hands it directly to the queued threads, if any. */
  writeUnlockFair(): void {
    if (Atomics.load(this.i32, this.ownIdx) !== this.me) this.checkWriteHeld('writeUnlockFair');
    this.clearOwner();
    if (Atomics.compareExchange(this.i32, this.idx, RW_WRITER, 0) === RW_WRITER) return;
    this.unlockExclusiveSlow(true, 'writeUnlockFair');
  }

  private checkWriteHeld(what: string): void {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_WRITER) === 0 || s >>> READER_SHIFT !== 0) {
      throw new Error(`RwLock.${what}: the lock is not write-locked${s >>> READER_SHIFT !== 0 ? ' (it is read-locked: use readUnlock)' : ''}`);
    }
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o !== this.me) {
      throw new Error(`RwLock.${what}: the write lock is held by thread ${o - 1}, not by this thread (${threadId})`);
    }
  }

  private unlockExclusiveSlow(force: boolean, what: string): void {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_WRITER) === 0 || s >>> READER_SHIFT !== 0) {
      // We hold UPGRADABLE, not WRITER: put our id back (only we write it) and refuse.
      this.setOwner();
      this.checkWriteHeld(what);
    }
    this.wakeParked(0, (acc, r) => {
      // Under the main bucket lock. We hold WRITER with no readers; others can only set PARKED
      // (and their validate runs after us), so a plain store is safe.
      if (r.unparkedThreads !== 0 && (force || r.waiterOverdue)) {
        // Hand-off: the woken threads' shares go into the word before they wake. Release edge:
        // each woken thread's wake follows this store.
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
    if (!this.tryUpgradableLoop()) return false;
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
    if (this.lockCommon(timeoutMs, TOKEN_UPGRADABLE, this.tryUpgradableLoop, this.validateExclusive, nowMs()) === FAILED) return false;
    this.setOwner();
    return true;
  }

  /** Async upgradable read lock. */
  async upgradableReadAsync(opts: WaitAsyncOptions = {}): Promise<void> {
    if (this.tryUpgradableRead()) return;
    await this.lockCommonAsync('upgradableReadAsync', opts, TOKEN_UPGRADABLE, this.tryUpgradableLoop, this.validateExclusive);
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
    if (o !== this.me) throw new Error(`RwLock.${what}: the upgradable lock is held by thread ${o - 1}, not by this thread (${threadId})`);
  }

  /** Releases an upgradable read lock. */
  upgradableUnlock(): void {
    this.checkUpgradableHeld('upgradableUnlock');
    this.clearOwner();
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    while ((s & RW_PARKED) === 0) {
      // Release edge, as readUnlock.
      const seen = Atomics.compareExchange(i32, this.idx, s, s - (RW_ONE_READER | RW_UPGRADABLE));
      if (seen === s) return;
      s = seen;
    }
    this.wakeParked(0, (acc, r) => {
      // Other readers may change the count concurrently: CAS our share out.
      let cur = Atomics.load(i32, this.idx);
      const handoff = r.unparkedThreads !== 0 && r.waiterOverdue;
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
    this.checkUpgradableHeld('upgradeAsync');
    checkSignal('RwLock.upgradeAsync', opts.signal);
    if (opts.timeoutMs !== undefined) checkTimeoutMs('RwLock.upgradeAsync', opts.timeoutMs);
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    const old = Atomics.add(this.i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
    if (old >>> READER_SHIFT === 1) return;
    await this.waitForReadersAsync('upgradeAsync', opts, nowMs(), RW_ONE_READER | RW_UPGRADABLE);
  }

  /** Atomically turns the write lock into a read lock, waking queued readers. */
  downgrade(): void {
    this.checkWriteHeld('downgrade');
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
    this.clearOwner();
    const old = Atomics.sub(this.i32, this.idx, RW_UPGRADABLE);
    if ((old & RW_PARKED) !== 0) this.wakeParked(RW_ONE_READER, this.clearParkedIfNoMore);
  }

  private readonly clearParkedIfNoMore = (_acc: number, r: UnparkResult): number => {
    // Under the main bucket lock.
    if (!r.haveMore) Atomics.and(this.i32, this.idx, ~RW_PARKED);
    return TOKEN_NORMAL;
  };

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

  // ------------------------------------------------------------------ common slow paths

  /**
   * parking_lot's lock_common: try, spin while nobody is parked, set PARKED, park; retry after
   * each non-hand-off wake. Returns FAILED on timeout, ACQUIRED or HANDED_OFF.
   */
  private lockCommon(timeoutMs: number, token: number, tryLock: () => boolean, validate: () => boolean, startMs: number): number {
    const i32 = this.i32;
    const idx = this.idx;
    let spins = 0;
    for (;;) {
      if (tryLock()) return ACQUIRED;
      const s = Atomics.load(i32, idx);
      if ((s & (RW_PARKED | RW_WRITER_PARKED)) === 0 && spins < this.spin) {
        pause(spins++);
        continue;
      }
      if ((s & RW_PARKED) === 0 && Atomics.compareExchange(i32, idx, s, s | RW_PARKED) !== s) continue;
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = startMs + timeoutMs - nowMs();
        if (left <= 0) return FAILED;
      }
      const r: ParkResult = this.region.lot.park(this.offset, validate, { token, timeoutMs: left, timedOut: this.clearParkedIfLast });
      if (r.result === 'unparked' && r.token === TOKEN_HANDOFF) return HANDED_OFF;
      if (r.result === 'timedOut') return FAILED;
      spins = 0;
    }
  }

  /** Async lockCommon: no spinning (never stall the event loop); async waiters receive hand-off. */
  private async lockCommonAsync(
    what: string,
    opts: WaitAsyncOptions,
    token: number,
    tryLock: () => boolean,
    validate: () => boolean,
    startMs = nowMs(),
  ): Promise<number> {
    if (opts === null || typeof opts !== 'object') throw new TypeError(`RwLock.${what}: opts must be an object`);
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? Infinity : checkTimeoutMs(`RwLock.${what}`, opts.timeoutMs);
    checkSignal(`RwLock.${what}`, signal);
    if (signal?.aborted) throw abortReason(signal);
    const i32 = this.i32;
    const idx = this.idx;
    for (;;) {
      if (tryLock()) return ACQUIRED;
      const s = Atomics.load(i32, idx);
      if ((s & RW_PARKED) === 0 && Atomics.compareExchange(i32, idx, s, s | RW_PARKED) !== s) continue;
      const left = timeoutMs === Infinity ? undefined : startMs + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) throw new TimeoutError(`RwLock.${what}: timed out after ${timeoutMs} ms`);
      const r = await this.region.lot.parkAsync(this.offset, validate, {
        token,
        timeoutMs: left,
        signal,
        fairAtUs: nowUs(), // async waiters always receive hand-off (an async wake cannot win a barge)
        timedOut: this.clearParkedIfLast,
      });
      if (r.result === 'unparked' && r.token === TOKEN_HANDOFF) return HANDED_OFF;
      if (r.result === 'timedOut') throw new TimeoutError(`RwLock.${what}: timed out after ${timeoutMs} ms`);
      if (r.result === 'aborted') throw abortReason(signal as AbortSignal);
    }
  }

  /**
   * The WRITER holder waits for the remaining readers to leave (spin, then park on key 2).
   * On timeout it gives WRITER back (restoring `prev`, the upgradable share when upgrading).
   */
  private waitForReaders(timeoutMs: number, startMs: number, prev: number): boolean {
    const i32 = this.i32;
    const idx = this.idx;
    let spins = 0;
    for (;;) {
      // Acquire edge: reading a zero count synchronizes with the last reader's releasing CAS.
      const s = Atomics.load(i32, idx);
      if (s >>> READER_SHIFT === 0) return true;
      if ((s & RW_WRITER_PARKED) === 0 && spins < this.spin) {
        pause(spins++);
        continue;
      }
      if ((s & RW_WRITER_PARKED) === 0 && Atomics.compareExchange(i32, idx, s, s | RW_WRITER_PARKED) !== s) continue;
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = startMs + timeoutMs - nowMs();
        if (left <= 0) {
          this.abandonWriter(prev);
          return false;
        }
      }
      const r = this.region.lot.park(this.key2, this.validateDrain, {
        token: TOKEN_EXCLUSIVE,
        timeoutMs: left,
        timedOut: this.clearWriterParked,
        fairAtUs: null,
      });
      if (r.result === 'timedOut') {
        this.abandonWriter(prev);
        return false;
      }
    }
  }

  private async waitForReadersAsync(what: string, opts: WaitAsyncOptions, startMs: number, prev: number): Promise<void> {
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? Infinity : opts.timeoutMs;
    const i32 = this.i32;
    const idx = this.idx;
    for (;;) {
      const s = Atomics.load(i32, idx);
      if (s >>> READER_SHIFT === 0) return;
      if ((s & RW_WRITER_PARKED) === 0 && Atomics.compareExchange(i32, idx, s, s | RW_WRITER_PARKED) !== s) continue;
      const left = timeoutMs === Infinity ? undefined : startMs + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) {
        this.abandonWriter(prev);
        throw new TimeoutError(`RwLock.${what}: timed out after ${timeoutMs} ms waiting for readers`);
      }
      const r = await this.region.lot.parkAsync(this.key2, this.validateDrain, {
        token: TOKEN_EXCLUSIVE,
        timeoutMs: left,
        signal,
        timedOut: this.clearWriterParked,
        fairAtUs: null,
      });
      if (r.result === 'timedOut') {
        this.abandonWriter(prev);
        throw new TimeoutError(`RwLock.${what}: timed out after ${timeoutMs} ms waiting for readers`);
      }
      if (r.result === 'aborted') {
        this.abandonWriter(prev);
        throw abortReason(signal as AbortSignal);
      }
    }
  }

  /** Gives WRITER back after a failed drain, restoring `prev`, and wakes threads it blocked. */
  private abandonWriter(prev: number): void {
    if (prev === 0) this.clearOwner();
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      // We are not parked on key 2 (any more), so WRITER_PARKED goes with WRITER.
      const seen = Atomics.compareExchange(i32, this.idx, s, (s & ~RW_WRITER_PARKED) - RW_WRITER + prev);
      if (seen === s) break;
      s = seen;
    }
    if ((s & RW_PARKED) !== 0) this.wakeParked(prev, this.clearParkedIfNoMore);
  }

  /**
   * Wakes queued threads after WRITER or UPGRADABLE was released (or is being handed over):
   * one `unparkFilter` pass choosing readers and at most one writer/upgrader per the policy;
   * 'writers' makes a second pass for readers only when no writer was queued. `acc` starts at the
   * caller's remaining share and accumulates the woken threads' tokens; `callback(acc, r)` runs
   * under the bucket lock and returns the unpark token.
   */
  private wakeParked(base: number, callback: (acc: number, r: UnparkResult) => number): void {
    const lot = this.region.lot;
    let acc = base;
    const fairFilter = (token: number): FilterOp => {
      // parking_lot: after waking a writer wake nothing else; otherwise every reader up to the
      // first writer/upgrader, plus that one unless an upgrader is already in.
      if ((acc & RW_WRITER) !== 0) return 'stop';
      if ((token & (RW_UPGRADABLE | RW_WRITER)) !== 0 && (acc & RW_UPGRADABLE) !== 0) return 'skip';
      acc += token;
      return 'unpark';
    };
    if (this.policy === P_FAIR) {
      lot.unparkFilter(this.offset, fairFilter, (r) => callback(acc, r));
      return;
    }
    if (this.policy === P_READERS) {
      lot.unparkFilter(
        this.offset,
        (token) => {
          // Every reader, wherever it is queued, plus the first eligible writer/upgrader.
          if (token === TOKEN_SHARED) {
            acc += token;
            return 'unpark';
          }
          if ((acc & (RW_WRITER | RW_UPGRADABLE)) !== 0) return 'skip';
          acc += token;
          return 'unpark';
        },
        (r) => callback(acc, r),
      );
      return;
    }
    // 'writers': the first queued writer alone, if it can run; else everyone the fair filter wakes.
    let again = false;
    lot.unparkFilter(
      this.offset,
      (token) => {
        if ((acc & RW_WRITER) !== 0) return 'stop';
        if (token !== TOKEN_EXCLUSIVE || (acc & RW_UPGRADABLE) !== 0) return 'skip';
        acc += token;
        return 'unpark';
      },
      (r) => {
        if (r.unparkedThreads === 0 && r.haveMore) {
          again = true; // state untouched: the second pass decides
          return TOKEN_NORMAL;
        }
        return callback(acc, r);
      },
    );
    if (again) {
      acc = base;
      lot.unparkFilter(this.offset, fairFilter, (r) => callback(acc, r));
    }
  }
}
