/**
 * Running one task on the shared-memory transport, worker side: read its argument, claim it, call
 * the function, write the result, and announce the completion (SabLoop, sab-loop.ts, decides which
 * entries to run and when).
 *
 * Per entry (slot | gen):
 *   1. If its state word is not QUEUED(gen), it is stale (cancelled, preempted or recovered): skip.
 *   2. Read the argument (from the slot, or the payload message the main thread posted before it
 *      pushed the entry) and look up the function — before the claim, so that nothing but the call
 *      lies between the claim and the task's first statement. If the main thread takes the task
 *      back meanwhile and reuses the slot, what was read may be torn: the claim then fails (a
 *      reused slot has a new generation) and it is dropped, seqlock-style.
 *   3. The claim: CAS QUEUED(gen) → RUNNING(me, gen). From here on the task counts as started (a
 *      worker dying after it rejects the task with WorkerExitError); it races the main thread's
 *      cancel CAS, and exactly one wins (layout.ts).
 *   4. Call it; when it returns (or its promise settles) write the result into the slot — or into
 *      one of this worker index's reserved larger slots, or a payload message when it does not fit
 *      or cannot be written — and store DONE(me, gen), which publishes the result; crash recovery
 *      trusts only this word.
 *   5. Queue the entry; `flushDone` pushes the queued entries onto the completion ring in one batch
 *      (with completionPoll 'signalled' then sets this worker's bit in the C_SIGNAL words) and wakes
 *      the main thread if, and only if, its doorbell word says it sleeps (CAS SLEEPING → AWAKE, one
 *      notify). The ring push (or bit) is an SC store before the doorbell load; the main thread
 *      stores SLEEPING before loading the rings: one of the two sees the other (no lost wake-up).
 *
 * Workers never allocate or free FuturePool slots (a worker killed inside a central-list operation
 * would wedge it); results that need a larger slot use the reserve the main thread gave this index.
 */

import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { SharedRegion } from '../../parking/region.ts';
import { SpscQueue } from '../../task-list/spsc-queue.ts';
import { Codec, errorToWire, NO_ROOM, NotSerializableError } from '../codec.ts';
import { FuturePool } from '../future-pool.ts';
import {
  C_MAIN, C_SIGNAL, GEN_MASK, H_ARG_LEN, H_ARG_TAG, H_NAME, H_NAME_LEN, H_RES_KIND, H_RES_LEN, H_RES_TAG, H_STATE,
  HEADER_BYTES, MAIN_AWAKE, MAIN_SLEEPING, PAYLOAD_MESSAGE, PAYLOAD_OTHER_SLOT, R_ERROR, R_OK, S_DONE, S_QUEUED,
  S_RUNNING, SLOT_BITS, SLOT_MASK, stateWord, W_COMPLETED, workerBase,
} from '../layout.ts';
import type { PayloadMessage, WorkerInit } from '../protocol.ts';
import { isThenable, TaskContext, type TaskFn, type TaskFunctions, type TaskSignals } from './task-functions.ts';

export const pause: (n?: number) => void =
  typeof (Atomics as { pause?: unknown }).pause === 'function'
    ? (Atomics as unknown as { pause: (n?: number) => void }).pause
    : () => {};

/** The parts of a worker's workerData the shared-memory loop reads. */
export type SabLoopInit = Pick<
  WorkerInit,
  'index' | 'control' | 'slots' | 'reserve' | 'payloadsByMessage' | 'rings' | 'ringCapacity' | 'completion' | 'batch' | 'stealing' | 'idleSpinUs' | 'idleWait' | 'completionPoll'
>;

export interface SabLoopOptions {
  /** The worker's settings: its workerData, or a test's own. `slots` must be set. */
  readonly init: SabLoopInit;
  /** The pool's region (attached in this thread). */
  readonly region: SharedRegion;
  /** This worker's end of its payload channel (argument and result messages). */
  readonly port: MessagePort;
  readonly fns: TaskFunctions;
  readonly signals: TaskSignals;
  /** Called once when the loop leaves for good (pool shutdown), after it closed `port`. */
  readonly onShutdown?: () => void;
}

export class SabTaskRunner {
  readonly #i32: Int32Array;
  readonly #region: SharedRegion;
  readonly #me: number;
  readonly #ctl: number;
  readonly #wb: number;
  readonly #port: MessagePort;
  readonly #fns: TaskFunctions;
  readonly #signals: TaskSignals;
  readonly #slots: FuturePool;
  readonly #codec: Codec;
  readonly #completion: SpscQueue;
  readonly #reserve: readonly number[];
  readonly #byMessage: boolean;
  readonly #signalled: boolean;
  readonly #mailbox = new Map<number, PayloadMessage>();
  readonly #names: string[] = [''];
  /** Completion entries written (DONE stored) but not yet pushed onto the completion ring. */
  readonly #doneBuf = new Int32Array(1024);
  #doneN = 0;
  #ringScheduled = false;
  /** Tasks finished by this worker (published in W_COMPLETED). */
  completed = 0;
  /** Async tasks whose promise has not settled yet. */
  inflightAsync = 0;

  constructor(o: SabLoopOptions) {
    const init = o.init;
    this.#region = o.region;
    this.#i32 = o.region.i32;
    this.#me = init.index;
    this.#ctl = init.control >> 2;
    this.#wb = workerBase(this.#ctl, init.index);
    this.#port = o.port;
    this.#fns = o.fns;
    this.#signals = o.signals;
    // 'shared': a per-thread cache (or remote-free list) would die with a crashed worker, losing its slots.
    this.#slots = FuturePool.from(init.slots!, { cache: 'shared' });
    this.#codec = new Codec(o.region.buffer);
    this.#completion = SpscQueue.from(o.region.handleFor('SpscQueue', init.completion));
    this.#reserve = init.reserve;
    this.#byMessage = init.payloadsByMessage;
    this.#signalled = init.completionPoll === 'signalled';
  }

  /** Whether finished entries wait to be pushed onto the completion ring. */
  get hasDone(): boolean {
    return this.#doneN > 0;
  }

  /** Leaves for good: returns nothing to the slot pool's lists (cache 'shared' keeps none) and closes the payload port. */
  close(): void {
    this.#slots.flush();
    this.#port.close();
  }

  /** Wakes the main thread if it sleeps on its doorbell (one notify per sleep). */
  #ringMain(): void {
    const i32 = this.#i32;
    const ctl = this.#ctl;
    // SC load after our completion-ring stores: pairs with the main thread's store of SLEEPING
    // followed by its load of the completion rings (see the file comment).
    if (Atomics.load(i32, ctl + C_MAIN) === MAIN_SLEEPING &&
        Atomics.compareExchange(i32, ctl + C_MAIN, MAIN_SLEEPING, MAIN_AWAKE) === MAIN_SLEEPING) {
      Atomics.notify(i32, ctl + C_MAIN, 1);
    }
  }

  #scheduleRing(): void {
    if (this.#ringScheduled) return;
    this.#ringScheduled = true;
    queueMicrotask(() => {
      this.#ringScheduled = false;
      if (this.#doneN > 0) this.flushDone();
    });
  }

  #readArg(hdr: number, dataOff: number, entry: number): unknown {
    const i32 = this.#i32;
    const tag = i32[hdr + H_ARG_TAG];
    if (tag !== PAYLOAD_MESSAGE) return this.#codec.decode(dataOff + ((i32[hdr + H_NAME_LEN] + 7) & ~7));
    const pm = this.#takePayload(entry);
    if (pm.n !== undefined) this.#names[i32[hdr + H_NAME]] = pm.n;
    return pm.v;
  }

  #takePayload(entry: number): PayloadMessage {
    const mailbox = this.#mailbox;
    if (!mailbox.has(entry)) {
      // The main thread posted the payload before publishing the entry; postMessage queues it on our
      // port synchronously, so it is there to receive now.
      for (;;) {
        const m = receiveMessageOnPort(this.#port);
        if (m === undefined) throw new Error(`parklot pool: payload message for task entry ${entry} is missing`);
        const pm = m.message as PayloadMessage;
        mailbox.set(pm.e, pm);
        if (pm.e === entry) break;
      }
    }
    const pm = mailbox.get(entry)!;
    mailbox.delete(entry);
    return pm;
  }

  #nameOf(hdr: number, dataOff: number): string {
    const i32 = this.#i32;
    const id = i32[hdr + H_NAME];
    if (id === 0) return '';
    let s = this.#names[id];
    if (s === undefined) {
      s = Buffer.from(this.#region.buffer, dataOff, i32[hdr + H_NAME_LEN]).toString('utf8');
      this.#names[id] = s;
    }
    return s;
  }

  /**
   * Writes the result (or error), stores DONE and queues the entry for the completion ring (pushed
   * in batches by flushDone: at the end of a turn, every ~100 µs inside a long one, and after async
   * completions). DONE in the state word is what recovery trusts; the ring only announces it.
   */
  #finish(entry: number, hdr: number, dataOff: number, slot: number, ok: boolean, value: unknown): void {
    const i32 = this.#i32;
    let len = NO_ROOM;
    if (ok && !this.#byMessage) {
      try {
        len = this.#codec.encode(value, dataOff, this.#slots.capacityOf(slot));
      } catch {
        len = NO_ROOM; // not serializable into a slot: the slow path decides
      }
    }
    if (len !== NO_ROOM) {
      // Fast path: the result fits in the argument's slot. Plain writes, published by the DONE store.
      i32[hdr + H_RES_KIND] = R_OK;
      i32[hdr + H_RES_TAG] = 1;
      i32[hdr + H_RES_LEN] = len;
    } else {
      this.#writeSlow(entry, hdr, dataOff, slot, ok, value);
    }
    this.completed++;
    // Statistics only; stored before the completion is visible so `stats` never lags the results.
    Atomics.store(i32, this.#wb + W_COMPLETED, this.completed);
    // Publishes the result: the main thread's load of the state word synchronizes with this store.
    Atomics.store(i32, hdr + H_STATE, stateWord(S_DONE, this.#me, (entry >>> SLOT_BITS) & GEN_MASK));
    this.#doneBuf[this.#doneN++] = entry;
    if (this.#doneN === this.#doneBuf.length) this.flushDone();
  }

  /** Sets this worker's completion signal bit (completionPoll 'signalled'; an SC RMW after the ring push). */
  #signal(): void {
    if (this.#signalled) Atomics.or(this.#i32, this.#ctl + C_SIGNAL + (this.#me >> 5), 1 << (this.#me & 31));
  }

  /** Pushes the queued completion entries (one publishing store) and wakes the main thread if it sleeps. */
  flushDone(): void {
    const doneN = this.#doneN;
    let off = 0;
    while (off < doneN) {
      off += this.#completion.pushBatch(this.#doneBuf, off, doneN - off);
      if (off < doneN) {
        // Capacity covers every slot, so this only happens if the main thread is far behind: make sure it runs.
        this.#signal();
        this.#ringMain();
        pause(64);
      }
    }
    this.#doneN = 0;
    // Tell the main thread which ring to drain (SC RMW after the ring push, before the doorbell load).
    this.#signal();
    this.#ringMain();
  }

  /** Results that do not fit the argument's slot, errors, and values the codec cannot write. */
  #writeSlow(entry: number, hdr: number, dataOff: number, slot: number, ok: boolean, value: unknown): void {
    const i32 = this.#i32;
    const slots = this.#slots;
    const codec = this.#codec;
    const port = this.#port;
    const byMessage = this.#byMessage;
    let kind = ok ? R_OK : R_ERROR;
    let v = ok ? value : errorToWire(value);
    let tag = 0;
    let len = 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        len = byMessage ? NO_ROOM : codec.encode(v, dataOff, slots.capacityOf(slot));
        if (len === NO_ROOM && !byMessage) {
          // This worker index's reserved larger slots (WorkerInit.reserve), smallest first, if the
          // main thread has read the previous result out of it (busy flag 0: acquire edge with its
          // clearing store). Never an alloc: see WorkerInit.reserve and main/sab-transport.ts.
          const need = slots.capacityOf(slot) + 1;
          for (const other of this.#reserve) {
            if (other < 0 || slots.capacityOf(other) < need) continue;
            const ob = slots.slotOffset(other);
            if (Atomics.load(i32, (ob >> 2) + H_ARG_LEN) !== 0) continue;
            const n = codec.encode(v, ob + HEADER_BYTES, slots.capacityOf(other));
            if (n === NO_ROOM) continue;
            Atomics.store(i32, (ob >> 2) + H_ARG_LEN, 1); // busy until the main thread has read it (DONE is stored after)
            tag = PAYLOAD_OTHER_SLOT;
            len = other;
            break;
          }
          if (tag === PAYLOAD_OTHER_SLOT) break;
        }
        if (len === NO_ROOM) {
          port.postMessage({ e: entry, v } satisfies PayloadMessage);
          tag = PAYLOAD_MESSAGE;
          len = 0;
        } else {
          tag = 1;
        }
        break;
      } catch (e) {
        if (attempt === 0 && e instanceof NotSerializableError) {
          // Not serializable into shared memory: try a message (true structured clone).
          try {
            port.postMessage({ e: entry, v } satisfies PayloadMessage);
            tag = PAYLOAD_MESSAGE;
            len = 0;
            break;
          } catch (e2) {
            kind = R_ERROR;
            v = errorToWire(new TypeError(`task ${ok ? 'result' : 'error'} could not be cloned: ${(e2 as Error).message}`, { cause: e2 }));
            continue;
          }
        }
        kind = R_ERROR;
        v = errorToWire(new TypeError(`task ${ok ? 'result' : 'error'} could not be written: ${(e as Error).message}`, { cause: e }));
      }
    }
    i32[hdr + H_RES_KIND] = kind; // plain: published by the DONE store in #finish()
    i32[hdr + H_RES_TAG] = tag;
    i32[hdr + H_RES_LEN] = len;
  }

  /** Claims and runs one entry. Returns false if it was stale (cancelled or recovered). */
  runEntry(entry: number): boolean {
    const i32 = this.#i32;
    const slot = entry & SLOT_MASK;
    const gen = (entry >>> SLOT_BITS) & GEN_MASK;
    const hdr = this.#slots.slotOffset(slot) >> 2;
    const queued = stateWord(S_QUEUED, 0, gen);
    // Synchronizes with the main thread's store of QUEUED, made after it wrote the argument.
    if (Atomics.load(i32, hdr + H_STATE) !== queued) return false; // stale: cancelled or recovered
    // Everything the call needs is read and prepared BEFORE the claim (see the file comment).
    const dataOff = (hdr << 2) + HEADER_BYTES;
    let arg: unknown;
    let fn: TaskFn | undefined;
    let ctx: TaskContext | undefined;
    let prepError: unknown;
    try {
      arg = this.#readArg(hdr, dataOff, entry);
      fn = this.#fns.fnFor(this.#nameOf(hdr, dataOff));
      if (this.#fns.wantsContext(fn)) ctx = new TaskContext(entry, this.#signals);
    } catch (e) {
      fn = undefined;
      prepError = e;
    }
    // The claim (see layout.ts).
    if (Atomics.compareExchange(i32, hdr + H_STATE, queued, stateWord(S_RUNNING, this.#me, gen)) !== queued) return false;
    let r: unknown;
    try {
      if (fn === undefined) throw prepError;
      r = ctx !== undefined ? fn(arg, ctx) : fn(arg);
    } catch (e) {
      this.#finish(entry, hdr, dataOff, slot, false, e);
      return true;
    }
    if (isThenable(r)) {
      this.inflightAsync++;
      this.#signals.asyncStarted(entry);
      r.then(
        (v) => this.#finishAsync(entry, hdr, dataOff, slot, true, v),
        (e: unknown) => this.#finishAsync(entry, hdr, dataOff, slot, false, e),
      );
    } else {
      this.#finish(entry, hdr, dataOff, slot, true, r);
    }
    return true;
  }

  #finishAsync(entry: number, hdr: number, dataOff: number, slot: number, ok: boolean, value: unknown): void {
    this.inflightAsync--;
    this.#signals.finished(entry);
    this.#finish(entry, hdr, dataOff, slot, ok, value);
    this.#scheduleRing();
  }
}
