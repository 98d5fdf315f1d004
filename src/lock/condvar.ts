/**
 * Condvar: a condition variable for parklot's Mutex, after Rust parking_lot's `condvar.rs`
 * (requeue on notify) with a sequence number so that no notification is lost.
 *
 * Block (three Int32 words; word 0's byte offset is the parking key):
 *
 * | word | name    | meaning                                                                      |
 * |------|---------|------------------------------------------------------------------------------|
 * | 0    | SEQ     | notification count; every notify with a waiter present adds 1 (wraps)       |
 * | 1    | MUTEX   | byte offset of the mutex the queued waiters use; 0 when none is queued       |
 * | 2    | WAITERS | threads inside wait() (from entry until woken); notify returns at once if 0  |
 *
 * Algorithm
 * - wait(m): WAITERS += 1; read SEQ; park on the condvar key with a `validate` (under the bucket
 *   lock) that refuses to sleep if SEQ moved since (a notify came after we entered wait: return
 *   at once, mutex still held) and records m in MUTEX (two different mutexes at once is an error).
 *   The mutex is unlocked in `beforeSleep`, i.e. after we are queued, so a notifier that takes the
 *   mutex after us always finds us. On wake: TOKEN_HANDOFF means the mutex's unlocker handed the
 *   mutex to us (we were requeued onto it); otherwise we lock it again ourselves.
 * - notifyOne: if WAITERS is 0, return (one load). Else SEQ += 1, then `unparkRequeue(condvar →
 *   mutex)`: under both bucket locks, if the mutex is locked set its PARKED bit and move one
 *   waiter onto the mutex's queue (its unlock will wake it), else unpark one waiter.
 * - notifyAll: the same, but moves every waiter onto the mutex queue (or wakes one and moves the
 *   rest when the mutex is free, setting the mutex's PARKED bit). One thread wakes per unlock
 *   instead of all of them stampeding for the mutex.
 *
 * Invariants
 * - MUTEX ≠ 0 exactly when some waiter is queued on the condvar key; it is written only under
 *   that bucket lock (wait's validate, the notify callbacks, a timed-out last waiter).
 * - A waiter moved to the mutex queue is counted by the mutex's PARKED bit: set in the requeue
 *   validate/callback under the mutex's bucket lock (as the Mutex's own waiters do), cleared by
 *   the mutex's unlock or by the last such waiter leaving on timeout.
 * - wait()/waitFor()/waitAsync() always return (or throw, or settle) with the mutex held again by
 *   the caller, whatever the outcome.
 * - Never requeue onto a mutex nobody will unlock: if its owner is dead or it is not recoverable,
 *   notify wakes the waiters instead; re-locking then throws OwnerDiedError (mutex held, as
 *   Mutex.lock does) or NotRecoverableError out of wait(). Waiting with an inconsistent mutex
 *   (before markConsistent()) is refused: releasing it would make it unrecoverable.
 * - A waiter thread that dies is purged from the queues by the region; MUTEX and WAITERS may then
 *   over-count until the next notify (which then finds nobody and clears MUTEX): harmless.
 * - Fairness on the mutex: a synchronous waiter parks with no fairness deadline, so when it is
 *   requeued the mutex's unlock wakes it to compete (no hand-off convoy); if it loses, mutex.lock()
 *   queues it as an ordinary mutex waiter with its own deadline. An async waiter always receives
 *   the mutex by hand-off (an async wake cannot win a barge), as with Mutex.lockAsync.
 *
 * The Condvar uses the Mutex through its methods (unlock, relockAfterWake, the owner getters) and
 * touches the mutex's word only through the requeue hooks of mutex-word.ts (requeueTarget,
 * markParked, clearParked), which keep the word's encoding in the Mutex's own modules.
 *
 * Memory: the notifier's SEQ add and the lot's wake are release edges; the waiter's re-lock of
 * the mutex (or the hand-off) is the acquire edge for the data the mutex protects.
 */

import { nowUs } from '../platform/clock.ts';
import type { ParkResult, RequeueOp, RequeueResult } from '../parking/lot.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, type WaitAsyncOptions } from './common.ts';
import { Mutex } from './mutex.ts';
import { clearParked, markParked, requeueTarget } from './mutex-word.ts';
import { PARK_ASYNC, TOKEN_HANDOFF, TOKEN_NORMAL } from './tokens.ts';

const W_SEQ = 0;
const W_MUTEX = 1;
const W_WAITERS = 2;
const BLOCK_BYTES = 12;

export interface CondvarOptions {
  /** Region to allocate the condvar in; it must be the region of the mutexes used with it. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
}

export interface CondvarHandle extends PrimitiveHandle {
  readonly kind: 'Condvar';
}

export class Condvar {
  readonly region: SharedRegion;
  /** Byte offset of the block (also the parking key). */
  readonly offset: number;
  private readonly i32: Int32Array;
  private readonly seqIdx: number;
  private readonly mtxIdx: number;
  private readonly wIdx: number;
  private cachedHandle: CondvarHandle | undefined;

  constructor(opts: CondvarOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new Condvar(opts): opts must be an object');
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
    } else {
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new Condvar: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('Condvar', BLOCK_BYTES);
    }
    this.i32 = this.region.i32;
    this.seqIdx = (this.offset >> 2) + W_SEQ;
    this.mtxIdx = (this.offset >> 2) + W_MUTEX;
    this.wIdx = (this.offset >> 2) + W_WAITERS;
  }

  static from(handle: CondvarHandle | PrimitiveHandle): Condvar {
    const { region, offset } = resolveHandle(handle, 'Condvar');
    return new Condvar({}, { region, offset });
  }

  get handle(): CondvarHandle {
    this.cachedHandle ??= Object.freeze({ ...this.region.handleFor('Condvar', this.offset), kind: 'Condvar' as const });
    return this.cachedHandle;
  }

  /** Threads currently inside wait (a snapshot). */
  get waiters(): number {
    return Atomics.load(this.i32, this.wIdx);
  }

  private checkMutex(what: string, mutex: unknown): asserts mutex is Mutex {
    if (!(mutex instanceof Mutex)) throw new TypeError(`Condvar.${what}: expected a Mutex, got ${mutex === null ? 'null' : typeof mutex}`);
    if (mutex.region !== this.region) {
      throw new TypeError(`Condvar.${what}: the mutex lives in a different SharedRegion than the condvar (requeueing needs one parking lot)`);
    }
    if (mutex.owner !== this.region.threadId) {
      throw new Error(`Condvar.${what}: the mutex must be locked by this thread (${this.region.threadId}) before waiting; ${mutex.owner < 0 ? 'it is unlocked' : `it is held by thread ${mutex.owner}`}`);
    }
    if (mutex.isInconsistent) {
      // Releasing it now would make it NOT_RECOVERABLE for everyone.
      throw new Error(`Condvar.${what}: the mutex is inconsistent (its previous owner died): repair the data and call markConsistent() before waiting`);
    }
  }

  /**
   * Atomically unlocks `mutex` and waits for a notification, then locks `mutex` again.
   * As with every condvar, re-check your predicate in a loop.
   */
  wait(mutex: Mutex): void {
    this.checkMutex('wait', mutex);
    this.waitSync(mutex, undefined);
  }

  /**
   * Like wait, for at most `ms` milliseconds. Returns false if it timed out (the mutex is then
   * held again too), true if notified.
   */
  waitFor(mutex: Mutex, ms: number): boolean {
    const t = checkTimeoutMs('Condvar.waitFor', ms);
    this.checkMutex('waitFor', mutex);
    return this.waitSync(mutex, t);
  }

  private waitSync(mutex: Mutex, timeoutMs: number | undefined): boolean {
    const i32 = this.i32;
    const mOff = mutex.offset;
    let bad = false;
    let requeued = false;
    let slept = false;
    // WAITERS first, then SEQ: a notify that reads WAITERS = 0 happened before we entered.
    Atomics.add(i32, this.wIdx, 1);
    let r: ParkResult;
    try {
      const seq = Atomics.load(i32, this.seqIdx);
      r = this.region.lot.park(this.offset, () => this.validateWait(seq, mOff, () => (bad = true)), {
        timeoutMs,
        // Never "overdue" when requeued: a fairness deadline counted from the condvar park would
        // make every mutex unlock hand the mutex to a sleeping requeued waiter (a lock convoy:
        // 3× fewer items/s in bench/family). The first wake is a barge chance; a waiter that
        // loses it re-parks through mutex.lock() with a fresh deadline, so it cannot starve.
        fairAtUs: null,
        beforeSleep: () => {
          slept = true;
          mutex.unlock();
        },
        timedOut: (key, wasLast) => {
          requeued = key !== this.offset;
          this.leftQueue(requeued, mOff, wasLast);
        },
      });
    } finally {
      Atomics.sub(i32, this.wIdx, 1);
    }
    if (bad) throw new Error('Condvar.wait: another thread is waiting on this condvar with a different mutex');
    if (!slept) return true; // a notify raced with our entry: we never released the mutex
    // A wake from the mutex's queue may carry TOKEN_WOKEN, which the re-lock must clear.
    if (!(r.result === 'unparked' && r.token === TOKEN_HANDOFF)) mutex.relockAfterWake(r.result === 'unparked' ? r.token : TOKEN_NORMAL);
    return r.result === 'unparked' || requeued;
  }

  /**
   * Async wait: unlocks `mutex`, waits without blocking the event loop, and locks it again (with
   * `lockAsync`) before settling — also when it rejects with TimeoutError or the signal's reason.
   * A notification that arrives before the timeout/abort takes effect wins: the promise resolves.
   */
  async waitAsync(mutex: Mutex, opts: WaitAsyncOptions = {}): Promise<void> {
    if (opts === null || typeof opts !== 'object') throw new TypeError('Condvar.waitAsync: opts must be an object');
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? undefined : checkTimeoutMs('Condvar.waitAsync', opts.timeoutMs);
    checkSignal('Condvar.waitAsync', signal);
    this.checkMutex('waitAsync', mutex);
    if (signal?.aborted) throw abortReason(signal);
    const i32 = this.i32;
    const mOff = mutex.offset;
    let bad = false;
    let requeued = false;
    let slept = false;
    Atomics.add(i32, this.wIdx, 1);
    let r: ParkResult;
    try {
      const seq = Atomics.load(i32, this.seqIdx);
      r = await this.region.lot.parkAsync(this.offset, () => this.validateWait(seq, mOff, () => (bad = true)), {
        timeoutMs,
        signal,
        // When requeued onto the mutex, an async waiter always receives the mutex by hand-off: the
        // mutex's unlock hands off to a PARK_ASYNC waiter (an async wake cannot win a barge).
        token: PARK_ASYNC,
        fairAtUs: nowUs(),
        beforeSleep: () => {
          slept = true;
          mutex.unlock();
        },
        timedOut: (key, wasLast) => {
          requeued = key !== this.offset;
          this.leftQueue(requeued, mOff, wasLast);
        },
      });
    } finally {
      Atomics.sub(i32, this.wIdx, 1);
    }
    if (bad) throw new Error('Condvar.waitAsync: another thread is waiting on this condvar with a different mutex');
    if (!slept) {
      if (r.result === 'aborted') throw abortReason(signal as AbortSignal);
      return;
    }
    if (!(r.result === 'unparked' && r.token === TOKEN_HANDOFF)) await mutex.relockAfterWakeAsync(r.result === 'unparked' ? r.token : TOKEN_NORMAL);
    if (r.result === 'unparked' || requeued) return;
    if (r.result === 'timedOut') throw new TimeoutError(`Condvar.waitAsync: timed out after ${timeoutMs} ms`);
    throw abortReason(signal as AbortSignal);
  }

  /** Runs under the condvar's bucket lock: may this waiter sleep? */
  private validateWait(seq: number, mOff: number, onBad: () => void): boolean {
    const i32 = this.i32;
    // A notification since we entered wait(): do not sleep (it was meant for us, or for no one).
    if (Atomics.load(i32, this.seqIdx) !== seq) return false;
    const m = Atomics.load(i32, this.mtxIdx);
    if (m === 0) Atomics.store(i32, this.mtxIdx, mOff);
    else if (m !== mOff) {
      onBad();
      return false;
    }
    return true;
  }

  /** A waiter left a queue on timeout/abort (under that queue's bucket lock). */
  private leftQueue(requeued: boolean, mOff: number, wasLast: boolean): void {
    if (!wasLast) return;
    // Last on the condvar key: no waiter is queued any more. Last on the mutex key (we were
    // requeued): clear the mutex's PARKED bit, as its own waiters do, so its unlock stays fast.
    if (!requeued) Atomics.store(this.i32, this.mtxIdx, 0);
    else clearParked(this.i32, mOff);
  }

  /** Wakes every waiter on the condvar key (used when requeueing is impossible). */
  private wakeAllWaiters(): number {
    const i32 = this.i32;
    return this.region.lot.unparkFilter(this.offset, () => 'unpark', (r) => {
      if (!r.haveMore) Atomics.store(i32, this.mtxIdx, 0);
      return TOKEN_NORMAL;
    }).unparkedThreads;
  }

  /** Wakes one waiter (moving it onto the mutex's queue if the mutex is held). Returns whether one was found. */
  notifyOne(): boolean {
    const i32 = this.i32;
    // Nobody inside wait(): nothing to do (the common case costs one load).
    if (Atomics.load(i32, this.wIdx) === 0) return false;
    // Release edge for waiters between entry and enqueue: their validate reads this add.
    Atomics.add(i32, this.seqIdx, 1);
    const m = Atomics.load(i32, this.mtxIdx);
    if (m === 0) return false;
    const res: RequeueResult = this.region.lot.unparkRequeue(
      this.offset,
      m,
      (): RequeueOp => {
        if (Atomics.load(i32, this.mtxIdx) !== m) return 'abort';
        return requeueTarget(this.region, m) === 'requeue' ? 'requeueOne' : 'unparkOne';
      },
      (_op, r) => {
        if (!r.haveMoreThreads) Atomics.store(i32, this.mtxIdx, 0);
        return TOKEN_NORMAL;
      },
    );
    return res.unparkedThreads + res.requeuedThreads !== 0;
  }

  /**
   * Wakes every waiter: they are moved onto the mutex's queue and woken one per unlock (one is
   * woken at once if the mutex is free). Returns how many were woken or moved.
   */
  notifyAll(): number {
    const i32 = this.i32;
    if (Atomics.load(i32, this.wIdx) === 0) return 0;
    Atomics.add(i32, this.seqIdx, 1);
    const m = Atomics.load(i32, this.mtxIdx);
    if (m === 0) return 0;
    let wakeAll = false;
    const res = this.region.lot.unparkRequeue(
      this.offset,
      m,
      (): RequeueOp => {
        if (Atomics.load(i32, this.mtxIdx) !== m) return 'abort';
        const target = requeueTarget(this.region, m);
        if (target === 'wake') {
          wakeAll = true;
          return 'abort';
        }
        // Everyone leaves the condvar queue.
        Atomics.store(i32, this.mtxIdx, 0);
        return target === 'requeue' ? 'requeueAll' : 'unparkOneRequeueRest';
      },
      (op, r) => {
        // The mutex was free: the moved waiters still need its PARKED bit (under its bucket lock).
        if (op === 'unparkOneRequeueRest' && r.requeuedThreads !== 0) markParked(i32, m);
        return TOKEN_NORMAL;
      },
    );
    if (wakeAll) return this.wakeAllWaiters();
    return res.unparkedThreads + res.requeuedThreads;
  }
}
