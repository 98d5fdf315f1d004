/**
 * ThreadTable: per-region records of the threads that use it — liveness for owner-death recovery,
 * and "which lock am I waiting for" for the debug deadlock detector.
 *
 * Record (THREAD_WORDS Int32 words, open addressing by threadId):
 *
 * | word | meaning                                                                  |
 * |------|--------------------------------------------------------------------------|
 * | 0    | threadId + 1 (0 = empty slot; claimed once by CAS, never released)      |
 * | 1    | TS_ALIVE or TS_DEAD                                                     |
 * | 2    | byte offset + 1 of the lock this thread is parked on (0 = none; debug)  |
 * | 3    | reserved (was an RwLock "pending operation" word; see rwlock.ts, Owner death)  |
 *
 * Invariants
 * - A slot's key is written once (CAS 0 → tid+1) and never changes, so a probe that finds a key
 *   can rely on it forever; probing stops at the first empty slot.
 * - TS_DEAD is final. The region's death counter (HOT_DEATHS) is incremented after a record turns
 *   dead, so a reader that sees the counter at 0 may skip the lookup: nobody has died.
 */

import { HOT_DEATHS, THREAD_WORDS } from './layout.ts';

export const TS_ALIVE = 1;
export const TS_DEAD = 2;
const T_KEY = 0;
const T_STATE = 1;
const T_WAITING = 2;

export class ThreadTable {
  private readonly h: Int32Array;
  private readonly t0: number;
  private readonly count: number;

  constructor(h: Int32Array, firstWord: number, count: number) {
    this.h = h;
    this.t0 = firstWord;
    this.count = count;
  }

  /** How many thread records the region has. */
  get capacity(): number {
    return this.count;
  }

  /** Word index of `tid`'s record, creating it if `create`; -1 if absent (and not created). */
  slot(tid: number, create: boolean): number {
    const h = this.h;
    const key = tid + 1;
    let i = Math.imul(key, 0x9e3779b1) >>> 0;
    for (let n = 0; n < this.count; n++, i++) {
      const at = this.t0 + (i % this.count) * THREAD_WORDS;
      const k = Atomics.load(h, at + T_KEY);
      if (k === key) return at;
      if (k === 0) {
        if (!create) return -1;
        // Claim the empty slot; the winner's key is final (see the invariants).
        const seen = Atomics.compareExchange(h, at + T_KEY, 0, key);
        if (seen === 0 || seen === key) {
          if (seen === 0) Atomics.compareExchange(h, at + T_STATE, 0, TS_ALIVE);
          return at;
        }
      }
    }
    if (!create) return -1;
    throw new RangeError(`SharedRegion out of thread records: all ${this.count} are in use; create the region with a larger \`threads\` option`);
  }

  /** Records that `tid` uses this region (idempotent). */
  register(tid: number): void {
    this.slot(tid, true);
  }

  /** Whether `tid` is known to have died. One load when nobody in the region ever died. */
  isDead(tid: number): boolean {
    if (Atomics.load(this.h, HOT_DEATHS) === 0) return false;
    const at = this.slot(tid, false);
    return at >= 0 && Atomics.load(this.h, at + T_STATE) === TS_DEAD;
  }

  /** Marks `tid` dead. Returns false if it already was. */
  markDead(tid: number): boolean {
    const at = this.slot(tid, true);
    if (Atomics.exchange(this.h, at + T_STATE, TS_DEAD) === TS_DEAD) return false;
    Atomics.store(this.h, at + T_WAITING, 0);
    // Ordered after the state store: whoever reads a non-zero count then reads TS_DEAD.
    Atomics.add(this.h, HOT_DEATHS, 1);
    return true;
  }

  /** Whether any thread of the region ever died (one load; the robust slow paths start here). */
  anyDeaths(): boolean {
    return Atomics.load(this.h, HOT_DEATHS) !== 0;
  }

  /**
   * Deadlock detector: the lock `tid` is about to park on, or -1 for none. The value is the lock's
   * byte offset, with bit 0 set for an RwLock (offsets are 4-aligned; see mutex.ts checkDeadlock).
   */
  setWaitingFor(tid: number, offset: number): void {
    Atomics.store(this.h, this.slot(tid, true) + T_WAITING, offset + 1);
  }

  /** The lock `tid` is parked on (byte offset), or -1. */
  waitingFor(tid: number): number {
    const at = this.slot(tid, false);
    return at < 0 ? -1 : Atomics.load(this.h, at + T_WAITING) - 1;
  }
}
