/**
 * Worker lifecycle: starting a worker for a slot, its messages, its exit, replacing it, and
 * stopping all of them.
 *
 * Worker slot states: 'starting' (spawned, task file not loaded yet) → 'ready' (it stored W_READY
 * and posted 'ready') → 'stopped' (exited; replaced at once unless the pool is closing with nothing
 * pending) or 'failed' (could not load the task file; respawned on the next `run`, see
 * ensureWorkers). A replacement takes over the slot's index, rings and reserved slots.
 *
 * Exits: an exit the pool asked for (close, destroy) only marks the slot stopped. Any other exit is
 * a crash: recovery.ts settles or requeues the dead worker's tasks, then the slot is respawned.
 * Before ready, a worker that reported an error (an 'error' event: the task file's import or top
 * level threw) is a start failure: its tasks move to other workers, and when no worker can start,
 * every waiting task is rejected with WorkerStartError (after 3 failures in a row a slot is left
 * failed). A worker that exits before ready without an error was killed from outside (terminate(),
 * the OS) while starting: it is replaced like a crashed one and nothing rejects — up to
 * MAX_BOOT_KILLS such exits in a row, so a task file that exits at its top level still fails.
 */

import { MessageChannel, Worker } from 'node:worker_threads';
import { errorFromWire } from '../codec.ts';
import { WorkerStartError } from '../errors.ts';
import { C_MAIN, C_SHUTDOWN, MAIN_AWAKE, W_CAP, W_READY, W_RUNNING, W_STARTED, W_STATE, workerBase } from '../layout.ts';
import type { FromWorker, WorkerInit } from '../protocol.ts';
import type { Completions } from './completions.ts';
import type { Recovery } from './recovery.ts';
import type { Scheduler } from './scheduler.ts';
import type { PoolState } from './state.ts';
import type { WorkerHandle } from './task.ts';

/** Consecutive silent exits of a starting worker that are taken for kills, not load failures (#onExit). */
const MAX_BOOT_KILLS = 16;

/** The worker entry script (its bootstrap loads the task file and starts the worker's loop). */
const RUNTIME_URL = new URL(import.meta.url.endsWith('.ts') ? '../worker-runtime.ts' : '../worker-runtime.js', import.meta.url);

export class Lifecycle {
  readonly #s: PoolState;
  readonly #c: Completions;
  readonly #sched: Scheduler;
  readonly #rec: Recovery;

  constructor(s: PoolState, c: Completions, sched: Scheduler, rec: Recovery) {
    this.#s = s;
    this.#c = c;
    this.#sched = sched;
    this.#rec = rec;
  }

  /** Respawns failed slots if no worker is ready or starting (called by `run` after a start failure). */
  ensureWorkers(): void {
    const s = this.#s;
    s.needRespawn = false;
    let live = false;
    for (const w of s.workers) if (w.state === 'ready' || w.state === 'starting') live = true;
    if (live) return;
    for (const w of s.workers) if (w.state === 'failed') this.spawn(w);
  }

  spawn(w: WorkerHandle): void {
    const s = this.#s;
    const cfg = s.cfg;
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = {
      $parklotPoolWorker: 1,
      index: w.index,
      threads: cfg.threads,
      filename: cfg.filename,
      transport: cfg.transport,
      region: s.region.handle,
      control: s.ctl << 2,
      ...s.transport.workerInit(w.index),
      batch: cfg.fixedCap,
      stealing: cfg.stealing,
      idleSpinUs: cfg.idleSpinUs,
      idleWait: cfg.idleWait,
      completionPoll: cfg.signalled ? 'signalled' : 'all',
      port: port2,
      data: cfg.opts.workerData,
    };
    const wb = workerBase(s.ctl, w.index);
    Atomics.store(s.i32, wb + W_READY, 0);
    Atomics.store(s.i32, wb + W_STARTED, 0);
    Atomics.store(s.i32, wb + W_STATE, W_RUNNING);
    Atomics.store(s.i32, wb + W_CAP, cfg.fixedCap || 32);
    w.cap = cfg.fixedCap || 32;
    let worker: Worker;
    try {
      worker = new Worker(RUNTIME_URL, {
        workerData: init,
        transferList: [port2],
        resourceLimits: cfg.opts.resourceLimits,
      });
    } catch (e) {
      port1.close();
      w.state = 'failed';
      s.needRespawn = true;
      w.lastError = e;
      this.#rec.failAll(new WorkerStartError(`WorkerPool: cannot start a worker: ${(e as Error).message}`, e));
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
    w.starts++;
    s.region.watch(worker);
    worker.on('message', (m: FromWorker) => this.#onMessage(w, worker, m));
    worker.on('error', (e) => {
      if (w.worker === worker) w.lastError = e;
    });
    worker.once('exit', (code) => this.#onExit(w, worker, code));
    // After the listeners (adding a 'message' listener refs the worker's port again): an idle pool
    // must not keep the process alive; pending tasks do, through the keep-alive timer.
    worker.unref();
  }

  #onMessage(w: WorkerHandle, worker: Worker, m: FromWorker): void {
    const s = this.#s;
    if (m.t === 'done') {
      // A result on the message transport (m.id is the task id).
      const task = s.transport.taskAt(m.id);
      if (task === undefined || task.worker !== w.index) return;
      s.release(task);
      this.#c.settle(task, m.ok, m.ok ? m.value : errorFromWire(m.value));
      if (s.queue.size > 0) {
        s.tick();
        this.#sched.refill();
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
    const s = this.#s;
    const wb = workerBase(s.ctl, w.index);
    const wasReady = Atomics.load(s.i32, wb + W_READY) === 1;
    if (wasReady) this.#markReady(w);
    const expected = w.exitExpected;
    w.worker = undefined;
    if (s.destroyed || expected) {
      w.state = 'stopped';
      w.port?.close();
      w.port = undefined;
      return;
    }
    const cause = w.lastError;
    const { err, redo } = this.#rec.collect(w, code);
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
      this.#rec.requeue(redo, err);
      if (!s.closing || s.pending > 0) this.spawn(w);
    } else {
      w.state = 'failed';
      s.needRespawn = true;
      w.bootFailures++;
      const startErr = new WorkerStartError(
        `WorkerPool: a worker could not load the task file ${s.cfg.filename}: ${cause instanceof Error ? cause.message : `it exited ${MAX_BOOT_KILLS + 1} times in a row before loading it (exit code ${code})`}`,
        cause,
      );
      this.#rec.requeue(redo, startErr);
      const other = s.workers.some((x) => x.state === 'ready' || x.state === 'starting');
      if (!other) this.#rec.failAll(startErr);
      else if (w.bootFailures < 3) this.spawn(w);
    }
    this.#sched.refill();
    this.#c.awaitCompletions();
  }

  /** Sets the shutdown word, wakes and terminates every worker, and waits for them to exit. */
  async stopWorkers(): Promise<void> {
    const s = this.#s;
    const i32 = s.i32;
    Atomics.store(i32, s.ctl + C_SHUTDOWN, 1);
    const waits: Promise<unknown>[] = [];
    for (const w of s.workers) {
      const worker = w.worker;
      if (worker === undefined) {
        w.state = 'stopped';
        continue;
      }
      w.exitExpected = true;
      s.wakeNow(w);
      waits.push(worker.terminate());
    }
    // Release a pending doorbell wait.
    Atomics.store(i32, s.ctl + C_MAIN, MAIN_AWAKE);
    Atomics.notify(i32, s.ctl + C_MAIN);
    clearInterval(s.keepAlive);
    await Promise.all(waits);
    for (const w of s.workers) {
      w.port?.close();
      w.port = undefined;
      w.state = 'stopped';
    }
  }
}
