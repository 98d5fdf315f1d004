/*
 * Semaphore with batched acquire(n) / release(n): src/lock/semaphore.ts + src/parking/lot.ts.
 *
 * Word (semaphore.ts header): avail * PERMIT | S_PARKED, PERMIT = 2, S_PARKED = 1.
 * Process p acquires NEED(p) permits (p0 asks for 2, the others 1), holds them, releases them;
 * ITERS rounds. Process 0 may time out (TMO) while queued.
 *
 *   tryTake       semaphore.ts tryTake(): CAS loop: fails if S_PARKED or avail < n (one atomic
 *                                   RMW here: a CAS loop that decides on the current value
 *                                   linearizes at its successful CAS)
 *   acquireSlow   semaphore.ts acquireSlow(): tryTake; (spin = re-read, subsumed); park(token n,
 *                                   validate); unparked -> holds n; timedOut -> dispatchIfWaiting
 *   validate      semaphore.ts validate(): under the bucket lock: PARKED set -> sleep; avail >=
 *                                   want -> retry; else CAS PARKED in -> sleep
 *   clearParkedIfLast semaphore.ts clearParkedIfLast(): timedOut callback: and(~S_PARKED) if wasLast
 *   release       semaphore.ts release(): CAS avail += n; if the old word had S_PARKED -> dispatch
 *   dispatchIfWaiting semaphore.ts dispatchIfWaiting(): S_PARKED and avail > 0 -> dispatch
 *   dispatch      semaphore.ts dispatch(): unparkFilter: the filter loads avail once (first call), walks
 *                                   the FIFO granting while want <= avail, stops at the first that
 *                                   does not fit; callback (same bucket lock, a second access to the
 *                                   word) CAS-subtracts what was granted and clears S_PARKED when no
 *                                   waiter is left. Granted waiters wake owning their permits.
 *   The owner-death re-dispatch (semaphore.ts waiterDied()) and async waiters are not modelled.
 *
 * Properties: permits held never exceed the initial count (assert), no invalid end state (a waiter
 * left asleep with permits available), at the end all permits are back and S_PARKED is clear.
 *
 * Mutants: MUT_SEM_VALIDATE_NO_PARKED (validate sleeps without setting S_PARKED: release skips
 *          dispatch); MUT_SEM_RELEASE_NO_DISPATCH (release never dispatches when S_PARKED is
 *          set: a parked waiter is never woken; a stand-in for "notify only on 0 -> 1").
 */

#ifndef N
#define N 3
#endif
#ifndef TMO
#define TMO 1
#endif
#ifndef ITERS
#define ITERS 1
#endif
#ifndef INIT
#define INIT 2
#endif
#define NEED(p) ((p == 0) -> 2 : 1)

#include "lot.pml"

#define S_PARKED 1
#define PERMIT 2
#define KEY 0
#define TOKEN_GRANTED 1

byte word = INIT * PERMIT;
byte held = 0;
byte want[N];

inline VALIDATE(p, vk, ok) {
#ifdef MUT_SEM_VALIDATE_NO_PARKED
  ok = ((word & S_PARKED) != 0 || (word >> 1) < want[p])
#else
  if
  :: (word & S_PARKED) != 0 -> ok = 1
  :: else ->
     if
     :: (word >> 1) >= want[p] -> ok = 0
     :: else -> word = word | S_PARKED; ok = 1
     fi
  fi
#endif
}
inline BEFORE_SLEEP(p, vk) { skip }
inline TIMEDOUT_CB(p, vk, wasLast) {
  if :: wasLast -> word = word & ~S_PARKED :: else fi
}
inline UNPARK_CB(p, ck, w, more, tok) { skip }

/* semaphore.ts dispatch(): two accesses to the word under the bucket lock. */
inline dispatch(p) {
  atomic {
    bl == 0 -> bl = p + 1;                   /* lockBucket */
    avail = word >> 1;                       /* filter's first call loads avail */
    taken = 0; nw = 0;
    li = 0;
    do                                       /* walk the FIFO (one key) */
    :: li < qn && ptok[q[li]] <= avail ->
       avail = avail - ptok[q[li]]; taken = taken + ptok[q[li]];
       woken[nw] = q[li]; nw++;
       qRemoveAt()                           /* li now points at the next record */
    :: else -> break
    od;
    lmore = (qn > 0); li = 0; lj = 0
  };
  atomic {                                   /* callback: CAS loop subtracting `taken` */
    word = word - taken * PERMIT;
    if :: !lmore -> word = word & ~S_PARKED :: else fi;
    li = 0;
    do                                       /* grant */
    :: li < nw -> utok[woken[li]] = TOKEN_GRANTED; wst[woken[li]] = W_DEQUEUED; li++
    :: else -> break
    od;
    li = 0;
    assert(bl == p + 1); bl = 0              /* unlockBucket */
  };
  li = 0;
  do                                         /* wake outside the lock */
  :: li < nw -> wake(woken[li]); li++
  :: else -> break
  od;
  skip;
  d_step { li = 0; nw = 0; taken = 0; avail = 0; lmore = 0; woken[0] = 0; woken[1] = 0; woken[2] = 0 }
}

proctype T(byte p) {
  byte li, lj, lw, lold, ltok;
  bit lok, lmore, ltimed;
  byte res, iter, avail, taken, nw, s;
  byte woken[3];
  bit got;
  tmo[p] = ((p == 0) -> 0 : TMO);
  do
  :: iter < ITERS ->
     /* acquire(n) */
     do
     :: atomic {                                         /* tryTake */
          if
          :: (word & S_PARKED) == 0 && (word >> 1) >= NEED(p) -> word = word - NEED(p) * PERMIT; got = 1
          :: else -> got = 0
          fi
        };
        if
        :: got -> break
        :: else
        fi;
        want[p] = NEED(p);
        park(p, KEY, NEED(p), 0, (tmo[p] < TMO), res);
        if
        :: res == R_UNPARKED -> got = 1; break
        :: res == R_TIMEDOUT ->                          /* dispatchIfWaiting */
           s = word;
           if :: (s & S_PARKED) != 0 && (s >> 1) > 0 -> dispatch(p) :: else fi;
           s = 0;
           break
        :: else                                          /* invalid: retry */
        fi
     od;
     res = 0;
     if
     :: got ->
        d_step { held = held + NEED(p); assert(held <= INIT) };
        held = held - NEED(p);
        /* release(n) */
        atomic { s = word; word = word + NEED(p) * PERMIT };
#ifndef MUT_SEM_RELEASE_NO_DISPATCH
        if :: (s & S_PARKED) != 0 -> dispatch(p) :: else fi;
#endif
        s = 0; got = 0
     :: else
     fi;
     iter++
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
  (_nr_pr == 1);
  assert(word == INIT * PERMIT && qn == 0 && bl == 0)
}
