/**
 * PoolState: everything the main-thread modules of one WorkerPool share (the public class keeps
 * none of it in private fields, so scheduler, completions, transports, lifecycle and recovery can
 * all reach it), plus the few small operations all of them use: the clock, accepting a task,
 * a worker's batch cap and window, picking the least-loaded worker, releasing a task's slot and
 * waking a parked worker. Internal: not exported from the package.
 *
 * Counters: `pending` counts accepted, unsettled tasks (queued, waiting room and in flight; the
 * keep-alive timer is ref'ed while it is above 0); `inflight` counts dispatched tasks holding a slot
 * or message id (each also counted in its worker's `outstanding`).
 */

import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { SharedRegion } from '../../parking/region.ts';
import { C_THREADS, controlBytes, W_PARKED, W_RUNNING, W_STATE, workerBase } from '../layout.ts';
import { Fifo, TaskQueue } from '../task-queue.ts';
import type { PoolConfig } from './options.ts';
import type { Task, WorkerHandle } from './task.ts';
import type { TransportStrategy } from './transport.ts';

const noop = (): void => {};
const KEEPALIVE_MS = 1 << 30;

export class PoolState {
  readonly cfg: PoolConfig;
  readonly region: SharedRegion;
  readonly i32: Int32Array;
  /** Int32 index of the control block (layout.ts). */
  readonly ctl: number;
  readonly workers: WorkerHandle[] = [];
  readonly queue: TaskQueue<Task>;
  /** Set by WorkerPool's constructor right after this state is made (the transport needs the state). */
  transport!: TransportStrategy;
  /** Export names by id (id 0 = the default export) and their UTF-8 bytes. */
  readonly names = new Map<string, number>();
  readonly nameBytes: Buffer[] = [Buffer.alloc(0)];
  readonly latency: RecordableHistogram = createHistogram();
  /** Submission time of the sampled tasks (1 in 16). */
  readonly samples = new Map<Task, number>();
  /** A never-firing timer, ref'ed while tasks are pending, so they keep the process alive. */
  readonly keepAlive: ReturnType<typeof setInterval>;
  readonly idleWaiters: (() => void)[] = [];
  /** maxQueueMode 'wait': accepted tasks waiting for room in the queue (FIFO; cancelled ones skipped). */
  readonly overflow = new Fifo<Task>();
  overflowLive = 0;
  readonly roomWaiters: (() => void)[] = [];
  polls = 0;
  emptyPolls = 0;
  preempted = 0;
  /** Lowest priority among tasks dispatched since the pool last had nothing in flight (gates preemption). */
  lowestOut = Infinity;

  seq = 0;
  now = 0;
  /** now as whole ms since the pool was created (a small integer for Task.enqueuedAt). */
  nowInt = 0;
  readonly epoch = performance.now();
  needRespawn = false;
  pending = 0;
  inflight = 0;
  completed = 0;
  failed = 0;
  cancelled = 0;
  payloadMessages = 0;
  sinceDrain = 0;
  closing = false;
  destroyed = false;

  constructor(cfg: PoolConfig, region: SharedRegion) {
    this.cfg = cfg;
    this.region = region;
    this.i32 = region.i32;
    this.ctl = region.alloc('WorkerPool', controlBytes(cfg.threads), 128) >> 2;
    Atomics.store(this.i32, this.ctl + C_THREADS, cfg.threads);
    this.queue = new TaskQueue<Task>(cfg.agingMs);
    this.keepAlive = setInterval(noop, KEEPALIVE_MS);
    this.keepAlive.unref();
  }

  tick(): void {
    this.now = performance.now();
    this.nowInt = Math.floor(this.now - this.epoch);
  }

  accept(): void {
    if (this.pending++ === 0) this.keepAlive.ref();
  }

  capOf(w: WorkerHandle): number {
    return this.cfg.fixedCap !== 0 ? this.cfg.fixedCap : w.cap;
  }

  /**
   * Tasks a worker may have outstanding: one batch running and one waiting (2 × cap), so it never
   * runs dry while the main thread refills. A fixed batch of 1 means exactly one (no batching);
   * adaptive mode keeps at least 4 so short-but-not-trivial tasks (cap 1–2) still hide the main
   * thread's response time.
   */
  window(w: WorkerHandle): number {
    const cap = this.capOf(w);
    if (this.cfg.fixedCap !== 0) return cap === 1 ? 1 : 2 * cap;
    return cap < 2 ? 4 : 2 * cap;
  }

  /** The worker with the fewest outstanding tasks that has room in its window, if any. */
  pick(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    let bestN = Infinity;
    for (const w of this.workers) {
      if (w.state !== 'ready' && w.state !== 'starting') continue;
      const n = w.outstanding;
      if (n < bestN && n < this.window(w)) {
        best = w;
        bestN = n;
      }
    }
    return best;
  }

  /** Tasks that could be dispatched right now without queueing (an estimate for runBatch's maxQueue check). */
  room(): number {
    let n = 0;
    for (const w of this.workers) if (w.state === 'ready' || w.state === 'starting') n += Math.max(0, this.window(w) - w.outstanding);
    return n;
  }

  /** Frees the task's slot (or message id) and its worker's window place. */
  release(task: Task): void {
    const slot = task.slot;
    if (slot < 0) return;
    task.slot = -1;
    this.transport.free(slot);
    const w = this.workers[task.worker];
    if (w !== undefined) w.outstanding--;
    if (--this.inflight === 0) this.lowestOut = Infinity;
  }

  /** Wakes worker `w` now if it is parked on its run-state word (counted in its `wakes`). */
  wakeNow(w: WorkerHandle): void {
    w.wakeSoon = false;
    const s = workerBase(this.ctl, w.index) + W_STATE;
    if (Atomics.load(this.i32, s) === W_PARKED && Atomics.compareExchange(this.i32, s, W_PARKED, W_RUNNING) === W_PARKED) {
      w.wakes++;
      Atomics.notify(this.i32, s, 1);
    }
  }
}
