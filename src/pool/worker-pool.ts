/**
 * WorkerPool: a worker-thread pool with batched shared-memory dispatch, work stealing, priorities
 * with aging, cancellation and crash recovery. Task files are piscina-compatible.
 *
 * Shared-memory transport ('sab', default), main-thread side:
 * - A task's argument is written into a FuturePool slot (codec.ts), its state word set to
 *   QUEUED(gen) and its entry (slot | gen) pushed onto the chosen worker's submission TaskRing.
 *   No message per task; the worker is woken only if its run-state word says PARKED.
 * - Dispatch: tasks go straight to the least-loaded worker while it has fewer than `window` tasks
 *   outstanding (window = 2 × its batch cap, 1 when batch is 1: one batch running, one waiting);
 *   beyond that they wait in the main-thread TaskQueue (priorities with aging), which is the one
 *   shared queue of the non-stealing baseline. With maxQueueMode 'wait', tasks beyond `maxQueue`
 *   wait in a FIFO waiting room and enter the queue as it drains.
 * - Priorities: a task that must wait while workers hold dispatched-but-unstarted tasks of lower
 *   priority preempts them (#preempt): the entries left in the least-loaded worker's ring are taken
 *   back (state-word CAS QUEUED → FREE, the cancel protocol) and re-queued, so the new task waits
 *   behind at most the batch that worker already took.
 * - Completions: workers push entries onto per-worker completion SpscQueues and ring the main
 *   doorbell only if the main thread sleeps on it. The main thread sleeps with Atomics.waitAsync
 *   (never blocks), and on waking drains every completion ring (completionPoll 'all'), or only the
 *   rings whose workers set their bit in the C_SIGNAL bitmap ('signalled', claim L6; the bit is set
 *   after the push, so taking it with an exchange covers the push) — settling futures in a batch —
 *   refills the submission rings and sleeps again. While it is busy in a long synchronous burst of
 *   `run` calls it drains and refills every 64 queued submissions, so workers stay fed.
 *   Doorbell protocol (Dekker over SC atomics): the main thread stores SLEEPING, then loads the
 *   completion rings (or the signal bitmap); a worker stores into its completion ring (and sets its
 *   bit), then loads the doorbell. One of the two loads sees the other's store, so a completion is
 *   never left unannounced.
 *
 * Recovery (a worker exits unexpectedly): the main thread first drains all completion rings, then
 * takes every entry left in the dead worker's submission ring (the ring allows several consumers),
 * then examines every task in flight through its state word, the single source of truth:
 *   DONE                       → completed normally (the result is in the slot);
 *   RUNNING by the dead worker → rejected with WorkerExitError carrying the exit code;
 *   QUEUED and in no live ring → taken by the dead worker but never claimed: the main thread CASes
 *                                QUEUED(g) → FREE and re-dispatches it (a live worker's late claim
 *                                of the old entry fails on that CAS, so it cannot run twice).
 * Then a replacement worker takes over the dead one's rings. A worker that reports an error (an
 * 'error' event: the task file's import or top level threw) before it is ready is a start failure:
 * its tasks move to other workers, and when no worker can start, every waiting task is rejected
 * with WorkerStartError. A worker that exits before ready without an error was killed from outside
 * (terminate(), the OS) while starting: it is replaced like a crashed one and nothing rejects
 * (up to MAX_BOOT_KILLS such exits in a row, so a task file that exits at its top level still fails).
 *
 * Message transport ('message'): the same scheduling with one postMessage per task and one per
 * result (the A/B baseline). Each task id has a claim word in shared memory: QUEUED(g) when posted,
 * CASed to RUNNING(g) by the worker before it calls the function. Cancelling, preempting and crash
 * recovery CAS QUEUED(g) → FREE, so a posted task that was not reached never runs (the worker skips
 * its message), and a crash rejects exactly the started ones and re-dispatches the rest.
 *
 * Tasks with a transfer list cannot be sent twice: if their worker dies before starting them they
 * reject with WorkerExitError ("…transferred argument…"), and preemption leaves them in place.
 */

import { existsSync } from 'node:fs';
import os from 'node:os';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { MessageChannel, Worker, type MessagePort, type ResourceLimits, type TransferListItem } from 'node:worker_threads';
import { receiveMessageOnPort } from 'node:worker_threads';
import { SharedRegion } from '../parking/region.ts';
import { SpscQueue } from '../task-list/spsc-queue.ts';
import { abortReason } from '../lock/common.ts';
import { Codec, errorFromWire, NO_ROOM, NotSerializableError } from './codec.ts';
import { PoolClosedError, QueueFullError, WorkerExitError, WorkerStartError } from './errors.ts';
import { DEFAULT_TIERS, FuturePool, type FuturePoolCache, type TierSpec } from './future-pool.ts';
import {
  C_MAIN, C_SHUTDOWN, C_SIGNAL, C_THREADS, controlBytes, GEN_MASK, H_ARG_LEN, H_ARG_TAG, H_NAME, H_NAME_LEN, H_RES_KIND,
  H_RES_LEN, H_RES_TAG, H_STATE, HEADER_BYTES, MAIN_AWAKE, MAIN_SLEEPING, MAX_WORKERS, PAYLOAD_MESSAGE,
  PAYLOAD_OTHER_SLOT, R_OK, S_DONE, S_FREE, S_QUEUED, S_RUNNING, SLOT_BITS, SLOT_MASK, STATE_MASK, stateWord,
  W_BATCHES, W_BUSY_HI, W_BUSY_LO, W_CAP, W_COMPLETED, W_PARKED, W_PARKS, W_READY, W_RUNNING, W_STARTED, W_STATE, W_STOLEN,
  workerBase, workerOfState,
} from './layout.ts';
import type { FromWorker, PayloadMessage, ToWorker, Transport, WorkerInit } from './protocol.ts';
import { Fifo, TaskQueue, type Queueable } from './task-queue.ts';
import { TaskRing, taskRingBytes } from './task-ring.ts';

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
   * Which completion rings the main thread polls (sab transport). 'all' (default): every worker's
   * ring on every drain and idle check. 'signalled' (claim L6, "poll only the source that
   * signalled"): each worker sets its bit in a shared bitmap after pushing completions; the main
   * thread reads the bitmap (one load per 32 workers) and drains only those rings.
   */
  completionPoll?: 'all' | 'signalled';
  /** Tasks a worker takes per turn: a number fixes it (1 = no batching), 'adaptive' (default) aims at ~100 µs turns, 1–256. */
  batch?: number | 'adaptive';
  /** Idle workers steal half of a busy worker's waiting tasks. Default false. sab transport only. */
  stealing?: boolean;
  /** 'sab' (default): shared-memory rings and slots; 'message': one postMessage per task (baseline). */
  transport?: Transport;
  /** How long an idle worker spins before parking, in µs. Default 50. */
  idleSpinUs?: number;
  /**
   * How a parked worker sleeps. 'auto' (default): Atomics.wait when nothing in the worker needs its
   * event loop (no async task in flight, no timer, socket or other handle a task left behind), else
   * Atomics.waitAsync. 'async': always waitAsync (timers of finished tasks keep firing on time).
   * 'sync': Atomics.wait whenever no async task is in flight (piscina's default behaviour: handles a
   * task left behind are served only when the next task arrives). Waking a waitAsync sleeper costs
   * the waker ~35 µs on the bench machine, a sync one ~6–9 µs.
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
   * Completion sources the main thread polled (sab): a completion ring, or with completionPoll
   * 'signalled' a signal word; `empty` of them had nothing (wasted polls, claim L6).
   */
  polls: { total: number; empty: number };
  /** Latency from `run` to settlement, µs, sampled (1 task in 16). */
  latency: { count: number; p50Us: number; p99Us: number; meanUs: number; maxUs: number };
  workers: WorkerStats[];
}

type WorkerState = 'starting' | 'ready' | 'failed' | 'stopped';

const PHASE_QUEUED = 0;
const PHASE_DISPATCHED = 1;
const PHASE_SETTLED = 2;
/** In the maxQueueMode 'wait' waiting room (accepted, not yet in the queue). */
const PHASE_WAITING = 3;
/** Message transport claim word of an unused id (never equal to a QUEUED 2g or RUNNING 2g + 1, g ≥ 1). */
const CLAIM_FREE = -1;

class Batch {
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
class TaskOpts {
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

const NO_OPTS = new TaskOpts('', 0, 0, undefined, undefined);

/**
 * A task on the main thread. Kept small (a burst of 100k run() calls keeps 100k of them alive, and
 * every field widens what the young-generation GC copies): integers only, options in `o`.
 */
class Task implements Queueable {
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
  /** Message transport: send order on its worker. */
  sendSeq = 0;
  constructor(arg: unknown, o: TaskOpts) {
    this.arg = arg;
    this.o = o;
  }
  get priority(): number {
    return this.o.priority;
  }
}

interface WorkerHandle {
  readonly index: number;
  worker: Worker | undefined;
  state: WorkerState;
  ring: TaskRing | undefined;
  comp: SpscQueue | undefined;
  /** Main end of the payload channel of the current incarnation. */
  port: MessagePort | undefined;
  outstanding: number;
  exitExpected: boolean;
  killReason: string | undefined;
  lastError: unknown;
  threadId: number;
  sendSeq: number;
  starts: number;
  bootFailures: number;
  /** Consecutive exits before ready without an error (killed while starting); see #onExit. */
  bootKills: number;
  wakes: number;
  wakeSoon: boolean;
  /** The worker's batch cap as last read from shared memory (refreshed on every drain). */
  cap: number;
}

const noop = (): void => {};
/** Consecutive silent exits of a starting worker that are taken for kills, not load failures (#onExit). */
const MAX_BOOT_KILLS = 16;
const spinPause: (n?: number) => void =
  typeof (Atomics as { pause?: unknown }).pause === 'function'
    ? (Atomics as unknown as { pause: (n?: number) => void }).pause
    : () => {};
const KEEPALIVE_MS = 1 << 30;
const SAMPLE_MASK = 15;

function checkInt(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`WorkerPool option \`${what}\` must be an integer from ${min} to ${max}, got ${String(v)}`);
  }
  return v;
}

function pow2AtLeast(n: number): number {
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

const RUNTIME_URL = new URL(import.meta.url.endsWith('.ts') ? './worker-runtime.ts' : './worker-runtime.js', import.meta.url);

export class WorkerPool {
  readonly filename: string;
  readonly threads: number;
  readonly transport: Transport;
  readonly stealing: boolean;
  readonly batch: number | 'adaptive';
  readonly maxQueue: number;
  readonly region: SharedRegion | undefined;

  readonly #opts: WorkerPoolOptions;
  readonly #fixedCap: number;
  readonly #abortGraceMs: number;
  readonly #mainSpinMs: number;
  readonly #workers: WorkerHandle[] = [];
  readonly #queue: TaskQueue<Task>;
  readonly #i32: Int32Array;
  readonly #ctl: number;
  readonly #slots: FuturePool | undefined;
  /**
   * Per worker index (kept across replacements): one result slot per tier above the smallest,
   * allocated by the main thread (see WorkerInit.reserve). Workers never allocate or free pool slots
   * themselves: the FuturePool's central lists are Vyukov rings, and a worker terminated between
   * claiming a ring cell and publishing it would wedge that cell, so that the main thread's next
   * free() into it spins forever (the chaos soak caught it). A worker that dies between setting a
   * reserve's busy flag and storing DONE leaves that reserve busy: its successors use messages
   * for such results instead (slower, never wrong).
   */
  readonly #reserves: (readonly number[] | undefined)[] = [];
  readonly #codec: Codec | undefined;
  readonly #u8: Buffer | undefined;
  readonly #slotTask: (Task | undefined)[];
  readonly #slotGen: Int16Array;
  readonly #ringCapacity: number;
  readonly #ringOffsets: number[] = [];
  readonly #compOffsets: number[] = [];
  readonly #drainBuf: Int32Array;
  readonly #payloadsByMessage: boolean;
  readonly #names = new Map<string, number>();
  readonly #nameBytes: Buffer[] = [Buffer.alloc(0)];
  /** Message transport: task by id (ids recycled through #freeIds). */
  readonly #msgTasks: (Task | undefined)[] = [];
  readonly #freeIds: number[] = [];
  readonly #latency: RecordableHistogram = createHistogram();
  readonly #keepAlive: ReturnType<typeof setInterval>;
  readonly #idleWaiters: (() => void)[] = [];
  readonly #waitMode: boolean;
  /** maxQueueMode 'wait': accepted tasks waiting for room in the queue (FIFO; cancelled ones skipped). */
  readonly #overflow = new Fifo<Task>();
  #overflowLive = 0;
  readonly #roomWaiters: (() => void)[] = [];
  /** completionPoll 'signalled' (L6). */
  readonly #signalled: boolean;
  #polls = 0;
  #emptyPolls = 0;
  #preempted = 0;
  /** Lowest priority among tasks dispatched since the pool last had nothing in flight (gates preemption). */
  #lowestOut = Infinity;
  /** Message transport: Int32 index of the claim words, their count, and each id's use count. */
  readonly #claims: number;
  readonly #maxIds: number;
  readonly #claimGen: Int32Array;

  #seq = 0;
  #now = 0;
  /** #now as whole ms since the pool was created (a small integer for Task.enqueuedAt). */
  #nowInt = 0;
  readonly #epoch = performance.now();
  readonly #samples = new Map<Task, number>();
  #needRespawn = false;
  #pending = 0;
  #inflight = 0;
  #completed = 0;
  #failed = 0;
  #cancelled = 0;
  #payloadMessages = 0;
  #sinceDrain = 0;
  #armed = false;
  #microPumps = 0;
  #pumpScheduled = false;
  #closing = false;
  #destroyed = false;
  #closePromise: Promise<void> | undefined;

  constructor(opts: WorkerPoolOptions) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new WorkerPool(opts): opts must be an object with at least `filename`');
    this.#opts = opts;
    this.filename = resolveFilename(opts.filename);
    this.threads = checkInt('threads', opts.threads ?? Math.max(1, os.availableParallelism()), 1, MAX_WORKERS);
    const transport = opts.transport ?? 'sab';
    if (transport !== 'sab' && transport !== 'message') throw new TypeError(`WorkerPool option \`transport\` must be 'sab' or 'message', got ${String(transport)}`);
    this.transport = transport;
    this.stealing = opts.stealing ?? false;
    if (typeof this.stealing !== 'boolean') throw new TypeError('WorkerPool option `stealing` must be a boolean');
    if (this.stealing && transport !== 'sab') throw new TypeError("WorkerPool option `stealing` needs transport 'sab' (only tasks in shared memory can be stolen)");
    const batch = opts.batch ?? 'adaptive';
    if (batch !== 'adaptive') checkInt('batch', batch, 1, 4096);
    this.batch = batch;
    this.#fixedCap = batch === 'adaptive' ? 0 : batch;
    const mq = opts.maxQueue ?? Infinity;
    this.maxQueue = mq === 'auto' ? this.threads * this.threads : mq === Infinity ? Infinity : checkInt('maxQueue', mq, 0, 2 ** 31 - 1);
    const mqMode = opts.maxQueueMode ?? 'reject';
    if (mqMode !== 'reject' && mqMode !== 'wait') throw new TypeError(`WorkerPool option \`maxQueueMode\` must be 'reject' or 'wait', got ${String(mqMode)}`);
    this.#waitMode = mqMode === 'wait';
    const poll = opts.completionPoll ?? 'all';
    if (poll !== 'all' && poll !== 'signalled') throw new TypeError(`WorkerPool option \`completionPoll\` must be 'all' or 'signalled', got ${String(poll)}`);
    this.#signalled = poll === 'signalled' && transport === 'sab';
    const spin = opts.idleSpinUs ?? 50;
    if (typeof spin !== 'number' || !(spin >= 0) || spin > 1e6) throw new RangeError(`WorkerPool option \`idleSpinUs\` must be a number from 0 to 1e6, got ${String(spin)}`);
    const idleWait = opts.idleWait ?? 'auto';
    if (idleWait !== 'auto' && idleWait !== 'async' && idleWait !== 'sync') throw new TypeError(`WorkerPool option \`idleWait\` must be 'auto', 'async' or 'sync', got ${String(idleWait)}`);
    const mainSpin = opts.mainSpinUs ?? 20;
    if (typeof mainSpin !== 'number' || !(mainSpin >= 0) || mainSpin > 1000) throw new RangeError(`WorkerPool option \`mainSpinUs\` must be a number from 0 to 1000, got ${String(mainSpin)}`);
    this.#mainSpinMs = mainSpin / 1000;
    this.#abortGraceMs = opts.abortGraceMs ?? 1000;
    if (typeof this.#abortGraceMs !== 'number' || !(this.#abortGraceMs >= 0)) throw new RangeError(`WorkerPool option \`abortGraceMs\` must be a non-negative number, got ${String(opts.abortGraceMs)}`);
    const agingMs = opts.agingMs ?? 1000;
    if (typeof agingMs !== 'number' || !(agingMs > 0)) throw new RangeError(`WorkerPool option \`agingMs\` must be a positive number, got ${String(opts.agingMs)}`);
    this.#queue = new TaskQueue<Task>(agingMs);

    const slotsOpt = opts.slots;
    this.#payloadsByMessage = slotsOpt === 'none';
    if (slotsOpt !== undefined && slotsOpt !== 'none' && (slotsOpt === null || typeof slotsOpt !== 'object')) {
      throw new TypeError("WorkerPool option `slots` must be { tiers?, cache? } or 'none'");
    }
    const tiers = slotsOpt === 'none' ? [{ bytes: 8, count: 2048 }] : slotsOpt?.tiers;
    const cache = slotsOpt === 'none' ? 'thread' : (slotsOpt?.cache ?? 'thread');
    const maxCap = this.#fixedCap === 0 ? 256 : this.#fixedCap;
    this.#ringCapacity = pow2AtLeast(Math.max(64, 4 * maxCap));

    if (transport === 'sab') {
      const slotBytes = FuturePool.regionBytes(tiers);
      const totalSlots = (tiers ?? DEFAULT_TIERS).reduce((a, t) => a + (t?.count ?? 0), 0);
      // A completion ring holds every slot's entry at once, so a worker never waits for room.
      const compCap = pow2AtLeast(Math.max(64, totalSlots + 1));
      const perWorker = taskRingBytes(this.#ringCapacity) + 256 + (128 + compCap) * 4 + 256;
      const region = SharedRegion.create({ bytes: slotBytes + controlBytes(this.threads) + this.threads * perWorker + 8192, waiters: 64, buckets: 16, threads: 64 });
      this.region = region;
      this.#i32 = region.i32;
      const ctlOff = region.alloc('WorkerPool', controlBytes(this.threads), 128);
      this.#ctl = ctlOff >> 2;
      Atomics.store(this.#i32, this.#ctl + C_THREADS, this.threads);
      const slots = FuturePool.create({ region, tiers, cache });
      this.#slots = slots;
      const compCapacity = compCap;
      for (let w = 0; w < this.threads; w++) {
        const ringOff = region.alloc('Raw', taskRingBytes(this.#ringCapacity), 128);
        new TaskRing(this.#i32, ringOff >> 2, this.#ringCapacity, true);
        this.#ringOffsets.push(ringOff);
        const comp = new SpscQueue({ region, capacity: compCapacity });
        this.#compOffsets.push(comp.offset);
      }
      this.#codec = new Codec(region.buffer);
      this.#u8 = Buffer.from(region.buffer);
      this.#slotTask = Array.from({ length: slots.slotCount }, () => undefined);
      this.#slotGen = new Int16Array(slots.slotCount);
      this.#drainBuf = new Int32Array(256);
      this.#claims = 0;
      this.#maxIds = 0;
      this.#claimGen = new Int32Array(0);
    } else {
      // The message transport keeps only the control block (started counters, stats) and one claim
      // word per task id in shared memory. Ids in use never exceed the sum of the workers' windows.
      const maxIds = this.threads * (this.#fixedCap === 0 ? 2 * 256 : Math.max(1, 2 * this.#fixedCap)) + 16;
      const region = SharedRegion.create({ bytes: controlBytes(this.threads) + maxIds * 4 + 8192, waiters: 16, buckets: 16, threads: 64 });
      this.region = region;
      this.#i32 = region.i32;
      this.#ctl = region.alloc('WorkerPool', controlBytes(this.threads), 128) >> 2;
      Atomics.store(this.#i32, this.#ctl + C_THREADS, this.threads);
      this.#claims = region.alloc('Raw', maxIds * 4, 128) >> 2;
      this.#maxIds = maxIds;
      this.#claimGen = new Int32Array(maxIds);
      for (let i = 0; i < maxIds; i++) Atomics.store(this.#i32, this.#claims + i, CLAIM_FREE);
      this.#slots = undefined;
      this.#codec = undefined;
      this.#u8 = undefined;
      this.#slotTask = [];
      this.#slotGen = new Int16Array(0);
      this.#drainBuf = new Int32Array(0);
    }
    this.#keepAlive = setInterval(noop, KEEPALIVE_MS);
    this.#keepAlive.unref();
    for (let w = 0; w < this.threads; w++) {
      const h: WorkerHandle = {
        index: w, worker: undefined, state: 'stopped', ring: undefined, comp: undefined, port: undefined, outstanding: 0,
        exitExpected: false, killReason: undefined, lastError: undefined, threadId: -1, sendSeq: 0, starts: 0, bootFailures: 0, bootKills: 0, wakes: 0, wakeSoon: false, cap: 32,
      };
      if (transport === 'sab') {
        h.ring = new TaskRing(this.#i32, this.#ringOffsets[w] >> 2, this.#ringCapacity, false);
        h.comp = SpscQueue.from(this.region.handleFor('SpscQueue', this.#compOffsets[w]));
      }
      this.#workers.push(h);
      this.#spawn(h);
    }
  }

  // ================================================================ public API

  /** Runs the task function on `arg` in a worker; resolves with its (awaited) return value. */
  run(arg: unknown, opts?: RunOptions): Promise<unknown> {
    let task: Task;
    try {
      if (this.#closing) throw new PoolClosedError(this.#destroyed ? 'WorkerPool was destroyed' : 'WorkerPool is closing: no new tasks are accepted');
      task = this.#makeTask(arg, opts, false);
    } catch (e) {
      return Promise.reject(e);
    }
    const signal = task.o.signal;
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    const p = new Promise<unknown>((resolve, reject) => {
      task.resolve = resolve;
      task.reject = reject;
    });
    if (this.#needRespawn) this.#ensureWorkers();
    if (!this.#submit(task)) return Promise.reject(new QueueFullError(this.maxQueue));
    this.#watchAbort(task);
    return p;
  }

  /**
   * Runs the task function once per element of `args`; resolves with the results in order, or
   * rejects with the first error (like Promise.all; the other tasks still run). `opts` apply to all.
   */
  runBatch(args: readonly unknown[], opts?: Omit<RunOptions, 'transfer'>): Promise<unknown[]> {
    let batch: Batch | undefined;
    const p = new Promise<unknown[]>((resolve, reject) => {
      batch = new Batch(args?.length ?? 0, resolve, reject);
    });
    const b = batch!;
    try {
      if (this.#closing) throw new PoolClosedError(this.#destroyed ? 'WorkerPool was destroyed' : 'WorkerPool is closing: no new tasks are accepted');
      if (!Array.isArray(args)) throw new TypeError('WorkerPool.runBatch(args): args must be an array');
      if (opts !== undefined && (opts as RunOptions).transfer !== undefined) throw new TypeError('WorkerPool.runBatch: `transfer` is not supported; use run() for transfers');
      if (args.length === 0) {
        b.done = true;
        b.resolve([]);
        return p;
      }
      if (!this.#waitMode && this.#queue.size + args.length > this.maxQueue + this.#room()) throw new QueueFullError(this.maxQueue);
      // One TaskOpts for the whole batch (its abort listener is per batch, not per task).
      const first = this.#makeTask(args[0], opts, true);
      for (let i = 0; i < args.length; i++) {
        const t = i === 0 ? first : new Task(args[i], first.o);
        t.batch = b;
        t.index = i;
        b.tasks.push(t);
      }
    } catch (e) {
      b.done = true;
      b.reject(e);
      return p;
    }
    const signal = b.tasks[0].o.signal;
    if (signal?.aborted === true) {
      b.done = true;
      b.reject(abortReason(signal));
      return p;
    }
    if (this.#needRespawn) this.#ensureWorkers();
    // 'reject' mode checked room above (all or nothing); 'wait' mode lets the excess wait for room.
    for (const t of b.tasks) this.#submit(t, !this.#waitMode);
    if (signal !== undefined) {
      const onAbort = (): void => {
        for (const t of b.tasks) this.#abort(t);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      void p.then(() => signal.removeEventListener('abort', onAbort), () => signal.removeEventListener('abort', onAbort));
    }
    return p;
  }

  /** Stops accepting tasks, waits for every accepted task to settle, then stops the workers. */
  close(): Promise<void> {
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#closing = true;
    this.#closePromise = (async () => {
      if (this.#pending > 0) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      await this.#stopWorkers();
    })();
    return this.#closePromise;
  }

  /** Stops at once: rejects every waiting and running task with PoolClosedError and terminates the workers. */
  destroy(): Promise<void> {
    if (this.#destroyed) return this.#closePromise ?? Promise.resolve();
    this.#closing = true;
    this.#destroyed = true;
    const err = (): PoolClosedError => new PoolClosedError('WorkerPool was destroyed before the task finished');
    for (const t of this.#queue.drainAll()) this.#settle(t, false, err());
    for (const t of this.#overflow.drain()) if (!t.cancelled) this.#settle(t, false, err());
    this.#overflowLive = 0;
    for (const r of this.#roomWaiters.splice(0)) r();
    for (const t of this.#slotTask) if (t !== undefined) this.#settle(t, false, err());
    for (const t of this.#msgTasks) if (t !== undefined) this.#settle(t, false, err());
    const stop = this.#stopWorkers();
    const prev = this.#closePromise;
    this.#closePromise = prev === undefined ? stop : Promise.all([prev, stop]).then(noop);
    for (const r of this.#idleWaiters.splice(0)) r();
    return this.#closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Resolves once fewer than `maxQueue` tasks wait (at once if so now; also when the pool closes),
   * so a producer can pace itself: `await pool.waitForRoom(); pool.run(x)`. Works in both
   * maxQueueMode settings.
   */
  waitForRoom(): Promise<void> {
    if (this.#closing || (this.#overflowLive === 0 && this.#queue.size < this.maxQueue)) return Promise.resolve();
    return new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Counters, per-worker figures and sampled latency. */
  get stats(): PoolStats {
    const h = this.#latency;
    const n = h.count;
    return {
      transport: this.transport,
      threads: this.threads,
      completed: this.#completed,
      failed: this.#failed,
      cancelled: this.#cancelled,
      payloadMessages: this.#payloadMessages,
      queued: this.#queue.size,
      waiting: this.#overflowLive,
      preempted: this.#preempted,
      polls: { total: this.#polls, empty: this.#emptyPolls },
      inFlight: this.#pending - this.#queue.size - this.#overflowLive,
      latency: {
        count: n,
        p50Us: n === 0 ? 0 : h.percentile(50),
        p99Us: n === 0 ? 0 : h.percentile(99),
        meanUs: n === 0 ? 0 : h.mean,
        maxUs: n === 0 ? 0 : h.max,
      },
      workers: this.#workers.map((w) => {
        const b = workerBase(this.#ctl, w.index);
        const i32 = this.#i32;
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
          cap: this.#capOf(w),
          outstanding: w.outstanding,
          starts: w.starts,
          parks: Atomics.load(i32, b + W_PARKS),
          wakes: w.wakes,
        };
      }),
    };
  }

  /** The Worker objects (for tests and diagnostics; do not post to them). */
  get workers(): readonly (Worker | undefined)[] {
    return this.#workers.map((w) => w.worker);
  }

  // ================================================================ submission

  #makeTask(arg: unknown, opts: RunOptions | undefined, inBatch: boolean): Task {
    if (opts === undefined) return new Task(arg, NO_OPTS);
    if (opts === null || typeof opts !== 'object') throw new TypeError('WorkerPool.run(arg, opts): opts must be an object');
    const { name, signal, priority, transfer } = opts;
    let nameId = 0;
    if (name !== undefined && name !== 'default') {
      if (typeof name !== 'string' || name.length === 0) throw new TypeError('WorkerPool.run: `name` must be a non-empty string naming an export of the task file');
      nameId = this.#nameId(name);
    }
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('WorkerPool.run: `signal` must be an AbortSignal');
    if (priority !== undefined && (typeof priority !== 'number' || !Number.isFinite(priority))) throw new TypeError(`WorkerPool.run: \`priority\` must be a finite number, got ${String(priority)}`);
    if (transfer !== undefined && (inBatch || !Array.isArray(transfer))) throw new TypeError('WorkerPool.run: `transfer` must be an array of transferable objects');
    if (nameId === 0 && signal === undefined && (priority ?? 0) === 0 && transfer === undefined) return new Task(arg, NO_OPTS);
    return new Task(arg, new TaskOpts(nameId === 0 ? '' : name!, nameId, priority ?? 0, signal, transfer));
  }

  #nameId(name: string): number {
    let id = this.#names.get(name);
    if (id === undefined) {
      id = this.#nameBytes.length;
      if (id > 0x7fff) throw new RangeError('WorkerPool: more than 32767 distinct export names');
      if (Buffer.byteLength(name, 'utf8') > 256) throw new RangeError('WorkerPool.run: `name` is longer than 256 bytes');
      this.#names.set(name, id);
      this.#nameBytes.push(Buffer.from(name, 'utf8'));
    }
    return id;
  }

  #watchAbort(task: Task): void {
    const s = task.o.signal;
    if (s === undefined || task.phase === PHASE_SETTLED) return;
    const onAbort = (): void => this.#abort(task);
    task.o.onAbort = onAbort;
    s.addEventListener('abort', onAbort, { once: true });
  }

  /** Queues or dispatches a task. Returns false if the queue is full (the task was not accepted). */
  #submit(task: Task, force = false): boolean {
    task.seq = ++this.#seq;
    // Refreshed on every pump, so at most one pump stale: aging counts from submission (a task
    // placed at once and later taken back by preemption or recovery keeps its place in line).
    task.enqueuedAt = this.#nowInt;
    if ((task.seq & SAMPLE_MASK) === 0) this.#samples.set(task, performance.now());
    if (this.#queue.size === 0 && this.#overflowLive === 0) {
      const w = this.#pick();
      // A task that outranks dispatched work and would sit behind more than one batch of it goes
      // through the queue and #preempt instead (the one-batch bound for priorities).
      if (w !== undefined && !(task.o.priority > this.#lowestOut && w.outstanding > this.#preemptAbove(w))) {
        this.#accept();
        if (this.#place(task, w)) return true;
        this.#tick();
        task.enqueuedAt = this.#nowInt;
        this.#queue.push(task);
        this.#retrySoon();
        return true;
      }
      // First task to wait: the clock (refreshed on every pump) may be stale after an idle spell.
      this.#tick();
    }
    if (!force && (this.#queue.size >= this.maxQueue || this.#overflowLive > 0)) {
      if (!this.#waitMode) return false;
      this.#accept();
      task.phase = PHASE_WAITING;
      this.#overflow.push(task);
      this.#overflowLive++;
      return true;
    }
    this.#accept();
    task.enqueuedAt = this.#nowInt;
    this.#queue.push(task);
    if (task.o.priority > this.#lowestOut) this.#preempt(task.o.priority);
    if ((++this.#sinceDrain & 63) === 0 && this.transport === 'sab') {
      // A long synchronous burst of run() calls: drain and refill now so the workers stay busy.
      this.#drain();
      this.#refill();
    }
    return true;
  }

  /** Puts tasks taken back from a worker at the front of the queue, in their original order. */
  #requeuePreempted(back: Task[]): void {
    this.#preempted += back.length;
    back.sort((a, b) => b.seq - a.seq);
    for (const t of back) {
      t.phase = PHASE_QUEUED;
      t.worker = -1;
      this.#queue.unshift(t);
    }
  }

  /**
   * Priorities (sab): a task of priority `p` waits in the queue while workers hold dispatched but
   * unstarted tasks of lower priority. If even the least-loaded worker has more than one batch
   * outstanding, take back the entries still in its submission ring (the main thread is just another
   * consumer of the ring; per entry the state-word CAS QUEUED → FREE decides, exactly as for a
   * cancel, so a worker can never also run it), put those tasks back at the front of the queue in
   * their order, then refill: the queue hands out the highest (effective) priority first, so the new
   * task waits behind at most the batch that worker has already taken (≤ its cap). Entries whose
   * argument travelled by message (transfer lists, payloads over the largest tier) cannot be sent
   * again; they go back into the ring first, untouched.
   */
  #preempt(p: number): void {
    let w: WorkerHandle | undefined;
    for (const x of this.#workers) {
      if (x.state !== 'ready' && x.state !== 'starting') continue;
      if (w === undefined || x.outstanding < w.outstanding) w = x;
    }
    if (w !== undefined && w.outstanding > this.#preemptAbove(w) && this.transport === 'message') {
      // Same idea on the claim words: a posted task not reached yet is taken back by CAS QUEUED(g)
      // → FREE (the worker then skips its message); one with a transfer list cannot be re-sent.
      const back: Task[] = [];
      const i32 = this.#i32;
      for (const t of this.#msgTasks) {
        if (t === undefined || t.worker !== w.index || t.phase !== PHASE_DISPATCHED || t.o.priority >= p || t.o.transfer !== undefined) continue;
        const queued = 2 * t.gen;
        if (Atomics.compareExchange(i32, this.#claims + t.slot, queued, CLAIM_FREE) === queued) {
          this.#release(t);
          back.push(t);
        }
      }
      this.#requeuePreempted(back);
    } else if (w !== undefined && w.outstanding > this.#preemptAbove(w) && this.transport === 'sab') {
      const i32 = this.#i32;
      const slots = this.#slots!;
      const ring = w.ring!;
      const buf = (this.#preemptBuf ??= new Int32Array(256));
      const back: Task[] = [];
      const keep: number[] = [];
      for (;;) {
        const n = ring.take(buf, buf.length);
        if (n === 0) break;
        for (let i = 0; i < n; i++) {
          const e = buf[i];
          const slot = e & SLOT_MASK;
          const gen = (e >>> SLOT_BITS) & GEN_MASK;
          const t = this.#slotTask[slot];
          if (t === undefined || t.gen !== gen) continue; // stale (cancelled): the worker would skip it too
          const hdr = slots.slotOffset(slot) >> 2;
          if (i32[hdr + H_ARG_TAG] === PAYLOAD_MESSAGE || t.o.priority >= p) {
            keep.push(e);
            continue;
          }
          const queued = stateWord(S_QUEUED, 0, gen);
          if (Atomics.compareExchange(i32, hdr + H_STATE, queued, stateWord(S_FREE, 0, gen)) === queued) {
            this.#release(t);
            back.push(t);
          }
        }
      }
      // Room is certain: the ring was just emptied and holds at most a window.
      for (const e of keep) ring.push(e);
      if (keep.length > 0) this.#wake(w);
      this.#requeuePreempted(back);
    }
    this.#refill();
  }

  #preemptBuf: Int32Array | undefined;

  /**
   * Outstanding tasks a worker may hold ahead of a higher-priority arrival without preemption: its
   * batch cap (sab: the batch it may already have taken), 1 for the message transport (a worker
   * there runs one task message at a time, so "one batch" is the task it is running).
   */
  #preemptAbove(w: WorkerHandle): number {
    return this.transport === 'sab' ? this.#capOf(w) : 1;
  }

  #accept(): void {
    if (this.#pending++ === 0) this.#keepAlive.ref();
  }

  /** Tasks that could be dispatched right now without queueing (an estimate for runBatch's maxQueue check). */
  #room(): number {
    let n = 0;
    for (const w of this.#workers) if (w.state === 'ready' || w.state === 'starting') n += Math.max(0, this.#window(w) - w.outstanding);
    return n;
  }

  #capOf(w: WorkerHandle): number {
    return this.#fixedCap !== 0 ? this.#fixedCap : w.cap;
  }

  /**
   * Tasks a worker may have outstanding: one batch running and one waiting (2 × cap), so it never
   * runs dry while the main thread refills. A fixed batch of 1 means exactly one (the no-batching
   * baseline); adaptive mode keeps at least 4 so short-but-not-trivial tasks (cap 1–2) still hide
   * the main thread's response time.
   */
  #window(w: WorkerHandle): number {
    const cap = this.#capOf(w);
    if (this.#fixedCap !== 0) return cap === 1 ? 1 : 2 * cap;
    return cap < 2 ? 4 : 2 * cap;
  }

  /** The worker with the fewest outstanding tasks that has room in its window, if any. */
  #pick(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestN = Infinity;
    for (const w of this.#workers) {
      if (w.state !== 'ready' && w.state !== 'starting') continue;
      const n = w.outstanding;
      if (n < bestN && n < this.#window(w)) {
        best = w;
        bestN = n;
      }
    }
    return best;
  }

  /** Hands a task to worker `w`. Returns false if it could not (no slot or ring room): the caller keeps it queued. */
  #place(task: Task, w: WorkerHandle): boolean {
    return this.transport === 'sab' ? this.#placeSab(task, w) : this.#placeMsg(task, w);
  }

  #placeSab(task: Task, w: WorkerHandle): boolean {
    const slots = this.#slots!;
    const codec = this.#codec!;
    const ring = w.ring!;
    const o = task.o;
    let nameLen = o.nameId === 0 ? 0 : this.#nameBytes[o.nameId].length;
    const nameRoom = (nameLen + 7) & ~7;
    const arg = task.arg;
    let viaMessage = this.#payloadsByMessage || o.transfer !== undefined;
    let slot = -1;
    let len = 0;
    if (!viaMessage) {
      let need = nameRoom + Codec.sizeHint(arg);
      for (;;) {
        if (slots.tierFor(need) < 0) {
          viaMessage = true;
          break;
        }
        slot = slots.alloc(need);
        if (slot < 0) return false; // every fitting slot is in use: wait for completions
        const dataOff = slots.slotOffset(slot) + HEADER_BYTES;
        const cap = slots.capacityOf(slot);
        try {
          len = codec.encode(arg, dataOff + nameRoom, cap - nameRoom);
        } catch (e) {
          slots.free(slot);
          slot = -1;
          if (e instanceof NotSerializableError) {
            viaMessage = true;
            break;
          }
          this.#settle(task, false, e);
          return true;
        }
        if (len !== NO_ROOM) break;
        slots.free(slot);
        slot = -1;
        need = cap + 1;
      }
    }
    if (viaMessage) {
      // The payload (and the export name) is posted before the entry is pushed: make sure the push will succeed.
      if (ring.room() <= 0) return false;
      nameLen = 0;
      slot = slots.alloc(0);
      if (slot < 0) return false;
    }
    const hdrByte = slots.slotOffset(slot);
    const hdr = hdrByte >> 2;
    const gen = (this.#slotGen[slot] + 1) & GEN_MASK;
    this.#slotGen[slot] = gen;
    const entry = slot | (gen << SLOT_BITS);
    const i32 = this.#i32;
    if (viaMessage) {
      try {
        const m: PayloadMessage = o.nameId === 0 ? { e: entry, v: arg } : { e: entry, v: arg, n: o.name };
        w.port!.postMessage(m, o.transfer as TransferListItem[] | undefined);
        this.#payloadMessages++;
      } catch (e) {
        slots.free(slot);
        this.#settle(task, false, new TypeError(`WorkerPool.run: the task argument could not be cloned: ${(e as Error).message}`, { cause: e }));
        return true;
      }
    }
    // Plain writes into the slot we own; published by the QUEUED store below.
    i32[hdr + H_NAME] = o.nameId;
    i32[hdr + H_NAME_LEN] = nameLen;
    if (nameLen > 0) this.#u8!.set(this.#nameBytes[o.nameId], hdrByte + HEADER_BYTES);
    i32[hdr + H_ARG_TAG] = viaMessage ? PAYLOAD_MESSAGE : 1;
    i32[hdr + H_ARG_LEN] = len;
    // Release edge for the argument: the worker's claim CAS reads this store.
    Atomics.store(i32, hdr + H_STATE, stateWord(S_QUEUED, 0, gen));
    if (!ring.push(entry)) {
      // Ring full of stale entries (cancelled tasks the worker has not skipped yet): keep the task queued.
      Atomics.store(i32, hdr + H_STATE, stateWord(S_FREE, 0, gen));
      slots.free(slot);
      return false;
    }
    task.slot = slot;
    task.gen = gen;
    task.worker = w.index;
    task.phase = PHASE_DISPATCHED;
    this.#slotTask[slot] = task;
    w.outstanding++;
    this.#inflight++;
    if (o.priority < this.#lowestOut) this.#lowestOut = o.priority;
    this.#wake(w);
    this.#awaitCompletions();
    return true;
  }

  #placeMsg(task: Task, w: WorkerHandle): boolean {
    const worker = w.worker;
    if (worker === undefined) return false;
    if (this.#freeIds.length === 0 && this.#msgTasks.length >= this.#maxIds) return false; // cannot happen (windows bound it)
    const id = this.#freeIds.length > 0 ? this.#freeIds.pop()! : this.#msgTasks.length;
    const g = (this.#claimGen[id] % 0x3ffffff) + 1;
    this.#claimGen[id] = g;
    // QUEUED(g) before the post: the worker's claim CAS expects it (see protocol.ts, `claims`).
    Atomics.store(this.#i32, this.#claims + id, 2 * g);
    try {
      const m: ToWorker = { t: 'task', id, g, name: task.o.name, arg: task.arg };
      worker.postMessage(m, task.o.transfer as TransferListItem[] | undefined);
    } catch (e) {
      Atomics.store(this.#i32, this.#claims + id, CLAIM_FREE);
      if (id === this.#msgTasks.length) this.#msgTasks.push(undefined);
      this.#freeIds.push(id);
      this.#settle(task, false, new TypeError(`WorkerPool.run: the task argument could not be cloned: ${(e as Error).message}`, { cause: e }));
      return true;
    }
    this.#msgTasks[id] = task;
    task.gen = g;
    task.slot = id;
    task.sendSeq = w.sendSeq++;
    task.worker = w.index;
    task.phase = PHASE_DISPATCHED;
    w.outstanding++;
    this.#inflight++;
    if (task.o.priority < this.#lowestOut) this.#lowestOut = task.o.priority;
    return true;
  }

  /**
   * After a push: wakes worker `w` if it is parked. A wake costs the main thread a futex call and
   * the worker ~15–40 µs to get going, so while fewer than a batch of tasks wait for it the wake is
   * deferred to the end of the current synchronous stretch (a microtask): a burst of `run` calls
   * then wakes each worker once with a full batch instead of once per task.
   */
  #wake(w: WorkerHandle): void {
    // SC load after our ring store: pairs with the worker's PARKED store + ring re-check.
    if (Atomics.load(this.#i32, workerBase(this.#ctl, w.index) + W_STATE) !== W_PARKED) return;
    if (w.outstanding >= this.#capOf(w)) {
      this.#wakeNow(w);
      return;
    }
    if (w.wakeSoon) return;
    w.wakeSoon = true;
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      queueMicrotask(this.#flushWakes);
    }
  }

  #wakeScheduled = false;
  #flushWakes = (): void => {
    this.#wakeScheduled = false;
    for (const w of this.#workers) if (w.wakeSoon) this.#wakeNow(w);
  };

  #wakeNow(w: WorkerHandle): void {
    w.wakeSoon = false;
    const s = workerBase(this.#ctl, w.index) + W_STATE;
    if (Atomics.load(this.#i32, s) === W_PARKED && Atomics.compareExchange(this.#i32, s, W_PARKED, W_RUNNING) === W_PARKED) {
      w.wakes++;
      Atomics.notify(this.#i32, s, 1);
    }
  }

  // ================================================================ completion

  /**
   * Drains the completion rings and settles those tasks: every ring ('all', and always with `every`,
   * as recovery needs), or with completionPoll 'signalled' only the rings whose workers set their
   * signal bit. A bit taken with the exchange covers every push made before the worker set it (its
   * RMW follows the push); a push racing with this drain sets the bit again, so it is seen next time.
   */
  #drain(every = false): void {
    if (this.#signalled) {
      const words = (this.threads + 31) >> 5;
      for (let k = 0; k < words; k++) {
        this.#polls++;
        let bits = Atomics.exchange(this.#i32, this.#ctl + C_SIGNAL + k, 0);
        if (bits === 0) {
          this.#emptyPolls++;
          continue;
        }
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits);
          bits &= ~(1 << b);
          const w = this.#workers[(k << 5) + b];
          if (w !== undefined) this.#drainOne(w);
        }
      }
      if (!every) return;
    }
    for (const w of this.#workers) this.#drainOne(w);
  }

  #drainOne(w: WorkerHandle): void {
    const buf = this.#drainBuf;
    // Published by the worker after each adaptive change; only sizes its window.
    if (this.#fixedCap === 0) w.cap = Atomics.load(this.#i32, workerBase(this.#ctl, w.index) + W_CAP) || 32;
    const comp = w.comp!;
    this.#polls++;
    let got = 0;
    for (;;) {
      const n = comp.popBatch(buf, buf.length);
      got += n;
      for (let i = 0; i < n; i++) this.#completeEntry(buf[i]);
      if (n < buf.length) break;
    }
    if (got === 0) this.#emptyPolls++;
  }

  #completeEntry(entry: number): void {
    const slot = entry & SLOT_MASK;
    const gen = (entry >>> SLOT_BITS) & GEN_MASK;
    const task = this.#slotTask[slot];
    if (task === undefined || task.gen !== gen) return; // stale: already handled by recovery or cancel
    const i32 = this.#i32;
    const slots = this.#slots!;
    const hdrByte = slots.slotOffset(slot);
    const hdr = hdrByte >> 2;
    // Acquire edge: synchronizes with the worker's DONE store, made after it wrote the result.
    const st = Atomics.load(i32, hdr + H_STATE);
    if ((st & STATE_MASK) !== S_DONE) return;
    const ok = i32[hdr + H_RES_KIND] === R_OK;
    const tag = i32[hdr + H_RES_TAG];
    let value: unknown;
    let fine = ok;
    try {
      if (tag === PAYLOAD_MESSAGE) {
        this.#payloadMessages++;
        value = this.#takeMessage(this.#workers[workerOfState(st)], entry);
      } else if (tag === PAYLOAD_OTHER_SLOT) {
        // One of the worker's reserved slots (never freed): read it, then clear its busy flag
        // (release edge: our reads happen before the worker's next write, after it loads 0).
        const other = i32[hdr + H_RES_LEN];
        try {
          value = this.#codec!.decode(slots.slotOffset(other) + HEADER_BYTES);
        } finally {
          Atomics.store(i32, (slots.slotOffset(other) >> 2) + H_ARG_LEN, 0);
        }
      } else {
        value = this.#codec!.decode(hdrByte + HEADER_BYTES);
      }
      if (!ok) value = errorFromWire(value);
    } catch (e) {
      fine = false;
      value = e;
    }
    this.#release(task);
    this.#settle(task, fine, value);
  }

  /** Receives the payload message for `entry` from a worker's port (it was queued before DONE was stored). */
  #takeMessage(w: WorkerHandle | undefined, entry: number): unknown {
    const port = w?.port;
    if (port === undefined) throw new Error(`WorkerPool: result message for task entry ${entry} was lost with its worker`);
    for (;;) {
      const m = receiveMessageOnPort(port);
      if (m === undefined) throw new Error(`WorkerPool: result message for task entry ${entry} is missing`);
      const pm = m.message as PayloadMessage;
      if (pm.e === entry) return pm.v;
      // A result for a task that was already settled another way (e.g. recovered): drop it.
    }
  }

  /** Frees the task's slot (or message id) and its worker's window place. */
  #release(task: Task): void {
    const slot = task.slot;
    if (slot < 0) return;
    task.slot = -1;
    if (this.transport === 'sab') {
      // The state word keeps DONE (or FREE after a cancel): a stale entry's claim CAS expects QUEUED and fails.
      this.#slotTask[slot] = undefined;
      this.#slots!.free(slot);
    } else {
      this.#msgTasks[slot] = undefined;
      this.#freeIds.push(slot);
    }
    const w = this.#workers[task.worker];
    if (w !== undefined) w.outstanding--;
    if (--this.#inflight === 0) this.#lowestOut = Infinity;
  }

  #settle(task: Task, ok: boolean, value: unknown): void {
    if (task.phase === PHASE_SETTLED) return;
    task.phase = PHASE_SETTLED;
    const o = task.o;
    if (o.onAbort !== undefined) {
      o.signal!.removeEventListener('abort', o.onAbort);
      o.onAbort = undefined;
    }
    if (ok) this.#completed++;
    else this.#failed++;
    if ((task.seq & SAMPLE_MASK) === 0) {
      const t0 = this.#samples.get(task);
      if (t0 !== undefined) {
        this.#samples.delete(task);
        this.#latency.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      }
    }
    task.arg = undefined;
    const b = task.batch;
    if (b !== undefined) {
      if (!b.done) {
        if (!ok) {
          b.done = true;
          b.reject(value);
        } else {
          b.results[task.index] = value;
          if (--b.left === 0) {
            b.done = true;
            b.resolve(b.results);
          }
        }
      }
    } else if (ok) {
      task.resolve!(value);
    } else {
      task.reject!(value);
    }
    if (--this.#pending === 0) this.#onIdle();
  }

  #onIdle(): void {
    this.#keepAlive.unref();
    for (const r of this.#idleWaiters.splice(0)) r();
  }

  // ================================================================ main loop

  /** Drain, refill, sleep on the doorbell if work is out. */
  #pump = (): void => {
    this.#pumpScheduled = false;
    if (this.#destroyed) return;
    this.#tick();
    if (this.transport === 'sab') this.#drain();
    this.#refill();
    this.#awaitCompletions();
  };

  #tick(): void {
    this.#now = performance.now();
    this.#nowInt = Math.floor(this.#now - this.#epoch);
  }

  #refill(): void {
    this.#refillQueue();
    if (this.#overflowLive > 0 || this.#roomWaiters.length > 0) this.#admit();
  }

  /** maxQueueMode 'wait': moves waiting-room tasks into the queue while it has room (FIFO), then refills again. */
  #admit(): void {
    let moved = false;
    while (this.#overflowLive > 0 && this.#queue.size < this.maxQueue) {
      const t = this.#overflow.shift();
      if (t === undefined) break;
      if (t.cancelled) continue;
      this.#overflowLive--;
      t.phase = PHASE_QUEUED;
      t.enqueuedAt = this.#nowInt;
      this.#queue.push(t);
      moved = true;
    }
    if (moved) this.#refillQueue();
    if (this.#overflowLive === 0 && this.#queue.size < this.maxQueue) for (const r of this.#roomWaiters.splice(0)) r();
  }

  #refillQueue(): void {
    const q = this.#queue;
    while (q.size > 0) {
      const w = this.#pick();
      if (w === undefined) break;
      const t = q.shift(this.#nowInt);
      if (t === undefined) break;
      if (!this.#place(t, w)) {
        q.unshift(t);
        this.#retrySoon();
        break;
      }
    }
  }

  /**
   * A task could not be placed (no free slot, or a ring still full of stale entries). Completions
   * normally trigger the next attempt; with nothing in flight to complete, retry on a timer.
   */
  #retrySoon(): void {
    if (this.#inflight > 0 || this.#retryTimer !== undefined || this.#destroyed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, 1);
    this.#retryTimer.unref();
  }

  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  #anyCompletions(): boolean {
    if (this.#signalled) {
      // One load per 32 workers: has any worker signalled since the last drain?
      const words = (this.threads + 31) >> 5;
      for (let k = 0; k < words; k++) {
        this.#polls++;
        if (Atomics.load(this.#i32, this.#ctl + C_SIGNAL + k) !== 0) return true;
        this.#emptyPolls++;
      }
      return false;
    }
    for (const w of this.#workers) {
      this.#polls++;
      if (w.comp!.size > 0) return true;
      this.#emptyPolls++;
    }
    return false;
  }

  /**
   * Called whenever tasks are out and the main thread may go idle. With few tasks in flight (a
   * latency-bound caller), first check again from a setImmediate — after the caller's
   * continuations have run and submitted their next tasks — spinning up to `mainSpinUs` for a
   * completion: a task that finishes in a few µs then costs no sleep/wake of the event loop
   * (~20–30 µs on the bench VM). The spin adapts: after a few fruitless spins it is tried only
   * every 16th time. Otherwise, and after a fruitless spin, sleep on the doorbell.
   */
  #awaitCompletions(): void {
    if (this.#armed || this.#idleCheckScheduled || this.#inflight === 0 || this.transport !== 'sab' || this.#destroyed) return;
    if (this.#mainSpinMs > 0 && this.#inflight <= 2 * this.threads) {
      this.#idleCheckScheduled = true;
      setImmediate(this.#idleCheck);
      return;
    }
    this.#arm();
  }

  #idleCheckScheduled = false;
  #spinScore = 0;
  #spinTries = 0;

  #idleCheck = (): void => {
    this.#idleCheckScheduled = false;
    if (this.#armed || this.#inflight === 0 || this.#destroyed) return;
    if (this.#anyCompletions()) {
      this.#pump();
      return;
    }
    if (this.#inflight <= 2 * this.threads && (this.#spinScore >= 0 || (++this.#spinTries & 15) === 0)) {
      const end = performance.now() + this.#mainSpinMs;
      do {
        spinPause(16);
        if (this.#anyCompletions()) {
          if (this.#spinScore < 8) this.#spinScore++;
          this.#pump();
          return;
        }
      } while (performance.now() < end);
      if (this.#spinScore > -4) this.#spinScore--;
    }
    this.#arm();
  };

  /** Sleeps on the doorbell (Atomics.waitAsync; never blocks) while tasks are out. */
  #arm(): void {
    if (this.#armed || this.#inflight === 0 || this.transport !== 'sab' || this.#destroyed) return;
    const i32 = this.#i32;
    // SC store, then the completion-ring loads: see the doorbell protocol in the file comment.
    Atomics.store(i32, this.#ctl + C_MAIN, MAIN_SLEEPING);
    if (this.#anyCompletions()) {
      Atomics.store(i32, this.#ctl + C_MAIN, MAIN_AWAKE);
      this.#schedulePump();
      return;
    }
    const r = Atomics.waitAsync(i32, this.#ctl + C_MAIN, MAIN_SLEEPING);
    if (!r.async) {
      this.#schedulePump();
      return;
    }
    this.#armed = true;
    this.#microPumps = 0;
    void r.value.then(this.#onDoorbell);
  }

  #onDoorbell = (): void => {
    this.#armed = false;
    Atomics.store(this.#i32, this.#ctl + C_MAIN, MAIN_AWAKE);
    this.#pump();
  };

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Completions keep arriving: pump again soon, but let the event loop turn every 16 rounds.
    if (++this.#microPumps < 16) queueMicrotask(this.#pump);
    else {
      this.#microPumps = 0;
      setImmediate(this.#pump);
    }
  }

  // ================================================================ cancellation

  #abort(task: Task): void {
    if (task.phase === PHASE_SETTLED) return;
    const reason = abortReason(task.o.signal!);
    this.#cancelled++;
    if (task.phase === PHASE_WAITING) {
      task.cancelled = true; // skipped when the waiting room reaches it
      this.#overflowLive--;
      this.#settle(task, false, reason);
      this.#failed--;
      this.#admit();
      return;
    }
    if (task.phase === PHASE_QUEUED) {
      this.#queue.remove(task);
      this.#settle(task, false, reason);
      this.#failed--;
      this.#admit();
      return;
    }
    const w = this.#workers[task.worker];
    if (this.transport === 'sab') {
      const hdr = this.#slots!.slotOffset(task.slot) >> 2;
      const queued = stateWord(S_QUEUED, 0, task.gen);
      // Races the worker's claim on one CAS: exactly one wins (see layout.ts).
      const seen = Atomics.compareExchange(this.#i32, hdr + H_STATE, queued, stateWord(S_FREE, 0, task.gen));
      if (seen === queued) {
        this.#release(task); // the entry left in the ring is now stale and will be skipped
        this.#settle(task, false, reason);
        this.#failed--;
        this.#refill();
        return;
      }
      if ((seen & STATE_MASK) === S_RUNNING) this.#cancelRunning(task, this.#workers[workerOfState(seen)]);
    } else {
      // Posted but perhaps not reached yet: the same claim race on the task's claim word. If we win,
      // the worker skips the message and the task never runs.
      const queued = 2 * task.gen;
      if (Atomics.compareExchange(this.#i32, this.#claims + task.slot, queued, CLAIM_FREE) === queued) {
        this.#release(task);
        this.#settle(task, false, reason);
        this.#failed--;
        this.#refill();
        return;
      }
      if (w !== undefined) this.#cancelRunning(task, w);
    }
    this.#settle(task, false, reason);
    this.#failed--;
  }

  /** Tells the worker to abort the task's signal; replaces the worker if the task outlives the grace period. */
  #cancelRunning(task: Task, w: WorkerHandle | undefined): void {
    const worker = w?.worker;
    if (w === undefined || worker === undefined) return;
    const id = this.transport === 'sab' ? (task.slot | (task.gen << SLOT_BITS)) : task.slot;
    const m: ToWorker = { t: 'abort', id };
    worker.postMessage(m);
    const slot = task.slot;
    const msgId = task.slot;
    const timer = setTimeout(() => {
      const still = this.transport === 'sab' ? this.#slotTask[slot] === task : this.#msgTasks[msgId] === task;
      if (still && w.worker === worker && !this.#destroyed) {
        w.killReason = `a cancelled task ignored its abort signal for ${this.#abortGraceMs} ms`;
        void worker.terminate();
      }
    }, this.#abortGraceMs);
    timer.unref();
  }

  // ================================================================ workers

  #ensureWorkers(): void {
    this.#needRespawn = false;
    let live = false;
    for (const w of this.#workers) if (w.state === 'ready' || w.state === 'starting') live = true;
    if (live) return;
    for (const w of this.#workers) if (w.state === 'failed') this.#spawn(w);
  }

  /** Worker index `i`'s reserved result slots (allocated on first use; see #reserves). */
  #reserveFor(i: number): readonly number[] {
    let r = this.#reserves[i];
    if (r !== undefined) return r;
    const slots = this.#slots;
    const out: number[] = [];
    if (slots !== undefined && this.transport === 'sab' && !this.#payloadsByMessage) {
      const tb = slots.tierBytes;
      for (let t = 1; t < tb.length; t++) {
        const s = slots.alloc(tb[t]);
        if (s < 0 || slots.capacityOf(s) !== tb[t]) {
          if (s >= 0) slots.free(s);
          out.push(-1);
          continue;
        }
        Atomics.store(this.#i32, (slots.slotOffset(s) >> 2) + H_ARG_LEN, 0); // not busy
        out.push(s);
      }
    }
    r = Object.freeze(out);
    this.#reserves[i] = r;
    return r;
  }

  #spawn(w: WorkerHandle): void {
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = {
      $parklotPoolWorker: 1,
      index: w.index,
      threads: this.threads,
      filename: this.filename,
      transport: this.transport,
      region: this.region!.handle,
      control: this.#ctl << 2,
      slots: this.#slots?.handle ?? null,
      reserve: this.#reserveFor(w.index),
      payloadsByMessage: this.#payloadsByMessage,
      rings: this.#ringOffsets,
      ringCapacity: this.#ringCapacity,
      completion: this.#compOffsets[w.index] ?? 0,
      batch: this.#fixedCap,
      stealing: this.stealing,
      idleSpinUs: this.#opts.idleSpinUs ?? 50,
      idleWait: this.#opts.idleWait ?? 'auto',
      completionPoll: this.#signalled ? 'signalled' : 'all',
      claims: this.#claims << 2,
      port: port2,
      data: this.#opts.workerData,
    };
    const wb = workerBase(this.#ctl, w.index);
    Atomics.store(this.#i32, wb + W_READY, 0);
    Atomics.store(this.#i32, wb + W_STARTED, 0);
    Atomics.store(this.#i32, wb + W_STATE, W_RUNNING);
    Atomics.store(this.#i32, wb + W_CAP, this.#fixedCap || 32);
    w.cap = this.#fixedCap || 32;
    let worker: Worker;
    try {
      worker = new Worker(RUNTIME_URL, {
        workerData: init,
        transferList: [port2],
        resourceLimits: this.#opts.resourceLimits,
      });
    } catch (e) {
      port1.close();
      w.state = 'failed';
      this.#needRespawn = true;
      w.lastError = e;
      this.#failAll(new WorkerStartError(`WorkerPool: cannot start a worker: ${(e as Error).message}`, e));
      return;
    }
    w.worker = worker;
    // Read only with receiveMessageOnPort; it must not keep the process alive.
    port1.unref();
    w.port = port1;
    w.state = 'starting';
    w.exitExpected = false;
    w.killReason = undefined;
    w.lastError = undefined;
    w.threadId = worker.threadId;
    w.sendSeq = 0;
    w.starts++;
    this.region!.watch(worker);
    worker.on('message', (m: FromWorker) => this.#onMessage(w, worker, m));
    worker.on('error', (e) => {
      if (w.worker === worker) w.lastError = e;
    });
    worker.once('exit', (code) => this.#onExit(w, worker, code));
    // After the listeners (adding a 'message' listener refs the worker's port again): an idle pool
    // must not keep the process alive; pending tasks do, through #keepAlive.
    worker.unref();
  }

  #onMessage(w: WorkerHandle, worker: Worker, m: FromWorker): void {
    if (m.t === 'done') {
      const task = this.#msgTasks[m.id];
      if (task === undefined || task.worker !== w.index) return;
      this.#release(task);
      this.#settle(task, m.ok, m.ok ? m.value : errorFromWire(m.value));
      if (this.#queue.size > 0) {
        this.#tick();
        this.#refill();
      }
    } else if (m.t === 'ready' && w.worker === worker) {
      this.#markReady(w);
    }
  }

  #markReady(w: WorkerHandle): void {
    if (w.state !== 'starting') return;
    w.state = 'ready';
    w.bootFailures = 0;
    w.bootKills = 0;
  }

  #onExit(w: WorkerHandle, worker: Worker, code: number): void {
    if (w.worker !== worker) return;
    const wb = workerBase(this.#ctl, w.index);
    const wasReady = Atomics.load(this.#i32, wb + W_READY) === 1;
    if (wasReady) this.#markReady(w);
    const expected = w.exitExpected;
    w.worker = undefined;
    if (this.#destroyed || expected) {
      w.state = 'stopped';
      w.port?.close();
      w.port = undefined;
      return;
    }
    const cause = w.lastError;
    const why = w.killReason ?? (cause instanceof Error ? cause.message : undefined);
    const err = new WorkerExitError(
      `WorkerPool worker ${w.index} exited with code ${code} while running this task${why === undefined ? '' : ` (${why})`}`,
      code, w.index, cause,
    );
    this.#tick();
    const redo = this.transport === 'sab' ? this.#recoverSab(w, err) : this.#recoverMsg(w, err);
    w.port?.close();
    w.port = undefined;
    // Before ready, only an error event means the task file failed to load (the import or its top
    // level threw, or the runtime did); a silent exit is a kill from outside (terminate(), the OS)
    // and is handled as a crash: respawn, nothing rejects. A task file that exits silently at its
    // top level would respawn forever, so more than MAX_BOOT_KILLS such exits in a row fail.
    const killedStarting = !wasReady && cause === undefined && w.bootKills < MAX_BOOT_KILLS;
    if (killedStarting) w.bootKills++;
    if (wasReady || killedStarting) {
      w.state = 'stopped';
      this.#requeue(redo, err);
      if (!this.#closing || this.#pending > 0) this.#spawn(w);
    } else {
      w.state = 'failed';
      this.#needRespawn = true;
      w.bootFailures++;
      const startErr = new WorkerStartError(
        `WorkerPool: a worker could not load the task file ${this.filename}: ${cause instanceof Error ? cause.message : `it exited ${MAX_BOOT_KILLS + 1} times in a row before loading it (exit code ${code})`}`,
        cause,
      );
      this.#requeue(redo, startErr);
      const other = this.#workers.some((x) => x.state === 'ready' || x.state === 'starting');
      if (!other) this.#failAll(startErr);
      else if (w.bootFailures < 3) this.#spawn(w);
    }
    this.#refill();
    this.#awaitCompletions();
  }

  /** Puts tasks taken back from a dead worker at the front of the queue, oldest first. */
  #requeue(tasks: Task[], err: Error): void {
    tasks.sort((a, b) => b.seq - a.seq);
    for (const t of tasks) {
      if (t.phase === PHASE_SETTLED) continue;
      if (t.o.transfer !== undefined && t.o.transfer.length > 0) {
        // Its argument was transferred to the dead worker and cannot be sent again.
        this.#settle(t, false, new WorkerExitError(`WorkerPool: the worker holding this task's transferred argument exited before starting it`, (err as WorkerExitError).exitCode ?? 1, t.worker, err));
        continue;
      }
      t.phase = PHASE_QUEUED;
      t.worker = -1;
      this.#queue.unshift(t);
    }
  }

  /** Rejects every waiting and in-flight task (no worker can start). */
  #failAll(err: Error): void {
    for (const t of this.#queue.drainAll()) this.#settle(t, false, err);
  }

  #recoverSab(dead: WorkerHandle, err: WorkerExitError): Task[] {
    const i32 = this.#i32;
    const slots = this.#slots!;
    const redo: Task[] = [];
    this.#drain(true);
    // 1. Entries the dead worker never took: take them back (we are just another consumer).
    const buf = new Int32Array(256);
    for (;;) {
      const n = dead.ring!.take(buf, buf.length);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const slot = buf[i] & SLOT_MASK;
        const gen = (buf[i] >>> SLOT_BITS) & GEN_MASK;
        const t = this.#slotTask[slot];
        if (t === undefined || t.gen !== gen) continue;
        const hdr = slots.slotOffset(slot) >> 2;
        const queued = stateWord(S_QUEUED, 0, gen);
        if (Atomics.compareExchange(i32, hdr + H_STATE, queued, stateWord(S_FREE, 0, gen)) === queued) {
          this.#release(t);
          redo.push(t);
        }
      }
    }
    // 2. Every task still out: its state word decides.
    const inRings = new Set<number>();
    const tmp: number[] = [];
    for (const w of this.#workers) if (w !== dead) w.ring!.peekAll(tmp);
    for (const e of tmp) inRings.add(e);
    for (let slot = 0; slot < this.#slotTask.length; slot++) {
      const t = this.#slotTask[slot];
      if (t === undefined) continue;
      const hdr = slots.slotOffset(slot) >> 2;
      const st = Atomics.load(i32, hdr + H_STATE);
      const kind = st & STATE_MASK;
      if (kind === S_DONE) {
        this.#completeEntry(slot | (t.gen << SLOT_BITS));
      } else if (kind === S_RUNNING) {
        if (workerOfState(st) !== dead.index) continue;
        this.#release(t);
        this.#settle(t, false, err);
      } else if (kind === S_QUEUED) {
        if (!this.stealing && t.worker !== dead.index) continue;
        if (inRings.has(slot | (t.gen << SLOT_BITS))) continue;
        const queued = stateWord(S_QUEUED, 0, t.gen);
        if (Atomics.compareExchange(i32, hdr + H_STATE, queued, stateWord(S_FREE, 0, t.gen)) === queued) {
          this.#release(t);
          redo.push(t);
        }
      }
    }
    const wb = workerBase(this.#ctl, dead.index);
    Atomics.store(i32, wb + W_STATE, W_RUNNING);
    return redo;
  }

  #recoverMsg(dead: WorkerHandle, err: WorkerExitError): Task[] {
    const redo: Task[] = [];
    for (const t of this.#msgTasks) {
      if (t === undefined || t.worker !== dead.index) continue;
      // The claim word decides (the worker is gone, so it cannot change any more): RUNNING → it
      // started; QUEUED → it never did, so it runs elsewhere (taking the word back to FREE).
      const queued = 2 * t.gen;
      const wasStarted = Atomics.compareExchange(this.#i32, this.#claims + t.slot, queued, CLAIM_FREE) !== queued;
      this.#release(t);
      if (wasStarted) this.#settle(t, false, err);
      else redo.push(t);
    }
    return redo;
  }

  async #stopWorkers(): Promise<void> {
    const i32 = this.#i32;
    Atomics.store(i32, this.#ctl + C_SHUTDOWN, 1);
    const waits: Promise<unknown>[] = [];
    for (const w of this.#workers) {
      const worker = w.worker;
      if (worker === undefined) {
        w.state = 'stopped';
        continue;
      }
      w.exitExpected = true;
      this.#wakeNow(w);
      waits.push(worker.terminate());
    }
    // Release a pending doorbell wait.
    Atomics.store(i32, this.#ctl + C_MAIN, MAIN_AWAKE);
    Atomics.notify(i32, this.#ctl + C_MAIN);
    clearInterval(this.#keepAlive);
    await Promise.all(waits);
    for (const w of this.#workers) {
      w.port?.close();
      w.port = undefined;
      w.state = 'stopped';
    }
  }
}
