/*
 * Mutex on the parking lot: src/lock/mutex.ts + src/parking/lot.ts (function names as of this commit).
 *
 * Lock word (Mutex word, mutex.ts header): LOCKED = 1, PARKED = 2, WOKEN = 8 (INCONSISTENT = 4 and
 * the owner tid bits are not modelled; a ghost counter `incs` checks mutual exclusion instead).
 * Owner death, NOT_RECOVERABLE and spinning (a re-read, subsumed by the loop) are not modelled.
 *
 * Process p (N of them; process N-1 is an async waiter, lockAsync):
 *   lock()          fast CAS 0 -> LOCKED; inline barge CAS s -> s|LOCKED when s has only PARKED/WOKEN
 *                   (the same step as the loop's barge, so it is subsumed by lockSlow's first turn)
 *   lockSlow()      loop: load; a woken thread whose WOKEN was cleared by someone else forgets it;
 *                   1. barge CAS s -> s|LOCKED (clearing WOKEN if woken);
 *                   3. CAS s -> s|PARKED (clearing WOKEN if woken) when PARKED is clear or woken;
 *                   5. park with validateParked; HANDOFF -> owns the lock; timedOut -> gives up;
 *                   TOKEN_WOKEN -> retry as the woken thread; otherwise retry.
 *   lockAsyncSlow() the same loop, parking with PARK_ASYNC; an abort at the top of the loop while
 *                   woken calls dropWoken(); an abort racing a hand-off unlocks again.
 *   dropWoken()     CAS s -> s & ~WOKEN; if s was free with PARKED: unparkOne with retryCallback
 *   retryCallback   no waiter or none left: and(~PARKED), TOKEN_NORMAL; else or(WOKEN), TOKEN_WOKEN
 *   validateParked  (s & (LOCKED|PARKED)) == (LOCKED|PARKED)
 *   clearParkedIfLast timedOut callback: and(~PARKED) if wasLast
 *   unlock()        fast CAS LOCKED -> 0; inline CAS LOCKED|PARKED|WOKEN -> PARKED|WOKEN
 *   unlockSlow()    loop: load; PARKED clear or WOKEN set -> CAS s -> s & (PARKED|WOKEN); else unparkOne
 *   unparkCallback  under the bucket lock: hand off (store LOCKED|PARKED-if-haveMore, TOKEN_HANDOFF)
 *                   when fairness is due (beFair / overdue async waiter / unlockFair / fifo: a
 *                   nondeterministic choice here, since time is abstracted); else with waiters left
 *                   store PARKED|WOKEN and return TOKEN_WOKEN, with none store 0, TOKEN_NORMAL.
 *   -DEVERY_UNLOCK  the `wakes: 'every-unlock'` option: WOKEN is never set (the old protocol).
 *
 * Properties
 *   safety (default): mutual exclusion (assert in the critical section), no invalid end state
 *     (each process does ITERS lock/unlock rounds; a lost wake-up or lost hand-off leaves a
 *     process blocked forever), and at the end the word is 0 and the queue empty.
 *   -DLIVE: processes loop forever, no timeouts; LTL `nolost`: a parked process is always
 *     eventually unparked ([] (inpark[0] -> <> !inpark[0])), checked with weak fairness (-f).
 *
 * Mutants (-D...), each must be caught:
 *   MUT_NO_VALIDATE          validate always true (no re-check of the word under the bucket lock)
 *   MUT_NO_SET_PARKED        waiters park without setting PARKED (validate checks LOCKED only)
 *   MUT_HANDOFF_DROPS_PARKED hand-off stores LOCKED without PARKED although waiters remain
 *   MUT_CLEAR_EARLY          unlockSlow clears the word (incl. PARKED) before, and outside, the
 *                            bucket lock, then unparks with no word update in the callback
 *   MUT_TIMEOUT_RACE         (lot.pml) a timed-out waiter ignores that it was already dequeued
 *   MUT_WOKEN_KEPT           a woken waiter that parks again leaves WOKEN set (unlocks then never wake)
 *   MUT_NO_DROP_WOKEN        an async woken waiter aborted before its retry leaves WOKEN set
 */

#ifndef N
#define N 3
#endif
#ifdef LIVE
#define TMO 0
#else
#ifndef TMO
#define TMO 1
#endif
#endif
#ifndef ITERS
#define ITERS 2
#endif
#ifndef TMOP
#define TMOP 1      /* processes 0..TMOP-1 may time out (the async one may abort); the rest wait forever */
#endif

#define LOCKED 1
#define PARKED 2
#define WOKEN 8
#ifdef EVERY_UNLOCK
#define WOKEN_BIT 0
#else
#define WOKEN_BIT WOKEN
#endif
#define TOKEN_WOKEN 2
#define CK_UNLOCK 0
#define CK_RETRY 1
#define KEY 0
#define TOKEN_NORMAL 0
#define TOKEN_HANDOFF 1
#define PARK_SYNC 0
#define PARK_ASYNC 1
#define VK_MUTEX 0

#include "lot.pml"

byte word = 0;
byte incs = 0;

inline VALIDATE(p, vk, ok) {
#if defined(MUT_NO_VALIDATE)
  ok = 1
#elif defined(MUT_NO_SET_PARKED)
  ok = ((word & LOCKED) != 0)
#else
  ok = ((word & (LOCKED | PARKED)) == (LOCKED | PARKED))
#endif
}

inline BEFORE_SLEEP(p, vk) { skip }

inline TIMEDOUT_CB(p, vk, wasLast) {
  if
  :: wasLast -> word = word & ~PARKED     /* Atomics.and: one RMW */
  :: else
  fi
}

inline UNPARK_CB(p, ck, w, more, tok) {
  if
  :: ck == CK_RETRY ->                                   /* retryCallback (dropWoken) */
     if
     :: w == NONE || !more -> word = word & ~PARKED; tok = TOKEN_NORMAL
     :: else -> word = word | WOKEN; tok = TOKEN_WOKEN
     fi
  :: else ->                                             /* unparkCallback (unlockSlow) */
#ifdef MUT_CLEAR_EARLY
     tok = TOKEN_NORMAL
#else
     if
     :: w != NONE -> tok = TOKEN_HANDOFF                 /* fairness due / async overdue / forcing / fifo */
     :: tok = 3                                          /* no hand-off */
     fi;
     if
     :: tok == TOKEN_HANDOFF ->
#ifdef MUT_HANDOFF_DROPS_PARKED
        word = LOCKED
#else
        word = LOCKED | (more -> PARKED : 0)
#endif
     :: else ->
        if
        :: more && WOKEN_BIT != 0 -> word = PARKED | WOKEN; tok = TOKEN_WOKEN
        :: else -> word = (more -> PARKED : 0); tok = TOKEN_NORMAL
        fi
     fi
#endif
  fi
}

/* dropWoken(): clear WOKEN; if the lock was free with waiters, wake one to retry. */
inline dropWoken(p) {
  atomic { lold = word; if :: (lold & WOKEN) != 0 -> word = lold & ~WOKEN :: else fi };
  if
  :: (lold & WOKEN) != 0 && (lold & (LOCKED | PARKED)) == PARKED -> unparkOne(p, KEY, CK_RETRY)
  :: else
  fi;
  lold = 0
}

proctype T(byte p) {
  byte li, lj, lw, lold, ltok;
  bit lok, lmore, ltimed;
  byte s, res, iter;
  bit got, c, async, woken;
  async = (p == N - 1);
  tmo[p] = ((p < TMOP || (async && TMOP > 0)) -> 0 : TMO);
#ifdef LIVE
  do
  :: true ->
#else
  do
  :: iter < ITERS ->
#endif
    /* lock() / lockAsync(): fast path */
    atomic { if :: word == 0 -> word = LOCKED; got = 1 :: else -> got = 0 fi };
    if
    :: !got ->
      do                                                       /* lockSlow / lockAsyncSlow loop */
      :: if
         :: async && woken && tmo[p] < TMO ->                  /* aborted before the retry */
            tmo[p]++;
#ifndef MUT_NO_DROP_WOKEN
            dropWoken(p);
#endif
            woken = 0; break                                   /* got = 0: gave up */
         :: else
         fi;
         s = word;
         if :: woken && (s & WOKEN) == 0 -> woken = 0 :: else fi;
         if
         :: (s & LOCKED) == 0 ->                               /* 1. barge (clears WOKEN if woken) */
            atomic { if :: word == s -> word = (woken -> s & ~WOKEN : s) | LOCKED; got = 1 :: else fi };
            if :: got -> woken = 0; break :: else fi
         :: else ->
#ifdef MUT_NO_SET_PARKED
            c = 1;
#else
            if                                                 /* 3. announce PARKED (clear WOKEN if woken) */
            :: (s & PARKED) == 0 || woken ->
#ifdef MUT_WOKEN_KEPT
               atomic { if :: word == s -> word = s | PARKED; c = 1 :: else -> c = 0 fi };
#else
               atomic { if :: word == s -> word = (s | PARKED) & (woken -> ~WOKEN : 255); c = 1 :: else -> c = 0 fi };
#endif
               if :: c -> woken = 0 :: else fi
            :: else -> c = 1
            fi;
#endif
            if
            :: c ->
               park(p, KEY, (async -> PARK_ASYNC : PARK_SYNC), VK_MUTEX, (TMO > 0), res);
               if
               :: res == R_UNPARKED && utok[p] == TOKEN_HANDOFF ->
                  got = 1;
                  if
                  :: async && tmo[p] < TMO ->                  /* aborted during the hand-off */
                     tmo[p]++; got = 0;
                     goto unlock
                  :: else
                  fi;
                  break
               :: res == R_TIMEDOUT -> break                   /* got = 0: gave up */
               :: res == R_UNPARKED && utok[p] == TOKEN_WOKEN -> woken = 1
               :: else
               fi
            :: else
            fi
         fi;
         c = 0; s = 0
      od
    :: else
    fi;
    res = 0; s = 0;
    if
    :: got ->
cs:   d_step { incs++; assert(incs == 1) };                    /* critical section */
      incs--;
unlock:
      /* unlock(): fast CAS LOCKED -> 0, inline CAS LOCKED|PARKED|WOKEN -> PARKED|WOKEN */
      atomic {
        if
        :: word == LOCKED -> word = 0; c = 1
        :: word == (LOCKED | PARKED | WOKEN) -> word = PARKED | WOKEN; c = 1
        :: else -> c = 0
        fi
      };
      if
      :: !c ->                                                 /* unlockSlow */
#ifdef MUT_CLEAR_EARLY
         word = 0;
         unparkOne(p, KEY, CK_UNLOCK)
#else
         do
         :: s = word;
            if
            :: (s & PARKED) == 0 || (s & WOKEN) != 0 ->        /* nobody to wake, or one on its way */
               atomic { if :: word == s -> word = s & (PARKED | WOKEN); c = 1 :: else fi };
               if :: c -> break :: else fi
            :: else -> unparkOne(p, KEY, CK_UNLOCK); break
            fi
         od
#endif
      :: else
      fi;
      got = 0; c = 0; s = 0
    :: else
    fi;
    iter++
#ifdef LIVE
    ; iter = 0
#endif
  :: else -> break
  od
}

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < N -> run T(i); i++
    :: else -> break
    od
  };
#ifndef LIVE
  (_nr_pr == 1);
  assert(word == 0 && qn == 0 && bl == 0)
#endif
}

#ifdef LIVE
ltl nolost { [] (inpark[0] -> <> !inpark[0]) }
#endif
