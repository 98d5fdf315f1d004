/**
 * The Mutex lock word (layout and invariants: mutex.ts header) and what other code does to a
 * Mutex word it holds no Mutex object for: the region's owner-death handler and owner check, the
 * deadlock detector's holder lookup, and the hooks a Condvar uses to requeue its waiters onto the
 * mutex's queue. Everything outside the Mutex that touches the word goes through this module.
 *
 * Bits: LOCKED 1, PARKED 2, INCONSISTENT 4, WOKEN 8, owner threadId << 4 (27 bits); all ones in
 * the owner field with INCONSISTENT and LOCKED is NOT_RECOVERABLE.
 */

import { onOwnerCheck, onOwnerDeath, type SharedRegion } from '../parking/region.ts';
import { registration } from './common.ts';
import { registerHolderLookup } from './deadlock.ts';

/** Lock word bits. */
export const LOCKED = 1;
export const PARKED = 2;
export const INCONSISTENT = 4;
/** A waiter woken by an unlock is on its way: later unlocks release without waking another. */
export const WOKEN = 8;
export const OWNER_SHIFT = 4;
export const MAX_TID = (1 << 27) - 1;
/** The word of a mutex that can never be used again (owner field all ones, INCONSISTENT, LOCKED). */
export const NOT_RECOVERABLE = (MAX_TID << OWNER_SHIFT) | INCONSISTENT | LOCKED;

/** Whether a lock word is NOT_RECOVERABLE (whatever its PARKED / WOKEN hint bits say). */
export function notRecoverable(s: number): boolean {
  return (s | PARKED | WOKEN) === (NOT_RECOVERABLE | PARKED | WOKEN);
}

// ------------------------------------------------------------------ Condvar requeue hooks
// A Condvar moves its waiters onto the queue of the mutex they wait with; these run under both
// bucket locks (the mutex key's included), as the Mutex's own parkers and unparkers do.

/**
 * parking_lot's mark_parked_if_locked for the mutex at `offset`: 'requeue' if it is held by a
 * live thread (its PARKED bit is then set, so its unlock wakes the requeued waiters), 'unpark' if
 * it is free, 'wake' if it is held by a dead thread or not recoverable — nobody would ever unlock
 * it, so waiters must not be moved onto it; woken, they re-lock and get OwnerDiedError /
 * NotRecoverableError. (The death handler marks the owner dead, then reads the word for PARKED:
 * it sees our PARKED, or we see the death here — seq_cst orders the two.)
 */
export function requeueTarget(region: SharedRegion, offset: number): 'requeue' | 'unpark' | 'wake' {
  const i32 = region.i32;
  const mIdx = offset >> 2;
  let s = Atomics.load(i32, mIdx);
  for (;;) {
    if ((s & LOCKED) === 0) return 'unpark';
    if (notRecoverable(s)) return 'wake';
    if ((s & PARKED) === 0) {
      const seen = Atomics.compareExchange(i32, mIdx, s, s | PARKED);
      if (seen !== s) {
        s = seen;
        continue;
      }
    }
    return region.threads.isDead(s >>> OWNER_SHIFT) ? 'wake' : 'requeue';
  }
}

/** Waiters were moved onto the free mutex at `offset`: they need its PARKED bit. */
export function markParked(i32: Int32Array, offset: number): void {
  Atomics.or(i32, offset >> 2, PARKED);
}

/** The last waiter queued on the mutex at `offset` left it: clear PARKED so its unlock stays fast. */
export function clearParked(i32: Int32Array, offset: number): void {
  Atomics.and(i32, offset >> 2, ~PARKED);
}

// ------------------------------------------------------------------ registration

/** Deadlock detector: the owner named in the lock word, -1 if free or not recoverable. */
function holderOf(i32: Int32Array, offset: number): number {
  const s = Atomics.load(i32, offset >> 2);
  return (s & LOCKED) === 0 || notRecoverable(s) ? -1 : s >>> OWNER_SHIFT;
}

// A dead thread's record may be reclaimed only once no Mutex names it (see threads.ts).
function namesOwner(region: SharedRegion, offset: number, tid: number): boolean {
  const s = Atomics.load(region.i32, offset >> 2);
  return (s & LOCKED) !== 0 && !notRecoverable(s) && s >>> OWNER_SHIFT === tid;
}

// When a thread dies, wake the waiters of every Mutex it held: each re-checks, sees the dead
// owner and one takes the lock over (OwnerDiedError). Runs after the thread was marked dead.
function ownerDied(region: SharedRegion, offset: number, tid: number): void {
  const i32 = region.i32;
  let s = Atomics.load(i32, offset >> 2);
  if (notRecoverable(s)) return;
  // The dead thread may have been the woken waiter on its way: clear WOKEN so unlocks wake again
  // (if it was another thread's, that one only finds it clear: an extra wake at worst).
  while ((s & WOKEN) !== 0) {
    const seen = Atomics.compareExchange(i32, offset >> 2, s, s & ~WOKEN);
    s = seen === s ? s & ~WOKEN : seen;
  }
  if ((s & PARKED) === 0) return;
  // Held by the dead thread: wake everyone (they find the dead owner and take over).
  if ((s & LOCKED) !== 0 && s >>> OWNER_SHIFT === tid) region.lot.unparkAll(offset);
  // Free with waiters: the dead thread may have been the waiter an unlock had just woken (TOKEN_NORMAL)
  // to retry, so nobody would wake the rest; wake one to retry (a spurious wake only costs a re-park).
  else if ((s & LOCKED) === 0) region.lot.unparkOne(offset);
}

/**
 * Registers the Mutex's owner check and owner-death handler with the region and its holder lookup
 * with the deadlock detector, once per thread (see registration in common.ts). Every Mutex
 * constructor calls it, so also `Mutex.from`.
 */
export const ensureMutexRegistered = registration(() => {
  onOwnerCheck('Mutex', namesOwner);
  onOwnerDeath('Mutex', ownerDied);
  registerHolderLookup('Mutex', holderOf);
});
