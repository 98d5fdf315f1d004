/*
 * RwLock WRITE side with owner death (robust take-over): src/lock/rwlock*.ts, cited by file and
 * function (the attribution is the one of a009bab: the owner word alone).
 *
 * Shared words:
 *   st         state word: WRITER 8, PARKED 1 (no readers / upgradable: write side only)
 *   own        owner word (rwlock-robust.ts header): 0, k+1, or (k+1)|INC (OW_INCONSISTENT)
 *   dead[k]    thread k's T_STATE == TS_DEAD; deaths = HOT_DEATHS (anyDeaths())
 *   parked[k]  k is queued on the main key; handed[k]: it was woken with TOKEN_HANDOFF
 *   bl         the main bucket lock, held across the hand-off callback (two non-bucket stores)
 * Processes 0..N-1 are writers, ITERS rounds each. Process VICTIM may die once, at ANY step
 * (outside the bucket lock): the `killer` sets kill = 1 at any moment and the victim's body is
 * left by `unless` before its next step. That includes a waiter woken with TOKEN_NORMAL that dies
 * before it retries (the DIE_WOKEN case of the first version of this model).
 *
 *   write()              rwlock.ts write(): CAS st 0 -> WRITER; own := me (plain); else writeSlow ->
 *                                       lockCommon
 *   tryWriterBit         rwlock-state.ts tryWriterBit(): CAS loop while WRITER clear (one RMW);
 *                                       setOwner after (rwlock.ts writeSlow())
 *   lockCommon           rwlock-slow.ts lockCommon(): tryLock; anyDeaths -> exclusiveHolder; h >= 0 -> claim (retry
 *                                       if lost); H_UNKNOWN -> park with a liveness slice; set PARKED
 *                                       (CAS of the loaded word: one RMW here), park(validateExclusive)
 *   exclusiveHolder      rwlock-robust.ts exclusiveHolder(): load st; WRITER clear -> ALIVE; load own; own == 0 -> UNKNOWN;
 *                                       else isDead(owner) ? own : ALIVE
 *   claim(o)             rwlock-robust.ts claim(): CAS own o -> me|INC (the winner holds the dead share)
 *   validateExclusive    rwlock-slow.ts validateExclusive(): under the bucket lock: PARKED && WRITER && (holder ALIVE, or
 *                                       UNKNOWN while slicing) (one atomic step: see the limitations)
 *   slice timeout        lot.ts park    the 5 ms slice may expire at any time: cancel (remove if still
 *                                       queued + clearParkedIfLast, else consume the unpark), retry
 *   markConsistent       rwlock.ts markConsistent(): after the take-over (OwnerDiedError): own := me
 *   writeUnlock          rwlock.ts writeUnlock(): assert own == me; own := 0 (plain); CAS st WRITER -> 0;
 *                                       else unlockExclusiveSlow
 *   unlockExclusiveSlow  rwlock.ts unlockExclusiveSlow(): wakeParked (fair: one writer): hand-off (own := taker+1, then
 *                                       st := WRITER|PARKED-if-more, TOKEN_HANDOFF; nondeterministic,
 *                                       the fairness clock is abstracted) or release (st := PARKED-if-more,
 *                                       TOKEN_NORMAL: the woken writer retries)
 *   onOwnerDeath         rwlock-robust.ts ownerDied(): after the death mark: load st; PARKED clear -> nothing; load own;
 *                                       unparkAll (TOKEN_NORMAL) if the dead thread is named by own with
 *                                       WRITER set, or if WRITER is clear (the dead thread may have been
 *                                       a woken waiter: nobody else would wake the rest)
 *
 * Death: markDead (T_STATE := DEAD, then HOT_DEATHS++) is one step, which also purges the victim's
 * queue record (parked := 0); the handler's steps follow, interleaved with the others (in the code
 * another thread runs it, after the mark).
 *
 * Properties (ghosts cs, holding[], deadheld, inwin[], gap):
 *   SAFETY, with the death anywhere (also inside the window below):
 *   - mutual exclusion: every acquisition (fast/slow CAS, hand-off, take-over) asserts that it is
 *     the only holder among live threads and that no dead share is outstanding; a holder that dies
 *     leaves cs and sets deadheld (its share is dead);
 *   - a take-over (claim success) happens only while the owner it named is dead, the share is a
 *     dead thread's (deadheld) and no live thread holds (cs == 0);
 *   - writeUnlock's owner-word check passes (own == me) and markConsistent finds me|INC (a spurious
 *     misuse error is a failure too).
 *   LIVENESS (bounded), unless the death was inside the documented window:
 *   - an acquisition attempt that starts while every other process is finished (done, or dead with
 *     its handler run) must succeed (otherwise it would retry forever; spinning is not an end state);
 *   - a waiter left parked forever is an invalid end state.
 *   The documented window (rwlock-robust.ts header, "NOT covered"): a death after the acquiring CAS and
 *   before the owner-word store, or after clearing the owner word and before the release (ghost
 *   inwin[VICTIM]). Its share cannot be attributed, so waiters wait (untimed ones re-check every
 *   5 ms forever). A death there sets `gap`: the liveness assertion is off, and any waiter may then
 *   stop at the valid end state `end_stuck` ("acceptably stuck"). The safety assertions still hold
 *   for everything that happens before and after.
 *
 * Limitations:
 *   - Plain stores (owner word in write()/setOwner/clearOwner) are treated as SC, i.e. in program
 *     order for all observers (the rwlock-state.ts header relies on the release/acquire edges of the
 *     state-word RMWs around them).
 *   - validateExclusive's several loads are one atomic step (they run under the bucket lock, but
 *     the words are written outside it): fewer interleavings than the code for that step.
 *   - No readers, no upgradable (so finishWriteTakeOver always completes and unclaim never runs),
 *     no timeouts other than the liveness slice, no tryWrite (its claim path is lockCommon's), no
 *     unlock-while-inconsistent (NOT_RECOVERABLE), one death. Queue order is not modelled: a wake
 *     picks any queued writer.
 *
 * Mutants:
 *   MUT_PENDING_ATTRIBUTION  the e4e5877 design: a per-thread PENDING word (pend[k]) set before every
 *                            acquiring CAS and around the release; exclusiveHolder returns 0 ("dead
 *                            holder in its window") when own == 0 and only dead PENDINGs name the
 *                            lock; claim(0) re-validates after its CAS (state, PENDINGs, owner word)
 *                            and clears dead PENDINGs; the handler clears a stale dead PENDING.
 *                            Fails SAFETY: a stale dead PENDING lets a waiter take over a lock a
 *                            live writer holds (two writers inside). Reason the design was dropped.
 *   MUT_NO_DEAD_CHECK        exclusiveHolder takes any non-zero owner word as a dead holder (no isDead)
 *   MUT_NO_FREE_WAKE         the handler wakes only when the dead thread is named by the owner word
 *                            (before 11514e9): a woken waiter that dies before retrying strands the
 *                            other waiters (invalid end state)
 */

#ifndef N
#define N 3
#endif
#ifndef ITERS
#define ITERS 1
#endif
#ifndef VICTIM
#define VICTIM 0
#endif

#define W 8
#define PK 1
#define INC 8
#define ALIVE 255
#define UNKNOWN 254
#define PD 1
#define PL 2

byte st = 0;
byte own = 0;
bit dead[N];
byte deaths = 0;
bit parked[N];
bit handed[N];
byte bl = 0;
#ifdef MUT_PENDING_ATTRIBUTION
bit pend[N];
#endif
/* ghosts */
byte cs = 0;
bit holding[N];
bit deadheld = 0;
bit inwin[N];       /* between the acquiring CAS and the owner store, or between own := 0 and the release */
bit gap = 0;        /* the victim died inside that window: liveness is not required from then on */
byte fin = 0;
bit kill = 0;

inline enter() {
  holding[me] = 1; cs++; inwin[me] = 1; assert(cs == 1 && !deadheld)
}
inline leave() {
  holding[me] = 0; cs--; inwin[me] = 0
}

/* exclusiveHolder(TAKE_ANY) -> h (steps as in the code; also used inside validate's atomic step) */
#ifndef MUT_PENDING_ATTRIBUTION
inline exclusiveHolder() {
  h = ALIVE;
  if
  :: deaths == 0 -> skip
  :: else ->
     s = st;
     if
     :: (s & W) == 0 -> skip
     :: else ->
        o = own;
        if
        :: o == 0 -> h = UNKNOWN
#ifdef MUT_NO_DEAD_CHECK
        :: else -> h = o
#else
        :: else -> if :: dead[(o & ~INC) - 1] -> h = o :: else -> h = ALIVE fi
#endif
        fi
     fi
  fi;
  s = 0; o = 0
}

/* claim(h) -> ok */
inline claim() {
  atomic {
    if
    :: own == h -> own = (me + 1) | INC; ok = 1;
       /* take-over: only from a dead named owner whose share is still in the word, never while a live thread holds */
       assert(dead[(h & ~INC) - 1] && deadheld && cs == 0); deadheld = 0; cs = 1; holding[me] = 1
    :: else -> ok = 0
    fi
  }
}
#else
/* ---- MUT_PENDING_ATTRIBUTION: the e4e5877 code (previous version of this model) ---- */
inline exclusiveHolder() {
  h = ALIVE;
  if
  :: deaths == 0 -> skip
  :: else ->
     s = st;
     if
     :: (s & W) == 0 -> skip
     :: else ->
        c = 0; k = 0;
        do                                   /* pendingCandidates: per record PENDING, then T_STATE */
        :: k == N -> break
        :: k < N && k == me -> k++
        :: k < N && k != me ->
           if
           :: pend[k] -> if :: dead[k] -> c = c | PD :: else -> c = c | PL fi
           :: else -> skip
           fi;
           k++
        od;
        o = own;
        if
        :: o != 0 -> if :: dead[(o & ~INC) - 1] -> h = o :: else -> h = ALIVE fi
        :: o == 0 && ((c & PL) != 0 || (c & PD) == 0) -> h = UNKNOWN
        :: else -> h = 0
        fi
     fi
  fi;
  s = 0; c = 0; k = 0; o = 0
}

inline claim() {
  atomic { if :: own == h -> own = (me + 1) | INC; ok = 1 :: else -> ok = 0 fi };
  if
  :: ok && h == 0 ->                         /* re-validate: state, PENDINGs, owner word */
     s = st;
     c = 0; k = 0;
     do
     :: k == N -> break
     :: k < N && k == me -> k++
     :: k < N && k != me ->
        if
        :: pend[k] -> if :: dead[k] -> skip :: else -> c = PL fi
        :: else -> skip
        fi;
        k++
     od;
     o = own;
     if
     :: (s & W) == 0 || c != 0 || o != ((me + 1) | INC) ->
        atomic { if :: own == ((me + 1) | INC) -> own = 0 :: else -> skip fi };
        ok = 0
     :: else -> skip
     fi;
     s = 0; c = 0; k = 0; o = 0
  :: else -> skip
  fi;
  if
  :: ok ->
     k = 0;
     do                                      /* clearDeadPending */
     :: k == N -> break
     :: k < N ->
        if
        :: dead[k] -> atomic { if :: pend[k] -> pend[k] = 0 :: else -> skip fi }
        :: else -> skip
        fi;
        k++
     od;
     k = 0;
     atomic { assert(deadheld && cs == 0); deadheld = 0; cs = 1; holding[me] = 1 }
  :: else -> skip
  fi
}
#endif

#ifdef MUT_PENDING_ATTRIBUTION
#define PEND(v) pend[me] = v
#else
#define PEND(v) skip
#endif

/* j := some queued writer (queue order is not modelled: any of them), N if none */
#if N == 2
inline PICK_WAITER() {
  if :: parked[0] -> j = 0 :: parked[1] -> j = 1 :: !parked[0] && !parked[1] -> j = N fi
}
#else
inline PICK_WAITER() {
  if :: parked[0] -> j = 0 :: parked[1] -> j = 1 :: parked[2] -> j = 2
     :: !parked[0] && !parked[1] && !parked[2] -> j = N fi
}
#endif

/* c := whether any writer is still queued */
inline ANY_PARKED() {
  c = 0; k = 0;
  do :: k == N -> break :: k < N -> if :: parked[k] -> c = 1 :: else fi; k++ od;
  k = 0
}

proctype Writer(byte me) {
  byte r = 0;
  bit got = 0;
  bit ok = 0;
  bit solo = 0;
  bit fast = 0;
  bit slice = 0;
  bit tookover = 0;
  byte h = 0;
  byte s = 0;
  byte c = 0;
  byte k = 0;
  byte o = 0;
  byte j = 0;
  {
  do
  :: r == ITERS -> break
  :: r < ITERS ->
     /* write() fast path */
     PEND(1);
     atomic { if :: st == 0 -> st = W; enter(); got = 1 :: else -> got = 0 fi };
     if
     :: got -> got = 0; atomic { own = me + 1; inwin[me] = 0 }
     :: else ->
        PEND(0);
        /* lockCommon */
        do
        :: solo = (fin == N - 1);
           PEND(1);                                                /* tryWriterBit */
           atomic { if :: (st & W) == 0 -> st = st | W; enter(); got = 1 :: else -> got = 0 fi };
           if
           :: got -> got = 0; solo = 0; break                     /* ACQUIRED; setOwner below */
           :: else -> PEND(0)
           fi;
           slice = 0; h = ALIVE;
           if
           :: deaths != 0 -> exclusiveHolder()
           :: else -> skip
           fi;
           if
           :: h != ALIVE && h != UNKNOWN ->
              claim();
              if :: ok -> ok = 0; h = 0; solo = 0; tookover = 1; break :: else -> skip fi
           :: h == UNKNOWN && gap -> goto stuck                    /* the documented window: waits forever */
           :: else ->
              slice = (h == UNKNOWN);
              /* set PARKED (a successful CAS of the word as it is now), then park */
              st = st | PK;
              atomic {
                bl == 0;
                /* validateExclusive under the bucket lock */
                if
                :: (st & PK) != 0 && (st & W) != 0 ->
                   exclusiveHolder();
                   if :: h == ALIVE || (h == UNKNOWN && slice) -> parked[me] = 1; ok = 1 :: else -> skip fi
                :: else -> skip
                fi
              };
              if
              :: ok ->                                            /* validate passed: queued */
                 ok = 0;
                 if :: !slice -> solo = 0 :: else -> skip fi;
                 if
                 :: parked[me] == 0 -> skip                       /* unparked */
                 :: slice ->                                      /* the liveness slice expires */
                    atomic {
                      bl == 0;
                      if
                      :: parked[me] -> parked[me] = 0; ANY_PARKED();
                         if :: !c -> st = st & ~PK :: else -> skip fi; c = 0   /* clearParkedIfLast */
                      :: else -> skip                             /* already unparked: consume it */
                      fi
                    }
                 :: gap -> goto stuck                             /* asleep forever in the documented window */
                 fi;
                 if :: handed[me] -> handed[me] = 0; h = 0; solo = 0; break   /* HANDED_OFF; setOwner below */
                    :: else -> skip
                 fi
              :: else -> skip
              fi
           fi;
           h = 0;
           /* a failed attempt that began with everybody else finished would repeat forever */
           assert(!solo || gap)
        od;
        if
        :: tookover -> skip
        :: else -> atomic { own = me + 1; inwin[me] = 0 }         /* setOwner (after a hand-off: already ours) */
        fi
     fi;
     /* critical section */
     if
     :: tookover -> tookover = 0; assert(own == ((me + 1) | INC)); own = me + 1   /* markConsistent */
     :: else -> skip
     fi;
     /* writeUnlock */
     assert(own == me + 1);
     PEND(1);
     atomic { own = 0; inwin[me] = 1 };
     atomic { if :: st == W -> st = 0; leave(); fast = 1 :: else -> fast = 0 fi };
     if
     :: fast -> fast = 0
     :: else ->
        /* unlockExclusiveSlow -> wakeParked (fair: at most one writer) */
        atomic {
          bl == 0;
          PICK_WAITER();                                  /* any queued writer may be first */
          if
          :: j == N -> st = 0; leave()                      /* no waiter: release */
          :: j < N -> bl = me + 1; own = j + 1;             /* hand-off: owner word first (the share is j's now) ... */
             leave(); holding[j] = 1; cs++; assert(cs == 1 && !deadheld)
          :: j < N ->                                       /* ... or a plain wake (TOKEN_NORMAL) */
             parked[j] = 0; ANY_PARKED();
             st = (c -> PK : 0); leave(); c = 0; j = 0
          fi
        };
        if
        :: bl == me + 1 ->
           atomic {                                         /* ... then the state store */
             parked[j] = 0; ANY_PARKED();
             st = W | (c -> PK : 0);
             handed[j] = 1;
             bl = 0; c = 0; j = 0
           }
        :: else -> skip
        fi
     fi;
     PEND(0);
     r++
  od;
  atomic { fin++; r = 255 };                           /* finished: no death from here on */
  goto done;
stuck:
  /* only after a death inside the documented window: waits until its timeout (here: forever) */
end_stuck: (0);
done: skip
  } unless {
    /* markDead (+ purge of its queue record), atomic with the escape; the death handler follows */
    atomic {
      kill && me == VICTIM && bl != me + 1 && r != 255 ->
      dead[me] = 1; deaths++; parked[me] = 0;
      gap = inwin[me];
      if :: holding[me] -> holding[me] = 0; cs--; deadheld = 1 :: else -> skip fi;
      handed[me] = 0
    };
    /* onOwnerDeath('RwLock') */
    s = st;
    if
    :: (s & PK) == 0 -> skip
    :: else ->
       o = own;
#ifdef MUT_PENDING_ATTRIBUTION
       c = pend[me];
       ok = ((s & W) != 0 && ((o != 0 && (o & ~INC) == me + 1) || (o == 0 && c)));
       if
       :: !ok && !((s & W) != 0 && o == 0) -> atomic { if :: pend[me] -> pend[me] = 0 :: else -> skip fi }
       :: else -> skip
       fi;
#else
       ok = ((s & W) != 0 && o != 0 && (o & ~INC) == me + 1);
#endif
       if
#ifdef MUT_NO_FREE_WAKE
       :: ok ->
#else
       :: ok || (s & W) == 0 ->
#endif
          atomic { bl == 0; k = 0; do :: k == N -> break :: k < N -> parked[k] = 0; k++ od; k = 0 }   /* unparkAll */
       :: else -> skip
       fi
    fi;
    s = 0; o = 0; c = 0; ok = 0;
    fin++
  }
}

active proctype killer() {
  if :: kill = 1 :: skip fi
}

init {
  byte i = 0;
  atomic {
    do
    :: i < N -> run Writer(i); i++
    :: i == N -> break
    od
  }
}
