/**
 * Park and unpark tokens shared by the lock family. A token travels with a parked thread (park
 * token: what kind of waiter it is) or with its wake (unpark token: what the waker did for it).
 * They live here, apart from any one lock, because a waiter can move between locks: a Condvar
 * waiter is requeued onto its Mutex's queue, so the condvar parks with the Mutex's park token and
 * is woken with the Mutex's unpark tokens.
 */

/** Unpark token: the woken thread does not own the lock; it competes for it again. */
export const TOKEN_NORMAL = 0;
/** Unpark token: the waker handed the lock over; the woken thread owns it already. */
export const TOKEN_HANDOFF = 1;
/**
 * Unpark token of the Mutex only: an unlock woke this waiter to retry and set the lock word's
 * WOKEN bit, which the woken thread must clear (see mutex.ts lockSlow()).
 */
export const TOKEN_WOKEN = 2;

/** Park token of a synchronous Mutex waiter. */
export const PARK_SYNC = 0;
/**
 * Park token of an async Mutex waiter (also of a Condvar.waitAsync waiter, which may be requeued
 * onto the Mutex): once past its fairness deadline it gets the lock by hand-off, without the
 * bucket's rate limit, because an async wake cannot win a race against synchronous bargers.
 */
export const PARK_ASYNC = 1;
