/**
 * SabLoop: a pool worker's loop on the shared-memory transport ('sab'). Constructed from the
 * worker's settings, the pool's region and its payload port, so a test can build one in its own
 * thread over its own SharedArrayBuffer and drive it turn by turn (`turn()`); the worker's bootstrap
 * (worker-runtime.ts) builds one and calls `run()`. Running a single entry is SabTaskRunner's
 * (sab-tasks.ts).
 *
 *   turn:  take up to `cap` entries from the own submission ring (natural batching: only what is
 *          already there, never waiting to fill a batch; with stealing, one entry at a time so the
 *          rest stays stealable, then half of the busiest other ring once the own ring is empty),
 *          and run each. After a turn (and every ~100 µs inside a long one, and after async
 *          completions) the finished entries are pushed onto the completion ring in one batch.
 *   cap:   fixed (`batch` option), or adaptive: doubled (up to 256) after a full turn shorter than
 *          half of TARGET_TURN_MS, halved after a turn longer than it; published in W_CAP, from
 *          which the main thread sizes this worker's window.
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
 * Run-state word: W_RUNNING ⇄ W_PARKED. The worker stores PARKED and, unless it sleeps, takes it
 * back with a CAS; the main thread wakes it with a CAS PARKED → RUNNING (counting a wake) and a
 * notify. W_PARKS counts parks, including an announcement the main thread answered before the
 * worker took it back, so `wakes ≤ parks` always holds in the stats.
 *
 * Async task functions: the returned promise completes the task when it settles; the loop keeps
 * taking tasks meanwhile (yielding to microtasks after each turn, and to the event loop every
 * ~2 ms of continuous work, so timers, I/O and abort messages are served).
 */

import { C_SHUTDOWN, W_BATCHES, W_BUSY_HI, W_BUSY_LO, W_CAP, W_COMPLETED, W_PARKED, W_PARKS, W_RUNNING, W_STATE, W_STOLEN, workerBase } from '../layout.ts';
import { TaskRing } from '../task-ring.ts';
import { pause, SabTaskRunner, type SabLoopOptions } from './sab-tasks.ts';

export type { SabLoopInit, SabLoopOptions } from './sab-tasks.ts';

/** Adaptive batching: aim for turns of about this long (long enough to amortize the per-turn costs, short enough to keep latency and stealing responsive). */
const TARGET_TURN_MS = 0.1;
const ADAPTIVE_START = 32;
const ADAPTIVE_MAX = 256;
/** Yield to the event loop after this much continuous work. */
const YIELD_MS = 2;
/** Inside a long turn, wake a sleeping main thread at least this often. */
const RING_EVERY_MS = 0.1;

export class SabLoop {
  readonly #i32: Int32Array;
  readonly #me: number;
  readonly #ctl: number;
  readonly #wb: number;
  readonly #tasks: SabTaskRunner;
  readonly #ownRing: TaskRing;
  readonly #rings: TaskRing[];
  readonly #fixedCap: number;
  #cap: number;
  readonly #taken: Int32Array;
  readonly #stealBuf: Int32Array;
  #stealN = 0;
  #stealPos = 0;
  readonly #stealing: boolean;
  readonly #spinMs: number;
  readonly #idleWait: 'auto' | 'async' | 'sync';
  readonly #onShutdown: (() => void) | undefined;
  #stolen = 0;
  #batches = 0;
  #busyMs = 0;
  /** 'sync' idle wait: whether the event loop has turned since the last park (see #loop). */
  #turnedSinceWake = false;
  /** MessagePort handles this thread had when the loop was made (the runtime's own; see #onlyOwnHandles). */
  readonly #baseHandles: number;

  constructor(o: SabLoopOptions) {
    const init = o.init;
    const i32 = o.region.i32;
    this.#i32 = i32;
    this.#me = init.index;
    this.#ctl = init.control >> 2;
    this.#wb = workerBase(this.#ctl, init.index);
    this.#tasks = new SabTaskRunner(o);
    this.#ownRing = new TaskRing(i32, init.rings[this.#me] >> 2, init.ringCapacity, false);
    this.#rings = init.rings.map((off, w) => (w === this.#me ? this.#ownRing : new TaskRing(i32, off >> 2, init.ringCapacity, false)));
    this.#fixedCap = init.batch;
    this.#cap = this.#fixedCap > 0 ? this.#fixedCap : ADAPTIVE_START;
    this.#taken = new Int32Array(Math.max(ADAPTIVE_MAX, this.#fixedCap, 1));
    this.#stealBuf = new Int32Array(Math.max(ADAPTIVE_MAX, this.#fixedCap, 1));
    this.#stealing = init.stealing;
    this.#spinMs = init.idleSpinUs / 1000;
    this.#idleWait = init.idleWait;
    this.#onShutdown = o.onShutdown;
    Atomics.store(i32, this.#wb + W_CAP, this.#cap);
    let base = 0;
    for (const r of process.getActiveResourcesInfo()) if (r === 'MessagePort') base++;
    this.#baseHandles = base;
  }

  /** Runs the loop until the pool shuts down (returns at once; it continues from the event loop). */
  run(): void {
    this.#loop();
  }

  #publishStats(): void {
    // Written only by this worker; the main thread reads them for `stats` (no data is published through them).
    const i32 = this.#i32;
    const wb = this.#wb;
    Atomics.store(i32, wb + W_COMPLETED, this.#tasks.completed | 0);
    Atomics.store(i32, wb + W_STOLEN, this.#stolen | 0);
    Atomics.store(i32, wb + W_BATCHES, this.#batches | 0);
    const us = Math.floor(this.#busyMs * 1000);
    Atomics.store(i32, wb + W_BUSY_HI, Math.floor(us / 2 ** 30));
    Atomics.store(i32, wb + W_BUSY_LO, us % 2 ** 30);
  }

  /**
   * Counts a turn that took entries, before running them: a completion flushed inside the turn may
   * settle the caller's last task before the turn ends, and the stats must already include the turn.
   */
  #countTurn(): void {
    Atomics.store(this.#i32, this.#wb + W_BATCHES, ++this.#batches | 0);
  }

  /** Next entry in stealing mode: own ring first, then leftovers of the last steal, then a new steal. */
  #nextStealing(): number {
    if (this.#stealPos < this.#stealN) return this.#stealBuf[this.#stealPos++];
    if (this.#ownRing.take(this.#taken, 1) === 1) return this.#taken[0];
    // Steal half of the ring with the most entries.
    const rings = this.#rings;
    let best = -1;
    let bestN = 0;
    for (let w = 0; w < rings.length; w++) {
      if (w === this.#me) continue;
      const n = rings[w].size;
      if (n > bestN) {
        bestN = n;
        best = w;
      }
    }
    if (best < 0) return -1;
    this.#stealN = rings[best].steal(this.#stealBuf, this.#stealBuf.length);
    this.#stealPos = 0;
    if (this.#stealN === 0) return -1;
    this.#stolen += this.#stealN;
    // Statistics only, stored now for the same reason as #countTurn.
    Atomics.store(this.#i32, this.#wb + W_STOLEN, this.#stolen | 0);
    return this.#stealBuf[this.#stealPos++];
  }

  /** One turn: runs up to `cap` tasks. Returns how many entries it took. */
  turn(): number {
    const tasks = this.#tasks;
    const cap = this.#cap;
    const t0 = performance.now();
    let n = 0;
    let lastRing = t0;
    if (!this.#stealing) {
      n = this.#ownRing.take(this.#taken, cap);
      if (n > 0) this.#countTurn();
      for (let j = 0; j < n; j++) {
        tasks.runEntry(this.#taken[j]);
        // Clock check every 8 tasks, or every task when batches are small (long tasks).
        if (tasks.hasDone && (cap <= 8 || (j & 7) === 7)) {
          const t = performance.now();
          if (t - lastRing > RING_EVERY_MS) {
            tasks.flushDone();
            lastRing = t;
          }
        }
      }
    } else {
      for (; n < cap; n++) {
        const e = this.#nextStealing();
        if (e < 0) break;
        if (n === 0) this.#countTurn();
        tasks.runEntry(e);
        if (tasks.hasDone && (cap <= 8 || (n & 7) === 7)) {
          const t = performance.now();
          if (t - lastRing > RING_EVERY_MS) {
            tasks.flushDone();
            lastRing = t;
          }
        }
      }
    }
    if (n === 0) return 0;
    const t1 = performance.now();
    const d = t1 - t0;
    this.#busyMs += d;
    if (this.#fixedCap === 0) {
      let c = cap;
      if (n >= cap && d < TARGET_TURN_MS / 2 && c < ADAPTIVE_MAX) c = Math.min(ADAPTIVE_MAX, c * 2);
      else if (d > TARGET_TURN_MS && c > 1) c = Math.max(1, c >> 1);
      if (c !== cap) {
        this.#cap = c;
        Atomics.store(this.#i32, this.#wb + W_CAP, c); // read by the main thread to size this worker's window
      }
    }
    this.#publishStats();
    if (tasks.hasDone) tasks.flushDone();
    return n;
  }

  #hasWork(): boolean {
    if (this.#ownRing.size > 0 || this.#stealPos < this.#stealN) return true;
    if (this.#stealing) for (let w = 0; w < this.#rings.length; w++) if (w !== this.#me && this.#rings[w].size > 0) return true;
    return false;
  }

  #shutdown(): void {
    this.#tasks.close();
    this.#onShutdown?.();
  }

  readonly #loop = (): void => {
    const i32 = this.#i32;
    const ctl = this.#ctl;
    const wb = this.#wb;
    const tasks = this.#tasks;
    const yieldAt = performance.now() + YIELD_MS;
    for (;;) {
      if (Atomics.load(i32, ctl + C_SHUTDOWN) !== 0) return this.#shutdown();
      const n = this.turn();
      if (n > 0) {
        if (tasks.inflightAsync > 0) {
          // Let settled task promises run their continuations (they complete tasks) before the next turn.
          queueMicrotask(this.#loop);
          return;
        }
        if (performance.now() > yieldAt) {
          setImmediate(this.#loop);
          return;
        }
        continue;
      }
      // Idle: announce what is done (async completions may be queued here), spin briefly, then park.
      if (tasks.hasDone) tasks.flushDone();
      if (tasks.inflightAsync === 0 && this.#spinMs > 0) {
        const until = performance.now() + this.#spinMs;
        let found = false;
        do {
          pause(32);
          if (this.#hasWork()) {
            found = true;
            break;
          }
        } while (performance.now() < until);
        if (found) continue;
      }
      const idleWait = this.#idleWait;
      const canBlock = tasks.inflightAsync === 0 && (idleWait === 'sync' || (idleWait === 'auto' && this.#onlyOwnHandles()));
      // SC store, then the ring loads in #hasWork(): see the file comment (no lost wake-up).
      Atomics.store(i32, wb + W_STATE, W_PARKED);
      if (this.#hasWork() || Atomics.load(i32, ctl + C_SHUTDOWN) !== 0) {
        this.#unpark();
        continue;
      }
      if (canBlock && idleWait === 'sync' && !this.#turnedSinceWake) {
        // Before blocking, let the event loop turn once, so timers and I/O a task left behind run
        // at task boundaries at least (they cannot run while we block).
        this.#unpark();
        this.#turnedSinceWake = true;
        setImmediate(this.#loop);
        return;
      }
      Atomics.add(i32, wb + W_PARKS, 1); // statistics only
      this.#turnedSinceWake = false;
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
        this.#loop();
      });
      return;
    }
  };

  /**
   * Takes back a PARKED announcement without sleeping. If the main thread already saw PARKED and
   * woke us (its CAS moved the state to RUNNING and counted a wake), the announcement counts as a
   * park too, so the statistics keep wakes ≤ parks.
   */
  #unpark(): void {
    if (Atomics.compareExchange(this.#i32, this.#wb + W_STATE, W_PARKED, W_RUNNING) !== W_PARKED) Atomics.add(this.#i32, this.#wb + W_PARKS, 1);
  }

  /** True when the event loop holds nothing but the runtime's own ports (so blocking delays nothing). */
  #onlyOwnHandles(): boolean {
    const res = process.getActiveResourcesInfo();
    if (res.length > this.#baseHandles) return false;
    for (const r of res) if (r !== 'MessagePort') return false;
    return true;
  }
}
