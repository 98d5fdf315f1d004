// Messages, control words and result types shared by bench/family/run.ts, child.ts and worker.ts.

import type { HistogramData } from '../lib/histogram.ts';

/** Int32 indices of the child's control block; one 128-byte line each. */
export const CTL = {
  /** The child stores a run's generation here (and notifies) to start it. */
  GO: 0,
  /** The child stores the run's generation here to end it; workers poll it. */
  STOP: 32,
} as const;
export const CTL_BYTES = 64 * 4;

export type Group = 'rw' | 'cv' | 'semBatch' | 'semWait' | 'barrier';

/** One measured configuration of a group. */
export interface Point {
  /** Worker threads (rw, semBatch, semWait, barrier parties; cv: producers + consumers). */
  threads: number;
  readPct?: number;
  producers?: number;
  cap?: number;
  n?: number;
  permits?: number;
  /** xorshift steps inside / between critical sections. */
  inside: number;
  between: number;
}

export interface RunMessage {
  type: 'run';
  group: Group;
  variant: string;
  point: Point;
  index: number;
  gen: number;
  handles: Record<string, unknown>;
  offsets: { peer: number; data: number; counter: number };
}

export interface WorkerResult {
  index: number;
  gen: number;
  ops: number;
  reads?: number;
  writes?: number;
  bad?: number;
  items?: number;
  produced?: number;
  waits?: number;
  parks?: number;
  leaders?: number;
  /** Atomics.wait / Atomics.notify calls during the run, and waiters the notifies woke (cv, barrier). */
  waitCalls?: number;
  notifyCalls?: number;
  notifyWoken?: number;
  hist?: HistogramData;
  sink: number;
}

/** The child prints its output as one line starting with this marker. */
export const RESULT_MARKER = '@@family-result@@';

/** What the runner asks one child process to do. */
export interface Job {
  group: Group;
  variant: string;
  points: Point[];
  warmupMs: number;
  runMs: number;
}

export type Metrics = Record<string, number>;

export interface ChildOutput {
  group: Group;
  variant: string;
  points: { point: Point; metrics: Metrics }[];
}
