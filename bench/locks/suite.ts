// The locks suite: every scenario defined once (name, what it measures, claim ids, variants,
// parameters, comparisons and targets). bench/run.ts executes it; bench/README.md documents
// the same table for humans. Names follow `lock/<kind>/threads:N/cs:<size>`.
//
// Invariant: every comparison names two variant labels of its own scenario; the candidate is
// parklot unless said otherwise, so ratio > 1 always means "candidate has more ops/s".

import type { Claim } from '../lib/stats.ts';
import type { ParklotOptions, VariantName } from './variants.ts';

export interface VariantSpec {
  /** Label in tables and JSON (unique within a scenario). */
  label: string;
  name: VariantName;
  options?: ParklotOptions;
}

/** A pass/fail target from bench/claims.md, checked against the ratio's CI. */
export interface RatioTarget {
  /** candidate/baseline throughput ratio that must be reached, e.g. 1.5 for "≥ 1.5× faster". */
  atLeast: number;
  /** Where the target comes from, printed beside the check. */
  text: string;
}

/** Per-process metrics a comparison can use. */
export type Metric =
  | 'opsPerSec'
  | 'waitMeanNs'
  | 'waitP99Ns'
  | 'volCtxSwitchesPerOp'
  | 'involCtxSwitchesPerOp'
  | 'parksPerOp'
  | 'wakeCallsPerOp';

/** Which way each metric improves. */
export const METRIC_DIRECTION: Record<Metric, 'higher-is-better' | 'lower-is-better'> = {
  opsPerSec: 'higher-is-better',
  waitMeanNs: 'lower-is-better',
  waitP99Ns: 'lower-is-better',
  volCtxSwitchesPerOp: 'lower-is-better',
  involCtxSwitchesPerOp: 'lower-is-better',
  parksPerOp: 'lower-is-better',
  wakeCallsPerOp: 'lower-is-better',
};

export interface Comparison {
  candidate: string;
  baseline: string;
  /** @defaultValue 'opsPerSec' */
  metric?: Metric;
  target?: RatioTarget;
  /** A claims.md claim this comparison tests; the runner prints its verdict. */
  claim?: { id: string; text: string; claim: Claim };
}

export interface ScenarioBase {
  name: string;
  /** One sentence: what the scenario measures. */
  what: string;
  /** Claim ids from bench/claims.md, or README targets (`T:…`). */
  claims: string[];
  variants: VariantSpec[];
  comparisons: Comparison[];
}

export interface UncontendedScenario extends ScenarioBase {
  kind: 'uncontended';
}

export interface ContendedScenario extends ScenarioBase {
  kind: 'contended';
  threads: number;
  /** xorshift steps inside / between critical sections (1 step ≈ 1 ns). */
  workInside: number;
  workBetween: number;
  /**
   * Count the workers' Atomics.wait (parks) and Atomics.notify (wake) calls in every variant
   * (bench/lib/count-atomics.ts): needed by C1's parks-per-acquisition metric.
   */
  countAtomics?: boolean;
  /** Fairness targets (bench/claims.md), checked on the candidate `parklot`. */
  fairness?: { maxWaitMs: number; minMaxRatio: number };
}

export type Scenario = UncontendedScenario | ContendedScenario;

/** Critical-section sizes, in xorshift steps inside / between (LockSpeedTest's two knobs). */
export const CS_SIZES = {
  // CPython lockbench "high contention" (--work-inside 5 --work-outside 5), parking_lot #338 (5 5)
  short: { workInside: 5, workBetween: 5 },
  // parlib-simple's "medium" critical section order of magnitude: ~100 ns held, ~100 ns apart
  medium: { workInside: 100, workBetween: 100 },
} as const;

export const THREAD_COUNTS = [1, 2, 4, 8] as const;

const PEERS: VariantSpec[] = [
  { label: 'futex3', name: 'futex3' },
  { label: 'always-notify', name: 'always-notify' },
  { label: 'spin', name: 'spin' },
  { label: 'v8', name: 'v8' },
  { label: 'multithreading', name: 'multithreading' },
];
const PARKLOT: VariantSpec = { label: 'parklot', name: 'parklot' };

function vsPeers(targets: Partial<Record<string, RatioTarget>> = {}): Comparison[] {
  return PEERS.map((p) => ({ candidate: 'parklot', baseline: p.label, target: targets[p.label] }));
}

/** C1's variants: the default adaptive spin, glibc's EMA policy, CPython's fixed 40 and the GIL build's 0. */
const SPIN_VARIANTS: VariantSpec[] = [
  PARKLOT,
  { label: 'parklot:spin=ema', name: 'parklot', options: { spin: 'ema' } },
  { label: 'parklot:spin=40', name: 'parklot', options: { spin: 40 } },
  { label: 'parklot:spin=0', name: 'parklot', options: { spin: 0 } },
];

/** C1's verdict-bearing comparison: mean wait against the fixed 40. */
const C1_MEAN_WAIT: Comparison = {
  candidate: 'parklot',
  baseline: 'parklot:spin=40',
  metric: 'waitMeanNs',
  claim: {
    id: 'C1',
    text: 'adaptive spin: 10–20 % lower latency (mean wait) than a fixed 40',
    claim: { direction: 'lower-is-better', ratio: [0.8, 0.9] },
  },
};

export function locksSuite(): Scenario[] {
  const out: Scenario[] = [
    {
      kind: 'uncontended',
      name: 'lock/uncontended',
      what: 'single-thread lock()+unlock() pair, tinybench, ns per pair',
      claims: ['T:uncontended'],
      variants: [PARKLOT, ...PEERS],
      comparisons: vsPeers({ v8: { atLeast: 1.5, text: 'README: ≥ 1.5× faster than Atomics.Mutex' } }),
    },
    {
      kind: 'uncontended',
      name: 'lock/uncontended/floor',
      what: 'parklot lock()+unlock() against a bare compareExchange(0,1)+exchange(0) pair',
      claims: ['T:uncontended'],
      variants: [PARKLOT, { label: 'floor', name: 'floor' }],
      comparisons: [
        {
          candidate: 'parklot',
          baseline: 'floor',
          // ≤ 1.15× the floor's time ⇔ ≥ 1/1.15 = 0.870× its throughput
          target: { atLeast: 1 / 1.15, text: 'README: ≤ 1.15× the CAS+exchange floor (≥ 0.870× its ops/s)' },
        },
      ],
    },
  ];
  for (const cs of ['short', 'medium'] as const) {
    for (const threads of THREAD_COUNTS) {
      const headline = threads === 8 && cs === 'short';
      out.push({
        kind: 'contended',
        name: `lock/contended/threads:${threads}/cs:${cs}`,
        what:
          `${threads} worker${threads > 1 ? 's' : ''} on one lock, ${CS_SIZES[cs].workInside} steps inside / ` +
          `${CS_SIZES[cs].workBetween} between critical sections` +
          (threads > 2 ? ' (oversubscribed on 2 cores)' : threads === 1 ? ' (no parallelism)' : ''),
        claims: headline ? ['T:contended', 'T:fairness', 'peers'] : ['peers'],
        variants: [PARKLOT, ...PEERS],
        comparisons: vsPeers(
          headline
            ? {
                futex3: { atLeast: 1.5, text: 'README: ≥ 1.5× the 3-state futex lock' },
                v8: { atLeast: 3, text: 'README: ≥ 3× Atomics.Mutex' },
              }
            : {},
        ),
        threads,
        ...CS_SIZES[cs],
        fairness: headline ? { maxWaitMs: 2, minMaxRatio: 0.5 } : undefined,
      });
    }
  }
  // C1 at 2 workers on 2 cores, where spinning decides how often the lock changes cores: the
  // adaptive policy (backoff, give up on a lost race) against glibc's EMA policy ('ema', parklot's
  // previous default), CPython's fixed 40 and the GIL build's 0.
  out.push({
    kind: 'contended',
    name: 'lock/spin/threads:2/cs:short',
    what: "parklot spin 'adaptive' vs 'ema' (glibc) vs fixed 40 (free-threaded CPython) vs 0 (GIL build), 2 workers, short CS",
    claims: ['C1'],
    variants: SPIN_VARIANTS,
    comparisons: [
      C1_MEAN_WAIT,
      { candidate: 'parklot', baseline: 'parklot:spin=40' },
      { candidate: 'parklot', baseline: 'parklot:spin=ema' },
      { candidate: 'parklot', baseline: 'parklot:spin=0' },
      { candidate: 'parklot', baseline: 'parklot:spin=40', metric: 'volCtxSwitchesPerOp' },
      { candidate: 'parklot', baseline: 'parklot:spin=40', metric: 'parksPerOp' },
    ],
    threads: 2,
    ...CS_SIZES.short,
    countAtomics: true,
  });
  // Go's woken bit: one woken waiter at a time (default) against waking at every unlock that
  // finds sleepers, oversubscribed with short and medium critical sections.
  for (const [threads, cs] of [[8, 'short'], [4, 'medium']] as const) {
    out.push({
      kind: 'contended',
      name: `lock/wakes/threads:${threads}/cs:${cs}`,
      what: `parklot wakes 'throttled' (Go's woken bit) vs 'every-unlock', ${threads} workers, ${cs} CS`,
      claims: [],
      variants: [PARKLOT, { label: 'parklot:wakes=every-unlock', name: 'parklot', options: { wakes: 'every-unlock' } }],
      comparisons: [
        { candidate: 'parklot', baseline: 'parklot:wakes=every-unlock' },
        { candidate: 'parklot', baseline: 'parklot:wakes=every-unlock', metric: 'wakeCallsPerOp' },
        { candidate: 'parklot', baseline: 'parklot:wakes=every-unlock', metric: 'waitP99Ns' },
      ],
      threads,
      ...CS_SIZES[cs],
      countAtomics: true,
    });
  }
  // C1: adaptive spin (parklot default) against CPython's fixed 40 spins and the GIL build's 0.
  out.push({
    kind: 'contended',
    name: 'lock/spin/threads:8/cs:short',
    what: "parklot spin 'adaptive' vs fixed 40 (free-threaded CPython) vs 0 (GIL build), 8 workers, short CS",
    claims: ['C1'],
    variants: SPIN_VARIANTS,
    comparisons: [
      { candidate: 'parklot', baseline: 'parklot:spin=ema' },
      C1_MEAN_WAIT,
      { candidate: 'parklot', baseline: 'parklot:spin=40' },
      { candidate: 'parklot', baseline: 'parklot:spin=0' },
      // claims.md's other C1 metrics (secondary): context switches (getrusage deltas of the
      // variant's own process around each measured run) and parks per acquisition.
      { candidate: 'parklot', baseline: 'parklot:spin=40', metric: 'volCtxSwitchesPerOp' },
      { candidate: 'parklot', baseline: 'parklot:spin=40', metric: 'involCtxSwitchesPerOp' },
      { candidate: 'parklot', baseline: 'parklot:spin=40', metric: 'parksPerOp' },
      { candidate: 'parklot', baseline: 'parklot:spin=0', metric: 'volCtxSwitchesPerOp' },
      { candidate: 'parklot', baseline: 'parklot:spin=0', metric: 'parksPerOp' },
    ],
    threads: 8,
    ...CS_SIZES.short,
    countAtomics: true,
  });
  // C2: dynamic fairness timeout (parklot default) against CPython's fixed 1 ms.
  out.push({
    kind: 'contended',
    name: 'lock/fairness/threads:8/cs:short',
    what: "parklot fairness 'dynamic' vs a fixed 1 ms hand-off timeout (CPython TIME_TO_BE_FAIR_NS), 8 workers",
    claims: ['C2'],
    variants: [PARKLOT, { label: 'parklot:fair=1ms', name: 'parklot', options: { fairness: { timeoutMs: 1 } } }],
    comparisons: [
      {
        candidate: 'parklot',
        baseline: 'parklot:fair=1ms',
        metric: 'waitMeanNs',
        claim: {
          id: 'C2',
          text: 'dynamic fairness timeout: 5–15 % less waiting',
          claim: { direction: 'lower-is-better', ratio: [0.85, 0.95] },
        },
      },
      { candidate: 'parklot', baseline: 'parklot:fair=1ms', metric: 'waitP99Ns' },
      { candidate: 'parklot', baseline: 'parklot:fair=1ms' },
    ],
    threads: 8,
    ...CS_SIZES.short,
  });
  return out;
}

/** Per-mode run lengths: quick ≈ 3–3.5 min, full ≈ 15–17 min for the whole suite on 2 busy cores. */
export const MODES = {
  quick: {
    reps: 3,
    uncontended: { timeMs: 250, warmupMs: 100, inner: 2000 },
    contended: { warmupRuns: 1, warmupMs: 100, runs: 2, durationMs: 200, sampledRuns: 1, sampleEvery: 64 },
  },
  full: {
    reps: 9,
    uncontended: { timeMs: 750, warmupMs: 250, inner: 2000 },
    contended: { warmupRuns: 1, warmupMs: 200, runs: 2, durationMs: 500, sampledRuns: 1, sampleEvery: 64 },
  },
} as const;

export type Mode = keyof typeof MODES;
