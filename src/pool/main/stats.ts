/**
 * `WorkerPool.stats`: the main thread's counters plus each worker's figures, read from the
 * worker's statistics line in the control block (written only by that worker; nothing is published
 * through those words, so plain SC loads suffice). Busy time is two 30-bit halves: read high, low,
 * high again until the high half is stable.
 */

import {
  W_BATCHES, W_BUSY_HI, W_BUSY_LO, W_COMPLETED, W_PARKS, W_STOLEN, workerBase,
} from '../layout.ts';
import type { PoolStats, WorkerStats } from './options.ts';
import type { PoolState } from './state.ts';
import type { WorkerHandle } from './task.ts';

export function poolStats(s: PoolState): PoolStats {
  const h = s.latency;
  const n = h.count;
  return {
    transport: s.cfg.transport,
    threads: s.cfg.threads,
    completed: s.completed,
    failed: s.failed,
    cancelled: s.cancelled,
    payloadMessages: s.payloadMessages,
    queued: s.queue.size,
    waiting: s.overflowLive,
    preempted: s.preempted,
    polls: { total: s.polls, empty: s.emptyPolls },
    inFlight: s.pending - s.queue.size - s.overflowLive,
    latency: {
      count: n,
      p50Us: n === 0 ? 0 : h.percentile(50),
      p99Us: n === 0 ? 0 : h.percentile(99),
      meanUs: n === 0 ? 0 : h.mean,
      maxUs: n === 0 ? 0 : h.max,
    },
    workers: s.workers.map((w) => workerStats(s, w)),
  };
}

function workerStats(s: PoolState, w: WorkerHandle): WorkerStats {
  const b = workerBase(s.ctl, w.index);
  const i32 = s.i32;
  let hi: number;
  let lo: number;
  do {
    hi = Atomics.load(i32, b + W_BUSY_HI);
    lo = Atomics.load(i32, b + W_BUSY_LO);
  } while (hi !== Atomics.load(i32, b + W_BUSY_HI));
  return {
    index: w.index,
    threadId: w.threadId,
    state: w.state,
    completed: Atomics.load(i32, b + W_COMPLETED),
    stolen: Atomics.load(i32, b + W_STOLEN),
    batches: Atomics.load(i32, b + W_BATCHES),
    busyMs: (hi * 2 ** 30 + lo) / 1000,
    cap: s.capOf(w),
    outstanding: w.outstanding,
    starts: w.starts,
    parks: Atomics.load(i32, b + W_PARKS),
    wakes: w.wakes,
  };
}
