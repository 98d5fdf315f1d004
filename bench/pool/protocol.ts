/** What bench/pool/run.ts sends each child process and what the child prints back. */

export const RESULT_MARKER = '@@POOL_RESULT@@ ';

export interface Job {
  scenario: string;
  variant: string;
  threads: number;
  /** Scenario parameters (sizes, durations, xorshift steps per µs). */
  params: Record<string, number>;
}

export interface ChildResult {
  value: number;
  unit: string;
  samples: number[];
  extra: Record<string, unknown>;
}
