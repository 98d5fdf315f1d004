/*
 * Condvar with requeue onto the Mutex: src/lock/condvar.ts + src/lock/mutex.ts + src/lock/mutex-word.ts
 * + src/parking/lot.ts (cited by function name).
 *
 * Processes 0..N-2 are waiters: lock m; while (!ready) cv.wait(m); unlock m.
 * Process N-1 is the notifier: lock m; ready = 1; then notifyAll (or -DNOTIFY_ONE: notifyOne once
 * per waiter) either before or after unlocking m (a nondeterministic choice: both are legal).
 * The mutex part is the Mutex model of mutex.pml (barging, PARKED, nondeterministic hand-off).
 *
 * Model state        TypeScript
 *   seq, mtx, nwait  condvar block words SEQ, MUTEX (0 / 1 = "the mutex"), WAITERS (condvar.ts header)
 *   word             the mutex word (LOCKED 1, PARKED 2)
 *   KEY_M, KEY_CV    the mutex's and the condvar's parking keys (one bucket, see lot.pml)
 *
 * Steps
 *   waitSync        condvar.ts waitSync(): WAITERS += 1; read SEQ; park(cv key, validateWait) with
 *                                   beforeSleep = mutex.unlock(); WAITERS -= 1 (finally); not slept ->
 *                                   return; no HANDOFF -> mutex.relockAfterWake()
 *   validateWait    condvar.ts validateWait(): SEQ unchanged, MUTEX = m (under the bucket lock)
 *   notifyOne       condvar.ts notifyOne(): WAITERS == 0 -> return; SEQ += 1; m = MUTEX, 0 -> return;
 *                                   unparkRequeue(cv -> m) with validate: MUTEX != m -> abort;
 *                                   mutex-word.ts requeueTarget() (mutex free -> unpark, else CAS
 *                                   PARKED in -> requeue) -> requeueOne / unparkOne; callback clears
 *                                   MUTEX if no waiter is left on the condvar key
 *   notifyAll       condvar.ts notifyAll(): as notifyOne; validate clears MUTEX and returns
 *                                   requeueAll (mutex held) or unparkOneRequeueRest (mutex free); the
 *                                   callback then sets the mutex's PARKED bit if anyone was moved
 *                                   (mutex-word.ts markParked()), a second access to the mutex word
 *                                   under the bucket lock
 *   unparkRequeue   lot.ts unparkRequeue(): moved records get KEY_M and go to the FIFO tail
 *   mutex lock/unlock: as mutex.pml, with the WOKEN bit (wakes: 'throttled'); a waiter woken from
 *                   the mutex queue with TOKEN_WOKEN re-locks through Mutex.relockAfterWake, which
 *                   clears WOKEN like any woken mutex waiter
 * Not modelled: timeouts (waitFor), waitAsync, owner death ('wake' target), the bad-mutex check.
 *
 * Properties: mutual exclusion on the mutex, no invalid end state (no waiter left asleep on the
 * condvar or the mutex), at the end the mutex word is 0, MUTEX is 0, the queue is empty.
 *
 * Mutants: MUT_CV_WAKE_ONE (notifyAll unparks one waiter and leaves the rest on the condvar while
 *          clearing MUTEX); MUT_CV_NO_PARKED (requeue onto a held mutex without setting its PARKED
 *          bit: the mutex's fast unlock never wakes the requeued waiters); MUT_CV_RELOCK_NOT_WOKEN
 *          (a condvar waiter woken with TOKEN_WOKEN re-locks with a plain lock(), leaving WOKEN set).
 */

#ifndef N
#define N 3
#endif
#define TMO 0

#include "lot.pml"

#define LOCKED 1
#define PARKED 2
#define KEY_M 0
#define KEY_CV 1
#define VK_MUTEX 0
#define VK_CV 1
#define TOKEN_NORMAL 0
#define TOKEN_HANDOFF 1
#define TOKEN_WOKEN 2
#define WOKEN 8
#define OP_ABORT 0
#define OP_REQUEUE_ALL 1
#define OP_UNPARK_ONE_REQUEUE_REST 2
#define OP_REQUEUE_ONE 3
#define OP_UNPARK_ONE 4

byte word = 0;
byte incs = 0;
byte seq = 0;
bit mtx = 0;
byte nwait = 0;
bit ready = 0;
bit slept[N];
byte sq[N];

inline VALIDATE(p, vk, ok) {
  if
  :: vk == VK_MUTEX -> ok = ((word & (LOCKED | PARKED)) == (LOCKED | PARKED))
  :: else ->                                   /* validateWait */
     if
     :: seq != sq[p] -> ok = 0
     :: else -> mtx = 1; ok = 1
     fi
  fi
}

inline BEFORE_SLEEP(p, vk) {
  if
  :: vk == VK_CV -> slept[p] = 1; mutexUnlock(p)
  :: else
  fi
}

inline TIMEDOUT_CB(p, vk, wasLast) { skip }

inline UNPARK_CB(p, ck, w, more, tok) {      /* Mutex unparkCallback (with WOKEN, see mutex.pml) */
  if
  :: w != NONE -> word = LOCKED | (more -> PARKED : 0); tok = TOKEN_HANDOFF
  :: true ->
     if
     :: more -> word = PARKED | WOKEN; tok = TOKEN_WOKEN
     :: else -> word = 0; tok = TOKEN_NORMAL
     fi
  fi
}

inline mutexUnlock(p) {
  atomic {
    if
    :: word == LOCKED -> word = 0; c = 1
    :: word == (LOCKED | PARKED | WOKEN) -> word = PARKED | WOKEN; c = 1
    :: else -> c = 0
    fi
  };
  if
  :: !c ->
     do
     :: s = word;
        if
        :: (s & PARKED) == 0 || (s & WOKEN) != 0 ->
           atomic { if :: word == s -> word = s & (PARKED | WOKEN); c = 1 :: else fi };
           if :: c -> break :: else fi
        :: else -> unparkOne(p, KEY_M, 0); break
        fi
     od
  :: else
  fi;
  c = 0; s = 0
}

/* Mutex lock(); woken: entered from a TOKEN_WOKEN wake (relockAfterWake), so WOKEN must be cleared. */
inline mutexLock(p, woken0) {
  woken = woken0;
  if
  :: !woken -> atomic { if :: word == 0 -> word = LOCKED; got = 1 :: else -> got = 0 fi }
  :: else -> got = 0
  fi;
  if
  :: !got ->
     do
     :: s = word;
        if :: woken && (s & WOKEN) == 0 -> woken = 0 :: else fi;
        if
        :: (s & LOCKED) == 0 ->
           atomic { if :: word == s -> word = (woken -> s & ~WOKEN : s) | LOCKED; got = 1 :: else fi };
           if :: got -> break :: else fi
        :: else ->
           if
           :: (s & PARKED) == 0 || woken ->
              atomic { if :: word == s -> word = (s | PARKED) & (woken -> ~WOKEN : 255); c = 1 :: else -> c = 0 fi };
              if :: c -> woken = 0 :: else fi
           :: else -> c = 1
           fi;
           if
           :: c ->
              park(p, KEY_M, 0, VK_MUTEX, 0, res);
              if
              :: res == R_UNPARKED && utok[p] == TOKEN_HANDOFF -> break
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
  got = 0; c = 0; s = 0; res = 0; woken = 0;
  d_step { incs++; assert(incs == 1) }
}

inline enterCs() { skip }
inline leaveCs() { incs-- }

inline condWait(p) {
  nwait++;
  sq[p] = seq;
  slept[p] = 0;
  leaveCs();                                   /* the mutex may be released in beforeSleep */
  park(p, KEY_CV, 0, VK_CV, 0, res);
  nwait--;
  if
  :: !slept[p] -> d_step { incs++; assert(incs == 1) }    /* never released the mutex */
  :: slept[p] && res == R_UNPARKED && utok[p] == TOKEN_HANDOFF -> d_step { incs++; assert(incs == 1) }
#ifdef MUT_CV_RELOCK_NOT_WOKEN
  :: slept[p] && res == R_UNPARKED && utok[p] == TOKEN_WOKEN -> mutexLock(p, 0)   /* BUG: plain lock() */
#else
  :: slept[p] && res == R_UNPARKED && utok[p] == TOKEN_WOKEN -> mutexLock(p, 1)   /* relockAfterWake */
#endif
  :: else -> mutexLock(p, 0)
  fi;
  d_step { res = 0; slept[p] = 0; sq[p] = 0 }
}

/* unparkRequeue(cv -> m), lot.ts unparkRequeue(); `all`: notifyAll, else notifyOne. */
inline requeue(p, all) {
  atomic {
    bl == 0 -> bl = p + 1;                     /* lockTwo (one bucket) */
    if
    :: !mtx -> op = OP_ABORT                   /* MUTEX != m */
    :: else ->
       if
       :: (word & LOCKED) == 0 -> op = (all -> OP_UNPARK_ONE_REQUEUE_REST : OP_UNPARK_ONE)
       :: else ->
#ifndef MUT_CV_NO_PARKED
          word = word | PARKED;                /* requeueTarget's CAS loop */
#endif
          op = (all -> OP_REQUEUE_ALL : OP_REQUEUE_ONE)
       fi;
#ifdef MUT_CV_WAKE_ONE
       if :: all -> op = OP_UNPARK_ONE :: else fi;
#endif
       if :: all -> mtx = 0 :: else fi
    fi
  };
  atomic {
    lw = NONE; nmoved = 0;
    if
    :: op != OP_ABORT ->
       li = 0; first = 1;
       wf = (op == OP_UNPARK_ONE || op == OP_UNPARK_ONE_REQUEUE_REST);
       mr = (op == OP_UNPARK_ONE_REQUEUE_REST || op == OP_REQUEUE_ALL);
       mo = (op == OP_REQUEUE_ONE);
       do                                      /* the queue walk of lot.ts unparkRequeue() */
       :: li < qn && wkey[q[li]] == KEY_CV && first && wf -> lw = q[li]; qRemoveAt(); first = 0
       :: li < qn && wkey[q[li]] == KEY_CV && !(first && wf) && (mr || mo) ->
          first = 0; mo = 0; moved[nmoved] = q[li]; nmoved++; qRemoveAt()
       :: li < qn && wkey[q[li]] == KEY_CV && !(first && wf) && !(mr || mo) -> first = 0; li++
       :: li < qn && wkey[q[li]] != KEY_CV -> li++
       :: else -> break
       od;
       li = 0;
       do                                      /* append the moved records to the mutex key */
       :: li < nmoved -> wkey[moved[li]] = KEY_M; q[qn] = moved[li]; qn++; li++
       :: else -> break
       od;
       qAnyWith(KEY_CV);
       if
       :: all && op == OP_UNPARK_ONE_REQUEUE_REST && nmoved > 0 -> word = word | PARKED   /* :340 */
       :: !all && !lmore -> mtx = 0                                                        /* :306 */
       :: else
       fi;
       if :: lw != NONE -> utok[lw] = TOKEN_NORMAL; wst[lw] = W_DEQUEUED :: else fi
    :: else
    fi;
    li = 0; lj = 0; lmore = 0; first = 0; wf = 0; mr = 0; mo = 0; moved[0] = 0; moved[1] = 0; moved[2] = 0; nmoved = 0;
    bl = 0                                     /* unlockTwo */
  };
  if :: lw != NONE -> wake(lw) :: else fi;
  d_step { lw = 0; op = 0 }
}

inline notify(p, all) {
  if
  :: nwait == 0
  :: else ->
     seq++;
     if
     :: !mtx
     :: else -> requeue(p, all)
     fi
  fi
}

proctype T(byte p) {
  byte li, lj, lw, lold, ltok;
  bit lok, lmore, ltimed;
  byte res, s, op, nmoved, k;
  byte moved[3];
  bit got, c, first, late, wf, mr, mo, woken;
  mutexLock(p, 0);
  if
  :: p < N - 1 ->                              /* waiter */
     do
     :: ready -> break
     :: else -> condWait(p)
     od
  :: else ->                                   /* notifier */
     ready = 1;
     if :: late = 1 :: late = 0 fi;
     if :: late -> leaveCs(); mutexUnlock(p) :: else fi;
#ifdef NOTIFY_ONE
     k = 0;
     do
     :: k < N - 1 -> notify(p, 0); k++
     :: else -> break
     od;
#else
     notify(p, 1);
#endif
     if :: late -> goto done :: else fi
  fi;
  leaveCs();
  mutexUnlock(p);
done:
  skip
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
  assert(word == 0 && qn == 0 && bl == 0 && !mtx && nwait == 0)
}
