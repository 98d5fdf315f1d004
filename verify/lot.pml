/*
 * Shared-memory parking lot (src/parking/lot.ts), the part every lock model uses.
 *
 * Abstractions (see README.md):
 * - One bucket: every key hashes to the same bucket (lot.ts bucketOf()). That is the
 *   most-contended case of the real table; the requeue re-lock loop (lot.ts
 *   lockRecordBucket()) then always succeeds first time and is not modelled.
 * - The bucket word lock (word-lock.ts) is an atomic test-and-set `bl`: only its mutual exclusion
 *   matters to the protocols above it.
 * - One waiter record per process (waiters.ts alloc/free are not modelled). A record is
 *   re-used by its own process only, so a late notify from an old unpark reaches the process's
 *   next park, as a real late notify reaches a record's next owner (a spurious wake).
 * - Time is gone: a timeout or abort is a nondeterministic event, limited to TMO per process.
 *
 * Model state        TypeScript
 *   bl               bucket BKT_LOCK word (lot.ts lockBucket() / unlockBucket())
 *   q[], qn          bucket FIFO BKT_HEAD/BKT_TAIL + WTR_NEXT links (lot.ts append(), unlink())
 *   wkey[p]          WTR_KEY
 *   wst[p]           WTR_STATE: W_QUEUED / W_DEQUEUED (lot.ts grant(), removeQueued())
 *   slot[p]          WTR_SLOT: S_WAITING 0 / S_UNPARKED 1 / S_SLEEPING 2
 *   asleep[p]        the thread is blocked in Atomics.wait on its slot (cleared by notify)
 *   ptok[p], utok[p] WTR_PARK_TOKEN / WTR_UNPARK_TOKEN
 *   inpark[p]        ghost: p is inside park() (from enqueue to return) -- used by the LTL checks
 *
 * A model file defines N and TMO before including this file, and after it the inlines
 *   VALIDATE(p, vk, ok)          the caller's validate, run under the bucket lock
 *   BEFORE_SLEEP(p, vk)          opts.beforeSleep
 *   TIMEDOUT_CB(p, vk, wasLast)  opts.timedOut, run under the bucket lock
 * and declares in every proctype the scratch locals: byte li, lj, lw, lold; bit lok, lmore, ltimed
 */

#define NONE 255
#define S_WAITING 0
#define S_UNPARKED 1
#define S_SLEEPING 2
#define W_IDLE 0
#define W_QUEUED 1
#define W_DEQUEUED 2
#define R_UNPARKED 1
#define R_INVALID 2
#define R_TIMEDOUT 3

byte bl = 0;
byte q[N];
byte qn = 0;
byte wkey[N];
byte wst[N];
byte slot[N];
bit asleep[N];
byte ptok[N];
byte utok[N];
bit inpark[N];
byte tmo[N];          /* timeouts/aborts used so far by each process */

inline lockBucket(p) { atomic { bl == 0 -> bl = p + 1 } }
inline unlockBucket(p) { d_step { assert(bl == p + 1); bl = 0 } }

/* Removes q[li] from the FIFO (bucket lock held). */
inline qRemoveAt() {
  lj = li;
  do
  :: lj + 1 < qn -> q[lj] = q[lj + 1]; lj++
  :: else -> break
  od;
  qn--;
  q[qn] = 0
}

/* lmore = some queued record has key k (lot.ts anyWith()). */
inline qAnyWith(k) {
  lmore = 0;
  lj = 0;
  do
  :: lj < qn -> if :: wkey[q[lj]] == k -> lmore = 1 :: else fi; lj++
  :: else -> break
  od;
  skip
}

/* li = index of the first record with key k, or qn. */
inline qFirst(k) {
  li = 0;
  do
  :: li < qn && wkey[q[li]] != k -> li++
  :: else -> break
  od;
  skip
}

/* li = index of record p in the FIFO. */
inline qFirstRec(p) {
  li = 0;
  do
  :: li < qn && q[li] != p -> li++
  :: else -> break
  od;
  skip
}

/* lot.ts wake(): exchange the slot to UNPARKED, notify only a sleeper. Bucket lock released. */
inline wake(w) {
  atomic { lold = slot[w]; slot[w] = S_UNPARKED };
#ifndef MUT_NO_NOTIFY
  if
  :: lold == S_SLEEPING -> asleep[w] = 0     /* Atomics.notify(slot, 1) */
  :: else
  fi;
#endif
  lold = 0
}

/* Atomics.wait(h, slot, SLEEPING): sleeps only if the slot still reads SLEEPING. With `timed`, the
 * wait may also return by itself (a timeout), which the caller then handles. */
inline waitSlot(p, timed) {
  atomic { if :: slot[p] == S_SLEEPING -> asleep[p] = 1 :: else fi };
  if
  :: asleep[p] == 0
  :: timed && tmo[p] < TMO -> skip      /* the timed wait returns (deadline reached) */
  fi;
  asleep[p] = 0
}

/*
 * lot.ts park(key, validate, opts) (+ enqueue(), cancel()).
 * res: R_UNPARKED (token in utok[p]), R_INVALID, R_TIMEDOUT. `timed`: may time out / abort.
 */
inline park(p, K, PT, vk, timed, res) {
  atomic {                                          /* enqueue: lock, validate, queue, unlock */
    bl == 0 ->
    VALIDATE(p, vk, lok);
    if
    :: !lok -> res = R_INVALID
    :: else ->
      slot[p] = S_WAITING; wkey[p] = K; ptok[p] = PT; utok[p] = 0; wst[p] = W_QUEUED;   /* enqueue's record stores */
      q[qn] = p; qn++; inpark[p] = 1; res = 0
    fi
  };
  if
  :: res == R_INVALID
  :: else ->
    BEFORE_SLEEP(p, vk);
    do
    :: atomic {                                     /* park(): CAS(slot, WAITING, SLEEPING) */
         if
         :: slot[p] == S_UNPARKED -> res = R_UNPARKED
         :: slot[p] == S_WAITING -> slot[p] = S_SLEEPING; res = 0
         :: slot[p] == S_SLEEPING -> res = 0
         fi
       };
       if
       :: res == R_UNPARKED -> break
       :: else
       fi;
       if
       :: timed && tmo[p] < TMO ->                  /* park(): left <= 0: cancel() */
          tmo[p]++;
          atomic {                                   /* cancel: lock, check, remove, timedOut, unlock */
            bl == 0 ->
#ifdef MUT_TIMEOUT_RACE
            /* BUG: ignores that an unparker already dequeued us (no DEQUEUED check) */
            if
            :: wst[p] == W_QUEUED ->
               qFirstRec(p); qRemoveAt(); wst[p] = W_DEQUEUED; qAnyWith(wkey[p]); ltimed = !lmore;
               TIMEDOUT_CB(p, vk, ltimed)
            :: else
            fi;
            res = R_TIMEDOUT
#else
            if
            :: wst[p] != W_QUEUED -> res = 0        /* already dequeued: consume the unpark (cancel()) */
            :: else ->                              /* removeQueued() + the timedOut callback */
               qFirstRec(p); qRemoveAt(); wst[p] = W_DEQUEUED; qAnyWith(wkey[p]); ltimed = !lmore;
               TIMEDOUT_CB(p, vk, ltimed);
               res = R_TIMEDOUT
            fi
#endif
          };
          if
          :: res == R_TIMEDOUT -> break
          :: else ->
             do
             :: atomic {
                  if
                  :: slot[p] == S_UNPARKED -> res = R_UNPARKED
                  :: slot[p] == S_WAITING -> slot[p] = S_SLEEPING
                  :: slot[p] == S_SLEEPING
                  fi
                };
                if
                :: res == R_UNPARKED -> break
                :: else -> waitSlot(p, 0)
                fi
             od;
             break
          fi
       :: else -> waitSlot(p, timed)                 /* park(): Atomics.wait */
       fi
    od;
    skip;
    d_step { inpark[p] = 0; wst[p] = W_IDLE; ltimed = 0; lmore = 0; li = 0; lj = 0 }
  fi;
  lok = 0
}

/* lot.ts unparkOne(key, callback). UNPARK_CB(p, ck, w, lmore, tok) is the caller's callback. */
inline unparkOne(p, K, ck) {
  atomic {                                           /* lock, dequeue, callback, grant, unlock */
    bl == 0 ->
    qFirst(K);
    if
    :: li < qn -> lw = q[li]; qRemoveAt(); qAnyWith(K)
    :: else -> lw = NONE; lmore = 0
    fi;
    li = 0; lj = 0;
    UNPARK_CB(p, ck, lw, lmore, ltok);
    if
    :: lw != NONE -> utok[lw] = ltok; wst[lw] = W_DEQUEUED   /* grant() */
    :: else
    fi
  };
  if
  :: lw != NONE -> wake(lw)
  :: else
  fi;
  d_step { lw = 0; ltok = 0; lmore = 0 }
}
