// Shared constants and message types between bench/lib/harness.ts (main thread) and
// bench/lib/harness-worker.ts. The control block is one Int32Array over a SharedArrayBuffer;
// every word written by different threads sits on its own 128-byte line (32 Int32 slots).

import type { HistogramData } from './histogram.ts';

/** Int32 indices in the control block; one 128-byte line each. */
export const CTL = {
  /** Generation: main stores g > 0 and notifies to release run g; −1 tells workers to exit. */
  GEN: 0,
  /** Stop flag: main stores g to end run g (tagged, so it never needs resetting). */
  STOP: 32,
  /** Workers add 1 after posting their result for a run. */
  DONE: 64,
  /** The protected counter: plain (non-atomic) increments inside the critical section. */
  COUNTER: 96,
  /**
   * Wait sampling of the next run, written by main before it stores GEN: 0 = no clock reads in
   * the loop (throughput runs); n (a power of two) = time one acquisition in n.
   */
  SAMPLE: 128,
} as const;

/** Control block size in bytes. */
export const CTL_BYTES = 160 * 4;

export type WorkerMessage =
  | { type: 'ready'; index: number }
  | {
      type: 'result';
      index: number;
      gen: number;
      ops: number;
      activeMs: number;
      wait: HistogramData;
      sink: number;
      /** Atomics.wait / Atomics.notify calls in this run (0 unless the harness counts them). */
      waitCalls: number;
      notifyCalls: number;
      /** Sum of Atomics.notify's return values (waiters woken). */
      notifyWoken: number;
    }
  | { type: 'error'; index: number; message: string };
