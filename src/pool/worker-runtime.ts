/**
 * The script every WorkerPool worker runs: loads the task file, then serves tasks.
 *
 * Shared-memory transport ('sab'), one loop per worker:
 *   turn:  take up to `cap` entries from the own submission ring (natural batching: only what is
 *          already there, never waiting to fill a batch; with stealing, one entry at a time so the
 *          rest stays stealable, then half of the busiest other ring once the own ring is empty);
 *          for each entry read its argument and look up its function (optimistically: skipped if
 *          its state word is no longer QUEUED), then claim the task with a CAS on its state word
 *          (QUEUED → RUNNING: from here on the task counts as started; nothing but the call
 *          follows, so a worker killed "before the task started" has not claimed it), call the
 *          task function, write the result into the slot and store DONE (the state word is what
 *          crash recovery trusts).
 *   ring:  after a turn (and every ~100 µs inside a long one, and after async completions) push
 *          the finished entries onto the completion ring in one batch (with completionPoll
 *          'signalled', then set this worker's bit in the C_SIGNAL words), then wake the main thread
 *          if, and only if, its doorbell word says it sleeps (CAS SLEEPING → AWAKE, one notify).
 *   idle:  spin up to `idleSpinUs` with Atomics.pause re-checking the rings, then park: store
 *          PARKED in the run-state word, re-check, and wait on that word: Atomics.wait when nothing
 *          in this thread needs the event loop (no async task in flight and, with idleWait 'auto',
 *          no handle beyond the runtime's own ports), else Atomics.waitAsync. Waking a waitAsync
 *          sleeper costs the waker ~35 µs here against ~6–9 µs for Atomics.wait. With idleWait
 *          'sync' the event loop turns once before each blocking park (timers a task left behind run
 *          at task boundaries, as with piscina's atomics 'sync').
 * No-lost-wake-up (Dekker over SC atomics): the worker stores PARKED and then loads the ring tail;
 * the main thread stores the tail and then loads the run state. One of the two loads sees the
 * other's store, so either the worker sees the task or the main thread sees PARKED and wakes it.
 *
 * Async task functions: the returned promise completes the task when it settles; the loop keeps
 * taking tasks meanwhile (yielding to microtasks after each turn, and to the event loop every
 * ~2 ms of continuous work, so timers, I/O and abort messages are served).
 *
 * Message transport ('message'): one 'task' message per task on the worker port; the worker bumps
 * its W_STARTED counter for every task message it takes (so the main thread knows which of the tasks
 * it sent had been reached if the worker dies), then claims the task with a CAS on its claim word
 * (QUEUED(g) → RUNNING(g); a task cancelled before that is skipped and never runs), calls the
 * function and posts one 'done' message per result.
 *
 * Cancellation: a task function declaring a second parameter receives `{ signal }`; the signal
 * aborts when the main thread sends 'abort' for the task (see WorkerPool.run's `signal` option).
 */

import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { SharedRegion } from '../parking/region.ts';
import { SpscQueue } from '../task-list/spsc-queue.ts';
import { Codec, errorToWire, NO_ROOM, NotSerializableError } from './codec.ts';
import { FuturePool } from './future-pool.ts';
import {
  C_MAIN, C_SHUTDOWN, C_SIGNAL, GEN_MASK, H_ARG_LEN, H_ARG_TAG, H_NAME, H_NAME_LEN, H_RES_KIND, H_RES_LEN, H_RES_TAG,
  H_STATE, HEADER_BYTES, MAIN_AWAKE, MAIN_SLEEPING, PAYLOAD_MESSAGE, PAYLOAD_OTHER_SLOT, R_ERROR, R_OK, S_DONE,
  S_QUEUED, S_RUNNING, SLOT_BITS, SLOT_MASK, stateWord, W_BATCHES, W_BUSY_HI, W_BUSY_LO, W_CAP, W_COMPLETED,
  W_PARKED, W_PARKS, W_READY, W_RUNNING, W_STARTED, W_STATE, W_STOLEN, workerBase,
} from './layout.ts';
import type { FromWorker, PayloadMessage, ToWorker, WorkerInit } from './protocol.ts';
import { TaskRing } from './task-ring.ts';

/** Adaptive batching: aim for turns of about this long (the time cap of pool.md's batch policy). */
const TARGET_TURN_MS = 0.1;
const ADAPTIVE_START = 32;
const ADAPTIVE_MAX = 256;
/** Yield to the event loop after this much continuous work. */
const YIELD_MS = 2;
/** Inside a long turn, wake a sleeping main thread at least this often. */
const RING_EVERY_MS = 0.1;

const pause: (n?: number) => void =
  typeof (Atomics as { pause?: unknown }).pause === 'function'
    ? (Atomics as unknown as { pause: (n?: number) => void }).pause
    : () => {};

/** The context object a two-parameter task function receives. */
class TaskContext {
  readonly #id: number;
  constructor(id: number) {
    this.#id = id;
  }
  /** Aborts when the task is cancelled through the `signal` passed to `run`. */
  get signal(): AbortSignal {
    return signalFor(this.#id);
  }
}

const controllers = new Map<number, AbortController>();
const liveAsync = new Set<number>();
const abortedEarly = new Set<number>();

function abortError(): DOMException {
  return new DOMException('The task was aborted', 'AbortError');
}

function signalFor(id: number): AbortSignal {
  let c = controllers.get(id);
  if (c === undefined) {
    c = new AbortController();
    controllers.set(id, c);
    if (abortedEarly.delete(id)) c.abort(abortError());
  }
  return c.signal;
}

function onAbortMessage(id: number): void {
  const c = controllers.get(id);
  if (c !== undefined) c.abort(abortError());
  else if (liveAsync.has(id)) abortedEarly.add(id);
}

function forget(id: number): void {
  controllers.delete(id);
  abortedEarly.delete(id);
}

// ---------------------------------------------------------------- task file

const init = workerData as WorkerInit;
if (init?.$parklotPoolWorker !== 1) throw new Error('parklot worker-runtime: must be started by WorkerPool (missing workerData)');

type TaskFn = (arg: unknown, ctx?: TaskContext) => unknown;
const mod = (await import(init.filename)) as Record<string, unknown>;

function describeExports(): string {
  const keys = Object.keys(mod);
  return keys.length === 0 ? 'nothing' : keys.join(', ');
}

async function resolveDefault(): Promise<TaskFn | undefined> {
  let d: unknown = mod.default;
  if (d !== null && typeof d === 'object' && typeof (d as { then?: unknown }).then === 'function') d = await d;
  if (typeof d === 'function') return d as TaskFn;
  if (d !== null && typeof d === 'object' && typeof (d as { default?: unknown }).default === 'function') return (d as { default: TaskFn }).default;
  return undefined;
}

const defaultFn = await resolveDefault();
const fnByName = new Map<string, TaskFn>();

function fnFor(name: string): TaskFn {
  if (name === '') {
    if (defaultFn !== undefined) return defaultFn;
    throw new TypeError(`task file ${init.filename} has no default export function (it exports: ${describeExports()}); pass { name } to run a named export`);
  }
  let f = fnByName.get(name);
  if (f !== undefined) return f;
  const cand = mod[name] ?? (mod.default as Record<string, unknown> | undefined)?.[name];
  if (typeof cand !== 'function') {
    throw new TypeError(`task file ${init.filename} has no export named '${name}' that is a function (it exports: ${describeExports()})`);
  }
  f = cand as TaskFn;
  fnByName.set(name, f);
  return f;
}

/**
 * Whether a task function takes the `{ signal }` context: it declares a second parameter. `length`
 * misses `(arg, { signal } = {})` and `(...args)`, so those are found in the source: a top-level
 * comma or a rest parameter in the parameter list. A false positive only costs one small object per
 * task. Cached per function (the last one checked, then a WeakMap).
 */
const ctxCache = new WeakMap<TaskFn, boolean>();
let lastFn: TaskFn | undefined;
let lastWants = false;
function wantsContext(fn: TaskFn): boolean {
  if (fn === lastFn) return lastWants;
  let w = ctxCache.get(fn);
  if (w === undefined) {
    w = fn.length >= 2 || paramsHaveSecond(Function.prototype.toString.call(fn));
    ctxCache.set(fn, w);
  }
  lastFn = fn;
  lastWants = w;
  return w;
}

function paramsHaveSecond(src: string): boolean {
  const open = src.indexOf('(');
  if (open < 0) return false;
  const arrow = src.indexOf('=>');
  if (arrow >= 0 && arrow < open) return false; // `x => …`: one parameter
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const ch = src[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      if (--depth === 0) return false;
    } else if (depth === 1 && (ch === ',' || src.startsWith('...', i))) return true;
  }
  return false;
}

function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as { then?: unknown }).then === 'function';
}

// ---------------------------------------------------------------- shared state

const region = SharedRegion.attach(init.region);
const i32 = region.i32;
const me = init.index;
const ctl = init.control >> 2;
const wb = workerBase(ctl, me);
const port: MessagePort = init.port;

function publishStats(completed: number, stolen: number, batches: number, busyMs: number): void {
  // Written only by this worker; the main thread reads them for `stats` (no data is published through them).
  Atomics.store(i32, wb + W_COMPLETED, completed | 0);
  Atomics.store(i32, wb + W_STOLEN, stolen | 0);
  Atomics.store(i32, wb + W_BATCHES, batches | 0);
  const us = Math.floor(busyMs * 1000);
  Atomics.store(i32, wb + W_BUSY_HI, Math.floor(us / 2 ** 30));
  Atomics.store(i32, wb + W_BUSY_LO, us % 2 ** 30);
}

parentPort!.on('message', (m: ToWorker) => {
  if (m.t === 'abort') onAbortMessage(m.id);
  else if (m.t === 'task') runMessageTask(m.id, m.g, m.name, m.arg);
});

if (init.transport === 'message') {
  Atomics.store(i32, wb + W_READY, 1);
  parentPort!.postMessage({ t: 'ready' } satisfies FromWorker);
} else {
  startSabLoop();
}

// ---------------------------------------------------------------- message transport

let msgCompleted = 0;

const claims = init.claims >> 2;

function runMessageTask(id: number, g: number, name: string, arg: unknown): void {
  // Counts every task message taken in arrival order, cancelled ones included: the main thread
  // reads it only after this thread exited, to tell started tasks from those never reached.
  Atomics.add(i32, wb + W_STARTED, 1);
  // Prepared before the claim, so only the call lies between the claim (from then on the task
  // counts as started) and the task function's first statement.
  let fn: TaskFn | undefined;
  let ctx: TaskContext | undefined;
  let prepError: unknown;
  try {
    fn = fnFor(name);
    if (wantsContext(fn)) ctx = new TaskContext(id);
  } catch (e) {
    fn = undefined;
    prepError = e;
  }
  // The claim: fails if the main thread cancelled the task (CAS 2g → FREE) before we got here; the
  // task then never runs and nothing is posted (the main thread already settled it).
  if (Atomics.compareExchange(i32, claims + id, 2 * g, 2 * g + 1) !== 2 * g) return;
  let r: unknown;
  try {
    if (fn === undefined) throw prepError;
    r = ctx !== undefined ? fn(arg, ctx) : fn(arg);
  } catch (e) {
    postDone(id, false, e);
    return;
  }
  if (isThenable(r)) {
    liveAsync.add(id);
    r.then((v) => postDone(id, true, v), (e: unknown) => postDone(id, false, e));
  } else {
    postDone(id, true, r);
  }
}

function postDone(id: number, ok: boolean, value: unknown): void {
  liveAsync.delete(id);
  forget(id);
  const post = (m: FromWorker): void => parentPort!.postMessage(m);
  try {
    post({ t: 'done', id, ok, value: ok ? value : errorToWire(value) });
  } catch (e) {
    post({ t: 'done', id, ok: false, value: errorToWire(new TypeError(`task result could not be cloned: ${(e as Error).message}`, { cause: e })) });
  }
  msgCompleted++;
  Atomics.store(i32, wb + W_COMPLETED, msgCompleted);
}

// ---------------------------------------------------------------- shared-memory transport

function startSabLoop(): void {
  // 'shared': a per-thread cache (or remote-free list) would die with a crashed worker, losing its slots.
  const slots = FuturePool.from(init.slots!, { cache: 'shared' });
  const codec = new Codec(region.buffer);
  const ownRing = new TaskRing(i32, init.rings[me] >> 2, init.ringCapacity, false);
  const rings = init.rings.map((off, w) => (w === me ? ownRing : new TaskRing(i32, off >> 2, init.ringCapacity, false)));
  const completion = SpscQueue.from(region.handleFor('SpscQueue', init.completion));
  const fixedCap = init.batch;
  let cap = fixedCap > 0 ? fixedCap : ADAPTIVE_START;
  const taken = new Int32Array(Math.max(ADAPTIVE_MAX, fixedCap, 1));
  const stealBuf = new Int32Array(Math.max(ADAPTIVE_MAX, fixedCap, 1));
  let stealN = 0;
  let stealPos = 0;
  const stealing = init.stealing;
  const spinMs = init.idleSpinUs / 1000;
  const byMessage = init.payloadsByMessage;
  const signalled = init.completionPoll === 'signalled';
  const mailbox = new Map<number, PayloadMessage>();
  let inflightAsync = 0;
  let completed = 0;
  let stolen = 0;
  let batches = 0;
  let busyMs = 0;
  /** Completion entries written (DONE stored) but not yet pushed onto the completion ring. */
  const doneBuf = new Int32Array(1024);
  let doneN = 0;
  let ringScheduled = false;

  Atomics.store(i32, wb + W_CAP, cap);

  /** Wakes the main thread if it sleeps on its doorbell (one notify per sleep). */
  function ringMain(): void {
    // SC load after our completion-ring stores: pairs with the main thread's store of SLEEPING
    // followed by its load of the completion rings (see the file comment).
    if (Atomics.load(i32, ctl + C_MAIN) === MAIN_SLEEPING &&
        Atomics.compareExchange(i32, ctl + C_MAIN, MAIN_SLEEPING, MAIN_AWAKE) === MAIN_SLEEPING) {
      Atomics.notify(i32, ctl + C_MAIN, 1);
    }
  }

  function scheduleRing(): void {
    if (ringScheduled) return;
    ringScheduled = true;
    queueMicrotask(() => {
      ringScheduled = false;
      if (doneN > 0) flushDone();
    });
  }

  function readArg(hdr: number, dataOff: number, entry: number): unknown {
    const tag = i32[hdr + H_ARG_TAG];
    if (tag !== PAYLOAD_MESSAGE) return codec.decode(dataOff + ((i32[hdr + H_NAME_LEN] + 7) & ~7));
    const pm = takePayload(entry);
    if (pm.n !== undefined) names[i32[hdr + H_NAME]] = pm.n;
    return pm.v;
  }

  function takePayload(entry: number): PayloadMessage {
    if (!mailbox.has(entry)) {
      // The main thread posted the payload before publishing the entry; postMessage queues it on our
      // port synchronously, so it is there to receive now.
      for (;;) {
        const m = receiveMessageOnPort(port);
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

  const names: string[] = [''];
  function nameOf(hdr: number, dataOff: number): string {
    const id = i32[hdr + H_NAME];
    if (id === 0) return '';
    let s = names[id];
    if (s === undefined) {
      s = Buffer.from(region.buffer, dataOff, i32[hdr + H_NAME_LEN]).toString('utf8');
      names[id] = s;
    }
    return s;
  }

  /**
   * Writes the result (or error), stores DONE and queues the entry for the completion ring (pushed
   * in batches by flushDone: at the end of a turn, every ~100 µs inside a long one, and after async
   * completions). DONE in the state word is what recovery trusts; the ring only announces it.
   */
  function finish(entry: number, hdr: number, dataOff: number, slot: number, ok: boolean, value: unknown): void {
    let len = NO_ROOM;
    if (ok && !byMessage) {
      try {
        len = codec.encode(value, dataOff, slots.capacityOf(slot));
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
      writeSlow(entry, hdr, dataOff, slot, ok, value);
    }
    completed++;
    // Statistics only; stored before the completion is visible so `stats` never lags the results.
    Atomics.store(i32, wb + W_COMPLETED, completed);
    // Publishes the result: the main thread's load of the state word synchronizes with this store.
    Atomics.store(i32, hdr + H_STATE, stateWord(S_DONE, me, (entry >>> SLOT_BITS) & GEN_MASK));
    doneBuf[doneN++] = entry;
    if (doneN === doneBuf.length) flushDone();
  }

  /** Pushes the queued completion entries (one publishing store) and wakes the main thread if it sleeps. */
  function flushDone(): void {
    let off = 0;
    while (off < doneN) {
      off += completion.pushBatch(doneBuf, off, doneN - off);
      if (off < doneN) {
        // Capacity covers every slot, so this only happens if the main thread is far behind: make sure it runs.
        if (signalled) Atomics.or(i32, ctl + C_SIGNAL + (me >> 5), 1 << (me & 31));
        ringMain();
        pause(64);
      }
    }
    doneN = 0;
    // L6: tell the main thread which ring to drain (SC RMW after the ring push, before the doorbell load).
    if (signalled) Atomics.or(i32, ctl + C_SIGNAL + (me >> 5), 1 << (me & 31));
    ringMain();
  }

  /** Results that do not fit the argument's slot, errors, and values the codec cannot write. */
  function writeSlow(entry: number, hdr: number, dataOff: number, slot: number, ok: boolean, value: unknown): void {
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
          // clearing store). Never an alloc: see WorkerInit.reserve and worker-pool.ts #reserves.
          const need = slots.capacityOf(slot) + 1;
          for (const other of init.reserve) {
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
    i32[hdr + H_RES_KIND] = kind; // plain: published by the DONE store in finish()
    i32[hdr + H_RES_TAG] = tag;
    i32[hdr + H_RES_LEN] = len;
  }

  /** Claims and runs one entry. Returns false if it was stale (cancelled or recovered). */
  function runEntry(entry: number): boolean {
    const slot = entry & SLOT_MASK;
    const gen = (entry >>> SLOT_BITS) & GEN_MASK;
    const hdr = slots.slotOffset(slot) >> 2;
    const queued = stateWord(S_QUEUED, 0, gen);
    // Synchronizes with the main thread's store of QUEUED, made after it wrote the argument.
    if (Atomics.load(i32, hdr + H_STATE) !== queued) return false; // stale: cancelled or recovered
    // Everything the call needs is read and prepared BEFORE the claim, so that nothing but the call
    // itself lies between the claim (the moment the task counts as started: a worker dying after it
    // rejects the task with WorkerExitError) and the task function's first statement. If the main
    // thread takes the task back meanwhile (cancel, preemption, recovery) and reuses the slot, what
    // we read may be torn: the claim CAS then fails (a reused slot has a new generation) and it is
    // dropped, seqlock-style.
    const dataOff = (hdr << 2) + HEADER_BYTES;
    let arg: unknown;
    let fn: TaskFn | undefined;
    let ctx: TaskContext | undefined;
    let prepError: unknown;
    try {
      arg = readArg(hdr, dataOff, entry);
      fn = fnFor(nameOf(hdr, dataOff));
      if (wantsContext(fn)) ctx = new TaskContext(entry);
    } catch (e) {
      fn = undefined;
      prepError = e;
    }
    // The claim (see layout.ts).
    if (Atomics.compareExchange(i32, hdr + H_STATE, queued, stateWord(S_RUNNING, me, gen)) !== queued) return false;
    let r: unknown;
    try {
      if (fn === undefined) throw prepError;
      r = ctx !== undefined ? fn(arg, ctx) : fn(arg);
    } catch (e) {
      finish(entry, hdr, dataOff, slot, false, e);
      return true;
    }
    if (isThenable(r)) {
      inflightAsync++;
      liveAsync.add(entry);
      r.then(
        (v) => {
          inflightAsync--;
          liveAsync.delete(entry);
          forget(entry);
          finish(entry, hdr, dataOff, slot, true, v);
          scheduleRing();
        },
        (e: unknown) => {
          inflightAsync--;
          liveAsync.delete(entry);
          forget(entry);
          finish(entry, hdr, dataOff, slot, false, e);
          scheduleRing();
        },
      );
    } else {
      finish(entry, hdr, dataOff, slot, true, r);
    }
    return true;
  }

  /** Next entry in stealing mode: own ring first, then leftovers of the last steal, then a new steal. */
  function nextStealing(): number {
    if (stealPos < stealN) return stealBuf[stealPos++];
    if (ownRing.take(taken, 1) === 1) return taken[0];
    // Steal half of the ring with the most entries.
    let best = -1;
    let bestN = 0;
    for (let w = 0; w < rings.length; w++) {
      if (w === me) continue;
      const n = rings[w].size;
      if (n > bestN) {
        bestN = n;
        best = w;
      }
    }
    if (best < 0) return -1;
    stealN = rings[best].steal(stealBuf, stealBuf.length);
    stealPos = 0;
    if (stealN === 0) return -1;
    stolen += stealN;
    return stealBuf[stealPos++];
  }

  /** One turn: runs up to `cap` tasks. Returns how many entries it took. */
  function turn(): number {
    const t0 = performance.now();
    let n = 0;
    let lastRing = t0;
    if (!stealing) {
      n = ownRing.take(taken, cap);
      for (let j = 0; j < n; j++) {
        runEntry(taken[j]);
        // Clock check every 8 tasks, or every task when batches are small (long tasks).
        if (doneN > 0 && (cap <= 8 || (j & 7) === 7)) {
          const t = performance.now();
          if (t - lastRing > RING_EVERY_MS) {
            flushDone();
            lastRing = t;
          }
        }
      }
    } else {
      for (; n < cap; n++) {
        const e = nextStealing();
        if (e < 0) break;
        runEntry(e);
        if (doneN > 0 && (cap <= 8 || (n & 7) === 7)) {
          const t = performance.now();
          if (t - lastRing > RING_EVERY_MS) {
            flushDone();
            lastRing = t;
          }
        }
      }
    }
    if (n === 0) return 0;
    const t1 = performance.now();
    const d = t1 - t0;
    busyMs += d;
    batches++;
    if (fixedCap === 0) {
      let c = cap;
      if (n >= cap && d < TARGET_TURN_MS / 2 && c < ADAPTIVE_MAX) c = Math.min(ADAPTIVE_MAX, c * 2);
      else if (d > TARGET_TURN_MS && c > 1) c = Math.max(1, c >> 1);
      if (c !== cap) {
        cap = c;
        Atomics.store(i32, wb + W_CAP, cap); // read by the main thread to size this worker's window
      }
    }
    publishStats(completed, stolen, batches, busyMs);
    if (doneN > 0) flushDone();
    return n;
  }

  function hasWork(): boolean {
    if (ownRing.size > 0 || stealPos < stealN) return true;
    if (stealing) for (let w = 0; w < rings.length; w++) if (w !== me && rings[w].size > 0) return true;
    return false;
  }

  function shutdown(): void {
    slots.flush();
    port.close();
    parentPort!.removeAllListeners('message');
    parentPort!.unref();
  }

  /** 'sync' idle wait: whether the event loop has turned since the last park (see loop()). */
  let turnedSinceWake = false;

  function loop(): void {
    const yieldAt = performance.now() + YIELD_MS;
    for (;;) {
      if (Atomics.load(i32, ctl + C_SHUTDOWN) !== 0) return shutdown();
      const n = turn();
      if (n > 0) {
        if (inflightAsync > 0) {
          // Let settled task promises run their continuations (they complete tasks) before the next turn.
          queueMicrotask(loop);
          return;
        }
        if (performance.now() > yieldAt) {
          setImmediate(loop);
          return;
        }
        continue;
      }
      // Idle: announce what is done (async completions may be queued here), spin briefly, then park.
      if (doneN > 0) flushDone();
      if (inflightAsync === 0 && spinMs > 0) {
        const until = performance.now() + spinMs;
        let found = false;
        do {
          pause(32);
          if (hasWork()) {
            found = true;
            break;
          }
        } while (performance.now() < until);
        if (found) continue;
      }
      const canBlock = inflightAsync === 0 && (init.idleWait === 'sync' || (init.idleWait === 'auto' && onlyOwnHandles()));
      // SC store, then the ring loads in hasWork(): see the file comment (no lost wake-up).
      Atomics.store(i32, wb + W_STATE, W_PARKED);
      if (hasWork() || Atomics.load(i32, ctl + C_SHUTDOWN) !== 0) {
        unpark();
        continue;
      }
      if (canBlock && init.idleWait === 'sync' && !turnedSinceWake) {
        // Before blocking, let the event loop turn once, so timers and I/O a task left behind run
        // at task boundaries at least (they cannot run while we block).
        unpark();
        turnedSinceWake = true;
        setImmediate(loop);
        return;
      }
      Atomics.add(i32, wb + W_PARKS, 1); // statistics only
      turnedSinceWake = false;
      if (canBlock) {
        Atomics.wait(i32, wb + W_STATE, W_PARKED);
        Atomics.store(i32, wb + W_STATE, W_RUNNING);
        continue;
      }
      const w = Atomics.waitAsync(i32, wb + W_STATE, W_PARKED);
      if (!w.async) {
        Atomics.store(i32, wb + W_STATE, W_RUNNING);
        continue;
      }
      void w.value.then(() => {
        Atomics.store(i32, wb + W_STATE, W_RUNNING);
        loop();
      });
      return;
    }
  }

  /**
   * Takes back a PARKED announcement without sleeping. If the main thread already saw PARKED and
   * woke us (its CAS moved the state to RUNNING and counted a wake), the announcement counts as a
   * park too, so the statistics keep wakes ≤ parks.
   */
  function unpark(): void {
    if (Atomics.compareExchange(i32, wb + W_STATE, W_PARKED, W_RUNNING) !== W_PARKED) Atomics.add(i32, wb + W_PARKS, 1);
  }

  /** True when the event loop holds nothing but the runtime's own ports (so blocking delays nothing). */
  function onlyOwnHandles(): boolean {
    const res = process.getActiveResourcesInfo();
    if (res.length > baseHandles) return false;
    for (const r of res) if (r !== 'MessagePort') return false;
    return true;
  }
  let baseHandles = 0;
  for (const r of process.getActiveResourcesInfo()) if (r === 'MessagePort') baseHandles++;

  // Ready: the task file loaded. The main thread reads W_READY when this worker exits, to tell a
  // failure to start from a crash; nothing else is published through it.
  Atomics.store(i32, wb + W_READY, 1);
  parentPort!.postMessage({ t: 'ready' } satisfies FromWorker);
  loop();
}

