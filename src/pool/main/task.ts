/**
 * The main thread's records: a submitted task (`Task`, its options `TaskOpts`, the `Batch` of a
 * runBatch call) and a worker slot (`WorkerHandle`). Plain data; the pool's modules change them.
 *
 * Task phases: QUEUED (in the main-thread queue) → DISPATCHED (handed to a worker: it holds a slot
 * or message id) → SETTLED (its promise resolved or rejected; final). A dispatched task taken back
 * (preemption, a dead worker's unstarted task) returns to QUEUED. With maxQueueMode 'wait' a task
 * accepted beyond `maxQueue` starts in WAITING (the waiting room) and moves to QUEUED as room frees.
 */

import type { TransferListItem, Worker, MessagePort } from 'node:worker_threads';
import type { Queueable } from '../task-queue.ts';
import type { WorkerState } from './options.ts';

export const PHASE_QUEUED = 0;
export const PHASE_DISPATCHED = 1;
export const PHASE_SETTLED = 2;
/** In the maxQueueMode 'wait' waiting room (accepted, not yet in the queue). */
export const PHASE_WAITING = 3;

export class Batch {
  readonly results: unknown[];
  left: number;
  done = false;
  readonly tasks: Task[] = [];
  readonly resolve: (v: unknown[]) => void;
  readonly reject: (e: unknown) => void;
  constructor(n: number, resolve: (v: unknown[]) => void, reject: (e: unknown) => void) {
    this.results = Array.from({ length: n });
    this.left = n;
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** Per-task options other than the argument, kept off the hot Task object (most tasks share NO_OPTS). */
export class TaskOpts {
  readonly name: string;
  readonly nameId: number;
  readonly priority: number;
  readonly signal: AbortSignal | undefined;
  readonly transfer: readonly TransferListItem[] | undefined;
  onAbort: (() => void) | undefined = undefined;
  constructor(name: string, nameId: number, priority: number, signal: AbortSignal | undefined, transfer: readonly TransferListItem[] | undefined) {
    this.name = name;
    this.nameId = nameId;
    this.priority = priority;
    this.signal = signal;
    this.transfer = transfer;
  }
}

export const NO_OPTS = new TaskOpts('', 0, 0, undefined, undefined);

/**
 * A task on the main thread. Kept small (a burst of 100k run() calls keeps 100k of them alive, and
 * every field widens what the young-generation GC copies): integers only, options in `o`.
 */
export class Task implements Queueable {
  arg: unknown;
  resolve: ((v: unknown) => void) | undefined = undefined;
  reject: ((e: unknown) => void) | undefined = undefined;
  readonly o: TaskOpts;
  batch: Batch | undefined = undefined;
  index = 0;
  seq = 0;
  /** Whole ms since the pool was created (a small integer, stored unboxed). */
  enqueuedAt = 0;
  cancelled = false;
  phase = PHASE_QUEUED;
  /** Worker it was dispatched to (-1 while queued). */
  worker = -1;
  /** Slot index (sab transport) or task id (message transport) while dispatched, else -1. */
  slot = -1;
  gen = 0;
  constructor(arg: unknown, o: TaskOpts) {
    this.arg = arg;
    this.o = o;
  }
  get priority(): number {
    return this.o.priority;
  }
}

/** One worker slot of the pool (its index is fixed; a replacement worker takes over the handle). */
export interface WorkerHandle {
  readonly index: number;
  worker: Worker | undefined;
  state: WorkerState;
  /** Main end of the payload channel of the current incarnation. */
  port: MessagePort | undefined;
  outstanding: number;
  exitExpected: boolean;
  killReason: string | undefined;
  lastError: unknown;
  threadId: number;
  starts: number;
  bootFailures: number;
  /** Consecutive exits before ready without an error (killed while starting); see lifecycle.ts, onExit. */
  bootKills: number;
  wakes: number;
  wakeSoon: boolean;
  /** The worker's batch cap as last read from shared memory (refreshed on every drain). */
  cap: number;
}

export function newWorkerHandle(index: number): WorkerHandle {
  return {
    index, worker: undefined, state: 'stopped', port: undefined, outstanding: 0,
    exitExpected: false, killReason: undefined, lastError: undefined, threadId: -1, starts: 0, bootFailures: 0, bootKills: 0, wakes: 0, wakeSoon: false, cap: 32,
  };
}
