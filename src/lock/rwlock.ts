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
 * Word 1 (OWNER) holds `threadId + 1` of the thread that holds WRITER or UPGRADABLE, 0 otherwise
 * (bit 30 OW_INCONSISTENT after a take-over from a dead holder; -1 = not recoverable, see below).
 * Only that thread writes it: its own id after it obtained the bit, 0 before it gives the bit up
 * (exceptions: an unlocker handing the bit off writes the taker's id under the bucket lock before
 * the taker runs; a taker claims a dead holder's word by CAS).
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
 * - Waiters spin a little while nobody is parked (and only while the region's live threads fit the
 *   cores: spinCanPay in common.ts), then set PARKED and park on the main key with a
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
 * Owner death (robust, glibc-style; POSIX has no robust rwlocks, so the reader semantics are ours):
 * - Who holds WRITER/UPGRADABLE: the OWNER word (threadId + 1). The holder stores its id (plain
 *   store) just after its acquiring CAS and clears it just before its releasing CAS/store; a
 *   hand-off writes the exclusive taker's id itself, under the bucket lock, before the state store.
 *   So a non-zero owner word always names the thread whose share is in the state word.
 * - exclusiveHolder() (slow paths only, and only once some thread of the region died — one load
 *   otherwise): owner word ≠ 0 → the holder is dead iff that thread is marked dead; owner word 0
 *   with the bits set → "unknown" (a live holder in its two-instruction window), and the waiter
 *   parks in 5 ms slices and re-checks (the issue's "check the owner's liveness when the park
 *   times out").
 * - NOT covered: a thread that dies inside that window — after its acquiring CAS and before its
 *   owner-word store, or after clearing it and before its release — leaves a share nobody can
 *   attribute: waiters then wait until their timeouts (untimed waits re-check every 5 ms forever).
 *   Mutex has no such window (its owner id is in the lock word, set by the same CAS); the RwLock's
 *   27-bit reader count leaves no room for it. An earlier version attributed the window through a
 *   per-thread "pending operation" word (Linux robust futexes' list_op_pending); the chaos soak
 *   and then the SPIN model verify/rwlock-robust.pml showed that a stale pending word lets a
 *   waiter "take over" a lock a live thread holds (two writers inside), and no ordering of the
 *   reads fixed it in the model, so safety won: the window is documented instead.
 * - Take-over: CAS on the OWNER word from the dead holder's value to `me | OW_INCONSISTENT`; the
 *   winner holds the dead share as it is in the state word (the state is not touched). A writer
 *   then turns a dead UPGRADABLE share into WRITER and drains readers (timed forms: on timeout the
 *   share goes back to the dead holder, so the next writer takes it over again) and throws
 *   OwnerDiedError with the write lock held. An upgrader takes over only a dead UPGRADABLE holder
 *   (OwnerDiedError with the upgradable lock held). Readers (and upgraders behind a dead WRITER)
 *   do not take over: only an exclusive holder can repair, and readers must not see a half-written
 *   state (glibc gives EOWNERDEAD only to a caller that then holds the lock exclusively), so they
 *   wait until a writer repairs — a workload with no writer must call write()/tryWrite() to recover.
 * - markConsistent() clears OW_INCONSISTENT. Unlocking while inconsistent keeps WRITER set forever
 *   (an upgradable share is turned into WRITER first), stores OW_NOT_RECOVERABLE (-1) in the owner
 *   word and wakes everyone: every later acquisition (read included) throws NotRecoverableError.
 *   downgrade()/downgradeUpgradable() are refused while inconsistent.
 * - The region's death handler (onOwnerDeath below) wakes the main queue when the dead thread held
 *   WRITER/UPGRADABLE; validateExclusive re-checks the holder's liveness under the bucket lock, so
 *   a writer can never sleep behind a dead holder (as in mutex.ts).
 * - Dying readers: NOT handled. Readers are an anonymous count (tracking them would cost the read
 *   fast path a per-reader record, and POSIX/glibc have no robust rwlocks either); a read share
 *   held by a dead thread is never released, so writers then wait until their timeouts. A waiter
 *   that dies is purged by the region; a stale PARKED bit then only costs one slow unlock.
 *
 * Async waiters park with TOKEN_ASYNC in their park token; a wake batch containing one is always
 * handed off (an async wake cannot win a barge), whether or not it is first in the batch.
 *
 * Debug deadlock detection (region option): a waiter behind a known WRITER/UPGRADABLE holder records
 * the edge (offset | 1, see mutex.ts checkDeadlock) and throws DeadlockError if it closes a cycle.
 * Waits on readers end the walk (readers are anonymous). Zero cost when off (one flag test on the
 * slow path).
 *
 * Memory: every acquiring CAS reads the releasing RMW/store of the previous holder(s) (acquire
 * edge); readers' releasing CAS and the writer's release CAS/store are the release edges. JS
 * Atomics are sequentially consistent, so these are synchronizes-with edges.
 */

import { nowMs, nowUs } from '../platform/clock.ts';
import { CORES, pause } from '../platform/host.ts';
import type { FilterOp, ParkResult, UnparkResult } from '../parking/lot.ts';
import { onOwnerCheck, onOwnerDeath, resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import type { ThreadTable } from '../parking/threads.ts';
import { NotRecoverableError, OwnerDiedError, TimeoutError } from '../errors.ts';
import { abortReason, checkFromOpts, checkSignal, checkTimeoutMs, checkWaitOpts, spinCanPay, type WaitAsyncOptions } from './common.ts';
import { checkDeadlock, TOKEN_HANDOFF, TOKEN_NORMAL, WAIT_RWLOCK } from './mutex.ts';

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

/** Park tokens: what a queued thread wants (its share of the state), | TOKEN_ASYNC for an async waiter. */
const TOKEN_SHARED = RW_ONE_READER;
const TOKEN_EXCLUSIVE = RW_WRITER;
const TOKEN_UPGRADABLE = RW_ONE_READER | RW_UPGRADABLE;
/** Not a share (bit 0 is PARKED, never part of a token): marks an async waiter, so a wake batch containing one hands off. */
const TOKEN_ASYNC = 1;

/** Owner word: thread id (SharedRegion.threadId) + 1 of the WRITER/UPGRADABLE holder, | OW_INCONSISTENT after a take-over. */
const OW_INCONSISTENT = 1 << 30;
/** Owner word of a lock that can never be used again (its WRITER bit stays set forever). */
const OW_NOT_RECOVERABLE = -1;
/** exclusiveHolder() results besides a dead holder's owner word (≥ 0). */
const H_ALIVE = -1;
const H_UNKNOWN = -2;
/** Park slice while the exclusive holder's liveness cannot be decided yet (see the header). */
const LIVENESS_SLICE_MS = 5;
/** What a slow path may take over from a dead holder: readers nothing, upgraders UPGRADABLE, writers both. */
const TAKE_NONE = 0;
const TAKE_UPGRADABLE = RW_UPGRADABLE;
const TAKE_ANY = RW_UPGRADABLE | RW_WRITER;

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

const DEFAULT_SPIN = CORES > 1 ? 40 : 0;

/** lockCommon outcomes. */
const FAILED = 0;
const ACQUIRED = 1;
const HANDED_OFF = 2;
// A negative outcome -(o + 1): the owner word `o` was claimed from a dead holder (we hold its
// share, marked inconsistent).
/** waitForReaders `prev` for a take-over: on timeout keep WRITER (the caller gives it back to the dead holder). */
const KEEP_WRITER = -1;

/** What a wake batch holds besides shares: an async waiter (forces hand-off), the exclusive taker's threadId (or -1). */
interface WakeInfo {
  async: boolean;
  exclusiveTid: number;
}

export interface RwLockOptions {
  /** Region to allocate the lock in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /** Wake policy, fixed at creation and shared by every thread. Default 'fair'. */
  prefer?: RwLockPolicy;
  /**
   * Spin budget (Atomics.pause rounds) before parking, per thread. Default 40 (0 on one core).
   * Spinning happens only while the region's live threads fit the cores (with more, a spinner
   * only keeps one more thread runnable).
   */
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
  private readonly threads: ThreadTable;
  /** Set just before each park: whether it is a liveness slice (validate then tolerates an undecided holder). */
  private slicing = false;
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
    if (this.region.threadId + 1 >= OW_INCONSISTENT) throw new RangeError(`RwLock: thread id ${this.region.threadId} does not fit in the owner word`);
    this.me = this.region.threadId + 1;
    this.threads = this.region.threads;
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

  private throwIfNotRecoverable(): void {
    if (Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE) throw new NotRecoverableError();
  }

  /**
   * Robust slow-path check: who holds the WRITER/UPGRADABLE bits of `take` now? Returns the owner
   * word of a holder known to be dead (> 0), H_ALIVE, or H_UNKNOWN (owner word 0 with the bits set:
   * a holder between its acquiring CAS and its owner-word store, or between clearing it and its
   * release — or one that died there, which cannot be attributed: see the header; re-check soon).
   * One load when no thread of the region ever died.
   */
  private exclusiveHolder(take: number): number {
    if (take === TAKE_NONE || !this.threads.anyDeaths()) return H_ALIVE;
    const s = Atomics.load(this.i32, this.idx);
    if ((s & take) === 0) return H_ALIVE;
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o === OW_NOT_RECOVERABLE) return H_ALIVE;
    if (o === 0) return H_UNKNOWN;
    return this.threads.isDead((o & ~OW_INCONSISTENT) - 1) ? o : H_ALIVE;
  }

  /**
   * Claims the owner word from a dead holder (`o` > 0, as exclusiveHolder returned it). Whoever wins
   * the CAS holds the dead share. Sound because a non-zero owner word is written only by (or, for a
   * hand-off, for) the thread the share belongs to, after it owns the bits, and cleared by that
   * thread before it releases them: a dead thread's id there means the share is still its own.
   */
  private claim(o: number): boolean {
    // Acquire edge: the dead holder's writes happened before its death mark, which we read.
    return Atomics.compareExchange(this.i32, this.ownIdx, o, this.me | OW_INCONSISTENT) === o;
  }

  /** Gives a claimed share back to the dead holder (a timed take-over that could not finish). */
  private unclaim(o: number): void {
    Atomics.compareExchange(this.i32, this.ownIdx, this.me | OW_INCONSISTENT, o);
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
      if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0) {
        return false;
      }
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
      if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0 || s >>> READER_SHIFT >= MAX_READERS) {
        if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0) return false;
        throw new RangeError(`RwLock: too many readers (max ${MAX_READERS})`);
      }
      const seen = Atomics.compareExchange(i32, this.idx, s, s + (RW_ONE_READER | RW_UPGRADABLE));
      if (seen === s) return true;
      s = seen;
      pause(i);
    }
  };

  // Validates run under the main bucket lock: park only if PARKED is still set (so the next
  // unlock will come to the lot) and the thread is still blocked.
  // Robust: also park only behind a holder not known to be dead (the death handler marks the
  // thread dead, then unparks under this lock: we see it dead here or are queued before that),
  // and never on a not-recoverable lock (its unlocker wakes everyone after storing that state).
  private readonly validateRead = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return (s & RW_PARKED) !== 0 && !this.canRead(s) && Atomics.load(this.i32, this.ownIdx) !== OW_NOT_RECOVERABLE;
  };

  private readonly validateExclusive = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_PARKED) === 0 || (s & (RW_WRITER | RW_UPGRADABLE)) === 0) return false;
    if (Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE) return false;
    return this.validHolder(TAKE_ANY);
  };

  private readonly validateUpgradable = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_PARKED) === 0 || (s & (RW_WRITER | RW_UPGRADABLE)) === 0) return false;
    if (Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE) return false;
    return this.validHolder(TAKE_UPGRADABLE);
  };

  private validHolder(take: number): boolean {
    const h = this.exclusiveHolder(take);
    return h === H_ALIVE || (h === H_UNKNOWN && this.slicing);
  }

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
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o > 0 && (o & ~OW_INCONSISTENT) === this.me) {
      throw new Error(
        `RwLock.${what}: deadlock: this thread (${this.region.threadId}) already holds the write or upgradable lock; ` +
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

  /** Sync take-over by a writer: turn the claimed share into WRITER and drain readers; false on timeout (share kept). */
  private finishWriteTakeOver(timeoutMs: number, start: number): boolean {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_UPGRADABLE) !== 0) {
      // The dead thread held the upgradable lock: upgrade its share, as upgrade() does.
      const old = Atomics.add(this.i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
      return old >>> READER_SHIFT === 1 || this.waitForReaders(timeoutMs, start, RW_ONE_READER | RW_UPGRADABLE);
    }
    return this.waitForReaders(timeoutMs, start, KEEP_WRITER);
  }

  /** tryWrite's take-over: succeeds only if no other reader holds the lock now (never waits). */
  private tryFinishWriteTakeOver(): boolean {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if ((s & RW_WRITER) !== 0) return s >>> READER_SHIFT === 0;
      if (s >>> READER_SHIFT !== 1) return false;
      const seen = Atomics.compareExchange(i32, this.idx, s, s - (RW_ONE_READER | RW_UPGRADABLE) + RW_WRITER);
      if (seen === s) return true;
      s = seen;
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
    // still in the state word (the robust attribution, see the header).
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

  /**
   * Unlocked while inconsistent (no markConsistent()): keep WRITER set forever, store
   * OW_NOT_RECOVERABLE (release edge for the waiters' loads) and wake everyone, so each throws
   * NotRecoverableError (glibc's ENOTRECOVERABLE).
   */
  private makeNotRecoverable(): void {
    Atomics.store(this.i32, this.ownIdx, OW_NOT_RECOVERABLE);
    this.region.lot.unparkAll(this.offset);
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
        // is never unattributed if it dies before running (robust window, see the header).
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
      // The exclusive taker's owner word before its share (robust window, see the header).
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

  private readonly clearParkedIfNoMore = (_acc: number, r: UnparkResult, _w: WakeInfo): number => {
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
   * each non-hand-off wake. Returns FAILED on timeout, ACQUIRED, HANDED_OFF, or -(o + 1) after
   * claiming owner word `o` from a dead holder of a `take` bit (robust; see the header).
   */
  private lockCommon(timeoutMs: number, token: number, tryLock: () => boolean, validate: () => boolean, startMs: number, take: number): number {
    const i32 = this.i32;
    const idx = this.idx;
    let spins = 0;
    // Spin only while the region's live threads fit the cores (see spinCanPay); checked once per call.
    const budget = spinCanPay(this.threads) ? this.spin : 0;
    for (;;) {
      if (tryLock()) return ACQUIRED;
      let slice = false;
      if (this.threads.anyDeaths()) {
        // Robust: never sleep behind a dead holder; take its share over instead.
        this.throwIfNotRecoverable();
        const h = this.exclusiveHolder(take);
        if (h >= 0) {
          if (this.claim(h)) return -(h + 1);
          continue;
        }
        slice = h === H_UNKNOWN;
      }
      const s = Atomics.load(i32, idx);
      if ((s & (RW_PARKED | RW_WRITER_PARKED)) === 0 && spins < budget) {
        pause(spins++);
        continue;
      }
      if ((s & RW_PARKED) === 0 && Atomics.compareExchange(i32, idx, s, s | RW_PARKED) !== s) continue;
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = startMs + timeoutMs - nowMs();
        if (left <= 0) return FAILED;
      }
      if (slice) left = Math.min(left ?? Infinity, LIVENESS_SLICE_MS);
      const dd = this.region.deadlockDetection;
      if (dd) this.checkDeadlockBefore(s, false);
      this.slicing = slice;
      let r: ParkResult;
      try {
        r = this.region.lot.park(this.offset, validate, { token, timeoutMs: left, timedOut: this.clearParkedIfLast });
      } finally {
        if (dd) this.threads.setWaitingFor(this.region.threadId, -1);
      }
      if (r.result === 'unparked' && r.token === TOKEN_HANDOFF) return HANDED_OFF;
      if (r.result === 'timedOut' && (!slice || (timeoutMs !== Infinity && startMs + timeoutMs - nowMs() <= 0))) return FAILED;
      spins = 0;
    }
  }

  /** Debug deadlock detection before parking on the main key: the wait is for the WRITER/UPGRADABLE holder, if known. */
  private checkDeadlockBefore(s: number, async: boolean): void {
    if ((s & (RW_WRITER | RW_UPGRADABLE)) === 0) return;
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o <= 0) return; // readers are anonymous; not recoverable has no owner
    checkDeadlock(this.region, this.offset | WAIT_RWLOCK, (o & ~OW_INCONSISTENT) - 1, async);
  }

  /** Async lockCommon: no spinning (never stall the event loop); async waiters receive hand-off. */
  private async lockCommonAsync(
    what: string,
    opts: WaitAsyncOptions,
    token: number,
    tryLock: () => boolean,
    validate: () => boolean,
    take: number,
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
      let slice = false;
      if (this.threads.anyDeaths()) {
        this.throwIfNotRecoverable();
        const h = this.exclusiveHolder(take);
        if (h >= 0) {
          if (this.claim(h)) return -(h + 1);
          continue;
        }
        slice = h === H_UNKNOWN;
      }
      const s = Atomics.load(i32, idx);
      if ((s & RW_PARKED) === 0 && Atomics.compareExchange(i32, idx, s, s | RW_PARKED) !== s) continue;
      let left = timeoutMs === Infinity ? undefined : startMs + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) throw new TimeoutError(`RwLock.${what}: timed out after ${timeoutMs} ms`);
      if (slice) left = Math.min(left ?? Infinity, LIVENESS_SLICE_MS);
      const dd = this.region.deadlockDetection;
      if (dd) this.checkDeadlockBefore(s, true);
      this.slicing = slice;
      let r: ParkResult;
      try {
        r = await this.region.lot.parkAsync(this.offset, validate, {
          token: token | TOKEN_ASYNC, // a wake batch with an async waiter always hands off
          timeoutMs: left,
          signal,
          fairAtUs: nowUs(), // async waiters always receive hand-off (an async wake cannot win a barge)
          timedOut: this.clearParkedIfLast,
        });
      } finally {
        if (dd) this.threads.setWaitingFor(this.region.threadId, -1);
      }
      if (r.result === 'unparked' && r.token === TOKEN_HANDOFF) return HANDED_OFF;
      if (r.result === 'timedOut') {
        if (slice && (timeoutMs === Infinity || startMs + timeoutMs - nowMs() > 0)) continue;
        throw new TimeoutError(`RwLock.${what}: timed out after ${timeoutMs} ms`);
      }
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
      this.slicing = false;
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

  /**
   * Gives WRITER back after a failed drain, restoring `prev`, and wakes threads it blocked.
   * KEEP_WRITER (a take-over): only clear WRITER_PARKED; the caller gives the share back to the dead holder.
   */
  private abandonWriter(prev: number): void {
    const i32 = this.i32;
    if (prev === KEEP_WRITER) {
      // We hold WRITER and are not parked on key 2 (any more): WRITER_PARKED is ours to clear.
      Atomics.and(i32, this.idx, ~RW_WRITER_PARKED);
      return;
    }
    if (prev === 0) {
      this.clearOwner();
    }
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
  private wakeParked(base: number, callback: (acc: number, r: UnparkResult, w: WakeInfo) => number): void {
    const lot = this.region.lot;
    let acc = base;
    const w: WakeInfo = { async: false, exclusiveTid: -1 };
    const take = (token: number, tid: number): FilterOp => {
      // Count the woken thread's share; note async waiters and the (single) exclusive taker.
      if ((token & TOKEN_ASYNC) !== 0) w.async = true;
      const share = token & ~TOKEN_ASYNC;
      if ((share & (RW_UPGRADABLE | RW_WRITER)) !== 0) w.exclusiveTid = tid;
      acc += share;
      return 'unpark';
    };
    const fairFilter = (token: number, tid: number): FilterOp => {
      // parking_lot: after waking a writer wake nothing else; otherwise every reader up to the
      // first writer/upgrader, plus that one unless an upgrader is already in.
      if ((acc & RW_WRITER) !== 0) return 'stop';
      if ((token & (RW_UPGRADABLE | RW_WRITER)) !== 0 && (acc & RW_UPGRADABLE) !== 0) return 'skip';
      return take(token, tid);
    };
    if (this.policy === P_FAIR) {
      lot.unparkFilter(this.offset, fairFilter, (r) => callback(acc, r, w));
      return;
    }
    if (this.policy === P_READERS) {
      lot.unparkFilter(
        this.offset,
        (token, tid) => {
          // Every reader, wherever it is queued, plus the first eligible writer/upgrader.
          if ((token & ~TOKEN_ASYNC) === TOKEN_SHARED) return take(token, tid);
          if ((acc & (RW_WRITER | RW_UPGRADABLE)) !== 0) return 'skip';
          return take(token, tid);
        },
        (r) => callback(acc, r, w),
      );
      return;
    }
    // 'writers': the first queued writer alone, if it can run; else everyone the fair filter wakes.
    let again = false;
    lot.unparkFilter(
      this.offset,
      (token, tid) => {
        if ((acc & RW_WRITER) !== 0) return 'stop';
        if ((token & ~TOKEN_ASYNC) !== TOKEN_EXCLUSIVE || (acc & RW_UPGRADABLE) !== 0) return 'skip';
        return take(token, tid);
      },
      (r) => {
        if (r.unparkedThreads === 0 && r.haveMore) {
          again = true; // state untouched: the second pass decides
          return TOKEN_NORMAL;
        }
        return callback(acc, r, w);
      },
    );
    if (again) {
      acc = base;
      w.async = false;
      w.exclusiveTid = -1;
      lot.unparkFilter(this.offset, fairFilter, (r) => callback(acc, r, w));
    }
  }
}

// When a thread dies, wake the waiters of every RwLock whose WRITER/UPGRADABLE share it held (its
// id in the owner word): each re-checks, and a writer (or, for a dead upgradable holder, an
// upgrader) takes the share over with OwnerDiedError. Runs after the thread was marked dead.
// Also wakes the queue of a lock with no exclusive holder (the dead thread may have been a woken
// waiter: found by the SPIN model, verify/rwlock-robust.pml -DDIE_WOKEN).
// A dead thread's record may be reclaimed only once no RwLock owner word names it (threads.ts).
onOwnerCheck('RwLock', (region, offset, tid) => {
  const o = Atomics.load(region.i32, (offset >> 2) + W_OWNER);
  return o > 0 && (o & ~OW_INCONSISTENT) === tid + 1;
});

onOwnerDeath('RwLock', (region, offset, tid) => {
  const i32 = region.i32;
  const s = Atomics.load(i32, (offset >> 2) + W_STATE);
  if ((s & RW_PARKED) === 0) return;
  const o = Atomics.load(i32, (offset >> 2) + W_OWNER);
  const held = (s & (RW_WRITER | RW_UPGRADABLE)) !== 0 && o > 0 && (o & ~OW_INCONSISTENT) === tid + 1;
  // Held by the dead thread: everyone re-checks and a writer takes over. No exclusive holder: the
  // dead thread may have been a waiter an unlock had just woken to retry (TOKEN_NORMAL), so nobody
  // would wake the rest; they retry too (a spurious wake only costs a re-park).
  if (held || (s & (RW_WRITER | RW_UPGRADABLE)) === 0) region.lot.unparkAll(offset);
});
