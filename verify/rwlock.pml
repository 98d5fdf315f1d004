/*
 * RwLock reader/writer protocol, 'fair' policy: src/lock/rwlock*.ts + src/parking/lot.ts, cited
 * by file and function (rwlock.ts: the public API; rwlock-state.ts: admission; rwlock-slow.ts:
 * parking, draining and waking). The robust parts — OWNER word, take-over, slicing,
 * NOT_RECOVERABLE — are not modelled; the state-word protocol below is.
 *
 * State word (rwlock-state.ts header): PARKED 1, WRITER_PARKED 2, UPGRADABLE 4, WRITER 8, ONE_READER 16.
 * Processes 0..NW-1 are writers, the rest readers; each does ITERS rounds.
 *
 *   read()            rwlock.ts read(): load; WRITER clear -> CAS +ONE_READER; else readSlow() ->
 *                                     lockCommon
 *   tryReadLoop       rwlock-state.ts tryReadLoop(): CAS loop while canRead() (one atomic RMW
 *                                     here) ('fair': WRITER clear)
 *   write()           rwlock.ts write(): CAS 0 -> WRITER; else writeSlow(): lockCommon with
 *                                     tryWriterBit (rwlock-state.ts tryWriterBit(): grab WRITER
 *                                     when WRITER|UPGRADABLE clear), then waitForReaders
 *   lockCommon        rwlock-slow.ts lockCommon(): loop: tryLock; load; (spin = re-read); PARKED
 *                                     clear -> CAS it in; park(main key, validate, token);
 *                                     HANDOFF -> done; else retry
 *   validateRead      rwlock-slow.ts validateRead(): PARKED && !canRead
 *   validateExclusive rwlock-slow.ts validateExclusive(): PARKED && (WRITER|UPGRADABLE)
 *   waitForReaders    rwlock-slow.ts waitForReaders(): loop: load; readers 0 -> done; WRITER_PARKED
 *                                     clear -> CAS it in; park(key 2, validateDrain() = readers
 *                                     != 0 && WRITER_PARKED)
 *   readUnlock        rwlock.ts readUnlock(): CAS -ONE_READER; if it was the last reader and
 *                                     WRITER_PARKED: rwlock-slow.ts wakeDrainingWriter() =
 *                                     unparkOne(key 2) whose callback clears WRITER_PARKED
 *                                     (clearWriterParkedToken(), clearWriterParked())
 *   writeUnlock       rwlock.ts writeUnlock(): CAS WRITER -> 0; else unlockExclusiveSlow(): wakeParked
 *   wakeParked        rwlock-slow.ts wakeParked(): unparkFilter(main key, fairFilter): after a writer stop; skip
 *                                     writers/upgraders once an upgrader is in; else take the token;
 *                                     callback: hand-off (store acc | PARKED-if-more, TOKEN_HANDOFF)
 *                                     when fairness is due (nondeterministic: time is abstracted),
 *                                     else store PARKED-if-more / 0 (TOKEN_NORMAL)
 * Not modelled: upgradable reads, downgrade, the 'readers'/'writers' policies, timeouts and
 * abandonWriter, async waiters, owner death.
 *
 * Properties: writers exclusive with everyone (ghost counters nr/nw + asserts), no invalid end
 * state (no lost wake-up of a queued thread or of the draining writer), nothing held (word 0 up
 * to a stale PARKED bit) and queue empty at the end.
 *
 * Mutants: MUT_RW_NO_DRAIN_WAKE (the last reader does not wake the draining writer);
 *          MUT_RW_WAKE_ALL_WRITERS (the filter wakes every queued thread, writers included, and
 *          hands them all the lock: two writers or writer+reader inside);
 *          MUT_RW_VALIDATE_NO_PARKED (validateRead/Exclusive forget the PARKED re-check).
 */

#ifndef N
#define N 3
#endif
#ifndef NW
#define NW 1
#endif
#ifndef ITERS
#define ITERS 1
#endif
#define TMO 0

#include "lot.pml"

#define RW_PARKED 1
#define RW_WRITER_PARKED 2
#define RW_UPGRADABLE 4
#define RW_WRITER 8
#define RW_ONE_READER 16
#define READERS(s) ((s) >> 4)
#define KEY_MAIN 0
#define KEY2 1
#define VK_READ 0
#define VK_EXCL 1
#define VK_DRAIN 2
#define TOKEN_NORMAL 0
#define TOKEN_HANDOFF 1
#define TOKEN_SHARED RW_ONE_READER
#define TOKEN_EXCLUSIVE RW_WRITER

byte word = 0;
byte nr = 0;
byte nw = 0;

inline VALIDATE(p, vk, ok) {
  if
#ifdef MUT_RW_VALIDATE_NO_PARKED
  :: vk == VK_READ -> ok = ((word & RW_WRITER) != 0)
  :: vk == VK_EXCL -> ok = ((word & (RW_WRITER | RW_UPGRADABLE)) != 0)
#else
  :: vk == VK_READ -> ok = ((word & RW_PARKED) != 0 && (word & RW_WRITER) != 0)
  :: vk == VK_EXCL -> ok = ((word & RW_PARKED) != 0 && (word & (RW_WRITER | RW_UPGRADABLE)) != 0)
#endif
  :: vk == VK_DRAIN -> ok = (READERS(word) != 0 && (word & RW_WRITER_PARKED) != 0)
  fi
}
inline BEFORE_SLEEP(p, vk) { skip }
inline TIMEDOUT_CB(p, vk, wasLast) { skip }
inline UNPARK_CB(p, ck, w, more, tok) {   /* clearWriterParkedToken (key 2) */
  word = word & ~RW_WRITER_PARKED; tok = TOKEN_NORMAL
}

/* lockCommon(token, tryLock, validate); sets got = 2 on hand-off. */
inline lockCommon(p, isw) {
  do
  :: atomic {                                             /* tryReadLoop / tryWriterBit */
       if
       :: !isw && (word & RW_WRITER) == 0 -> word = word + RW_ONE_READER; got = 1
       :: isw && (word & (RW_WRITER | RW_UPGRADABLE)) == 0 -> word = word | RW_WRITER; got = 1
       :: else -> got = 0
       fi
     };
     if :: got -> break :: else fi;
     s = word;
     if
     :: (s & RW_PARKED) == 0 -> atomic { if :: word == s -> word = s | RW_PARKED; c = 1 :: else -> c = 0 fi }
     :: else -> c = 1
     fi;
     if
     :: c ->
        park(p, KEY_MAIN, (isw -> TOKEN_EXCLUSIVE : TOKEN_SHARED), (isw -> VK_EXCL : VK_READ), 0, res);
        if :: res == R_UNPARKED && utok[p] == TOKEN_HANDOFF -> got = 2; break :: else fi
     :: else
     fi;
     c = 0; s = 0; res = 0
  od;
  c = 0; s = 0; res = 0
}

inline waitForReaders(p) {
  do
  :: s = word;
     if
     :: READERS(s) == 0 -> break
     :: else ->
        if
        :: (s & RW_WRITER_PARKED) == 0 ->
           atomic { if :: word == s -> word = s | RW_WRITER_PARKED; c = 1 :: else -> c = 0 fi }
        :: else -> c = 1
        fi;
        if
        :: c -> park(p, KEY2, TOKEN_EXCLUSIVE, VK_DRAIN, 0, res)
        :: else
        fi
     fi;
     c = 0; res = 0
  od;
  s = 0; c = 0; res = 0
}

/* unparkFilter(main key, fairFilter, callback): lot.ts unparkFilter() + rwlock-slow.ts wakeParked() + rwlock.ts unlockExclusiveSlow(). */
inline wakeParkedExclusive(p) {
  atomic {
    bl == 0 ->
    acc = 0; nwk = 0; li = 0;
    do
    :: li < qn && wkey[q[li]] == KEY_MAIN ->
#ifdef MUT_RW_WAKE_ALL_WRITERS
       acc = acc | ptok[q[li]];
#else
       if
       :: (acc & RW_WRITER) != 0 -> break                               /* stop */
       :: (ptok[q[li]] & (RW_UPGRADABLE | RW_WRITER)) != 0 && (acc & RW_UPGRADABLE) != 0 -> li++; goto skipped
       :: else -> acc = acc + ptok[q[li]]
       fi;
#endif
       woken[nwk] = q[li]; nwk++; qRemoveAt();
skipped: skip
    :: li < qn && wkey[q[li]] != KEY_MAIN -> li++
    :: else -> break
    od;
    qAnyWith(KEY_MAIN);
    if
    :: nwk > 0 -> word = acc | (lmore -> RW_PARKED : 0); ltok = TOKEN_HANDOFF   /* hand-off */
    :: true -> word = (lmore -> RW_PARKED : 0); ltok = TOKEN_NORMAL
    fi;
    li = 0;
    do
    :: li < nwk -> utok[woken[li]] = ltok; wst[woken[li]] = W_DEQUEUED; li++
    :: else -> break
    od;
    li = 0; lj = 0; lmore = 0; acc = 0
  };
  li = 0;
  do
  :: li < nwk -> wake(woken[li]); li++
  :: else -> break
  od;
  skip;
  d_step { li = 0; nwk = 0; ltok = 0; woken[0] = 0; woken[1] = 0; woken[2] = 0 }
}

proctype T(byte p) {
  byte li, lj, lw, lold, ltok;
  bit lok, lmore, ltimed;
  byte res, s, iter, acc, nwk;
  byte woken[3];
  byte got;
  bit c, isw;
  isw = (p < NW);
  do
  :: iter < ITERS ->
     if
     :: isw ->
        atomic { if :: word == 0 -> word = RW_WRITER; got = 1 :: else -> got = 0 fi };   /* write() */
        if
        :: !got -> lockCommon(p, 1); waitForReaders(p)
        :: else
        fi;
        d_step { nw++; assert(nw == 1 && nr == 0) };
        nw--;
        /* writeUnlock */
        atomic { if :: word == RW_WRITER -> word = 0; c = 1 :: else -> c = 0 fi };
        if :: !c -> wakeParkedExclusive(p) :: else fi
     :: else ->
        s = word;                                                                           /* read() */
        if
        :: (s & RW_WRITER) == 0 -> atomic { if :: word == s -> word = s + RW_ONE_READER; got = 1 :: else -> got = 0 fi }
        :: else -> got = 0
        fi;
        if :: !got -> lockCommon(p, 0) :: else fi;
        d_step { nr++; assert(nw == 0) };
        nr--;
        /* readUnlock: one CAS -ONE_READER, then the drain wake-up */
        atomic { s = word; word = word - RW_ONE_READER };
#ifndef MUT_RW_NO_DRAIN_WAKE
        if
        :: (s & (~15 | RW_WRITER_PARKED)) == (RW_ONE_READER | RW_WRITER_PARKED) -> unparkOne(p, KEY2, 0)
        :: else
        fi
#endif
     fi;
     d_step { got = 0; c = 0; s = 0; res = 0 };
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
  /* A stale PARKED may remain: a waiter whose validate failed and who then got in by tryLock
   * leaves it set, and readers never clear it (the next exclusive unlock does). Benign. */
  assert((word & ~RW_PARKED) == 0 && qn == 0 && bl == 0)
}
