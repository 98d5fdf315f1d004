/**
 * What the main thread (worker-pool.ts and main/) and a pool worker (worker-runtime.ts and worker/) tell each other
 * outside shared memory: the startup data and the control messages.
 */

import type { MessagePort } from 'node:worker_threads';
import type { RegionHandle } from '../parking/region.ts';
import type { FuturePoolHandle } from './future-pool.ts';

export type Transport = 'sab' | 'message';

/** `workerData` of a pool worker. */
export interface WorkerInit {
  readonly $parklotPoolWorker: 1;
  /** Worker slot index in the pool (fixed across replacements). */
  readonly index: number;
  readonly threads: number;
  /** Task file as a URL string. */
  readonly filename: string;
  readonly transport: Transport;
  readonly region: RegionHandle;
  /** Byte offset of the control block. */
  readonly control: number;
  /** Slot pool (sab transport). */
  readonly slots: FuturePoolHandle | null;
  /**
   * This worker index's reserved result slots, one per tier above the smallest (−1: none), for
   * results that do not fit the argument's slot. Word H_ARG_LEN of a reserved slot's header is its
   * busy flag: the worker stores 1 after writing a result there (before DONE); the main thread
   * stores 0 after reading it. Workers never allocate from the FuturePool (see main/sab-transport.ts, its reserves).
   */
  readonly reserve: readonly number[];
  /** Payloads always travel by message (slot pool 'none'). */
  readonly payloadsByMessage: boolean;
  /** Byte offsets of every worker's submission ring (stealing reads the others). */
  readonly rings: readonly number[];
  readonly ringCapacity: number;
  /** Byte offset of this worker's completion ring (an SpscQueue). */
  readonly completion: number;
  /** Fixed batch cap, or 0 for adaptive. */
  readonly batch: number;
  readonly stealing: boolean;
  readonly idleSpinUs: number;
  readonly idleWait: 'auto' | 'async' | 'sync';
  /** 'signalled': after pushing completions, also set this worker's bit in the C_SIGNAL words. */
  readonly completionPoll: 'all' | 'signalled';
  /**
   * Message transport: byte offset of the claim words, one Int32 per task id. The main thread stores
   * 2g (QUEUED, g = the id's use count) before posting task id with `g`; the worker CASes 2g → 2g + 1
   * (RUNNING) before calling the task function and skips the task if that fails (cancelled: the
   * main thread CASed 2g → FREE first). 0 for the sab transport.
   */
  readonly claims: number;
  /** Bidirectional payload channel (argument/result messages, read with receiveMessageOnPort). */
  readonly port: MessagePort;
  /** The user's `workerData` option, visible to the task file as `workerData.data`. */
  readonly data: unknown;
}

/** Main → worker control messages (on the Worker's own port). */
export type ToWorker =
  | { readonly t: 'task'; readonly id: number; readonly g: number; readonly name: string; readonly arg: unknown }
  | { readonly t: 'abort'; readonly id: number };

/** Worker → main control messages. */
export type FromWorker =
  | { readonly t: 'done'; readonly id: number; readonly ok: boolean; readonly value: unknown }
  | { readonly t: 'ready' };

/** A payload message on the payload port: the task entry and the value. */
export interface PayloadMessage {
  readonly e: number;
  readonly v: unknown;
  /** The export name, when the task names one and its argument travels by message. */
  readonly n?: string;
}
