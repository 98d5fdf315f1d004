// The claims listed in bench/claims.md, as data for the report: what each proposes, the source's
// claimed effect as a range on a "benefit" scale (> 1 means the proposal is better, whatever the
// metric's direction), and which of the suites' comparisons measure it (primary: they decide
// the verdict; secondary: shown in the claim's section for context). C13 is `n/a`.
//
// Invariant: the numbers here are the sources' claims, never results; results come from the
// data files only. A claim whose suite has produced no data is reported as `not measured`.

import type { Comparison, SuiteName } from './model.ts';

export interface ClaimDef {
  id: string;
  proposal: string;
  baseline: string;
  /** The source's claimed effect, as printed. */
  claimed: string;
  /**
   * Claimed benefit range (> 1 = better; for a lower-is-better metric benefit = 1/ratio).
   * `undefined`: improvement of unstated size. Must not contain 1.
   */
  benefit?: readonly [number, number];
  /** How the claimed text was turned into `benefit`, when that took a reading. */
  interpretation?: string;
  /** Set for claims that cannot apply to JavaScript. */
  notApplicable?: string;
  suite?: SuiteName;
  primary: (c: Comparison) => boolean;
  secondary: (c: Comparison) => boolean;
  /** Why the mapping to parklot's bench is what it is (printed in the section). */
  setup: string;
}

const tagIs = (...tags: string[]) => (c: Comparison): boolean => tags.includes(c.tag);
const never = (): boolean => false;
const readMostly = (c: Comparison): boolean => Number(c.params.readPct ?? 0) >= 90;
/** Pool claims: the pool suite's tag equals the id (primary) or starts with `id-` (secondary). */
const poolPrimary = (id: string) => (c: Comparison): boolean => c.suite === 'pool' && c.tag === id;
const poolSecondary = (id: string) => (c: Comparison): boolean => c.suite === 'pool' && c.tag.startsWith(`${id}-`);
const inv = (lo: number, hi: number): [number, number] => [1 / hi, 1 / lo];

export const CLAIMS: ClaimDef[] = [
  {
    id: 'C1',
    proposal: 'adaptive spin count (by core count / observed hold time)',
    baseline: 'fixed spin of 40 attempts (free-threaded CPython); 0 (GIL build) shown too',
    claimed: '10–20 % fewer context switches; 10–20 % lower latency',
    benefit: inv(0.8, 0.9),
    interpretation: '10–20 % lower mean wait: mean-wait ratio 0.80–0.90',
    suite: 'locks',
    primary: tagIs('C1'),
    secondary: (c) => c.suite === 'locks' && c.unit.startsWith('lock/spin/') && c.tag !== 'C1',
    setup: 'parklot Mutex with `spin: "adaptive"` (candidate) against the same Mutex with a fixed budget of 40 spins (baseline), 8 workers on the core count of the machine, short critical section. The verdict metric is the mean wait per lock() (performance.now() around every lock()). Secondary, from the same processes: ops/s; voluntary and involuntary context switches per acquisition (getrusage of the variant\'s own process around each measured run, so it includes the harness\'s few switches per run: the main thread\'s sleep and result messages, the workers\' start/stop, any V8 helper thread; nothing subtracted); parks (Atomics.wait calls) per acquisition, counted by wrapping Atomics.wait in the bench workers. Data files older than these counters show only the wait and ops/s rows.',
  },
  {
    id: 'C2',
    proposal: 'dynamic fairness timeout, scaled by contention',
    baseline: 'fixed 1 ms `TIME_TO_BE_FAIR_NS` hand-off deadline',
    claimed: '5–15 % less waiting under high-frequency contention',
    benefit: inv(0.85, 0.95),
    interpretation: '5–15 % less mean wait: mean-wait ratio 0.85–0.95',
    suite: 'locks',
    primary: tagIs('C2'),
    secondary: (c) => c.suite === 'locks' && c.unit.startsWith('lock/fairness/') && c.tag !== 'C2',
    setup: 'parklot Mutex with `fairness: "dynamic"` (candidate) against a fixed 1 ms fairness deadline (baseline), 8 workers, short critical section. Metric: mean wait per lock(); p99 wait and ops/s are secondary.',
  },
  {
    id: 'C3',
    proposal: 'batched wake-ups in the parking lot (fewer wake calls)',
    baseline: 'one wake call per waiter',
    claimed: 'fewer system calls',
    interpretation: 'unsized: any improvement (fewer wake calls, more throughput) counts as the claimed direction',
    suite: 'family',
    primary: tagIs('C3-cv', 'C3-barrier', 'C3-barrier-spin', 'C3-cv-wakes', 'C3-barrier-wakes', 'C3-barrier-spin-wakes'),
    secondary: tagIs('C3-cv-waits', 'C3-cv-woken', 'C3-barrier-parks'),
    setup: 'Two settings from the lock-family bench. Condvar producer/consumer with notifyAll per item: parklot requeue (one wake per unlock) vs wake-every-waiter. Barrier: a futex barrier that wakes all parties with one Atomics.notify (batched) vs parklot\'s per-waiter wake, with and without spinning. The claim\'s metric is wake calls and throughput, so both decide the verdict (pooled on the benefit scale): wake calls are every Atomics.notify the workers make during the measured run (mutex, condvar and parking lot alike), counted by wrapping Atomics.notify in the bench workers, per item (condvar) or per generation (barrier); throughput is items/s or generations/s. Threads woken (the notify return values summed), wait() calls and parks are context. Data files older than the counters carry only the throughput rows.',
  },
  {
    id: 'C4',
    proposal: 'reader-preferring wake in the RW lock',
    baseline: 'write-preferring RW lock whose unlock wakes all (CPython `_PyRWMutex`)',
    claimed: '3–5 % in read-mostly work',
    benefit: [1.03, 1.05],
    suite: 'family',
    primary: tagIs('C4'),
    secondary: tagIs('C4-wait', 'C4-fair'),
    setup: 'parklot RwLock with reader preference (candidate) against a port of CPython\'s write-preferring, unlock-wakes-all `_PyRWMutex` (baseline); read throughput at 90 % and 99 % reads, 1–8 threads. The writers\' max wait is secondary.',
  },
  {
    id: 'C5',
    proposal: 'lock-free (or segmented-lock) list for task registration',
    baseline: 'one doubly linked list under one mutex',
    claimed: '20–30 % in high-concurrency task creation',
    benefit: [1.2, 1.3],
    suite: 'task-list',
    primary: tagIs('C5'),
    secondary: never,
    setup: 'TaskList insert+remove pairs/s with 1, 2, 4 and 8 workers: `lockfree` (slot table) and `sharded` (segmented locks) against `locked` (one list under one Mutex) at the same worker count.',
  },
  {
    id: 'C6',
    proposal: 'batched processing of ready tasks (batch of 16)',
    baseline: 'one ready task per scheduler turn',
    claimed: '15–20 % less scheduling overhead',
    benefit: inv(0.8, 0.85),
    interpretation: 'µs per task ratio 0.80–0.85',
    suite: 'pool',
    primary: poolPrimary('C6'),
    secondary: poolSecondary('C6'),
    setup: 'Worker pool: batched dequeue of ready tasks vs one task per turn.',
  },
  {
    id: 'C7',
    proposal: 'task priorities',
    baseline: 'FIFO only',
    claimed: '(no number)',
    suite: 'pool',
    primary: poolPrimary('C7'),
    secondary: poolSecondary('C7'),
    setup: 'Worker pool: latency of high-priority tasks under load, priority queue vs FIFO.',
  },
  {
    id: 'C8',
    proposal: 'work stealing between worker queues',
    baseline: 'one shared queue, or static assignment',
    claimed: '5–10 % throughput on many cores',
    benefit: [1.05, 1.1],
    suite: 'pool',
    primary: poolPrimary('C8'),
    secondary: poolSecondary('C8'),
    setup: 'Worker pool: per-worker queues with stealing vs one shared queue, skewed task sizes.',
  },
  {
    id: 'C9',
    proposal: 'tiered future pools (small / medium / large free lists)',
    baseline: 'one free list (or none)',
    claimed: '15–25 % less allocation overhead (5–10 % in the summary)',
    benefit: inv(0.75, 0.95),
    interpretation: 'ns per future round trip ratio 0.75–0.95 (covers both the 15–25 % and the summary\'s 5–10 %)',
    suite: 'pool',
    primary: poolPrimary('C9'),
    secondary: poolSecondary('C9'),
    setup: 'Future pool: tiered free lists vs one free list.',
  },
  {
    id: 'C10',
    proposal: 'adaptive semaphore waiting: spin, then yield, then block',
    baseline: 'block at once',
    claimed: '(none)',
    interpretation: 'unsized: any throughput gain counts as the claimed direction',
    suite: 'family',
    primary: tagIs('C10'),
    secondary: tagIs('C10-p99', 'C10-parks'),
    setup: 'parklot Semaphore acquire(1)/release(1) with adaptive waiting (candidate) vs parking at once (baseline), 2–8 threads, 1–2 permits. p99 acquire latency and parks per acquire are secondary.',
  },
  {
    id: 'C11',
    proposal: 'batched semaphore operations (acquire/release n at once)',
    baseline: 'n single operations',
    claimed: '2–5 %',
    benefit: [1.02, 1.05],
    suite: 'family',
    primary: tagIs('C11'),
    secondary: never,
    setup: 'parklot Semaphore: acquire(n)/release(n) as one call (candidate) vs n calls of acquire(1)/release(1) (baseline), n = 4 and 16, 1–4 threads.',
  },
  {
    id: 'C12',
    proposal: 'fine-grained locks and RW locks for read-mostly state',
    baseline: 'one coarse lock',
    claimed: '3–5 % read-mostly',
    benefit: [1.03, 1.05],
    suite: 'family',
    primary: (c) => c.tag === 'rw-mutex' && readMostly(c),
    secondary: (c) => c.tag === 'rw-mutex' && !readMostly(c),
    setup: 'The RW-lock half of the claim: parklot RwLock (default fair policy) against one parklot Mutex taken for reads and writes alike, at 90 % and 99 % reads, 1–8 threads (total ops/s). The per-loop / per-queue lock split is not benched separately (the sharded TaskList of C5 is the nearest case).',
  },
  {
    id: 'C13',
    proposal: 'release the GIL more eagerly around I/O',
    baseline: '—',
    claimed: '—',
    notApplicable: 'JavaScript has no GIL: worker threads never share a global interpreter lock, so there is nothing to release.',
    primary: never,
    secondary: never,
    setup: '',
  },
  {
    id: 'L1',
    proposal: 'an already-completed ("ready") future skips runtime calls',
    baseline: 'always a Promise',
    claimed: '22 % faster send/recv when data is already there',
    benefit: [1.22, 1.22],
    interpretation: '"22 % faster": 1.22× the baseline\'s rate',
    suite: 'pool',
    primary: poolPrimary('L1'),
    secondary: poolSecondary('L1'),
    setup: 'Ready fast path vs always-Promise for results available at once.',
  },
  {
    id: 'L2',
    proposal: 'optimistic try-then-await fast path in the async iterator',
    baseline: 'always parking',
    claimed: '249× in pipelined mode',
    benefit: [249, 249],
    suite: 'task-list',
    primary: tagIs('L2'),
    secondary: never,
    setup: 'MpmcQueue consumer with a tryPop before parking (candidate) vs always parking (baseline), producer worker ahead of the consumer; consumer async on the main thread, or sync in a worker. ns per message.',
  },
  {
    id: 'L3',
    proposal: '(claim) a parking-lot RW lock is slower than the standard one under low contention',
    baseline: 'plain futex RW lock (Rust std shape)',
    claimed: '5.6 % slower',
    benefit: [0.944, 0.944],
    suite: 'family',
    primary: tagIs('L3'),
    secondary: tagIs('rw-futex'),
    setup: 'parklot RwLock (default policy) as candidate against a futex RW lock in Rust std\'s shape as baseline, at 1–2 threads (the claim\'s low contention); 4–8 threads shown as secondary. Total ops/s.',
  },
  {
    id: 'L4',
    proposal: '(claim) a batch send API made everything slower',
    baseline: 'single submit',
    claimed: 'negative (53 % worse)',
    benefit: [0.47, 1 / 1.53],
    interpretation: '"53 % worse" read as a benefit of 0.47–0.65 (both readings of the percentage)',
    suite: 'pool',
    primary: poolPrimary('L4'),
    secondary: poolSecondary('L4'),
    setup: 'Pool batch submit vs single submit at batch sizes 1–256.',
  },
  {
    id: 'L5',
    proposal: 'reuse per-thread state instead of a shared pool of it',
    baseline: 'one shared pool',
    claimed: '91× faster (0.16 ms vs 14.9 ms)',
    benefit: [91, 91],
    suite: 'pool',
    primary: poolPrimary('L5'),
    secondary: poolSecondary('L5'),
    setup: 'Per-worker caches (thread-local free lists) vs one shared pool.',
  },
  {
    id: 'L6',
    proposal: 'poll only the source that signalled; guess the busy one',
    baseline: 'poll every source',
    claimed: 'fewer wasted polls',
    suite: 'pool',
    primary: poolPrimary('L6'),
    secondary: poolSecondary('L6'),
    setup: "WorkerPool's main thread collecting completions from 8 workers' completion rings: `completionPoll: 'signalled'` (each worker sets its bit in a shared bitmap after pushing completions; only those rings are drained) vs `'all'` (every ring scanned on every drain). Metric: empty ring polls per task (tasks/s alongside). A LIFO slot for newly spawned tasks does not apply: pool tasks do not spawn tasks.",
  },
  {
    id: 'L7',
    proposal: '(claim) a bounded channel of 1 is much slower than one of 1000',
    baseline: 'capacity 1',
    claimed: '2965 ns (cap 1) vs 384 ns (cap 1000); tokio vs futures channel 1.5–2×',
    benefit: [2965 / 384, 2965 / 384],
    interpretation: 'ns/msg ratio cap 1024 / cap 1 = 384/2965 ≈ 0.13 (the tokio-vs-futures half has no JS counterpart and is not measured)',
    suite: 'task-list',
    primary: tagIs('L7'),
    secondary: (c) => c.tag.startsWith('L7-'),
    setup: 'parklot MpmcQueue ns per message at capacity 1024 (candidate) vs capacity 1 (baseline): one thread pushing then popping, and one producer + one consumer worker. Capacity 64 is secondary.',
  },
];
