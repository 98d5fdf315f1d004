/*
 * Mutex on the parking lot: src/lock/mutex.ts + src/parking/lot.ts (line numbers as of this commit).
 *
 * Lock word (Mutex word, mutex.ts:5-19): LOCKED = 1, PARKED = 2. The owner tid bits are not
 * modelled as data; a ghost counter `incs` checks mutual exclusion instead. INCONSISTENT /
 * NOT_RECOVERABLE (owner death) are not modelled.
 *
 * Process p (N of them; process N-1 is an async waiter, lockAsync):
 *   lock()          mutex.ts:251  fast CAS 0 -> LOCKED
 *   lockSlow()      mutex.ts:438  loop: load; 1. barge CAS s -> s|LOCKED when free (:450);
 *                                 2. spinning (:464) is a re-read, so it is subsumed by the loop;
 *                                 3. CAS s -> s|PARKED (:470); 5. park with validateParked (:496);
 *                                 HANDOFF token -> owns the lock (:502); timedOut -> gives up (:508);
 *                                 otherwise retry.
 *   lockAsync()     mutex.ts:592  same loop with parkAsync and token PARK_ASYNC; an abort that
 *                                 races a hand-off unlocks again (:629-633).
 *   validateParked  mutex.ts:364  (s & (LOCKED|PARKED)) == (LOCKED|PARKED)
 *   clearParkedIfLast mutex.ts:405 timedOut callback: and(~PARKED) if wasLast
 *   unlock()        mutex.ts:310  fast CAS LOCKED -> 0
 *   unlockSlow()    mutex.ts:551  loop: load; PARKED clear -> CAS s -> 0 (:568); else unparkOne
 *   unparkCallback  mutex.ts:528  under the bucket lock: hand off (store LOCKED|PARKED-if-haveMore,
 *                                 TOKEN_HANDOFF) if the waiter is async or fairness is due
 *                                 (beFair / unlockFair / fifo: a nondeterministic choice here,
 *                                 since time is abstracted), else store PARKED-if-haveMore / 0.
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
#ifdef MUT_CLEAR_EARLY
  tok = TOKEN_NORMAL
#else
  if
  :: w != NONE && ptok[w] == PARK_ASYNC -> skip     /* async waiter: always hand off */
  :: w != NONE -> skip                               /* beFair / forcing / fifo */
  :: w == NONE || ptok[w] != PARK_ASYNC -> tok = 2  /* no hand-off */
  fi;
  if
  :: tok == 2 -> word = (more -> PARKED : 0); tok = TOKEN_NORMAL
  :: else ->
#ifdef MUT_HANDOFF_DROPS_PARKED
    word = LOCKED;
#else
    word = LOCKED | (more -> PARKED : 0);
#endif
    tok = TOKEN_HANDOFF
  fi
#endif
}

proctype T(byte p) {
  byte li, lj, lw, lold, ltok;
  bit lok, lmore, ltimed;
  byte s, res, iter;
  bit got, c, async;
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
      do                                                       /* lockSlow / lockAsync loop */
      :: s = word;
         if
         :: (s & LOCKED) == 0 ->                               /* 1. barge */
            atomic { if :: word == s -> word = s | LOCKED; got = 1 :: else fi };
            if :: got -> break :: else fi
         :: else ->
#ifdef MUT_NO_SET_PARKED
            c = 1;
#else
            if                                                 /* 3. announce PARKED */
            :: (s & PARKED) == 0 ->
               atomic { if :: word == s -> word = s | PARKED; c = 1 :: else -> c = 0 fi }
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
      /* unlock(): fast CAS LOCKED -> 0 */
      atomic { if :: word == LOCKED -> word = 0; c = 1 :: else -> c = 0 fi };
      if
      :: !c ->                                                 /* unlockSlow */
#ifdef MUT_CLEAR_EARLY
         word = 0;
         unparkOne(p, KEY, 0)
#else
         do
         :: s = word;
            if
            :: (s & PARKED) == 0 ->
               atomic { if :: word == s -> word = 0; c = 1 :: else fi };
               if :: c -> break :: else fi
            :: else -> unparkOne(p, KEY, 0); break
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
