// Shared constants and message types between bench/locks/async-harness.ts (main thread) and
// bench/locks/async-worker.ts. The control block is one Int32Array over a SharedArrayBuffer;
// every word written by different threads sits on its own 128-byte line (32 Int32 slots).
// (Same layout idea as bench/lib/harness-protocol.ts, kept separate so the two benches can
// change independently.)

import type { AsyncLockInit } from './async-locks.ts';

/** Int32 indices in the control block; one 128-byte line each. */
export const ACTL = {
  /** Generation: main stores g > 0 and notifies to release run g; −1 tells workers to exit. */
  GEN: 0,
  /** Stop flag: main stores g to end run g (tagged, so it never needs resetting). */
  STOP: 32,
  /** Workers add 1 after their last counter write of a run (and after posting their result). */
  DONE: 64,
  /** The protected counter: plain (non-atomic) read, `await null`, plain write. */
  COUNTER: 96,
} as const;

/** Control block size in bytes. */
export const ACTL_BYTES = 128 * 4;

/** workerData of an async bench worker. */
export interface AsyncWorkerConfig {
  init: AsyncLockInit;
  ctl: SharedArrayBuffer;
  index: number;
  /** parklot only: this worker acquires with the blocking `lock()` instead of `lockAsync()`. */
  sync: boolean;
}

export type AsyncWorkerMessage =
  | { type: 'ready'; index: number }
  | { type: 'result'; index: number; gen: number; ops: number; activeMs: number }
  | { type: 'error'; index: number; message: string };
