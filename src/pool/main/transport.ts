/**
 * How the main thread hands tasks to workers and gets them back: the one seam between the
 * transport-independent scheduler and the two ways a task can travel.
 *
 * - sab-transport.ts ('sab', the default): argument and result in a shared-memory slot, the task's
 *   entry on the worker's submission ring, completions on the worker's completion ring.
 * - message-transport.ts ('message'): one postMessage per task and one per result.
 *
 * Both give every dispatched task a word in shared memory that a worker must CAS from QUEUED to
 * RUNNING before it calls the task function (the slot's state word; the message id's claim word).
 * Cancelling, preempting and recovering a dead worker's tasks CAS the same word from QUEUED to
 * FREE, so for every dispatched task exactly one side wins: it either runs once or never.
 */

import type { Transport, WorkerInit } from '../protocol.ts';
import type { WorkerExitError } from '../errors.ts';
import type { Task, WorkerHandle } from './task.ts';

/** What a transport adds to a new worker's workerData. */
export type TransportInit = Pick<WorkerInit, 'slots' | 'reserve' | 'payloadsByMessage' | 'rings' | 'ringCapacity' | 'completion' | 'claims'>;

/** `withdraw` took the task back: its worker had not started it and now never will. */
export const WITHDRAWN = -2;

export interface TransportStrategy {
  readonly kind: Transport;
  /**
   * Hands `task` to worker `w`. Returns false if it cannot now (no free slot or ring room): the
   * caller keeps the task queued. Returns true once the task is dispatched, or if it was settled
   * at once with an error (an argument that cannot be sent).
   */
  place(task: Task, w: WorkerHandle): boolean;
  /** The dispatched task holding slot (sab) or message id `slot`, if any. */
  taskAt(slot: number): Task | undefined;
  /** Forgets slot or id `slot` after its task settled or was taken back, so it can be reused. */
  free(slot: number): void;
  /** The id a worker knows `task` by (for an 'abort' message). */
  abortId(task: Task): number;
  /**
   * The cancel race for a dispatched task: WITHDRAWN if this CAS took it back before its worker
   * claimed it (the caller then releases and settles it); else the index of the worker running it,
   * or -1 when it is not running (already finished).
   */
  withdraw(task: Task): number;
  /** Outstanding tasks worker `w` may hold ahead of a higher-priority arrival without preemption. */
  preemptAbove(w: WorkerHandle): number;
  /**
   * Takes back `w`'s dispatched, unstarted tasks of priority below `p` that can be sent again,
   * releasing them; the caller requeues them. Tasks that cannot be sent again stay with `w`.
   */
  preempt(w: WorkerHandle, p: number): Task[];
  /** Settles what the workers finished (sab: drains the completion rings; every ring with `every`). */
  drain(every?: boolean): void;
  /** Whether any completion waits to be drained (sab; a cheap look, no draining). */
  anyCompletions(): boolean;
  /**
   * After worker `dead` exited: settles its finished tasks, rejects those it had started with
   * `err`, and returns (released) the dispatched tasks it never started, to run elsewhere.
   */
  recover(dead: WorkerHandle, err: WorkerExitError): Task[];
  /** Every slot or id's dispatched task (undefined where none), for destroy(). */
  dispatched(): readonly (Task | undefined)[];
  /** The transport's part of worker `index`'s workerData. */
  workerInit(index: number): TransportInit;
}
