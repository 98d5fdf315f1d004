/**
 * ThreadTable: per-region records of the threads that use it — liveness for owner-death recovery,
 * and "which lock am I waiting for" for the debug deadlock detector.
 *
 * Thread ids are the region's own (SharedRegion.threadId): a thread's first attach takes the next
 * value of the header counter HOT_LAST_TID, so they are unique within the region, never reused, and
 * work in every runtime (a runtime's own thread ids may be missing or, in Deno's web workers, all 0).
 *
 * Record (THREAD_WORDS Int32 words, open addressing by thread id):
 *
 * | word | meaning                                                                  |
 * |------|--------------------------------------------------------------------------|
 * | 0    | thread id + 1 (0 = empty slot; claimed once by CAS, never released)     |
 * | 1    | TS_ALIVE or TS_DEAD                                                     |
 * | 2    | byte offset + 1 of the lock this thread is parked on (0 = none; debug)  |
 * | 3    | when it was marked dead: seconds since the epoch (0 while alive)        |
 * | 4    | the runtime's id for the thread + 1 (Node's `threadId`; 0 = none), so  |
 * |      | `watch(worker)` can find the records of a worker that exited           |
 *
 * Invariants
 * - A slot's key is written by CAS (0 → tid+1) and changes only when a dead record is reclaimed
 *   (below); probing stops at the first empty slot, and a slot never becomes empty again.
 * - Reclaiming: when every record is taken, a new thread may take over a record that has been dead
 *   for ≥ RECLAIM_AFTER_S seconds and that nothing in the region names any more (the region's
 *   `referenced` check: no Mutex word, RwLock owner word, … holds its id). A record found while
 *   probing lies on the new key's probe path, so lookups of live keys are unaffected; a lookup of
 *   the reclaimed dead id then finds nothing, i.e. "not dead" — harmless because nothing names it
 *   (the age covers a hand-off to a dying waiter that was in flight when it died). Without this a
 *   process that keeps replacing workers (a pool, a soak) would run out of records.
 * - TS_DEAD is final. The region's death counter (HOT_DEATHS) is incremented after a record turns
 *   dead, so a reader that sees the counter at 0 may skip the lookup: nobody has died.
 */

import { HOT_DEATHS, HOT_LIVE_THREADS, THREAD_WORDS } from './layout.ts';

export const TS_ALIVE = 1;
export const TS_DEAD = 2;
const T_KEY = 0;
const T_STATE = 1;
const T_WAITING = 2;
const T_DEAD_AT = 3;
const T_HOST = 4;
/** A dead record may be reclaimed this long after its thread died (see the invariants). */
const RECLAIM_AFTER_S = 1;

export class ThreadTable {
  /** Set by the region: whether some block still names `tid` (then its dead record is kept). */
  referenced: (tid: number) => boolean = () => true;
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
          if (seen === 0) {
            Atomics.compareExchange(h, at + T_STATE, 0, TS_ALIVE);
            Atomics.add(h, HOT_LIVE_THREADS, 1);
          }
          return at;
        }
      }
    }
    if (!create) return -1;
    const reclaimed = this.reclaim(key);
    if (reclaimed >= 0) return reclaimed;
    throw new RangeError(`SharedRegion out of thread records: all ${this.count} are in use by live threads (or dead ones that still hold locks); create the region with a larger \`threads\` option`);
  }

  /** Takes over a reclaimable dead record for `key` (see the invariants), or returns -1. */
  private reclaim(key: number): number {
    const h = this.h;
    const nowS = Math.floor(Date.now() / 1000);
    let i = Math.imul(key, 0x9e3779b1) >>> 0;
    for (let n = 0; n < this.count; n++, i++) {
      const at = this.t0 + (i % this.count) * THREAD_WORDS;
      const k = Atomics.load(h, at + T_KEY);
      if (k === key) return at; // registered meanwhile by a racing call for the same thread
      if (Atomics.load(h, at + T_STATE) !== TS_DEAD) continue;
      const deadAt = Atomics.load(h, at + T_DEAD_AT);
      if (deadAt === 0 || nowS - deadAt < RECLAIM_AFTER_S || this.referenced(k - 1)) continue;
      // One winner per record: the key CAS. Then the record is this thread's, alive.
      if (Atomics.compareExchange(h, at + T_KEY, k, key) !== k) continue;
      Atomics.store(h, at + T_WAITING, 0);
      Atomics.store(h, at + T_DEAD_AT, 0);
      Atomics.store(h, at + T_HOST, 0);
      Atomics.store(h, at + T_STATE, TS_ALIVE);
      Atomics.add(h, HOT_LIVE_THREADS, 1);
      return at;
    }
    return -1;
  }

  /**
   * Records that `tid` uses this region (idempotent), with the runtime's id for the thread
   * (`hostId`, -1 for none), stored before the thread can run anything that a watcher must undo.
   */
  register(tid: number, hostId = -1): void {
    const at = this.slot(tid, true);
    if (hostId >= 0) Atomics.store(this.h, at + T_HOST, hostId + 1);
  }

  /** The live threads of this region that run on the runtime thread `hostId` (scans every record). */
  threadsOfHost(hostId: number): number[] {
    const out: number[] = [];
    for (let n = 0; n < this.count; n++) {
      const at = this.t0 + n * THREAD_WORDS;
      const k = Atomics.load(this.h, at + T_KEY);
      if (k !== 0 && Atomics.load(this.h, at + T_HOST) === hostId + 1 && Atomics.load(this.h, at + T_STATE) === TS_ALIVE) out.push(k - 1);
    }
    return out;
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
    Atomics.sub(this.h, HOT_LIVE_THREADS, 1);
    Atomics.store(this.h, at + T_WAITING, 0);
    Atomics.store(this.h, at + T_DEAD_AT, Math.max(1, Math.floor(Date.now() / 1000)));
    // Ordered after the state store: whoever reads a non-zero count then reads TS_DEAD.
    Atomics.add(this.h, HOT_DEATHS, 1);
    return true;
  }

  /** Threads registered and not marked dead (a hint: unwatched exited threads still count). */
  liveThreads(): number {
    return Atomics.load(this.h, HOT_LIVE_THREADS);
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
