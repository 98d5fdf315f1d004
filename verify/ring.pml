/*
 * Vyukov bounded MPMC ring: src/task-list/ring.ts (the core of MpmcQueue's tryPush/tryPop).
 *
 * Model state        TypeScript (ring.ts)
 *   enq, deq         R_ENQ / R_DEQ counters (free-running; here small enough never to wrap)
 *   seq[c], val[c]   cell c: seq word and value word (R_CELLS + 2c, + 1)
 *   CAP              capacity (a power of two; 2 by default, -DCAP=1 checks the doubled encoding)
 *
 * Steps (each shared access is one Promela step, JS Atomics are sequentially consistent):
 *   ringTryPush (ring.ts) load enq; load seq; dif = seq - 2pos; ==0: CAS enq pos->pos+1, plain
 *                             store of the value, store seq = 2pos+1; <0: full (false); >0: reload enq
 *   ringTryPop  (ring.ts) load deq; load seq; dif = seq - (2pos+1); ==0: CAS deq, plain read of
 *                             the value, store seq = 2(pos+CAP); <0: empty (undefined); >0: reload deq
 *   ringInit    (ring.ts) seq[i] = 2i
 * Producers retry tryPush until it succeeds (as push() does after parking; the parking-lot wait of
 * blocking.ts is not modelled here), consumers retry tryPop until all values are taken.
 *
 * Properties: every value pushed is popped exactly once (no loss, no duplication: the `seen`
 * counters), per-producer FIFO in claim order (the deq position of a producer's value k+1 is
 * after that of its value k), nothing left in the ring at the end.
 *
 * Mutants: MUT_RING_NO_SEQ_CHECK (pop claims a position without checking the cell's seq);
 *          MUT_RING_NO_CAS (pop claims with load + store instead of CAS on deq).
 */

#ifndef CAP
#define CAP 2
#endif
#ifndef NP_PROD
#define NP_PROD 2
#endif
#ifndef NC_CONS
#define NC_CONS 1
#endif
#ifndef PER
#define PER 2
#endif
#define TOTAL (NP_PROD * PER)

byte enq = 0;
byte deq = 0;
byte seq[CAP];
byte val[CAP];
byte seen[TOTAL + 1];   /* value v = producer * PER + k + 1 */
byte popped = 0;
byte posOf[TOTAL + 1];  /* the deq position (claim order) at which value v was popped */

proctype Producer(byte id) {
  byte k = 0, pos, s, c;
  bit ok;
  do
  :: k < PER ->
     ok = 0;
     do                                              /* retry tryPush until it succeeds */
     :: pos = enq;
        do
        :: c = pos % CAP;
           s = seq[c];
           if
           :: s == 2 * pos ->
              atomic { if :: enq == pos -> enq = pos + 1; ok = 1 :: else -> pos = enq fi };
              if
              :: ok ->
                 val[c] = id * PER + k + 1;          /* plain store of the value */
                 seq[c] = 2 * pos + 1;               /* publish */
                 break
              :: else
              fi
           :: s < 2 * pos -> break                   /* full */
           :: s > 2 * pos -> pos = enq
           fi
        od;
        if :: ok -> break :: else fi
     od;
     k++; pos = 0; s = 0; c = 0
  :: else -> break
  od
}

proctype Consumer() {
  byte pos, s, c, v;
  bit ok;
  do
  :: popped < TOTAL ->
     ok = 0;
     pos = deq;
     do
     :: c = pos % CAP;
        s = seq[c];
#ifdef MUT_RING_NO_SEQ_CHECK
        if
        :: s >= 2 * pos ->   /* BUG: takes the cell even while it is only claimed, not published */
#else
        if
        :: s == 2 * pos + 1 ->
#endif
#ifdef MUT_RING_NO_CAS
           if :: deq == pos -> ok = 1 :: else -> pos = deq fi;
           if :: ok -> deq = pos + 1 :: else fi;
#else
           atomic { if :: deq == pos -> deq = pos + 1; ok = 1 :: else -> pos = deq fi };
#endif
           if
           :: ok ->
              v = val[c];                           /* plain read */
              seq[c] = 2 * (pos + CAP);             /* free the cell for the next lap */
              break
           :: else
           fi
#ifdef MUT_RING_NO_SEQ_CHECK
        :: s < 2 * pos -> break
#else
        :: s < 2 * pos + 1 -> break                 /* empty */
        :: s > 2 * pos + 1 -> pos = deq
#endif
        fi
     od;
     if
     :: ok ->
        d_step {
          assert(v >= 1 && v <= TOTAL);
          seen[v]++;
          assert(seen[v] == 1);                     /* no duplication */
          posOf[v] = pos;
          popped++
        }
     :: else
     fi;
     pos = 0; s = 0; c = 0; v = 0
  :: else -> break
  od
}

init {
  byte i;
  atomic {
    i = 0;
    do
    :: i < CAP -> seq[i] = 2 * i; i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NP_PROD -> run Producer(i); i++
    :: else -> break
    od;
    i = 0;
    do
    :: i < NC_CONS -> run Consumer(); i++
    :: else -> break
    od
  };
  (_nr_pr == 1);
  /* no loss: every value was popped exactly once, the ring is empty */
  i = 1;
  do
  :: i <= TOTAL ->
     assert(seen[i] == 1);
     /* per-producer FIFO in claim order: a producer's value k+1 was claimed after its value k */
     if :: (i - 1) % PER != 0 -> assert(posOf[i - 1] < posOf[i]) :: else fi;
     i++
  :: else -> break
  od;
  assert(enq == TOTAL && deq == TOTAL)
}
