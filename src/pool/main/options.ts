/**
 * WorkerPool's public option, run-option and statistics types, and the validation that turns the
 * user's options into the resolved settings the rest of the pool reads (`PoolConfig`). Nothing here
 * touches shared memory or threads; a bad option throws from `new WorkerPool` before anything starts.
 */

import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ResourceLimits, TransferListItem } from 'node:worker_threads';
import type { FuturePoolCache, TierSpec } from '../future-pool.ts';
import { MAX_WORKERS } from '../layout.ts';
import type { Transport } from '../protocol.ts';

export interface WorkerPoolOptions {
  /** Task file: absolute path or file: URL of a module whose default export (or named exports) are task functions. */
  filename: string | URL;
  /** Worker threads. Default: `os.availableParallelism()`. */
  threads?: number;
  /** Most tasks waiting for a worker before `run` rejects with QueueFullError. Default Infinity; 'auto' = threads². */
  maxQueue?: number | 'auto';
  /**
   * What `run`/`runBatch` do when `maxQueue` tasks already wait. 'reject' (default): reject with
   * QueueFullError. 'wait': accept the task into a FIFO waiting room outside the scheduler queue; it
   * enters the queue (in arrival order) as room frees, and its promise settles as usual. A producer
   * that wants to pace itself awaits `pool.waitForRoom()` before submitting.
   */
  maxQueueMode?: 'reject' | 'wait';
  /**
   * How the main thread finds finished tasks (sab transport). 'all' (default): it looks at every
   * worker's completion ring each time it checks. 'signalled': a worker that finished tasks also
   * sets its bit in a shared bitmap, and the main thread reads the bitmap (one load per 32 workers)
   * and looks only at those rings. Pick 'signalled' for pools with many threads of which only a few
   * finish tasks at a time (few tasks in flight, or long ones): it saves the main thread most of its
   * empty looks. With every worker busy, both do the same work.
   */
  completionPoll?: 'all' | 'signalled';
  /** Tasks a worker takes per turn: a number fixes it (1 = no batching), 'adaptive' (default) aims at ~100 µs turns, 1–256. */
  batch?: number | 'adaptive';
  /** Idle workers steal half of a busy worker's waiting tasks. Default false. sab transport only. */
  stealing?: boolean;
  /**
   * How tasks and results travel. 'sab' (default): through shared memory (argument and result
   * slots, per-worker rings), with no message per task. 'message': one postMessage per task and one
   * per result, no shared-memory slots or rings. 'message' costs more per task, so it only suits
   * tasks that run long compared with a message round trip; it does not support `stealing`.
   */
  transport?: Transport;
  /** How long an idle worker spins before parking, in µs. Default 50. */
  idleSpinUs?: number;
  /**
   * How a parked worker sleeps. 'auto' (default): Atomics.wait when nothing in the worker needs its
   * event loop (no async task in flight, no timer, socket or other handle a task left behind), else
   * Atomics.waitAsync. 'async': always waitAsync (timers of finished tasks keep firing on time).
   * 'sync': Atomics.wait whenever no async task is in flight (piscina's default behaviour: handles a
   * task left behind are served only when the next task arrives). Waking a waitAsync sleeper costs
   * the waker ~35 µs on a 2-vCPU VM, a sync one ~6–9 µs.
   */
  idleWait?: 'auto' | 'async' | 'sync';
  /** Passed to each `new Worker` (a worker over its heap limit dies; its started tasks reject with WorkerExitError). */
  resourceLimits?: ResourceLimits;
  /** Shared-memory slots for arguments and results: size classes and caching, or 'none' (payloads by message). */
  slots?: { tiers?: readonly TierSpec[]; cache?: FuturePoolCache } | 'none';
  /**
   * With at most 2 × threads tasks in flight, how long the main thread may spin (from a
   * setImmediate, after the caller's continuations ran) for a completion before sleeping on the
   * doorbell, in µs. Default 20; 0 never spins. Bounded and adaptive: it trades ≤ 20 µs of CPU for
   * not paying an event-loop sleep/wake per short task.
   */
  mainSpinUs?: number;
  /** After a running task's signal aborts, how long it may keep running before its worker is replaced (ms). Default 1000. */
  abortGraceMs?: number;
  /** Priority aging: a waiting task gains one priority level per this many ms. Default 1000. */
  agingMs?: number;
  /** Available to the task file as `workerData.data` (from node:worker_threads). */
  workerData?: unknown;
}

export interface RunOptions {
  /** Export to call instead of the default export. */
  name?: string;
  /** Aborting removes a waiting task at once; a running task's `ctx.signal` aborts (see abortGraceMs). */
  signal?: AbortSignal;
  /** Higher runs first (default 0); waiting raises it over time (agingMs). */
  priority?: number;
  /** Transfer list for the argument (the argument then travels by message). Not for runBatch. */
  transfer?: readonly TransferListItem[];
}

export type WorkerState = 'starting' | 'ready' | 'failed' | 'stopped';

export interface WorkerStats {
  index: number;
  threadId: number;
  state: WorkerState;
  /** Tasks this worker completed (including stolen ones), since it started. */
  completed: number;
  /** Tasks this worker stole from others. */
  stolen: number;
  /** Turns (batches) it ran. */
  batches: number;
  /** Time spent running turns, ms. */
  busyMs: number;
  /** Its current batch cap. */
  cap: number;
  /** Tasks dispatched to it and not yet completed. */
  outstanding: number;
  /** Times this worker slot was (re)started. */
  starts: number;
  /** Times it parked (went to sleep until woken), and times the main thread woke it. */
  parks: number;
  wakes: number;
}

export interface PoolStats {
  transport: Transport;
  threads: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Tasks waiting in the main-thread queue. */
  queued: number;
  /** Tasks handed to workers and not yet settled. */
  inFlight: number;
  /** Arguments and results that travelled by message instead of a shared-memory slot (sab transport). */
  payloadMessages: number;
  /** Tasks in the maxQueueMode 'wait' waiting room (not yet in the queue). */
  waiting: number;
  /** Dispatched-but-unstarted tasks taken back from a worker's ring so a higher-priority task goes first. */
  preempted: number;
  /**
   * Completion sources the main thread looked at (sab): a completion ring, or with completionPoll
   * 'signalled' a signal word; `empty` of them had nothing to drain.
   */
  polls: { total: number; empty: number };
  /** Latency from `run` to settlement, µs, sampled (1 task in 16). */
  latency: { count: number; p50Us: number; p99Us: number; meanUs: number; maxUs: number };
  workers: WorkerStats[];
}

/** The options after validation, with defaults filled in: what the pool's modules read. */
export interface PoolConfig {
  readonly opts: WorkerPoolOptions;
  /** Task file as a URL string. */
  readonly filename: string;
  readonly threads: number;
  readonly transport: Transport;
  readonly stealing: boolean;
  readonly batch: number | 'adaptive';
  /** Fixed batch cap, or 0 for adaptive. */
  readonly fixedCap: number;
  readonly maxQueue: number;
  /** maxQueueMode 'wait'. */
  readonly waitMode: boolean;
  /** completionPoll 'signalled' (sab transport only). */
  readonly signalled: boolean;
  readonly idleSpinUs: number;
  readonly idleWait: 'auto' | 'async' | 'sync';
  readonly mainSpinMs: number;
  readonly abortGraceMs: number;
  readonly agingMs: number;
  /** slots 'none': every payload travels by message. */
  readonly payloadsByMessage: boolean;
  readonly tiers: readonly TierSpec[] | undefined;
  readonly cache: FuturePoolCache;
  /** Entries per submission ring (sab). */
  readonly ringCapacity: number;
}

function checkInt(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`WorkerPool option \`${what}\` must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

export function pow2AtLeast(n: number): number {
  let c = 1;
  while (c < n) c <<= 1;
  return c;
}

function resolveFilename(f: unknown): string {
  let url: URL;
  if (f instanceof URL) url = f;
  else if (typeof f === 'string' && f.length > 0) {
    url = /^[a-z][a-z0-9+.-]*:/i.test(f) && !/^[a-z]:[\\/]/i.test(f) ? new URL(f) : pathToFileURL(path.resolve(f));
  } else {
    throw new TypeError(`WorkerPool option \`filename\` must be a path or file: URL of the task file, got ${f === '' ? 'an empty string' : typeof f}`);
  }
  if (url.protocol === 'file:' && !existsSync(fileURLToPath(url))) {
    throw new TypeError(`WorkerPool: task file not found: ${fileURLToPath(url)}`);
  }
  return url.href;
}

/** Validates `opts` (throwing TypeError / RangeError on the first bad one) and fills in defaults. */
export function resolveOptions(opts: WorkerPoolOptions): PoolConfig {
  if (opts === null || typeof opts !== 'object') throw new TypeError('new WorkerPool(opts): opts must be an object with at least `filename`');
  const filename = resolveFilename(opts.filename);
  const threads = checkInt('threads', opts.threads ?? Math.max(1, os.availableParallelism()), 1, MAX_WORKERS);
  const transport = opts.transport ?? 'sab';
  if (transport !== 'sab' && transport !== 'message') throw new TypeError(`WorkerPool option \`transport\` must be 'sab' or 'message', got ${String(transport)}`);
  const stealing = opts.stealing ?? false;
  if (typeof stealing !== 'boolean') throw new TypeError('WorkerPool option `stealing` must be a boolean');
  if (stealing && transport !== 'sab') throw new TypeError("WorkerPool option `stealing` needs transport 'sab' (only tasks in shared memory can be stolen)");
  const batch = opts.batch ?? 'adaptive';
  if (batch !== 'adaptive') checkInt('batch', batch, 1, 4096);
  const fixedCap = batch === 'adaptive' ? 0 : batch;
  const mq = opts.maxQueue ?? Infinity;
  const maxQueue = mq === 'auto' ? threads * threads : mq === Infinity ? Infinity : checkInt('maxQueue', mq, 0, 2 ** 31 - 1);
  const mqMode = opts.maxQueueMode ?? 'reject';
  if (mqMode !== 'reject' && mqMode !== 'wait') throw new TypeError(`WorkerPool option \`maxQueueMode\` must be 'reject' or 'wait', got ${String(mqMode)}`);
  const poll = opts.completionPoll ?? 'all';
  if (poll !== 'all' && poll !== 'signalled') throw new TypeError(`WorkerPool option \`completionPoll\` must be 'all' or 'signalled', got ${String(poll)}`);
  const spin = opts.idleSpinUs ?? 50;
  if (typeof spin !== 'number' || !(spin >= 0) || spin > 1e6) throw new RangeError(`WorkerPool option \`idleSpinUs\` must be a number from 0 to 1e6, got ${String(spin)}`);
  const idleWait = opts.idleWait ?? 'auto';
  if (idleWait !== 'auto' && idleWait !== 'async' && idleWait !== 'sync') throw new TypeError(`WorkerPool option \`idleWait\` must be 'auto', 'async' or 'sync', got ${String(idleWait)}`);
  const mainSpin = opts.mainSpinUs ?? 20;
  if (typeof mainSpin !== 'number' || !(mainSpin >= 0) || mainSpin > 1000) throw new RangeError(`WorkerPool option \`mainSpinUs\` must be a number from 0 to 1000, got ${String(mainSpin)}`);
  const abortGraceMs = opts.abortGraceMs ?? 1000;
  if (typeof abortGraceMs !== 'number' || !(abortGraceMs >= 0)) throw new RangeError(`WorkerPool option \`abortGraceMs\` must be a non-negative number, got ${String(opts.abortGraceMs)}`);
  const agingMs = opts.agingMs ?? 1000;
  if (typeof agingMs !== 'number' || !(agingMs > 0)) throw new RangeError(`WorkerPool option \`agingMs\` must be a positive number, got ${String(opts.agingMs)}`);

  const slotsOpt = opts.slots;
  if (slotsOpt !== undefined && slotsOpt !== 'none' && (slotsOpt === null || typeof slotsOpt !== 'object')) {
    throw new TypeError("WorkerPool option `slots` must be { tiers?, cache? } or 'none'");
  }
  const maxCap = fixedCap === 0 ? 256 : fixedCap;
  return {
    opts,
    filename,
    threads,
    transport,
    stealing,
    batch,
    fixedCap,
    maxQueue,
    waitMode: mqMode === 'wait',
    signalled: poll === 'signalled' && transport === 'sab',
    idleSpinUs: spin,
    idleWait,
    mainSpinMs: mainSpin / 1000,
    abortGraceMs,
    agingMs,
    payloadsByMessage: slotsOpt === 'none',
    tiers: slotsOpt === 'none' ? [{ bytes: 8, count: 2048 }] : slotsOpt?.tiers,
    cache: slotsOpt === 'none' ? 'thread' : (slotsOpt?.cache ?? 'thread'),
    ringCapacity: pow2AtLeast(Math.max(64, 4 * maxCap)),
  };
}
