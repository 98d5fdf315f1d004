/**
 * Mutex: a 4-byte lock on the shared-memory ParkingLot (WebKit WTF::Lock / Rust parking_lot
 * RawMutex design, with CPython's per-waiter fairness deadline and glibc's adaptive spin).
 *
 * Lock word (one Int32 in a SharedRegion):
 *
 * | bits 4..31  | bit 3 | bit 2 | bit 1  | bit 0  | meaning                                        |
 * |-------------|-------|-------|--------|--------|------------------------------------------------|
 * | 0           | 0     | 0     | 0      | 0      | free, nobody parked                             |
 * | 0           | 0/1   | 0     | 1      | 0      | free, threads parked (WOKEN: one is on its way) |
 * | owner tid   | 0     | 0     | 0      | 1      | held by thread `tid`, nobody parked             |
 * | owner tid   | 0/1   | 0     | 1      | 1      | held, threads parked: unlock must go slow       |
 * |             |       |       |        |        | unless WOKEN says a woken waiter is on its way  |
 * | owner tid   | 0/1   | 1     | 0 or 1 | 1      | held by `tid`, who took it over from a dead     |
 * |             |       |       |        |        | owner and has not called markConsistent() yet   |
 * | all ones    | 0     | 1     | 0 or 1 | 1      | NOT_RECOVERABLE: unlocked while inconsistent    |
 *
 * Bits: LOCKED 1, PARKED 2, INCONSISTENT 4, WOKEN 8, owner threadId << 4 (27 bits); they and
 * every use of the word from outside this class (the owner-death handler, the deadlock detector's
 * holder lookup, the Condvar's requeue hooks) are in mutex-word.ts.
 * The owner's `threadId` lives in the word itself, as Linux robust futexes store the TID, so the
 * fast paths stay one CAS each and unlock by a non-owner is caught for free:
 * `lock` = CAS(0 → tid|LOCKED), `unlock` = CAS(tid|LOCKED → 0). With waiters the hint bits make
 * those CASes fail; `lock` then barges with one more CAS when the lock is free, and `unlock` with
 * a woken waiter on its way releases with one more CAS, both inline.
 *
 * Invariants
 * - PARKED is set (by a waiter, before it parks with a validate that re-checks LOCKED|PARKED
 *   under the bucket lock) whenever a thread is parked on the word's key; it is cleared only under
 *   that bucket lock (in the unpark callback, or by the last waiter leaving on timeout/abort). So
 *   an unlock that sees PARKED clear may skip the lot: no wake-up is lost.
 * - WOKEN (Go's mutexWoken; the default, tuning option `wakes` in tuning.ts): set only by an unpark callback, together
 *   with PARKED, when it wakes a waiter to retry (token TOKEN_WOKEN) and others stay parked. While
 *   it is set, unlock releases without waking anyone. The woken thread clears it on every path:
 *   in the CAS that takes the lock, in the CAS that sets PARKED to park again, or in dropWoken()
 *   when it leaves otherwise (an abort), which wakes a waiter if the lock is free with waiters.
 *   So whenever WOKEN is set, a thread that will clear it is awake; clearing it early (a hand-off
 *   store, a take-over, the death handler) only costs an extra wake, never a lost one.
 * - Barging: a free lock may be taken by anyone, even past parked threads (throughput), except
 *   that an unlocker hands the lock over directly — still LOCKED, owner rewritten to the waiter —
 *   when the first waiter has passed its fairness deadline and the lot's per-bucket fairness
 *   timer allows a fair unlock (at most one per 0.5 ms: without that rate limit an oversubscribed
 *   lock convoys, see lot.ts), when unlockFair() is called or the lock is FIFO, or when the
 *   waiter is async and past its own deadline (no rate limit: event-loop code must not starve).
 * - Spinning happens only while PARKED is clear (nobody queued), never by a woken waiter (it lost
 *   the race once already), and with the default 'adaptive' policy it re-reads with exponentially
 *   growing pauses and stops at the first race it loses for the free lock: the holder is re-taking
 *   it, and spinning on would only bounce the cache line between cores (measured: half the
 *   throughput of a sleeping waiter at 2 workers on 2 cores). The budget is learned from how many
 *   pause rounds recent successful spins took (EMA, α = 1/8, as glibc's adaptive mutex); no
 *   spinning on a single-core machine. The tuning value `spin: 'ema'` keeps glibc's
 *   one-pause-per-read policy.
 *
 * - Owner death (glibc robust mutexes): a thread that finds the lock held by a thread the region
 *   knows is dead (SharedRegion.watch) takes it over — CAS to its own tid with INCONSISTENT — and
 *   gets OwnerDiedError with the lock held. markConsistent() clears INCONSISTENT; unlocking
 *   without it stores NOT_RECOVERABLE and wakes everyone, and every later attempt throws
 *   NotRecoverableError. Liveness is checked before parking and again in validate (under the
 *   bucket lock), and the death handler (mutex-word.ts, registered per thread by the constructor)
 *   wakes the dead owner's waiters after marking it dead, so a waiter can never sleep behind a
 *   dead owner.
 *
 * - Debug deadlock detection (region option `debug.deadlockDetection`; one flag test on the slow
 *   path when off): before parking, lock() and lockAsync() record "this thread waits for this
 *   lock" in the thread table and walk owner → awaited lock → owner (deadlock.ts); closing a cycle throws (rejects, for lockAsync) DeadlockError instead of
 *   hanging. lockAsync behind a lock held by its own thread is not a cycle (another task may
 *   release it); with several async waits in one thread only the latest is in the graph.
 *
 * Fairness bound: a waiter parked past its deadline gets the lock at the next unlock. The
 * deadline is `first park + T`, with T = clamp(8 × EMA of hold time, 0.1 ms, 1 ms) ('dynamic',
 * default), a fixed `{ timeoutMs }`, 0 ('fifo': every unlock with waiters hands off) or never ('none').
 */

import { nowMs, nowUs } from '../platform/clock.ts';
import { CORES, pause } from '../platform/host.ts';
import type { ParkingLot, ParkResult, UnparkResult } from '../parking/lot.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import type { ThreadTable } from '../parking/threads.ts';
import { NotRecoverableError, OwnerDiedError, TimeoutError } from '../errors.ts';
import { abortReason, checkFromOpts, checkTimeoutMs, checkWaitOpts, spinCanPay } from './common.ts';
import { checkDeadlock } from './deadlock.ts';
import { LockGuard } from './guard.ts';
import {
  checkFairness, checkSpin, checkWakes,
  type FairnessOption, type LockAsyncOptions, type MutexCarriedOptions, type MutexHandle, type MutexOptions, type MutexStats,
  type SpinPolicy, type WakesPolicy,
} from './mutex-options.ts';
import { ensureMutexRegistered, INCONSISTENT, LOCKED, MAX_TID, NOT_RECOVERABLE, notRecoverable, OWNER_SHIFT, PARKED, WOKEN } from './mutex-word.ts';
import { PARK_ASYNC, PARK_SYNC, TOKEN_HANDOFF, TOKEN_NORMAL, TOKEN_WOKEN } from './tokens.ts';
import { tuned, type MutexTuning } from './tuning.ts';

export type { FairnessOption, LockAsyncOptions, MutexHandle, MutexOptions, MutexStats, SpinOption } from './mutex-options.ts';
// Only because src/index.ts still names it; a tuning type (tuning.ts), not a public option.

/** 'ema' spin: budget in `Atomics.pause()` rounds (~35 ns each on the reference machine). */
const SPIN_MIN = 8;
const SPIN_MAX = 400;
/** Adaptive spin: budget in pause rounds; backoff doubles the pauses per re-read up to 2^6. */
const ADAPTIVE_MIN = 64;
const ADAPTIVE_MAX = 1024;
const BACKOFF_MAX_SHIFT = 6;
const SPIN_EMA_SHIFT = 3; // α = 1/8

/** Dynamic fairness: deadline = clamp(HOLD_FACTOR × EMA(hold), MIN, MAX). */
const FAIR_MIN_US = 100;
const FAIR_MAX_US = 1000;
const HOLD_FACTOR = 8;


/** A held lock; `[Symbol.dispose]` (or `release()`) unlocks it once. */
export class MutexGuard extends LockGuard<Mutex> {
  protected override unlock(mutex: Mutex): void {
    mutex.unlock();
  }
}

export class Mutex {
  /** The region holding the lock word. */
  readonly region: SharedRegion;
  /** Byte offset of the lock word in the region (also its parking key). */
  readonly offset: number;
  private readonly i32: Int32Array;
  private readonly idx: number;
  /** This thread's locked word: tid | LOCKED. */
  private readonly me: number;
  private readonly spinOpt: SpinPolicy;
  /** Spin policy: 0 adaptive (backoff, give up on a lost race), 1 glibc EMA, 2 fixed budget with give-up. */
  private readonly spinMode: number;
  private readonly wakesOpt: WakesPolicy;
  /** WOKEN when wakes are throttled, else 0 (then the bit is never set). */
  private readonly wokenBit: number;
  private readonly fairOpt: FairnessOption;
  private readonly fairFixedUs: number; // ≥ 0 fixed deadline offset, -1 dynamic, -2 never
  // Adaptive state (thread-local: each thread learns from its own acquisitions).
  private spinEma = 16;
  private spinFails = 0;
  private holdEmaUs = 0;
  private slowAcquiredAtMs = -1;
  private forcing = false;
  private skippedDead = false;
  private readonly threads: ThreadTable;
  /** This thread's id in the region (the owner field of the lock word). */
  private readonly tid: number;
  private readonly st: MutexStats | null;
  private cachedHandle: MutexHandle | undefined;

  constructor(opts: MutexOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new Mutex(opts): opts must be an object');
    // The tuning values (tuning.ts) are accepted here too, outside the public option type.
    const tuning = opts as MutexTuning;
    this.spinOpt = checkSpin(tuning.spin ?? 'adaptive');
    this.spinMode = this.spinOpt === 'adaptive' ? 0 : this.spinOpt === 'ema' ? 1 : 2;
    this.wakesOpt = checkWakes(tuning.wakes ?? 'throttled');
    this.wokenBit = this.wakesOpt === 'throttled' ? WOKEN : 0;
    this.fairOpt = checkFairness(opts.fairness ?? 'dynamic');
    const f = this.fairOpt;
    this.fairFixedUs = f === 'dynamic' ? -1 : f === 'none' ? -2 : f === 'fifo' ? 0 : Math.round(f.timeoutMs * 1000);
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
    } else {
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new Mutex: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('Mutex', 4);
    }
    this.i32 = this.region.i32;
    this.idx = this.offset >> 2;
    this.threads = this.region.threads;
    this.tid = this.region.threadId;
    if (this.tid >= MAX_TID) throw new RangeError(`Mutex: thread id ${this.tid} does not fit in the lock word (max ${MAX_TID})`);
    ensureMutexRegistered();
    this.me = (this.tid << OWNER_SHIFT) | LOCKED;
    if (opts.stats != null && typeof opts.stats !== 'boolean') throw new TypeError(`new Mutex: \`stats\` must be a boolean, got ${typeof opts.stats}`);
    this.st = opts.stats === true ? { acquisitions: 0, contendedAcquisitions: 0, parks: 0, handoffsReceived: 0, handoffsGiven: 0, spinSuccesses: 0, maxWaitMs: 0 } : null;
    if (this.st !== null) {
      // Counting versions as own properties: instances without stats keep the bare fast paths.
      const st = this.st;
      const lock = this.lock;
      const tryLock = this.tryLock;
      this.lock = function (this: Mutex) { lock.call(this); st.acquisitions++; };
      this.tryLock = function (this: Mutex) { const ok = tryLock.call(this); if (ok) st.acquisitions++; return ok; };
    }
  }

  /** Attaches to a Mutex from its handle (e.g. received from another thread). Options default to the creator's. */
  static from(handle: MutexHandle | PrimitiveHandle, opts: Omit<MutexOptions, 'region'> = {}): Mutex {
    checkFromOpts('Mutex', opts);
    const { region, offset } = resolveHandle(handle, 'Mutex');
    const carried = (handle as { options?: Partial<MutexCarriedOptions> }).options;
    return new Mutex(tuned({ spin: carried?.spin, fairness: carried?.fairness, wakes: carried?.wakes, ...opts }), { region, offset });
  }

  /** A plain cloneable handle: post it to a worker and call `Mutex.from(handle)` there. */
  get handle(): MutexHandle {
    const options: MutexCarriedOptions = { spin: this.spinOpt, fairness: this.fairOpt, wakes: this.wakesOpt };
    this.cachedHandle ??= Object.freeze({
      ...this.region.handleFor('Mutex', this.offset),
      kind: 'Mutex' as const,
      options: Object.freeze(options) as MutexHandle['options'],
    });
    return this.cachedHandle;
  }

  /** Whether some thread holds the lock now (a snapshot). */
  get isLocked(): boolean {
    return (Atomics.load(this.i32, this.idx) & LOCKED) !== 0;
  }

  /** Region thread id (SharedRegion.threadId) of the holder, or -1 if free (a snapshot). */
  get owner(): number {
    const s = Atomics.load(this.i32, this.idx);
    return (s & LOCKED) === 0 ? -1 : s >>> OWNER_SHIFT;
  }

  /** This thread's statistics, or null if created without `stats: true`. */
  get stats(): Readonly<MutexStats> | null {
    return this.st;
  }

  // ---------------------------------------------------------------- fast paths

  /** Acquires the lock, blocking this thread (spin, then park) until it is free. */
  lock(): void {
    // Acquire edge: a successful CAS reads the releasing unlock's write (CAS to 0 or the hand-off
    // store), so everything the previous owner wrote in its critical section is visible.
    const s = Atomics.compareExchange(this.i32, this.idx, 0, this.me);
    if (s === 0) return;
    // Free, but with the PARKED / WOKEN hints set: barge with one more CAS (kept inline: a thread
    // re-taking the lock while others sleep or a woken one is on its way takes this path).
    if ((s & ~(PARKED | WOKEN)) === 0 && Atomics.compareExchange(this.i32, this.idx, s, s | this.me) === s) return;
    this.lockSlow(Infinity);
  }

  /** Takes the lock if it is free right now; never waits. */
  tryLock(): boolean {
    let s = Atomics.load(this.i32, this.idx);
    while ((s & LOCKED) === 0) {
      // Acquire edge as in lock(); PARKED is kept so the parked threads are still woken.
      const seen = Atomics.compareExchange(this.i32, this.idx, s, s | this.me);
      if (seen === s) return true;
      s = seen;
    }
    if (notRecoverable(s)) throw new NotRecoverableError();
    if (this.threads.isDead(s >>> OWNER_SHIFT)) return this.takeOver(s) ? this.ownerDied() : this.tryLock();
    return false;
  }

  /**
   * After OwnerDiedError: declares the protected data repaired, so the next unlock() makes the
   * lock normal again. Throws unless this thread holds the lock in that inconsistent state.
   */
  markConsistent(): void {
    for (;;) {
      const s = Atomics.load(this.i32, this.idx);
      if ((s & LOCKED) === 0 || notRecoverable(s) || s >>> OWNER_SHIFT !== this.tid) {
        throw new Error('Mutex.markConsistent: this thread does not hold the mutex');
      }
      if ((s & INCONSISTENT) === 0) throw new Error('Mutex.markConsistent: the mutex is not inconsistent (no owner died)');
      if (Atomics.compareExchange(this.i32, this.idx, s, s & ~INCONSISTENT) === s) return;
    }
  }

  /** Whether the lock was taken over from a dead owner and not yet marked consistent (a snapshot). */
  get isInconsistent(): boolean {
    const s = Atomics.load(this.i32, this.idx);
    return (s & INCONSISTENT) !== 0 && !notRecoverable(s);
  }

  /** Whether the lock was unlocked while inconsistent and can never be used again. */
  get isNotRecoverable(): boolean {
    return notRecoverable(Atomics.load(this.i32, this.idx));
  }

  /** Waits at most `ms` milliseconds for the lock. Returns whether it was acquired. */
  tryLockFor(ms: number): boolean {
    const t = checkTimeoutMs('Mutex.tryLockFor', ms);
    if (Atomics.compareExchange(this.i32, this.idx, 0, this.me) === 0) {
      if (this.st !== null) this.st.acquisitions++;
      return true;
    }
    const ok = this.lockSlow(t);
    if (ok && this.st !== null) this.st.acquisitions++;
    return ok;
  }

  /** Releases the lock. Throws (changing nothing) if it is not locked or held by another thread. */
  unlock(): void {
    // Release edge: the next acquirer's CAS reads this write, ordering our critical section before its.
    const s = Atomics.compareExchange(this.i32, this.idx, this.me, 0);
    if (s === this.me) return;
    // A woken waiter is on its way: release keeping the hints, without waking another (inline, as in lock()).
    if (s === (this.me | PARKED | WOKEN) && Atomics.compareExchange(this.i32, this.idx, s, PARKED | WOKEN) === s) return;
    this.unlockSlow(false);
  }

  /** Releases the lock and hands it directly to the longest-waiting thread, if any. */
  unlockFair(): void {
    this.unlockSlow(true);
  }

  /** If threads are waiting, hands the lock to the first of them and queues for it again. */
  bump(): void {
    if ((Atomics.load(this.i32, this.idx) & PARKED) !== 0) {
      this.unlockFair();
      this.lock();
    }
  }

  // ---------------------------------------------------------------- guards and helpers

  /** Locks and returns a guard: `using g = m.acquire();` unlocks at the end of the block. */
  acquire(): MutexGuard {
    this.lock();
    return new MutexGuard(this);
  }

  /** `await using g = await m.acquireAsync();` — lockAsync plus a guard. */
  async acquireAsync(opts?: LockAsyncOptions): Promise<MutexGuard> {
    await this.lockAsync(opts);
    return new MutexGuard(this);
  }

  /** Runs `fn` with the lock held and returns its result; unlocks even if it throws. */
  withLock<T>(fn: () => T): T {
    this.lock();
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Async form of withLock: never blocks the event loop while waiting. */
  async withLockAsync<T>(fn: () => T | Promise<T>, opts?: LockAsyncOptions): Promise<T> {
    await this.lockAsync(opts);
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }

  // ---------------------------------------------------------------- slow paths

  private readonly validateParked = (): boolean => {
    // Runs under the bucket lock: park only if the lock is still held and PARKED still set, so an
    // unlocker (which clears PARKED under this same lock) will find us; and only behind a live
    // owner (the death handler marks the owner dead, then unparks under this lock: we either see
    // it dead here or are queued before its unpark).
    const s = Atomics.load(this.i32, this.idx);
    return (s & (LOCKED | PARKED)) === (LOCKED | PARKED) && !notRecoverable(s) && !this.threads.isDead(s >>> OWNER_SHIFT);
  };

  /** CAS the lock from a dead owner to this thread, marked INCONSISTENT. */
  private takeOver(s: number): boolean {
    // Acquire edge as in lock(): we read the dead owner's last writes (whatever they were).
    return Atomics.compareExchange(this.i32, this.idx, s, (this.tid << OWNER_SHIFT) | LOCKED | INCONSISTENT | (s & PARKED)) === s;
  }

  private ownerDied(): never {
    if (this.st !== null) this.st.acquisitions++;
    throw new OwnerDiedError();
  }

  private readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    // Under the bucket lock: the last waiter leaving (timeout/abort) clears PARKED so unlock stays fast.
    if (wasLast) Atomics.and(this.i32, this.idx, ~PARKED);
  };

  private spinBudget(): number {
    const o = this.spinOpt;
    if (typeof o === 'number') return o;
    if (CORES <= 1) return 0;
    if (o === 'ema') {
      // glibc's adaptive mutex: budget 2 × EMA + 8 reads, capped; after repeated failures only
      // briefly, with a full budget now and then to re-learn.
      if (this.spinFails >= 4 && (this.spinFails++ & 15) !== 0) return SPIN_MIN;
      return Math.min(SPIN_MAX, Math.max(SPIN_MIN, 2 * this.spinEma + 8));
    }
    // Adaptive: spin only while every thread of the region can have a core (see spinCanPay).
    if (!spinCanPay(this.threads)) return 0;
    // The same learning as 'ema', in pause rounds of the backoff (about as long as a park and a
    // wake-up would take at the cap).
    if (this.spinFails >= 4 && (this.spinFails++ & 15) !== 0) return ADAPTIVE_MIN;
    return Math.min(ADAPTIVE_MAX, Math.max(ADAPTIVE_MIN, 2 * this.spinEma + ADAPTIVE_MIN));
  }

  private fairAtUs(startUs: number): number | null {
    const f = this.fairFixedUs;
    if (f === -2) return null;
    if (f >= 0) return (startUs + f) | 0;
    const t = Math.min(FAIR_MAX_US, Math.max(FAIR_MIN_US, HOLD_FACTOR * this.holdEmaUs));
    return (startUs + t) | 0;
  }

  /** `waited`: this acquisition spun or parked (a first-try barge past parked threads did not). */
  private acquiredSlow(startMs: number, waited = true): void {
    // Hold-time samples for dynamic fairness come only from acquisitions that waited: a holder
    // re-taking a free lock past parked threads would otherwise read the clock twice per lock.
    if (this.fairFixedUs === -1 && waited) this.slowAcquiredAtMs = nowMs();
    if (this.region.deadlockDetection) this.threads.setWaitingFor(this.tid, -1);
    const st = this.st;
    if (st !== null) {
      st.contendedAcquisitions++;
      if (startMs >= 0) st.maxWaitMs = Math.max(st.maxWaitMs, nowMs() - startMs);
    }
  }

  /**
   * Spin while nobody is parked, then set PARKED and park; retry after each non-hand-off wake.
   * `woken`: an unlock woke this thread with TOKEN_WOKEN and set WOKEN, so no unlock wakes another
   * waiter until this thread clears it — with the CAS that takes the lock, with the CAS that sets
   * PARKED to park again, or (leaving without either) in dropWoken(), which passes the wake on.
   */
  private lockSlow(timeoutMs: number, woken = false): boolean {
    const i32 = this.i32;
    const idx = this.idx;
    const st = this.st;
    const startMs = st !== null || timeoutMs !== Infinity ? nowMs() : -1;
    let startUs = 0;
    let parked = woken;
    let budget = woken ? 0 : this.spinBudget();
    let spins = 0;
    let backoff = 0;
    for (;;) {
      const s = Atomics.load(i32, idx);
      // Someone cleared WOKEN for us (a death handler, a hand-off): nothing left to clear.
      if (woken && (s & WOKEN) === 0) woken = false;
      // 1. Grab the lock if it is free, even if there is a queue (barging).
      if ((s & LOCKED) === 0) {
        // Acquire edge: reads the unlocker's store. A woken thread clears WOKEN in the same CAS.
        if (Atomics.compareExchange(i32, idx, s, (woken ? s & ~WOKEN : s) | this.me) === s) {
          if (spins > 0 && !parked) this.spinSucceeded(spins);
          this.acquiredSlow(startMs, spins > 0 || parked);
          return true;
        }
        // Lost a race for the free lock while spinning: the holder keeps re-taking it, and spinning
        // on would only move the line between cores; sleep and let it run (adaptive / fixed).
        if (spins > 0 && this.spinMode !== 1) spins = budget;
        continue;
      }
      if (notRecoverable(s)) throw new NotRecoverableError();
      if (s >>> OWNER_SHIFT === this.tid && !parked) {
        throw new Error(`Mutex.lock: deadlock: this thread (${this.tid}) already holds the mutex; between async tasks of one thread use lockAsync()`);
      }
      // 2. Nobody queued: spin a little, the holder may be about to release.
      if ((s & PARKED) === 0 && spins < budget) {
        if (this.spinMode === 1) {
          spins++;
          pause(spins);
        } else {
          // Exponential backoff: 1, 2, 4 … 64 pauses between re-reads, so a holder that releases
          // and re-takes the lock keeps its cache line for a while.
          const step = 1 << backoff;
          if (backoff < BACKOFF_MAX_SHIFT) backoff++;
          spins += step;
          for (let k = 0; k < step; k++) pause(k);
        }
        continue;
      }
      // 3. Announce that we will park (validate re-checks PARKED under the bucket lock); a woken
      //    thread also clears WOKEN here, so the next unlock wakes a waiter again.
      if ((s & PARKED) === 0 || woken) {
        if (Atomics.compareExchange(i32, idx, s, (s | PARKED) & ~(woken ? WOKEN : 0)) !== s) continue;
        woken = false;
      }
      if (spins >= budget && budget > 0 && !parked) this.spinFailed();
      // 4. Never sleep behind a dead owner: take the lock over instead (robust mutex).
      if (this.threads.isDead(s >>> OWNER_SHIFT)) {
        if (this.takeOver(s)) {
          if (this.region.deadlockDetection) this.threads.setWaitingFor(this.tid, -1);
          this.acquiredSlow(startMs);
          throw new OwnerDiedError();
        }
        continue;
      }
      if (this.region.deadlockDetection) checkDeadlock(this.region, 'Mutex', this.offset, s >>> OWNER_SHIFT, false);
      // 5. Park until an unlock wakes us, possibly handing the lock over.
      let left = Infinity;
      if (timeoutMs !== Infinity) {
        left = startMs + timeoutMs - nowMs();
        if (left <= 0) {
          if (this.region.deadlockDetection) this.threads.setWaitingFor(this.tid, -1);
          return false;
        }
      }
      if (startUs === 0) startUs = nowUs() | 1;
      parked = true;
      if (st !== null) st.parks++;
      const r: ParkResult = this.region.lot.park(this.offset, this.validateParked, {
        token: PARK_SYNC,
        fairAtUs: this.fairAtUs(startUs),
        timeoutMs: left === Infinity ? undefined : left,
        timedOut: this.clearParkedIfLast,
      });
      if (r.result === 'unparked' && r.token === TOKEN_HANDOFF) {
        // The unlocker wrote our tid into the word under the bucket lock; the lot's wake is the acquire edge.
        if (st !== null) st.handoffsReceived++;
        this.acquiredSlow(startMs);
        return true;
      }
      if (r.result === 'timedOut') {
        if (this.region.deadlockDetection) this.threads.setWaitingFor(this.tid, -1);
        return false;
      }
      // Woken without hand-off (or validate failed): compete again.
      woken = r.result === 'unparked' && r.token === TOKEN_WOKEN;
      spins = 0;
      backoff = 0;
      budget = woken ? 0 : this.spinBudget(); // a woken thread that loses sleeps again at once
    }
  }

  /**
   * Clears WOKEN for a thread that was woken to retry and leaves without taking the lock or
   * parking again; unlocks that skipped waking meanwhile are made up for by waking one waiter now
   * if the lock is free with waiters.
   */
  private dropWoken(): void {
    for (;;) {
      const s = Atomics.load(this.i32, this.idx);
      if ((s & WOKEN) === 0) return;
      if (Atomics.compareExchange(this.i32, this.idx, s, s & ~WOKEN) === s) {
        if ((s & (LOCKED | PARKED)) === PARKED) this.region.lot.unparkOne(this.offset, this.retryCallback);
        return;
      }
    }
  }

  /** Unpark callback of a non-owner waking one waiter to retry (under the bucket lock). */
  private readonly retryCallback = (r: UnparkResult): number => {
    if (r.unparkedThreads === 0 || !r.haveMore) {
      Atomics.and(this.i32, this.idx, ~PARKED);
      return TOKEN_NORMAL;
    }
    Atomics.or(this.i32, this.idx, WOKEN);
    return TOKEN_WOKEN;
  };

  /** @internal Re-locks after a wake from this mutex's queue (Condvar): `token` is the unpark token. */
  relockAfterWake(token: number): void {
    if (token === TOKEN_WOKEN) {
      this.lockSlow(Infinity, true);
      if (this.st !== null) this.st.acquisitions++;
    } else {
      this.lock();
    }
  }

  private spinSucceeded(spins: number): void {
    this.spinEma += (spins - this.spinEma) / (1 << SPIN_EMA_SHIFT);
    this.spinFails = 0;
    if (this.st !== null) this.st.spinSuccesses++;
  }

  private spinFailed(): void {
    if (this.spinFails < 4) this.spinFails++;
  }

  private readonly unparkCallback = (r: UnparkResult): number => {
    // Runs under the bucket lock. The word is tid|LOCKED(|PARKED)(|WOKEN) and only we may change
    // it (others can at most set PARKED or clear a stale WOKEN, and a parker's validate runs after
    // us under this lock, so overwriting either is safe: that parker re-checks and retries).
    if (r.unparkedThreads !== 0 && this.threads.isDead(r.threadId)) {
      // A waiter that died while parked (not yet purged): keep the lock and unpark the next one.
      this.skippedDead = true;
      return TOKEN_NORMAL;
    }
    // Hand off: unlockFair(); a FIFO lock; fairness is due (the waiter passed its deadline and the
    // bucket's rate limit allows it, see lot.ts); or an async waiter passed its deadline (an async
    // wake costs an event-loop hop, so past its bound it gets the lock without the rate limit).
    // The hand-off store drops WOKEN: extra wakes later are harmless, a stale WOKEN would not be.
    if (
      r.unparkedThreads !== 0 &&
      (this.forcing || this.fairFixedUs === 0 || r.beFair || (r.parkToken === PARK_ASYNC && r.waiterOverdue))
    ) {
      // Direct hand-off: stays LOCKED, owned by the woken thread. Release edge: the woken thread's
      // wake (which follows this store) orders our critical section before its.
      Atomics.store(this.i32, this.idx, (r.threadId << OWNER_SHIFT) | LOCKED | (r.haveMore ? PARKED : 0));
      if (this.st !== null) this.st.handoffsGiven++;
      return TOKEN_HANDOFF;
    }
    // Release edge for bargers: the next CAS on the word reads this store. With waiters left, WOKEN
    // tells later unlocks that the thread we wake is on its way (it clears WOKEN, see lockSlow).
    if (r.haveMore && this.wokenBit !== 0) {
      Atomics.store(this.i32, this.idx, PARKED | WOKEN);
      return TOKEN_WOKEN;
    }
    Atomics.store(this.i32, this.idx, r.haveMore ? PARKED : 0);
    return TOKEN_NORMAL;
  };

  private unlockSlow(force: boolean): void {
    const i32 = this.i32;
    const idx = this.idx;
    for (;;) {
      const s = Atomics.load(i32, idx);
      if ((s & LOCKED) === 0) throw new Error('Mutex.unlock: the mutex is not locked');
      if (notRecoverable(s)) throw new NotRecoverableError();
      if (s >>> OWNER_SHIFT !== this.tid) {
        throw new Error(`Mutex.unlock: the mutex is held by thread ${s >>> OWNER_SHIFT}, not by this thread (${this.tid})`);
      }
      if ((s & INCONSISTENT) !== 0) {
        // Unlocked without markConsistent(): the lock is unusable from now on (ENOTRECOVERABLE).
        // Release edge as in unlock(); then wake everyone so each throws NotRecoverableError.
        Atomics.store(i32, idx, NOT_RECOVERABLE);
        this.region.lot.unparkAll(this.offset);
        return;
      }
      if (!force && ((s & PARKED) === 0 || (s & WOKEN) !== 0)) {
        // Nobody parked, or a woken waiter is on its way: release, keeping the PARKED / WOKEN hints.
        if (Atomics.compareExchange(i32, idx, s, s & (PARKED | WOKEN)) === s) return;
        continue; // a waiter just set PARKED or cleared WOKEN
      }
      break;
    }
    if (this.slowAcquiredAtMs >= 0) {
      // Sample the hold time of contended acquisitions (dynamic fairness only).
      const held = Math.min(2000, (nowMs() - this.slowAcquiredAtMs) * 1000);
      this.holdEmaUs += (held - this.holdEmaUs) / 8;
      this.slowAcquiredAtMs = -1;
    }
    this.forcing = force;
    do {
      this.skippedDead = false;
      this.region.lot.unparkOne(this.offset, this.unparkCallback);
    } while (this.skippedDead);
  }

  private parkAsyncTracked(opts: Parameters<ParkingLot['parkAsync']>[2]): Promise<ParkResult> {
    const p = this.region.lot.parkAsync(this.offset, this.validateParked, opts);
    // Without detection: the lot's promise itself (no extra async hop on the slow path).
    if (!this.region.deadlockDetection) return p;
    return p.finally(() => this.threads.setWaitingFor(this.tid, -1));
  }

  /**
   * Acquires the lock without blocking the event loop. Rejects with TimeoutError after
   * `timeoutMs`, or with the signal's reason when aborted; the lock is then not held.
   * An async waiter competes like a synchronous one until it has waited past its fairness
   * deadline; from then on the next unlock hands the lock to it directly, so synchronous bargers
   * cannot starve event-loop code.
   */
  async lockAsync(opts: LockAsyncOptions = {}): Promise<void> {
    const timeoutMs = checkWaitOpts('Mutex.lockAsync', opts);
    const { signal } = opts;
    if (signal?.aborted) throw abortReason(signal);
    if (Atomics.compareExchange(this.i32, this.idx, 0, this.me) === 0) {
      if (this.st !== null) this.st.acquisitions++;
      return;
    }
    return this.lockAsyncSlow(timeoutMs, signal, false);
  }

  /** @internal Async re-lock after a wake from this mutex's queue (Condvar.waitAsync). */
  relockAfterWakeAsync(token: number): Promise<void> {
    return token === TOKEN_WOKEN ? this.lockAsyncSlow(Infinity, undefined, true) : this.lockAsync();
  }

  /** lockSlow's loop for event-loop code: no spinning, parkAsync, the same WOKEN duties. */
  private async lockAsyncSlow(timeoutMs: number, signal: AbortSignal | undefined, woken: boolean): Promise<void> {
    const st = this.st;
    const startMs = nowMs();
    const i32 = this.i32;
    const idx = this.idx;
    let startUs = 0;
    for (;;) {
      if (signal?.aborted) {
        if (woken) this.dropWoken();
        throw abortReason(signal);
      }
      const s = Atomics.load(i32, idx);
      if (woken && (s & WOKEN) === 0) woken = false;
      if ((s & LOCKED) === 0) {
        // Acquire edge as in lockSlow; a woken waiter clears WOKEN in the same CAS.
        if (Atomics.compareExchange(i32, idx, s, (woken ? s & ~WOKEN : s) | this.me) === s) break;
        continue;
      }
      if (notRecoverable(s)) throw new NotRecoverableError();
      if (this.threads.isDead(s >>> OWNER_SHIFT)) {
        if (this.takeOver(s)) this.ownerDied();
        continue;
      }
      // Announce the park; a woken waiter clears WOKEN in the same CAS (its duty is done: every
      // path below either throws without touching the word or parks, and the park's result sets
      // `woken` afresh).
      if (((s & PARKED) === 0 || woken) && Atomics.compareExchange(i32, idx, s, (s | PARKED) & ~(woken ? WOKEN : 0)) !== s) continue;
      const left = timeoutMs === Infinity ? undefined : startMs + timeoutMs - nowMs();
      if (left !== undefined && left <= 0) throw new TimeoutError(`Mutex.lockAsync: timed out after ${timeoutMs} ms`);
      if (st !== null) st.parks++;
      // Debug: an async wait that closes a cycle rejects; the wait-for edge is cleared however it ends.
      if (this.region.deadlockDetection) checkDeadlock(this.region, 'Mutex', this.offset, s >>> OWNER_SHIFT, true);
      if (startUs === 0) startUs = nowUs() | 1;
      const r = await this.parkAsyncTracked({
        token: PARK_ASYNC, // hand-off once overdue, without the bucket's rate limit (see unparkCallback)
        fairAtUs: this.fairAtUs(startUs),
        timeoutMs: left,
        signal,
        timedOut: this.clearParkedIfLast,
      });
      if (r.result === 'unparked' && r.token === TOKEN_HANDOFF) {
        if (st !== null) st.handoffsReceived++;
        if (signal?.aborted) {
          // Aborted while the hand-off was in flight: pass the lock on and report the abort.
          this.unlock();
          throw abortReason(signal);
        }
        break;
      }
      if (r.result === 'timedOut') throw new TimeoutError(`Mutex.lockAsync: timed out after ${timeoutMs} ms`);
      if (r.result === 'aborted') throw abortReason(signal as AbortSignal);
      woken = r.result === 'unparked' && r.token === TOKEN_WOKEN;
    }
    if (this.fairFixedUs === -1 && startUs !== 0) this.slowAcquiredAtMs = nowMs();
    if (st !== null) {
      st.acquisitions++;
      st.contendedAcquisitions++;
      st.maxWaitMs = Math.max(st.maxWaitMs, nowMs() - startMs);
    }
  }
}
