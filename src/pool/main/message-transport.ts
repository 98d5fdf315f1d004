/**
 * Message transport ('message'), main-thread side: the same scheduling as the shared-memory
 * transport, with one postMessage per task (`{ t: 'task', id, g, name, arg }` on the Worker) and
 * one 'done' message per result (handled in lifecycle.ts). No slots, no rings, no doorbell.
 *
 * Claim words: each task id (ids are recycled; at most the sum of the workers' windows are in use)
 * has an Int32 in shared memory. The main thread stores QUEUED(g) = 2g before posting the task with
 * use count g; the worker CASes 2g → RUNNING(g) = 2g + 1 before it calls the function. Cancelling,
 * preempting and crash recovery CAS 2g → CLAIM_FREE, so a posted task that was not reached never
 * runs (the worker skips its message), and a crash rejects exactly the started ones and
 * re-dispatches the rest.
 *
 * Tasks with a transfer list cannot be sent twice: preemption leaves them with their worker (and
 * recovery.ts rejects them if that worker dies before starting them).
 */

import type { TransferListItem } from 'node:worker_threads';
import { SharedRegion } from '../../parking/region.ts';
import type { WorkerExitError } from '../errors.ts';
import { controlBytes } from '../layout.ts';
import type { ToWorker } from '../protocol.ts';
import type { Completions } from './completions.ts';
import type { PoolConfig } from './options.ts';
import type { PoolState } from './state.ts';
import { PHASE_DISPATCHED, type Task, type WorkerHandle } from './task.ts';
import { WITHDRAWN, type TransportInit, type TransportStrategy } from './transport.ts';

/** Claim word of an unused id (never equal to a QUEUED 2g or RUNNING 2g + 1, g ≥ 1). */
const CLAIM_FREE = -1;
const NO_RESERVE: readonly number[] = Object.freeze([]);
const NO_RINGS: readonly number[] = [];

/** Task ids in use never exceed the sum of the workers' windows. */
function maxIdsOf(cfg: PoolConfig): number {
  return cfg.threads * (cfg.fixedCap === 0 ? 2 * 256 : Math.max(1, 2 * cfg.fixedCap)) + 16;
}

export class MessageTransport implements TransportStrategy {
  readonly kind = 'message';
  readonly #s: PoolState;
  readonly #c: Completions;
  /** Task by id (ids recycled through #freeIds). */
  readonly #msgTasks: (Task | undefined)[] = [];
  readonly #freeIds: number[] = [];
  /** Int32 index of the claim words, their count, and each id's use count. */
  readonly #claims: number;
  readonly #maxIds: number;
  readonly #claimGen: Int32Array;

  /** The shared region of a message pool: only the control block (started counters, stats) and the claim words. */
  static createRegion(cfg: PoolConfig): SharedRegion {
    return SharedRegion.create({ bytes: controlBytes(cfg.threads) + maxIdsOf(cfg) * 4 + 8192, waiters: 16, buckets: 16, threads: 64 });
  }

  constructor(s: PoolState, c: Completions) {
    this.#s = s;
    this.#c = c;
    const maxIds = maxIdsOf(s.cfg);
    this.#claims = s.region.alloc('Raw', maxIds * 4, 128) >> 2;
    this.#maxIds = maxIds;
    this.#claimGen = new Int32Array(maxIds);
    for (let i = 0; i < maxIds; i++) Atomics.store(s.i32, this.#claims + i, CLAIM_FREE);
  }

  workerInit(_index: number): TransportInit {
    return {
      slots: null,
      reserve: NO_RESERVE,
      payloadsByMessage: this.#s.cfg.payloadsByMessage,
      rings: NO_RINGS,
      ringCapacity: this.#s.cfg.ringCapacity,
      completion: 0,
      claims: this.#claims << 2,
    };
  }

  place(task: Task, w: WorkerHandle): boolean {
    const s = this.#s;
    const worker = w.worker;
    if (worker === undefined) return false;
    if (this.#freeIds.length === 0 && this.#msgTasks.length >= this.#maxIds) return false; // cannot happen (windows bound it)
    const id = this.#freeIds.length > 0 ? this.#freeIds.pop()! : this.#msgTasks.length;
    const g = (this.#claimGen[id] % 0x3ffffff) + 1;
    this.#claimGen[id] = g;
    // QUEUED(g) before the post: the worker's claim CAS expects it (see protocol.ts, `claims`).
    Atomics.store(s.i32, this.#claims + id, 2 * g);
    try {
      const m: ToWorker = { t: 'task', id, g, name: task.o.name, arg: task.arg };
      worker.postMessage(m, task.o.transfer as TransferListItem[] | undefined);
    } catch (e) {
      Atomics.store(s.i32, this.#claims + id, CLAIM_FREE);
      if (id === this.#msgTasks.length) this.#msgTasks.push(undefined);
      this.#freeIds.push(id);
      this.#c.settle(task, false, new TypeError(`WorkerPool.run: the task argument could not be cloned: ${(e as Error).message}`, { cause: e }));
      return true;
    }
    this.#msgTasks[id] = task;
    task.gen = g;
    task.slot = id;
    task.worker = w.index;
    task.phase = PHASE_DISPATCHED;
    w.outstanding++;
    s.inflight++;
    if (task.o.priority < s.lowestOut) s.lowestOut = task.o.priority;
    return true;
  }

  taskAt(id: number): Task | undefined {
    return this.#msgTasks[id];
  }

  free(id: number): void {
    this.#msgTasks[id] = undefined;
    this.#freeIds.push(id);
  }

  abortId(task: Task): number {
    return task.slot;
  }

  dispatched(): readonly (Task | undefined)[] {
    return this.#msgTasks;
  }

  /** The claim race: CAS QUEUED(g) → FREE on the task's claim word. If it wins, the worker skips the message. */
  #takeBack(t: Task): boolean {
    const queued = 2 * t.gen;
    return Atomics.compareExchange(this.#s.i32, this.#claims + t.slot, queued, CLAIM_FREE) === queued;
  }

  withdraw(task: Task): number {
    // Posted but perhaps not reached yet. If the CAS fails the worker has claimed it (it may be running).
    return this.#takeBack(task) ? WITHDRAWN : task.worker;
  }

  preemptAbove(_w: WorkerHandle): number {
    // A worker here runs one task message at a time, so "one batch" is the task it is running.
    return 1;
  }

  preempt(w: WorkerHandle, p: number): Task[] {
    const back: Task[] = [];
    for (const t of this.#msgTasks) {
      if (t === undefined || t.worker !== w.index || t.phase !== PHASE_DISPATCHED || t.o.priority >= p || t.o.transfer !== undefined) continue;
      if (this.#takeBack(t)) {
        this.#s.release(t);
        back.push(t);
      }
    }
    return back;
  }

  drain(): void {
    // Results arrive as 'done' messages.
  }

  anyCompletions(): boolean {
    return false;
  }

  recover(dead: WorkerHandle, err: WorkerExitError): Task[] {
    const redo: Task[] = [];
    for (const t of this.#msgTasks) {
      if (t === undefined || t.worker !== dead.index) continue;
      // The claim word decides (the worker is gone, so it cannot change any more): RUNNING → it
      // started; QUEUED → it never did, so it runs elsewhere (taking the word back to FREE).
      const wasStarted = !this.#takeBack(t);
      this.#s.release(t);
      if (wasStarted) this.#c.settle(t, false, err);
      else redo.push(t);
    }
    return redo;
  }
}
