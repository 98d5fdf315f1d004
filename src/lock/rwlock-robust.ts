/**
 * RwLock owner death (robust, glibc-style; POSIX has no robust rwlocks, so the reader semantics
 * are ours): finding and claiming a dead holder's share, the unrecoverable state, and the region's
 * owner-death handler and owner check. The slow paths (rwlock-slow.ts) call exclusiveHolder() and
 * claim() before they park and finish a writer's take-over.
 *
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
 * - The region's death handler (ownerDied below) wakes the main queue when the dead thread held
 *   WRITER/UPGRADABLE; validateExclusive re-checks the holder's liveness under the bucket lock, so
 *   a writer can never sleep behind a dead holder (as in the Mutex).
 * - Dying readers: NOT handled. Readers are an anonymous count (tracking them would cost the read
 *   fast path a per-reader record, and POSIX/glibc have no robust rwlocks either); a read share
 *   held by a dead thread is never released, so writers then wait until their timeouts. A waiter
 *   that dies is purged by the region; a stale PARKED bit then only costs one slow unlock.
 */

import { onOwnerCheck, onOwnerDeath, type SharedRegion } from '../parking/region.ts';
import { NotRecoverableError } from '../errors.ts';
import { registration } from './common.ts';
import { registerHolderLookup } from './deadlock.ts';
import {
  OW_INCONSISTENT, OW_NOT_RECOVERABLE, READER_SHIFT, RW_ONE_READER, RW_PARKED, RW_UPGRADABLE, RW_WRITER, RwLockState, W_OWNER, W_STATE,
} from './rwlock-state.ts';

/** exclusiveHolder() results besides a dead holder's owner word (≥ 0). */
export const H_ALIVE = -1;
export const H_UNKNOWN = -2;
/** Park slice while the exclusive holder's liveness cannot be decided yet (see the header). */
export const LIVENESS_SLICE_MS = 5;
/** What a slow path may take over from a dead holder: readers nothing, upgraders UPGRADABLE, writers both. */
export const TAKE_NONE = 0;
export const TAKE_UPGRADABLE = RW_UPGRADABLE;
export const TAKE_ANY = RW_UPGRADABLE | RW_WRITER;
/** deadHolderStep() outcomes besides a claim, -(o + 1). */
export const HOLDER_PARK = 0;
export const HOLDER_SLICE = 1;
export const HOLDER_RETRY = 2;

/** The RwLock layer that finds dead exclusive holders and takes their shares over. */
export abstract class RwLockRobust extends RwLockState {
  /** Set just before each park: whether it is a liveness slice (validate then tolerates an undecided holder). */
  protected slicing = false;

  protected throwIfNotRecoverable(): void {
    if (Atomics.load(this.i32, this.ownIdx) === OW_NOT_RECOVERABLE) throw new NotRecoverableError();
  }

  /**
   * Robust slow-path check: who holds the WRITER/UPGRADABLE bits of `take` now? Returns the owner
   * word of a holder known to be dead (> 0), H_ALIVE, or H_UNKNOWN (owner word 0 with the bits set:
   * a holder between its acquiring CAS and its owner-word store, or between clearing it and its
   * release — or one that died there, which cannot be attributed: see the header; re-check soon).
   * One load when no thread of the region ever died.
   */
  protected exclusiveHolder(take: number): number {
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
  protected claim(o: number): boolean {
    // Acquire edge: the dead holder's writes happened before its death mark, which we read.
    return Atomics.compareExchange(this.i32, this.ownIdx, o, this.me | OW_INCONSISTENT) === o;
  }

  /** Gives a claimed share back to the dead holder (a timed take-over that could not finish). */
  protected unclaim(o: number): void {
    Atomics.compareExchange(this.i32, this.ownIdx, this.me | OW_INCONSISTENT, o);
  }

  /**
   * The robust step of a slow path before it parks, once some thread of the region died: never
   * sleep behind a dead holder of a `take` bit, take its share over instead. Returns -(o + 1)
   * after claiming owner word `o`, HOLDER_RETRY when another waiter claimed it first, HOLDER_SLICE
   * when the holder cannot be decided yet (park for a liveness slice), else HOLDER_PARK. Throws
   * NotRecoverableError if the lock can never be used again.
   */
  protected deadHolderStep(take: number): number {
    this.throwIfNotRecoverable();
    const h = this.exclusiveHolder(take);
    if (h >= 0) return this.claim(h) ? -(h + 1) : HOLDER_RETRY;
    return h === H_UNKNOWN ? HOLDER_SLICE : HOLDER_PARK;
  }

  protected validHolder(take: number): boolean {
    const h = this.exclusiveHolder(take);
    return h === H_ALIVE || (h === H_UNKNOWN && this.slicing);
  }

  /** tryWrite's take-over: succeeds only if no other reader holds the lock now (never waits). */
  protected tryFinishWriteTakeOver(): boolean {
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

  /**
   * Unlocked while inconsistent (no markConsistent()): keep WRITER set forever, store
   * OW_NOT_RECOVERABLE (release edge for the waiters' loads) and wake everyone, so each throws
   * NotRecoverableError (glibc's ENOTRECOVERABLE).
   */
  protected makeNotRecoverable(): void {
    Atomics.store(this.i32, this.ownIdx, OW_NOT_RECOVERABLE);
    this.region.lot.unparkAll(this.offset);
  }
}

// ------------------------------------------------------------------ registration

// A dead thread's record may be reclaimed only once no RwLock owner word names it (threads.ts).
function namesOwner(region: SharedRegion, offset: number, tid: number): boolean {
  const o = Atomics.load(region.i32, (offset >> 2) + W_OWNER);
  return o > 0 && (o & ~OW_INCONSISTENT) === tid + 1;
}

// When a thread dies, wake the waiters of every RwLock whose WRITER/UPGRADABLE share it held (its
// id in the owner word): each re-checks, and a writer (or, for a dead upgradable holder, an
// upgrader) takes the share over with OwnerDiedError. Runs after the thread was marked dead.
// Also wakes the queue of a lock with no exclusive holder (the dead thread may have been a woken
// waiter: found by the SPIN model, verify/rwlock-robust.pml -DDIE_WOKEN).
function ownerDied(region: SharedRegion, offset: number, tid: number): void {
  const i32 = region.i32;
  const s = Atomics.load(i32, (offset >> 2) + W_STATE);
  if ((s & RW_PARKED) === 0) return;
  const o = Atomics.load(i32, (offset >> 2) + W_OWNER);
  const held = (s & (RW_WRITER | RW_UPGRADABLE)) !== 0 && o > 0 && (o & ~OW_INCONSISTENT) === tid + 1;
  // Held by the dead thread: everyone re-checks and a writer takes over. No exclusive holder: the
  // dead thread may have been a waiter an unlock had just woken to retry (TOKEN_NORMAL), so nobody
  // would wake the rest; they retry too (a spurious wake only costs a re-park).
  if (held || (s & (RW_WRITER | RW_UPGRADABLE)) === 0) region.lot.unparkAll(offset);
}

/**
 * Deadlock detector: the WRITER/UPGRADABLE holder named in the owner word (threadId + 1, bit 30
 * inconsistent, -1 not recoverable), or -1 when there is none: 0 means no known exclusive holder,
 * and readers are anonymous, so a wait on readers ends the walk.
 */
function holderOf(i32: Int32Array, offset: number): number {
  const o = Atomics.load(i32, (offset >> 2) + W_OWNER);
  return o <= 0 ? -1 : (o & ~OW_INCONSISTENT) - 1;
}

/**
 * Registers the RwLock's owner check and owner-death handler with the region and its holder
 * lookup with the deadlock detector, once per thread (see registration in common.ts). Every
 * RwLock constructor calls it, so also `RwLock.from`.
 */
export const ensureRwLockRegistered = registration(() => {
  onOwnerCheck('RwLock', namesOwner);
  onOwnerDeath('RwLock', ownerDied);
  registerHolderLookup('RwLock', holderOf);
});
