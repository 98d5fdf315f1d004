/**
 * Shared-memory transport ('sab', the default), main-thread side.
 *
 * Placing: a task's argument is written into a FuturePool slot (codec.ts), its state word set to
 * QUEUED(gen) and its entry (slot | gen) pushed onto the chosen worker's submission TaskRing. No
 * message per task; the worker is woken only if its run-state word says PARKED, and while fewer
 * than a batch wait for it the wake is deferred to the end of the current synchronous stretch.
 * Arguments too large for the largest tier, that the codec cannot write, or with a transfer list
 * travel by message on the worker's payload port (posted before the entry is pushed); the task is
 * otherwise the same.
 *
 * Completions: workers push finished entries onto their completion SpscQueue; `drain` pops them
 * from every ring (completionPoll 'all'), or only from the rings whose workers set their bit in the
 * C_SIGNAL bitmap ('signalled'; a bit taken with an exchange covers every push made before it was
 * set), reads each result (from the slot, the worker's reserved slot, or a payload message) and
 * settles the task.
 *
 * Recovery (a worker exited): first drain all completion rings, then take every entry left in the
 * dead worker's submission ring (the ring allows several consumers), then examine every task in
 * flight through its state word, the single source of truth:
 *   DONE                       → completed normally (the result is in the slot);
 *   RUNNING by the dead worker → rejected with WorkerExitError carrying the exit code;
 *   QUEUED and in no live ring → taken by the dead worker but never claimed: the main thread CASes
 *                                QUEUED(g) → FREE and re-dispatches it (a live worker's late claim
 *                                of the old entry fails on that CAS, so it cannot run twice).
 * Cancelling and preempting a task that was handed out but not claimed use the same CAS.
 *
 * State: per slot, the task holding it (`slotTask`) and the generation of its current use
 * (`slotGen`, 15 bits, bumped on every placement, so an entry left in a ring from an earlier use
 * is stale and skipped).
 */

import { receiveMessageOnPort, type TransferListItem } from 'node:worker_threads';
import { SharedRegion } from '../../parking/region.ts';
import { SpscQueue } from '../../task-list/spsc-queue.ts';
import { Codec, errorFromWire, NO_ROOM, NotSerializableError } from '../codec.ts';
import type { WorkerExitError } from '../errors.ts';
import { DEFAULT_TIERS, FuturePool } from '../future-pool.ts';
import {
  C_SIGNAL, controlBytes, GEN_MASK, H_ARG_LEN, H_ARG_TAG, H_NAME, H_NAME_LEN, H_RES_KIND, H_RES_LEN, H_RES_TAG, H_STATE,
  HEADER_BYTES, PAYLOAD_MESSAGE, PAYLOAD_OTHER_SLOT, R_OK, S_DONE, S_FREE, S_QUEUED, S_RUNNING, SLOT_BITS, SLOT_MASK,
  STATE_MASK, stateWord, W_CAP, W_PARKED, W_RUNNING, W_STATE, workerBase, workerOfState,
} from '../layout.ts';
import type { PayloadMessage } from '../protocol.ts';
import { TaskRing, taskRingBytes } from '../task-ring.ts';
import type { Completions } from './completions.ts';
import { pow2AtLeast, type PoolConfig } from './options.ts';
import type { PoolState } from './state.ts';
import { PHASE_DISPATCHED, type Task, type WorkerHandle } from './task.ts';
import { WITHDRAWN, type TransportInit, type TransportStrategy } from './transport.ts';

/** A completion ring holds every slot's entry at once, so a worker never waits for room. */
function completionCapacity(cfg: PoolConfig): number {
  const totalSlots = (cfg.tiers ?? DEFAULT_TIERS).reduce((a, t) => a + (t?.count ?? 0), 0);
  return pow2AtLeast(Math.max(64, totalSlots + 1));
}

export class SabTransport implements TransportStrategy {
  readonly kind = 'sab';
  readonly #s: PoolState;
  readonly #c: Completions;
  readonly #slots: FuturePool;
  readonly #codec: Codec;
  readonly #u8: Buffer;
  readonly #slotTask: (Task | undefined)[];
  readonly #slotGen: Int16Array;
  readonly #ringOffsets: number[] = [];
  readonly #compOffsets: number[] = [];
  /** Main-thread views of each worker's submission and completion rings, by worker index. */
  readonly #rings: TaskRing[] = [];
  readonly #comps: SpscQueue[] = [];
  readonly #drainBuf = new Int32Array(256);
  #preemptBuf: Int32Array | undefined;
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
  #wakeScheduled = false;

  /** The shared region of a sab pool: slots, control block, and each worker's two rings. */
  static createRegion(cfg: PoolConfig): SharedRegion {
    const slotBytes = FuturePool.regionBytes(cfg.tiers);
    const perWorker = taskRingBytes(cfg.ringCapacity) + 256 + (128 + completionCapacity(cfg)) * 4 + 256;
    return SharedRegion.create({ bytes: slotBytes + controlBytes(cfg.threads) + cfg.threads * perWorker + 8192, waiters: 64, buckets: 16, threads: 64 });
  }

  constructor(s: PoolState, c: Completions) {
    this.#s = s;
    this.#c = c;
    const { region, i32, cfg } = s;
    const slots = FuturePool.create({ region, tiers: cfg.tiers, cache: cfg.cache });
    this.#slots = slots;
    const compCapacity = completionCapacity(cfg);
    for (let w = 0; w < cfg.threads; w++) {
      const ringOff = region.alloc('Raw', taskRingBytes(cfg.ringCapacity), 128);
      new TaskRing(i32, ringOff >> 2, cfg.ringCapacity, true);
      this.#ringOffsets.push(ringOff);
      const comp = new SpscQueue({ region, capacity: compCapacity });
      this.#compOffsets.push(comp.offset);
    }
    this.#codec = new Codec(region.buffer);
    this.#u8 = Buffer.from(region.buffer);
    this.#slotTask = Array.from({ length: slots.slotCount }, () => undefined);
    this.#slotGen = new Int16Array(slots.slotCount);
    for (let w = 0; w < cfg.threads; w++) {
      this.#rings.push(new TaskRing(i32, this.#ringOffsets[w] >> 2, cfg.ringCapacity, false));
      this.#comps.push(SpscQueue.from(region.handleFor('SpscQueue', this.#compOffsets[w])));
    }
  }

  workerInit(index: number): TransportInit {
    return {
      slots: this.#slots.handle,
      reserve: this.#reserveFor(index),
      payloadsByMessage: this.#s.cfg.payloadsByMessage,
      rings: this.#ringOffsets,
      ringCapacity: this.#s.cfg.ringCapacity,
      completion: this.#compOffsets[index] ?? 0,
      claims: 0,
    };
  }

  /** Worker index `i`'s reserved result slots (allocated on first use; see #reserves). */
  #reserveFor(i: number): readonly number[] {
    let r = this.#reserves[i];
    if (r !== undefined) return r;
    const slots = this.#slots;
    const out: number[] = [];
    if (!this.#s.cfg.payloadsByMessage) {
      const tb = slots.tierBytes;
      for (let t = 1; t < tb.length; t++) {
        const s = slots.alloc(tb[t]);
        if (s < 0 || slots.capacityOf(s) !== tb[t]) {
          if (s >= 0) slots.free(s);
          out.push(-1);
          continue;
        }
        Atomics.store(this.#s.i32, (slots.slotOffset(s) >> 2) + H_ARG_LEN, 0); // not busy
        out.push(s);
      }
    }
    r = Object.freeze(out);
    this.#reserves[i] = r;
    return r;
  }

  place(task: Task, w: WorkerHandle): boolean {
    const s = this.#s;
    const slots = this.#slots;
    const codec = this.#codec;
    const ring = this.#rings[w.index];
    const o = task.o;
    let nameLen = o.nameId === 0 ? 0 : s.nameBytes[o.nameId].length;
    const nameRoom = (nameLen + 7) & ~7;
    const arg = task.arg;
    let viaMessage = s.cfg.payloadsByMessage || o.transfer !== undefined;
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
          this.#c.settle(task, false, e);
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
    const i32 = s.i32;
    if (viaMessage) {
      try {
        const m: PayloadMessage = o.nameId === 0 ? { e: entry, v: arg } : { e: entry, v: arg, n: o.name };
        w.port!.postMessage(m, o.transfer as TransferListItem[] | undefined);
        s.payloadMessages++;
      } catch (e) {
        slots.free(slot);
        this.#c.settle(task, false, new TypeError(`WorkerPool.run: the task argument could not be cloned: ${(e as Error).message}`, { cause: e }));
        return true;
      }
    }
    // Plain writes into the slot we own; published by the QUEUED store below.
    i32[hdr + H_NAME] = o.nameId;
    i32[hdr + H_NAME_LEN] = nameLen;
    if (nameLen > 0) this.#u8.set(s.nameBytes[o.nameId], hdrByte + HEADER_BYTES);
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
    s.inflight++;
    if (o.priority < s.lowestOut) s.lowestOut = o.priority;
    this.#wake(w);
    this.#c.awaitCompletions();
    return true;
  }

  /**
   * After a push: wakes worker `w` if it is parked. A wake costs the main thread a futex call and
   * the worker ~15–40 µs to get going, so while fewer than a batch of tasks wait for it the wake is
   * deferred to the end of the current synchronous stretch (a microtask): a burst of `run` calls
   * then wakes each worker once with a full batch instead of once per task.
   */
  #wake(w: WorkerHandle): void {
    const s = this.#s;
    // SC load after our ring store: pairs with the worker's PARKED store + ring re-check.
    if (Atomics.load(s.i32, workerBase(s.ctl, w.index) + W_STATE) !== W_PARKED) return;
    if (w.outstanding >= s.capOf(w)) {
      s.wakeNow(w);
      return;
    }
    if (w.wakeSoon) return;
    w.wakeSoon = true;
    if (!this.#wakeScheduled) {
      this.#wakeScheduled = true;
      queueMicrotask(this.#flushWakes);
    }
  }

  readonly #flushWakes = (): void => {
    this.#wakeScheduled = false;
    for (const w of this.#s.workers) if (w.wakeSoon) this.#s.wakeNow(w);
  };

  taskAt(slot: number): Task | undefined {
    return this.#slotTask[slot];
  }

  free(slot: number): void {
    // The state word keeps DONE (or FREE after a cancel): a stale entry's claim CAS expects QUEUED and fails.
    this.#slotTask[slot] = undefined;
    this.#slots.free(slot);
  }

  abortId(task: Task): number {
    return task.slot | (task.gen << SLOT_BITS);
  }

  dispatched(): readonly (Task | undefined)[] {
    return this.#slotTask;
  }

  /**
   * Takes back the task of generation `gen` in slot `slot` if no worker claimed it: the state-word
   * CAS QUEUED(gen) → FREE races the worker's claim, and exactly one of them wins (see layout.ts).
   * An entry for it left in a ring is then stale and skipped.
   */
  #takeBack(slot: number, gen: number): number {
    const hdr = this.#slots.slotOffset(slot) >> 2;
    const queued = stateWord(S_QUEUED, 0, gen);
    const seen = Atomics.compareExchange(this.#s.i32, hdr + H_STATE, queued, stateWord(S_FREE, 0, gen));
    return seen === queued ? WITHDRAWN : seen;
  }

  withdraw(task: Task): number {
    const seen = this.#takeBack(task.slot, task.gen);
    if (seen === WITHDRAWN) return WITHDRAWN;
    return (seen & STATE_MASK) === S_RUNNING ? workerOfState(seen) : -1;
  }

  preemptAbove(w: WorkerHandle): number {
    // The batch the worker may already have taken.
    return this.#s.capOf(w);
  }

  /**
   * Takes back the entries still in `w`'s submission ring (the main thread is just another consumer
   * of the ring; per entry the state-word CAS decides, as for a cancel, so a worker can never also
   * run it). Entries whose argument travelled by message (transfer lists, payloads over the largest
   * tier) cannot be sent again, nor need those of priority ≥ p move: they go back into the ring first,
   * untouched.
   */
  preempt(w: WorkerHandle, p: number): Task[] {
    const s = this.#s;
    const ring = this.#rings[w.index];
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
        if (s.i32[(this.#slots.slotOffset(slot) >> 2) + H_ARG_TAG] === PAYLOAD_MESSAGE || t.o.priority >= p) {
          keep.push(e);
          continue;
        }
        if (this.#takeBack(slot, gen) === WITHDRAWN) {
          s.release(t);
          back.push(t);
        }
      }
    }
    // Room is certain: the ring was just emptied and holds at most a window.
    for (const e of keep) ring.push(e);
    if (keep.length > 0) this.#wake(w);
    return back;
  }

  /**
   * Drains the completion rings and settles those tasks: every ring ('all', and always with `every`,
   * as recovery needs), or with completionPoll 'signalled' only the rings whose workers set their
   * signal bit. A bit taken with the exchange covers every push made before the worker set it (its
   * RMW follows the push); a push racing with this drain sets the bit again, so it is seen next time.
   */
  drain(every = false): void {
    const s = this.#s;
    if (s.cfg.signalled) {
      const words = (s.cfg.threads + 31) >> 5;
      for (let k = 0; k < words; k++) {
        s.polls++;
        let bits = Atomics.exchange(s.i32, s.ctl + C_SIGNAL + k, 0);
        if (bits === 0) {
          s.emptyPolls++;
          continue;
        }
        while (bits !== 0) {
          const b = 31 - Math.clz32(bits);
          bits &= ~(1 << b);
          const w = s.workers[(k << 5) + b];
          if (w !== undefined) this.#drainOne(w);
        }
      }
      if (!every) return;
    }
    for (const w of s.workers) this.#drainOne(w);
  }

  #drainOne(w: WorkerHandle): void {
    const s = this.#s;
    const buf = this.#drainBuf;
    // Published by the worker after each adaptive change; only sizes its window.
    if (s.cfg.fixedCap === 0) w.cap = Atomics.load(s.i32, workerBase(s.ctl, w.index) + W_CAP) || 32;
    const comp = this.#comps[w.index];
    s.polls++;
    let got = 0;
    for (;;) {
      const n = comp.popBatch(buf, buf.length);
      got += n;
      for (let i = 0; i < n; i++) this.#completeEntry(buf[i]);
      if (n < buf.length) break;
    }
    if (got === 0) s.emptyPolls++;
  }

  #completeEntry(entry: number): void {
    const slot = entry & SLOT_MASK;
    const gen = (entry >>> SLOT_BITS) & GEN_MASK;
    const task = this.#slotTask[slot];
    if (task === undefined || task.gen !== gen) return; // stale: already handled by recovery or cancel
    const s = this.#s;
    const i32 = s.i32;
    const slots = this.#slots;
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
        s.payloadMessages++;
        value = this.#takeMessage(s.workers[workerOfState(st)], entry);
      } else if (tag === PAYLOAD_OTHER_SLOT) {
        // One of the worker's reserved slots (never freed): read it, then clear its busy flag
        // (release edge: our reads happen before the worker's next write, after it loads 0).
        const other = i32[hdr + H_RES_LEN];
        try {
          value = this.#codec.decode(slots.slotOffset(other) + HEADER_BYTES);
        } finally {
          Atomics.store(i32, (slots.slotOffset(other) >> 2) + H_ARG_LEN, 0);
        }
      } else {
        value = this.#codec.decode(hdrByte + HEADER_BYTES);
      }
      if (!ok) value = errorFromWire(value);
    } catch (e) {
      fine = false;
      value = e;
    }
    s.release(task);
    this.#c.settle(task, fine, value);
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

  anyCompletions(): boolean {
    const s = this.#s;
    if (s.cfg.signalled) {
      // One load per 32 workers: has any worker signalled since the last drain?
      const words = (s.cfg.threads + 31) >> 5;
      for (let k = 0; k < words; k++) {
        s.polls++;
        if (Atomics.load(s.i32, s.ctl + C_SIGNAL + k) !== 0) return true;
        s.emptyPolls++;
      }
      return false;
    }
    for (const comp of this.#comps) {
      s.polls++;
      if (comp.size > 0) return true;
      s.emptyPolls++;
    }
    return false;
  }

  recover(dead: WorkerHandle, err: WorkerExitError): Task[] {
    const s = this.#s;
    const i32 = s.i32;
    const redo: Task[] = [];
    this.drain(true);
    // 1. Entries the dead worker never took: take them back (we are just another consumer).
    const buf = new Int32Array(256);
    for (;;) {
      const n = this.#rings[dead.index].take(buf, buf.length);
      if (n === 0) break;
      for (let i = 0; i < n; i++) {
        const slot = buf[i] & SLOT_MASK;
        const gen = (buf[i] >>> SLOT_BITS) & GEN_MASK;
        const t = this.#slotTask[slot];
        if (t === undefined || t.gen !== gen) continue;
        if (this.#takeBack(slot, gen) === WITHDRAWN) {
          s.release(t);
          redo.push(t);
        }
      }
    }
    // 2. Every task still out: its state word decides.
    const inRings = new Set<number>();
    const tmp: number[] = [];
    for (let w = 0; w < this.#rings.length; w++) if (w !== dead.index) this.#rings[w].peekAll(tmp);
    for (const e of tmp) inRings.add(e);
    for (let slot = 0; slot < this.#slotTask.length; slot++) {
      const t = this.#slotTask[slot];
      if (t === undefined) continue;
      const st = Atomics.load(i32, (this.#slots.slotOffset(slot) >> 2) + H_STATE);
      const kind = st & STATE_MASK;
      if (kind === S_DONE) {
        this.#completeEntry(slot | (t.gen << SLOT_BITS));
      } else if (kind === S_RUNNING) {
        if (workerOfState(st) !== dead.index) continue;
        s.release(t);
        this.#c.settle(t, false, err);
      } else if (kind === S_QUEUED) {
        if (!s.cfg.stealing && t.worker !== dead.index) continue;
        if (inRings.has(slot | (t.gen << SLOT_BITS))) continue;
        if (this.#takeBack(slot, t.gen) === WITHDRAWN) {
          s.release(t);
          redo.push(t);
        }
      }
    }
    Atomics.store(i32, workerBase(s.ctl, dead.index) + W_STATE, W_RUNNING);
    return redo;
  }
}
