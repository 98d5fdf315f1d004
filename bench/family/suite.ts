// The lock-family suite, defined once: groups (one process runs one group's variant over all its
// points), the scenario name of every point, and the comparisons with the claims they test.
// bench/family/run.ts executes it; bench/README.md documents the same scenarios (and
// test/bench/readme.test.ts checks that the two agree).
//
// Scenario names follow the bench's scheme `<subject>/<kind>/<param>:<value>…` (like
// `lock/contended/threads:8/cs:short`): `rwlock/threads:4/reads:90`,
// `condvar/producers:2/consumers:2`, `semaphore/batch/threads:2/n:16`,
// `semaphore/wait/threads:4/permits:1`, `barrier/parties:8`.

import type { Claim } from '../lib/stats.ts';
import type { Group, Point } from './protocol.ts';

export interface GroupDef {
  group: Group;
  title: string;
  variants: string[];
  points: (quick: boolean) => Point[];
  /** Metric printed in the medians table. */
  headline: string;
  describe: (p: Point) => string;
}

export const RW_THREADS = [1, 2, 4, 8];
export const RW_READS = [50, 90, 99];

export const GROUPS: GroupDef[] = [
  {
    group: 'rw',
    title: 'RwLock: ops/s (reads + writes), inside 10 / between 20 xorshift steps',
    variants: ['parklot-fair', 'parklot-readers', 'parklot-writers', 'futex-rw', 'cpython-rw', 'mutex'],
    points: () => RW_THREADS.flatMap((threads) => RW_READS.map((readPct) => ({ threads, readPct, inside: 10, between: 20 }))),
    headline: 'opsPerSec',
    describe: (p) => `${p.threads}T ${p.readPct}%r`,
  },
  {
    group: 'cv',
    title: 'Condvar producer/consumer (one condvar, notifyAll per item, buffer 4): items/s',
    variants: ['requeue', 'wakeall'],
    points: () => [1, 2, 4].map((k) => ({ threads: 2 * k, producers: k, cap: 4, inside: 0, between: 20 })),
    headline: 'itemsPerSec',
    describe: (p) => `${p.producers}P+${p.threads - (p.producers ?? 0)}C`,
  },
  {
    group: 'semBatch',
    title: 'Semaphore acquire/release of n permits (permits = threads × n): cycles/s',
    variants: ['batched', 'single'],
    points: () => [1, 2, 4].flatMap((threads) => [4, 16].map((n) => ({ threads, n, inside: 10, between: 20 }))),
    headline: 'cyclesPerSec',
    describe: (p) => `${p.threads}T n=${p.n}`,
  },
  {
    group: 'semWait',
    title: 'Semaphore waiting, acquire(1)/release(1), inside 50 / between 50: ops/s',
    variants: ['adaptive', 'block'],
    points: () => [2, 4, 8].flatMap((threads) => [1, 2].map((permits) => ({ threads, permits, inside: 50, between: 50 }))),
    headline: 'opsPerSec',
    describe: (p) => `${p.threads}T ${p.permits}p`,
  },
  {
    group: 'barrier',
    title: 'Barrier generations/s (between 20 steps)',
    variants: ['parklot', 'parklot-nospin', 'futex', 'futex-spin'],
    points: () => [2, 4, 8].map((threads) => ({ threads, inside: 0, between: 20 })),
    headline: 'gensPerSec',
    describe: (p) => `${p.threads} parties`,
  },
];

/** A candidate/baseline comparison, per point where `where` holds. */
export interface ComparisonDef {
  id: string;
  group: Group;
  candidate: string;
  baseline: string;
  metric: string;
  claim: Claim | { notApplicable: string } | null;
  where: (p: Point) => boolean;
  note: string;
}

export const COMPARISONS: ComparisonDef[] = [
  { id: 'C4', group: 'rw', candidate: 'parklot-readers', baseline: 'cpython-rw', metric: 'readsPerSec', claim: { direction: 'higher-is-better', ratio: [1.03, 1.05] }, where: (p) => (p.readPct ?? 0) >= 90, note: 'reader-preferring wake vs write-preferring unlock-wakes-all, read-mostly' },
  { id: 'C4-wait', group: 'rw', candidate: 'parklot-readers', baseline: 'cpython-rw', metric: 'writeWaitMaxNs', claim: null, where: (p) => (p.readPct ?? 0) >= 90 && p.threads > 1, note: 'what reader preference costs writers (max write wait)' },
  { id: 'C4-fair', group: 'rw', candidate: 'parklot-fair', baseline: 'cpython-rw', metric: 'opsPerSec', claim: null, where: () => true, note: 'parklot default policy vs the CPython baseline' },
  { id: 'L3', group: 'rw', candidate: 'parklot-fair', baseline: 'futex-rw', metric: 'opsPerSec', claim: { direction: 'higher-is-better', ratio: [0.944, 0.944] }, where: (p) => p.threads <= 2, note: 'parking-lot RW lock vs the standard futex RW lock at low contention (claimed 5.6 % slower)' },
  { id: 'rw-futex', group: 'rw', candidate: 'parklot-fair', baseline: 'futex-rw', metric: 'opsPerSec', claim: null, where: (p) => p.threads > 2, note: 'same, contended' },
  { id: 'rw-mutex', group: 'rw', candidate: 'parklot-fair', baseline: 'mutex', metric: 'opsPerSec', claim: null, where: () => true, note: 'RwLock vs one Mutex for everything' },
  { id: 'C3-cv', group: 'cv', candidate: 'requeue', baseline: 'wakeall', metric: 'itemsPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'notifyAll requeue (one wake per unlock) vs wake every waiter' },
  { id: 'C3-cv-waits', group: 'cv', candidate: 'requeue', baseline: 'wakeall', metric: 'waitsPerItem', claim: { direction: 'lower-is-better' }, where: () => true, note: 'wait() calls per item (futile wake-ups re-wait)' },
  { id: 'C3-cv-wakes', group: 'cv', candidate: 'requeue', baseline: 'wakeall', metric: 'wakeCallsPerItem', claim: { direction: 'lower-is-better' }, where: () => true, note: 'wake system calls (Atomics.notify, all of them: mutex, condvar, lot) per item' },
  { id: 'C3-cv-woken', group: 'cv', candidate: 'requeue', baseline: 'wakeall', metric: 'wokenPerItem', claim: null, where: () => true, note: 'threads woken (sum of Atomics.notify results) per item' },
  { id: 'C3-barrier', group: 'barrier', candidate: 'futex', baseline: 'parklot-nospin', metric: 'gensPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'one notify call for all (batched) vs one wake per waiter, no spinning' },
  { id: 'C3-barrier-spin', group: 'barrier', candidate: 'futex-spin', baseline: 'parklot', metric: 'gensPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'same, both spinning 200 rounds when parties ≤ cores' },
  { id: 'C3-barrier-wakes', group: 'barrier', candidate: 'futex', baseline: 'parklot-nospin', metric: 'wakeCallsPerGen', claim: { direction: 'lower-is-better' }, where: () => true, note: 'wake system calls (Atomics.notify) per generation, no spinning' },
  { id: 'C3-barrier-spin-wakes', group: 'barrier', candidate: 'futex-spin', baseline: 'parklot', metric: 'wakeCallsPerGen', claim: { direction: 'lower-is-better' }, where: () => true, note: 'same, both spinning' },
  { id: 'C3-barrier-parks', group: 'barrier', candidate: 'futex', baseline: 'parklot-nospin', metric: 'parksPerGen', claim: null, where: () => true, note: 'Atomics.wait calls (parks) per generation, no spinning' },
  { id: 'C11', group: 'semBatch', candidate: 'batched', baseline: 'single', metric: 'cyclesPerSec', claim: { direction: 'higher-is-better', ratio: [1.02, 1.05] }, where: () => true, note: 'acquire(n)/release(n) vs n × acquire(1)/release(1)' },
  { id: 'C10', group: 'semWait', candidate: 'adaptive', baseline: 'block', metric: 'opsPerSec', claim: { direction: 'higher-is-better' }, where: () => true, note: 'spin then park vs park at once: throughput' },
  { id: 'C10-p99', group: 'semWait', candidate: 'adaptive', baseline: 'block', metric: 'acquireP99Ns', claim: { direction: 'lower-is-better' }, where: () => true, note: 'same: p99 acquire latency' },
  { id: 'C10-parks', group: 'semWait', candidate: 'adaptive', baseline: 'block', metric: 'parksPerOp', claim: { direction: 'lower-is-better' }, where: () => true, note: 'same: parks per acquire' },
];

/** The scenario name of one point of a group (see the header for the scheme). */
export function scenarioName(group: Group | string, p: Point): string {
  switch (group) {
    case 'rw':
      return `rwlock/threads:${p.threads}/reads:${p.readPct ?? 0}`;
    case 'cv':
      return `condvar/producers:${p.producers ?? 0}/consumers:${p.threads - (p.producers ?? 0)}`;
    case 'semBatch':
      return `semaphore/batch/threads:${p.threads}/n:${p.n ?? 1}`;
    case 'semWait':
      return `semaphore/wait/threads:${p.threads}/permits:${p.permits ?? 1}`;
    case 'barrier':
      return `barrier/parties:${p.threads}`;
    default:
      return `family/${group}/threads:${p.threads}`;
  }
}

/** Every scenario name of the suite (the points do not depend on quick/full). */
export function scenarioNames(): string[] {
  return GROUPS.flatMap((g) => g.points(false).map((p) => scenarioName(g.group, p)));
}
