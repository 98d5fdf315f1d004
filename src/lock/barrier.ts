/**
 * Barrier(parties): a reusable barrier on the shared-memory ParkingLot. Each generation releases
 * when `parties` threads have arrived; the last arrival is the generation's single leader and
 * wakes every parked waiter of its generation with one `unparkFilter` call (one bucket pass).
 *
 * Block (two Int32 words; word 0's byte offset is the parking key):
 *
 * | word | bits 17..30  | bits 1..16     | bit 0  | meaning                                         |
 * |------|--------------|----------------|--------|-------------------------------------------------|
 * | 0    | generation   | arrived so far | PARKED | PARKED: some waiter of this generation may sleep |
 * | 1    | parties (1..65535), written once at creation                                            |
 *
 * Algorithm
 * - wait(): one CAS: if this arrival completes the generation, replace the word by (generation + 1,
 *   0 arrived, PARKED clear) and, if PARKED was set, unpark the waiters parked with this
 *   generation's token; return `{ leader: true }`. Otherwise add one arrival and wait until the
 *   generation changes: spin a little (by default only when parties ≤ cores), then set PARKED and
 *   park with `validate` = "same generation and PARKED still set" (under the bucket lock).
 * - A timed-out or aborted waiter withdraws its arrival with a CAS if its generation is still
 *   current; if the generation moved meanwhile, it was released and returns normally.
 *
 * Invariants
 * - The generation changes only by the leader's CAS, which also zeroes the arrivals and PARKED,
 *   so a waiter that saw its generation in `validate` is queued before that CAS's unpark reads
 *   the queue (both under the bucket lock), and no wake-up is lost.
 * - Generations are compared for equality only; a waiter cannot miss 2^14 generations because
 *   none can complete without its arrival.
 *
 * No owner: if a participant dies (or never arrives), the generation never completes. Every wait
 * is timed and abortable (`waitFor(ms)`, `waitAsync({ timeoutMs, signal })`); a waiter that gives
 * up withdraws its arrival, so the barrier stays usable by the remaining threads.
 *
 * Memory: all arrivals are RMWs on one word, so each reads the previous one; the leader's CAS ends
 * that chain and every released waiter's load of the new generation reads it, so everything each
 * participant wrote before wait() is visible to all of them after it.
 */

import { nowMs } from '../platform/clock.ts';
import { CORES, pause } from '../platform/host.ts';
import type { ParkResult } from '../parking/lot.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { TimeoutError } from '../errors.ts';
import { abortReason, checkSignal, checkTimeoutMs, type WaitAsyncOptions } from './common.ts';

const B_PARKED = 1;
const ARRIVAL = 2;
const COUNT_MASK = 0xffff;
const GEN_SHIFT = 17;
const GEN_MASK = 0x3fff;
/** Largest party count. */
export const MAX_PARTIES = 0xffff;
const W_STATE = 0;
const W_PARTIES = 1;
const BLOCK_BYTES = 8;


export interface BarrierOptions {
  region?: SharedRegion;
  /** Spin rounds before parking, per thread. Default 200 if parties ≤ cores, else 0. */
  spin?: number;
}

export interface BarrierHandle extends PrimitiveHandle {
  readonly kind: 'Barrier';
}

/** What wait() returns: exactly one thread per generation is the leader. */
export interface BarrierWaitResult {
  readonly leader: boolean;
}

const LEADER: BarrierWaitResult = Object.freeze({ leader: true });
const FOLLOWER: BarrierWaitResult = Object.freeze({ leader: false });

function genOf(s: number): number {
  return (s >>> GEN_SHIFT) & GEN_MASK;
}

export class Barrier {
  readonly region: SharedRegion;
  readonly offset: number;
  readonly parties: number;
  private readonly i32: Int32Array;
  private readonly idx: number;
  private readonly spin: number;
  private cachedHandle: BarrierHandle | undefined;

  /** `new Barrier(parties, opts)`: `parties` threads (1..65535) release each generation. */
  constructor(parties: number, opts: BarrierOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new Barrier(parties, opts): opts must be an object');
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
      this.i32 = this.region.i32;
      // Written once at creation; the handle's transfer orders it before this read.
      const p = Atomics.load(this.i32, (this.offset >> 2) + W_PARTIES);
      if (p < 1 || p > MAX_PARTIES) throw new TypeError(`Barrier.from: corrupt parties word ${p} at offset ${this.offset}`);
      this.parties = p;
    } else {
      if (typeof parties !== 'number' || !Number.isInteger(parties) || parties < 1 || parties > MAX_PARTIES) {
        throw new RangeError(`new Barrier(parties): parties must be an integer from 1 to ${MAX_PARTIES}, got ${String(parties)}`);
      }
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new Barrier: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('Barrier', BLOCK_BYTES);
      this.i32 = region.i32;
      this.parties = parties;
      Atomics.store(this.i32, (this.offset >> 2) + W_PARTIES, parties);
    }
    const spin = opts.spin ?? (this.parties <= CORES ? 200 : 0);
    if (typeof spin !== 'number' || !Number.isInteger(spin) || spin < 0 || spin > 1_000_000) {
      throw new RangeError(`Barrier option \`spin\` must be an integer from 0 to 1000000, got ${String(spin)}`);
    }
    this.spin = spin;
    this.idx = (this.offset >> 2) + W_STATE;
  }

  static from(handle: BarrierHandle | PrimitiveHandle, opts: Omit<BarrierOptions, 'region'> = {}): Barrier {
    const { region, offset } = resolveHandle(handle, 'Barrier');
    return new Barrier(0, opts, { region, offset });
  }

  get handle(): BarrierHandle {
    this.cachedHandle ??= Object.freeze({ ...this.region.handleFor('Barrier', this.offset), kind: 'Barrier' as const });
    return this.cachedHandle;
  }

  /** Threads that have arrived in the current generation (a snapshot). */
  get arrived(): number {
    return (Atomics.load(this.i32, this.idx) >>> 1) & COUNT_MASK;
  }

  /** The current generation number (wraps at 2^14; a snapshot). */
  get generation(): number {
    return genOf(Atomics.load(this.i32, this.idx));
  }

  /**
   * Arrives. Returns the generation's leader result at once if this arrival completes it;
   * otherwise `mustComplete` decides: arrive and return the generation to wait for, or (tryWait)
   * return null without arriving.
   */
  private arrive(mustComplete: boolean): BarrierWaitResult | number | null {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      const count = (s >>> 1) & COUNT_MASK;
      const gen = genOf(s);
      if (count + 1 >= this.parties) {
        const next = ((gen + 1) & GEN_MASK) << GEN_SHIFT;
        // Release edge for this generation: every waiter's load of the new generation reads this.
        const seen = Atomics.compareExchange(i32, this.idx, s, next);
        if (seen !== s) {
          s = seen;
          continue;
        }
        if ((s & B_PARKED) !== 0) {
          this.region.lot.unparkFilter(this.offset, (token) => (token === gen ? 'unpark' : 'skip'));
        }
        return LEADER;
      }
      if (mustComplete) return null;
      const seen = Atomics.compareExchange(i32, this.idx, s, s + ARRIVAL);
      if (seen === s) return gen;
      s = seen;
    }
  }

  /** Withdraws an arrival after a timeout/abort. Returns false if the generation completed meanwhile. */
  private withdraw(gen: number): boolean {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if (genOf(s) !== gen) return false;
      const seen = Atomics.compareExchange(i32, this.idx, s, s - ARRIVAL);
      if (seen === s) return true;
      s = seen;
    }
  }

  /** Blocks until `parties` threads have called wait in this generation. */
  wait(): BarrierWaitResult {
    const a = this.arrive(false) as BarrierWaitResult | number;
    if (typeof a !== 'number') return a;
    this.waitGen(a, Infinity);
    return FOLLOWER;
  }

  /** Arrives only if this arrival completes the generation (everyone else is waiting); never waits. */
  tryWait(): BarrierWaitResult | null {
    return this.arrive(true) as BarrierWaitResult | null;
  }

  /** Waits at most `ms`; on timeout the arrival is withdrawn and null returned. */
  waitFor(ms: number): BarrierWaitResult | null {
    const t = checkTimeoutMs('Barrier.waitFor', ms);
    const a = this.arrive(false) as BarrierWaitResult | number;
    if (typeof a !== 'number') return a;
    if (this.waitGen(a, t)) return FOLLOWER;
    return this.withdraw(a) ? null : FOLLOWER;
  }

  private readonly clearParkedIfLast = (_key: number, wasLast: boolean): void => {
    // Under the bucket lock: a leaving waiter that was the last parked one clears PARKED (a
    // waiter that set PARKED but is not queued yet fails its validate and sets it again).
    if (wasLast) Atomics.and(this.i32, this.idx, ~B_PARKED);
  };

  private readonly validate = (gen: number): boolean => {
    const s = Atomics.load(this.i32, this.idx);
    return genOf(s) === gen && (s & B_PARKED) !== 0;
  };

  /** Waits for generation `gen` to end. Returns false on timeout (the arrival is still counted). */
  private waitGen(gen: number, timeoutMs: number): boolean {
    const i32 = this.i32;
    const start = timeoutMs === Infinity ? 0 : nowMs();
    for (let i = 0; i < this.spin; i++) {
      // Acquire edge: reading the new generation reads the leader's CAS.
      if (genOf(Atomics.load(i32, this.idx)) !== gen) return true;
      pause(i);
    }
    for (;;) {
      const s = Atomics.load(i32, this.idx);
      if (genOf(s) !== gen) return true;
      // Deadline first: a waiter that will not park must not set PARKED (nobody would clear it).
      let left: number | undefined;
      if (timeoutMs !== Infinity) {
        left = start + timeoutMs - nowMs();
        if (left <= 0) return false;
      }
      if ((s & B_PARKED) === 0 && Atomics.compareExchange(i32, this.idx, s, s | B_PARKED) !== s) continue;
      const r: ParkResult = this.region.lot.park(this.offset, () => this.validate(gen), {
        token: gen,
        timeoutMs: left,
        fairAtUs: null,
        timedOut: this.clearParkedIfLast,
      });
      if (r.result === 'timedOut') return genOf(Atomics.load(i32, this.idx)) !== gen;
    }
  }

  /** Async wait; on timeout/abort the arrival is withdrawn and the promise rejects (unless the generation completed first). */
  async waitAsync(opts: WaitAsyncOptions = {}): Promise<BarrierWaitResult> {
    if (opts === null || typeof opts !== 'object') throw new TypeError('Barrier.waitAsync: opts must be an object');
    const { signal } = opts;
    const timeoutMs = opts.timeoutMs === undefined ? Infinity : checkTimeoutMs('Barrier.waitAsync', opts.timeoutMs);
    checkSignal('Barrier.waitAsync', signal);
    if (signal?.aborted) throw abortReason(signal);
    const a = this.arrive(false) as BarrierWaitResult | number;
    if (typeof a !== 'number') return a;
    const gen = a;
    const i32 = this.i32;
    const start = nowMs();
    for (;;) {
      const s = Atomics.load(i32, this.idx);
      if (genOf(s) !== gen) return FOLLOWER;
      const left = timeoutMs === Infinity ? undefined : start + timeoutMs - nowMs();
      let r: ParkResult;
      if (left !== undefined && left <= 0) r = { result: 'timedOut' }; // before PARKED: we will not park
      else if ((s & B_PARKED) === 0 && Atomics.compareExchange(i32, this.idx, s, s | B_PARKED) !== s) continue;
      else r = await this.region.lot.parkAsync(this.offset, () => this.validate(gen), {
          token: gen,
          timeoutMs: left,
          signal,
          fairAtUs: null,
          timedOut: this.clearParkedIfLast,
        });
      if (r.result === 'timedOut' || r.result === 'aborted') {
        if (!this.withdraw(gen)) return FOLLOWER;
        if (r.result === 'timedOut') throw new TimeoutError(`Barrier.waitAsync: timed out after ${timeoutMs} ms`);
        throw abortReason(signal as AbortSignal);
      }
    }
  }
}
