/**
 * RwLock slow paths: everything that parks or wakes (the lock itself is described in rwlock.ts,
 * its block, policies and invariants in rwlock-state.ts, owner death in rwlock-robust.ts).
 *
 * Algorithm (parking_lot):
 * - read: CAS `+ONE_READER` while the policy admits readers (rwlock-state.ts). write: CAS
 *   0 → WRITER; on failure, grab WRITER whenever neither WRITER nor UPGRADABLE is set (even with
 *   readers present — then new readers block), then wait for the readers to drain (spin, then
 *   park on key 2).
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
 * Async waiters park with TOKEN_ASYNC in their park token; a wake batch containing one is always
 * handed off (an async wake cannot win a barge), whether or not it is first in the batch.
 *
 * Debug deadlock detection (region option): a waiter behind a known WRITER/UPGRADABLE holder records
 * the edge (deadlock.ts) and throws DeadlockError if it closes a cycle. Waits on readers end the
 * walk (readers are anonymous). Zero cost when off (one flag test on the slow path).
 */

import { nowMs, nowUs } from '../platform/clock.ts';
import type { FilterOp, ParkResult, UnparkResult } from '../parking/lot.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, spinCanPay, type WaitAsyncOptions } from './common.ts';
import { checkDeadlock } from './deadlock.ts';
import { HOLDER_PARK, HOLDER_RETRY, HOLDER_SLICE, LIVENESS_SLICE_MS, RwLockRobust, TAKE_ANY, TAKE_UPGRADABLE } from './rwlock-robust.ts';
import {
  OW_INCONSISTENT, OW_NOT_RECOVERABLE, P_FAIR, P_READERS, pause, READER_SHIFT, RW_ONE_READER, RW_PARKED, RW_UPGRADABLE, RW_WRITER,
  RW_WRITER_PARKED, TOKEN_ASYNC, TOKEN_EXCLUSIVE, TOKEN_SHARED,
} from './rwlock-state.ts';
import { TOKEN_HANDOFF, TOKEN_NORMAL } from './tokens.ts';

/** lockCommon outcomes. */
export const FAILED = 0;
export const ACQUIRED = 1;
export const HANDED_OFF = 2;
// A negative outcome -(o + 1): the owner word `o` was claimed from a dead holder (we hold its
// share, marked inconsistent).
/** waitForReaders `prev` for a take-over: on timeout keep WRITER (the caller gives it back to the dead holder). */
export const KEEP_WRITER = -1;

/** What a wake batch holds besides shares: an async waiter (forces hand-off), the exclusive taker's threadId (or -1). */
export interface WakeInfo {
  async: boolean;
  exclusiveTid: number;
}

/** The RwLock layer that parks, drains readers and wakes queued threads. */
export abstract class RwLockSlowPaths extends RwLockRobust {
  // Validates run under the main bucket lock: park only if PARKED is still set (so the next
  // unlock will come to the lot) and the thread is still blocked.
  // Robust: also park only behind a holder not known to be dead (the death handler marks the
  // thread dead, then unparks under this lock: we see it dead here or are queued before that),
  // and never on a not-recoverable lock (its unlocker wakes everyone after storing that state).
  protected readonly validateRead = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return (s & RW_PARKED) !== 0 && !this.canRead(s) && Atomics.load(this.i32, this.ownIdx) !== OW_NOT_RECOVERABLE;
  };

  protected readonly validateExclusive = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_PARKED) === 0 || (s & (RW_WRITER | RW_UPGRADABLE)) === 0) return false;
    if (Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE) return false;
    return this.validHolder(TAKE_ANY);
  };

  protected readonly validateUpgradable = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_PARKED) === 0 || (s & (RW_WRITER | RW_UPGRADABLE)) === 0) return false;
    if (Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE) return false;
    return this.validHolder(TAKE_UPGRADABLE);
  };

  protected readonly validateDrain = (): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return s >>> READER_SHIFT !== 0 && (s & RW_WRITER_PARKED) !== 0;
  };

  protected readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    // Under the main bucket lock: the last waiter leaving clears PARKED.
    if (wasLast) Atomics.and(this.i32, this.idx, ~RW_PARKED);
  };

  protected readonly clearWriterParked = (): void => {
    // Under the key-2 bucket lock; only the WRITER holder parks there, so it was the last.
    Atomics.and(this.i32, this.idx, ~RW_WRITER_PARKED);
  };

  /** @internal */
  protected readonly clearParkedIfNoMore = (_acc: number, r: UnparkResult, _w: WakeInfo): number => {
    // Under the main bucket lock.
    if (!r.haveMore) Atomics.and(this.i32, this.idx, ~RW_PARKED);
    return TOKEN_NORMAL;
  };

  protected wakeDrainingWriter(): void {
    this.region.lot.unparkOne(this.key2, this.clearWriterParkedToken);
  }

  protected readonly clearWriterParkedToken = (): number => {
    this.clearWriterParked();
    return TOKEN_NORMAL;
  };

  /** Sync take-over by a writer: turn the claimed share into WRITER and drain readers; false on timeout (share kept). */
  protected finishWriteTakeOver(timeoutMs: number, start: number): boolean {
    const s = Atomics.load(this.i32, this.idx);
    if ((s & RW_UPGRADABLE) !== 0) {
      // The dead thread held the upgradable lock: upgrade its share, as upgrade() does.
      const old = Atomics.add(this.i32, this.idx, RW_WRITER - (RW_ONE_READER | RW_UPGRADABLE));
      return old >>> READER_SHIFT === 1 || this.waitForReaders(timeoutMs, start, RW_ONE_READER | RW_UPGRADABLE);
    }
    return this.waitForReaders(timeoutMs, start, KEEP_WRITER);
  }

  /**
   * parking_lot's lock_common: try, spin while nobody is parked, set PARKED, park; retry after
   * each non-hand-off wake. Returns FAILED on timeout, ACQUIRED, HANDED_OFF, or -(o + 1) after
   * claiming owner word `o` from a dead holder of a `take` bit (robust; see rwlock-robust.ts).
   */
  protected lockCommon(timeoutMs: number, token: number, tryLock: () => boolean, validate: () => boolean, startMs: number, take: number): number {
    const i32 = this.i32;
    const idx = this.idx;
    let spins = 0;
    // Spin only while the region's live threads fit the cores (see spinCanPay); checked once per call.
    const budget = spinCanPay(this.threads) ? this.spin : 0;
    for (;;) {
      if (tryLock()) return ACQUIRED;
      // Robust: never sleep behind a dead holder; take its share over instead.
      const d = this.threads.anyDeaths() ? this.deadHolderStep(take) : HOLDER_PARK;
      if (d < 0) return d;
      if (d === HOLDER_RETRY) continue;
      const slice = d === HOLDER_SLICE;
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
  protected checkDeadlockBefore(s: number, async: boolean): void {
    if ((s & (RW_WRITER | RW_UPGRADABLE)) === 0) return;
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o <= 0) return; // readers are anonymous; not recoverable has no owner
    checkDeadlock(this.region, 'RwLock', this.offset, (o & ~OW_INCONSISTENT) - 1, async);
  }

  /** Async lockCommon: no spinning (never stall the event loop); async waiters receive hand-off. */
  protected async lockCommonAsync(
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
      const d = this.threads.anyDeaths() ? this.deadHolderStep(take) : HOLDER_PARK;
      if (d < 0) return d;
      if (d === HOLDER_RETRY) continue;
      const slice = d === HOLDER_SLICE;
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
  protected waitForReaders(timeoutMs: number, startMs: number, prev: number): boolean {
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

  protected async waitForReadersAsync(what: string, opts: WaitAsyncOptions, startMs: number, prev: number): Promise<void> {
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
  protected abandonWriter(prev: number): void {
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
  protected wakeParked(base: number, callback: (acc: number, r: UnparkResult, w: WakeInfo) => number): void {
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
