// Data model of the report generator: one suite-independent shape for a data file and for a
// single A/B comparison (two groups of per-process samples), so every suite's JSON is read
// once by its adapter (load.ts) and all statistics are computed the same way (analyze.ts).

import type { LoadDuringRun } from '../lib/load-monitor.ts';
import type { Direction } from '../lib/stats.ts';

/** The suites the bench knows. `pool` is read only if its JSON is present. */
export type SuiteName = 'locks' | 'async-locks' | 'family' | 'task-list' | 'pool';

/** Environment and run settings of one data file, normalised across suites. */
export interface FileMeta {
  suite: SuiteName;
  file: string;
  date: string;
  quick: boolean;
  reps: number | undefined;
  parklotVersion: string | undefined;
  commit: string | undefined;
  dirty: boolean | undefined;
  node: string | undefined;
  v8: string | undefined;
  cpuModel: string | undefined;
  cores: number | undefined;
  loadAvgAtStart: number[] | undefined;
  /**
   * Load measured while the suite ran (bench/lib/load-monitor.ts): decides "loaded machine".
   * Absent in data written before the runners recorded it (then the load average at start does).
   */
  loadDuringRun?: LoadDuringRun;
  /** Locks suite: one acquisition in this many is timed in the wait-sampled runs. */
  sampleEvery?: number;
  platform: string | undefined;
  durationMs: number | undefined;
  method: string | undefined;
  argv: string[] | undefined;
}

/**
 * One comparison: per-process samples of `metric` for a candidate and a baseline.
 * `tag` is the suite's own label for it (e.g. `C4-wait`, `C1`, `peer`), `unit` the scenario
 * (or scenario + point) it belongs to; newest-file selection is per (suite, unit).
 */
export interface Comparison {
  suite: SuiteName;
  file: string;
  unit: string;
  /** Human label of the point, e.g. `threads:8 readPct:99`. */
  point: string;
  /** Parameters of the point when known (threads, readPct, capacity …). */
  params: Record<string, number | string | boolean>;
  tag: string;
  candidate: string;
  baseline: string;
  metric: string;
  direction: Direction;
  note: string;
  candidateSamples: number[];
  baselineSamples: number[];
  /** Stored statistics, used only when the samples are absent (a suite that writes only summaries). */
  stored?: { ratio: number; low: number; high: number; p: number };
  /** A pass/fail target on the ratio (met if the CI is entirely at or above `atLeast`). */
  target?: { atLeast: number; text: string };
}

/** Per-variant medians of one scenario point, for scaling and fairness views. */
export interface VariantPoint {
  suite: SuiteName;
  file: string;
  scenario: string;
  threads: number | undefined;
  variant: string;
  processes: number;
  failures: number;
  opsPerSec: number | undefined;
  waitP50Ns?: number;
  waitP99Ns?: number;
  waitMaxNs?: number;
  worstWaitMaxNs?: number;
  minMaxRatio?: number;
  /** Locks: sampled-run ops/s ÷ throughput-run ops/s (median over processes). */
  samplingCost?: number;
  /** ops/s of every successful process (async-locks). */
  samples?: number[];
  /** The failed processes' errors, as recorded. */
  failureTexts?: string[];
  /** How many of the failures are LostUpdateError (the lock let two holders in at once). */
  lostUpdates?: number;
  warnings: string[];
}

/** Everything read from one data file. */
export interface LoadedFile {
  meta: FileMeta;
  units: string[];
  comparisons: Comparison[];
  variantPoints: VariantPoint[];
  /** Failed processes the file records, as text. */
  failures: string[];
  /** One-line description of each unit, where the suite records one. */
  descriptions?: Record<string, string>;
}

/** Direction of a metric from its name: rates are higher-is-better, times and counts per op lower. */
export function directionOf(metric: string): Direction {
  return /PerSec$|^ops|Ratio$/.test(metric) ? 'higher-is-better' : 'lower-is-better';
}
