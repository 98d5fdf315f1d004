/**
 * Message transport ('message'), worker side: one 'task' message per task on the worker's port,
 * one 'done' message per result.
 *
 * For every task message it takes, the worker first bumps its W_STARTED counter (in arrival order,
 * cancelled ones included), prepares the call (looks up the function, makes the `{ signal }`
 * context), then claims the task with a CAS on its claim word (QUEUED(g) = 2g → RUNNING(g) = 2g + 1;
 * a task the main thread cancelled first fails the CAS and is skipped: it never runs and nothing is
 * posted), calls the function and posts 'done' when it returns or its promise settles. Only the
 * call lies between the claim and the task's first statement.
 */

import { errorToWire } from '../codec.ts';
import { W_COMPLETED, W_STARTED, workerBase } from '../layout.ts';
import type { FromWorker } from '../protocol.ts';
import { isThenable, TaskContext, type TaskFn, type TaskFunctions, type TaskSignals } from './task-functions.ts';

export interface MessageRunnerOptions {
  readonly i32: Int32Array;
  /** This worker's index and the byte offsets of the control block and of the claim words. */
  readonly index: number;
  readonly control: number;
  readonly claims: number;
  readonly fns: TaskFunctions;
  readonly signals: TaskSignals;
  /** Posts a message to the main thread (the worker's parentPort). */
  readonly post: (m: FromWorker) => void;
}

export class MessageRunner {
  readonly #i32: Int32Array;
  readonly #wb: number;
  readonly #claims: number;
  readonly #fns: TaskFunctions;
  readonly #signals: TaskSignals;
  readonly #post: (m: FromWorker) => void;
  #completed = 0;

  constructor(o: MessageRunnerOptions) {
    this.#i32 = o.i32;
    this.#wb = workerBase(o.control >> 2, o.index);
    this.#claims = o.claims >> 2;
    this.#fns = o.fns;
    this.#signals = o.signals;
    this.#post = o.post;
  }

  run(id: number, g: number, name: string, arg: unknown): void {
    const i32 = this.#i32;
    // Counts every task message taken in arrival order, cancelled ones included: the main thread
    // reads it only after this thread exited, to tell started tasks from those never reached.
    Atomics.add(i32, this.#wb + W_STARTED, 1);
    // Prepared before the claim, so only the call lies between the claim (from then on the task
    // counts as started) and the task function's first statement.
    let fn: TaskFn | undefined;
    let ctx: TaskContext | undefined;
    let prepError: unknown;
    try {
      fn = this.#fns.fnFor(name);
      if (this.#fns.wantsContext(fn)) ctx = new TaskContext(id, this.#signals);
    } catch (e) {
      fn = undefined;
      prepError = e;
    }
    // The claim: fails if the main thread cancelled the task (CAS 2g → FREE) before we got here; the
    // task then never runs and nothing is posted (the main thread already settled it).
    if (Atomics.compareExchange(i32, this.#claims + id, 2 * g, 2 * g + 1) !== 2 * g) return;
    let r: unknown;
    try {
      if (fn === undefined) throw prepError;
      r = ctx !== undefined ? fn(arg, ctx) : fn(arg);
    } catch (e) {
      this.#done(id, false, e);
      return;
    }
    if (isThenable(r)) {
      this.#signals.asyncStarted(id);
      r.then((v) => this.#done(id, true, v), (e: unknown) => this.#done(id, false, e));
    } else {
      this.#done(id, true, r);
    }
  }

  #done(id: number, ok: boolean, value: unknown): void {
    this.#signals.finished(id);
    // Statistics only; stored before the result is posted so `stats` never lags the results.
    Atomics.store(this.#i32, this.#wb + W_COMPLETED, ++this.#completed);
    try {
      this.#post({ t: 'done', id, ok, value: ok ? value : errorToWire(value) });
    } catch (e) {
      this.#post({ t: 'done', id, ok: false, value: errorToWire(new TypeError(`task result could not be cloned: ${(e as Error).message}`, { cause: e })) });
    }
  }
}
