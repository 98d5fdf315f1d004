// The async-locks suite (issue 13): every scenario defined once. bench/locks/async-run.ts runs
// it; bench/README.md (### async) documents the same table. Names: `lock/async/threads:N`.
//
// Invariant: every comparison names two variant labels of its own scenario; ratio > 1 means
// "candidate has more ops/s".

import type { AsyncLockName } from './async-locks.ts';

export interface AsyncVariantSpec {
  /** Label in tables and JSON (unique within a scenario). */
  label: string;
  lock: AsyncLockName;
  /** parklot only: this many workers (the first ones) use the blocking lock(). */
  syncWorkers?: number;
}

/** A pass/fail target checked against the ratio's CI (as in bench/locks/suite.ts). */
export interface AsyncRatioTarget {
  atLeast: number;
  text: string;
}

export interface AsyncComparison {
  candidate: string;
  baseline: string;
  target?: AsyncRatioTarget;
}

export interface AsyncScenario {
  name: string;
  what: string;
  /** Issue / README target ids. */
  claims: string[];
  threads: number;
  variants: AsyncVariantSpec[];
  comparisons: AsyncComparison[];
}

export const ASYNC_THREAD_COUNTS = [2, 4] as const;

export const ASYNC_VARIANTS: AsyncVariantSpec[] = [
  { label: 'parklot', lock: 'parklot' },
  { label: 'multithreading', lock: 'multithreading' },
  { label: 'weblocks', lock: 'weblocks' },
  { label: 'parklot:mixed', lock: 'parklot', syncWorkers: 1 },
];

export function asyncSuite(): AsyncScenario[] {
  return ASYNC_THREAD_COUNTS.map((threads) => ({
    name: `lock/async/threads:${threads}`,
    what:
      `${threads} workers, one async task each: await lock(); v = counter; await null; counter = v + 1; unlock()` +
      (threads > 2 ? ' (oversubscribed on 2 cores)' : ''),
    claims: ['T:async'],
    threads,
    variants: ASYNC_VARIANTS,
    comparisons: [
      { candidate: 'parklot', baseline: 'multithreading', target: { atLeast: 1.5, text: 'issue 13: ≥ 1.5× multithreading' } },
      { candidate: 'parklot', baseline: 'weblocks', target: { atLeast: 3, text: 'issue 13: ≥ 3× Web Locks' } },
      // What one blocking worker among async ones costs the total (no target).
      { candidate: 'parklot:mixed', baseline: 'parklot' },
    ],
  }));
}

/** Per-mode run lengths (300 ms measured runs, as issue 13 suggests). */
export const ASYNC_MODES = {
  quick: { reps: 3, warmupRuns: 1, warmupMs: 100, runs: 2, durationMs: 300 },
  full: { reps: 9, warmupRuns: 1, warmupMs: 200, runs: 3, durationMs: 300 },
} as const;

export type AsyncMode = keyof typeof ASYNC_MODES;
