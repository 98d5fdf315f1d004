/**
 * RwLock state and admission: the block's layout, the option checks, and the per-thread core
 * every other RwLock layer builds on (rwlock-robust.ts → rwlock-slow.ts → rwlock.ts, the public
 * class): its fields, the one-attempt admission loops for readers, writers and upgraders, and the
 * owner-word writes. The RwLock itself (parking_lot's `raw_rwlock.rs`) is described in rwlock.ts.
 *
 * State word (word 0 of the block, an Int32; its byte offset is the main parking key):
 *
 * | bits 4..30   | bit 3  | bit 2      | bit 1         | bit 0  | meaning                                   |
 * |--------------|--------|------------|---------------|--------|-------------------------------------------|
 * | reader count | WRITER | UPGRADABLE | WRITER_PARKED | PARKED |                                           |
 * | 0            | 0      | 0          | 0             | 0      | free                                       |
 * | n > 0        | 0      | 0          | 0             | x      | read-locked by n readers                   |
 * | n > 0        | 0      | 1          | 0             | x      | n readers, one of them upgradable          |
 * | 0            | 1      | 0          | 0             | x      | write-locked                               |
 * | n > 0        | 1      | 0          | x             | x      | a writer owns WRITER and waits for n readers to drain |
 *
 * PARKED: some thread waits in the main queue (key = offset). WRITER_PARKED: the WRITER holder is
 * parked on the second key (offset + 4, the owner word, part of this block) waiting for readers to
 * drain; only the WRITER holder ever parks there, so at most one thread does.
 *
 * Word 1 (OWNER) holds `threadId + 1` of the thread that holds WRITER or UPGRADABLE, 0 otherwise
 * (bit 30 OW_INCONSISTENT after a take-over from a dead holder; -1 = not recoverable: rwlock-robust.ts).
 * Only that thread writes it: its own id after it obtained the bit, 0 before it gives the bit up
 * (exceptions: an unlocker handing the bit off writes the taker's id under the bucket lock before
 * the taker runs; a taker claims a dead holder's word by CAS).
 * So a thread that reads its own id there holds the bit: that catches unlock by a non-owner and
 * self-deadlock (write() while holding write) without touching the fast-path CAS. The writes are
 * plain stores (an Atomics.store is an XCHG on x86 and doubled the cost of write+writeUnlock):
 * they happen only while holding the bit, so the acquiring and releasing CASes order them between
 * holders, and by coherence a thread can never read back its own id after clearing it (its clear
 * happens-before its later read). Other threads read it only as a snapshot (`owner`).
 * Word 2 holds the policy, written once at creation (before the handle can be posted).
 *
 * Policies (all wake every reader they admit in one `unparkFilter` call):
 * - 'fair' (default, parking_lot): readers block while WRITER is set, so a waiting writer stops
 *   new readers and is never starved; unlocks wake, in FIFO order, the readers queued before the
 *   first writer plus that writer (phases alternate).
 * - 'readers' (reader-preferring wake): a reader may join whenever a reader holds the lock,
 *   even if a writer is waiting (writers can starve under continuous reads); unlocks wake every
 *   queued reader plus at most one writer (which then drains the readers).
 * - 'writers': readers block while WRITER is set, and unlocks wake the first queued writer alone
 *   if there is one (readers only when no writer is queued); readers can starve.
 *
 * Invariants
 * - PARKED is set whenever a thread is queued on the main key; it is cleared only under that
 *   bucket lock (unpark callbacks, or the last waiter leaving on timeout/abort).
 * - WRITER_PARKED implies WRITER; it is cleared under the key-2 bucket lock, or by the WRITER
 *   holder itself when it stops waiting.
 * - Every holder's share is in the word: n readers = n × ONE_READER (an upgradable holder counts
 *   as a reader), a writer = WRITER. A hand-off adds the woken threads' shares before they wake.
 */

import { SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import type { ThreadTable } from '../parking/threads.ts';
import { CORES } from '../platform/host.ts';
import { pause } from '../platform/host.ts';
export { pause };

/** State bits. */
export const RW_PARKED = 1;
export const RW_WRITER_PARKED = 2;
export const RW_UPGRADABLE = 4;
export const RW_WRITER = 8;
export const RW_ONE_READER = 16;
export const READER_SHIFT = 4;
export const READERS_MASK = ~15;
export const MAX_READERS = (1 << 27) - 1; // keeps the word a positive Int32
export const MAX_READ_STATE = MAX_READERS << 4; // a state below this has room for one more reader

/** Park tokens: what a queued thread wants (its share of the state), | TOKEN_ASYNC for an async waiter. */
export const TOKEN_SHARED = RW_ONE_READER;
export const TOKEN_EXCLUSIVE = RW_WRITER;
export const TOKEN_UPGRADABLE = RW_ONE_READER | RW_UPGRADABLE;
/** Not a share (bit 0 is PARKED, never part of a token): marks an async waiter, so a wake batch containing one hands off. */
export const TOKEN_ASYNC = 1;

/** Owner word: thread id (SharedRegion.threadId) + 1 of the WRITER/UPGRADABLE holder, | OW_INCONSISTENT after a take-over. */
export const OW_INCONSISTENT = 1 << 30;
/** Owner word of a lock that can never be used again (its WRITER bit stays set forever). */
export const OW_NOT_RECOVERABLE = -1;

/** Words of the block. */
export const W_STATE = 0;
export const W_OWNER = 1;
export const W_POLICY = 2;
export const BLOCK_BYTES = 12;

/** Which side an RwLock favours when readers and writers both wait (see RwLockOptions.prefer). */
export type RwLockPolicy = 'fair' | 'readers' | 'writers';
export const POLICIES: readonly RwLockPolicy[] = ['fair', 'readers', 'writers'];
export const P_FAIR = 1;
export const P_READERS = 2;
export const P_WRITERS = 3;

export const DEFAULT_SPIN = CORES > 1 ? 40 : 0;

export interface RwLockOptions {
  /** Region to allocate the lock in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /**
   * Who goes first when readers and writers compete; fixed at creation and shared by every
   * thread. `'fair'` (default): a waiting writer stops new readers, and unlocks alternate between
   * the readers queued before the next writer and that writer, so neither side starves.
   * `'readers'`: readers join while other readers hold the lock, even past a waiting writer (more
   * read throughput; writers can starve under continuous reads). `'writers'`: a queued writer is
   * woken before any reader (readers can starve).
   */
  prefer?: RwLockPolicy;
  /**
   * Spin budget (Atomics.pause rounds) before parking, per thread. Default 40 (0 on one core).
   * Spinning happens only while the region's live threads fit the cores (with more, a spinner
   * only keeps one more thread runnable).
   */
  spin?: number;
}

export interface RwLockHandle extends PrimitiveHandle {
  readonly kind: 'RwLock';
  readonly options: { readonly spin: number };
}

export function checkPolicy(v: unknown): RwLockPolicy {
  if ((POLICIES as readonly unknown[]).includes(v)) return v as RwLockPolicy;
  throw new RangeError(`RwLock option \`prefer\` must be 'fair', 'readers' or 'writers', got ${JSON.stringify(v)}`);
}

export function checkSpin(v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1_000_000) return v;
  throw new RangeError(`RwLock option \`spin\` must be an integer from 0 to 1000000, got ${JSON.stringify(v)}`);
}

/** The per-thread core of an RwLock: where its block is, this thread's ids, and admission. */
export abstract class RwLockState {
  /** The region holding the lock. */
  readonly region: SharedRegion;
  /** Byte offset of the state word (also the main parking key). */
  readonly offset: number;
  /** The wake policy (shared by every thread; fixed at creation). */
  readonly prefer: RwLockPolicy;
  protected readonly i32: Int32Array;
  protected readonly idx: number;
  protected readonly ownIdx: number;
  /** Second parking key: the owner word's byte offset (part of this block). */
  protected readonly key2: number;
  /** This thread's owner-word value. */
  protected readonly me: number;
  protected readonly policy: number;
  protected readonly spin: number;
  protected readonly threads: ThreadTable;

  constructor(opts: RwLockOptions = {}, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new RwLock(opts): opts must be an object');
    this.spin = checkSpin(opts.spin ?? DEFAULT_SPIN);
    if (attach !== undefined) {
      this.region = attach.region;
      this.offset = attach.offset;
      this.i32 = this.region.i32;
      // Written once at creation, before the handle existed; the handle's transfer orders it.
      const p = Atomics.load(this.i32, (this.offset >> 2) + W_POLICY);
      if (p < P_FAIR || p > P_WRITERS) throw new TypeError(`RwLock.from: corrupt policy word ${p} at offset ${this.offset}`);
      this.policy = p;
    } else {
      const prefer = checkPolicy(opts.prefer ?? 'fair');
      const region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new RwLock: `region` must be a SharedRegion');
      this.region = region;
      this.offset = region.alloc('RwLock', BLOCK_BYTES);
      this.i32 = region.i32;
      this.policy = POLICIES.indexOf(prefer) + 1;
      Atomics.store(this.i32, (this.offset >> 2) + W_POLICY, this.policy);
    }
    this.prefer = POLICIES[this.policy - 1];
    this.idx = (this.offset >> 2) + W_STATE;
    this.ownIdx = (this.offset >> 2) + W_OWNER;
    this.key2 = this.offset + 4 * W_OWNER;
    if (this.region.threadId + 1 >= OW_INCONSISTENT) throw new RangeError(`RwLock: thread id ${this.region.threadId} does not fit in the owner word`);
    this.me = this.region.threadId + 1;
    this.threads = this.region.threads;
  }

  // ------------------------------------------------------------------ admission rules

  /** Whether a new reader may join in state `s`. */
  protected canRead(s: number): boolean {
    if ((s & RW_WRITER) === 0) return true;
    // 'readers': a draining writer does not stop readers while readers still hold the lock.
    return this.policy === P_READERS && s >>> READER_SHIFT !== 0;
  }

  /** One attempt loop to join as a reader; false if the policy says wait. */
  protected readonly tryReadLoop = (): boolean => {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (let i = 0; ; i++) {
      if (!this.canRead(s)) return false;
      if (s >>> READER_SHIFT >= MAX_READERS) throw new RangeError(`RwLock: too many readers (max ${MAX_READERS})`);
      // Acquire edge: reads the last releasing write (writer unlock / hand-off store).
      const seen = Atomics.compareExchange(i32, this.idx, s, s + RW_ONE_READER);
      if (seen === s) return true;
      s = seen;
      pause(i); // readers contend on the count: give the winner room
    }
  };

  /** Grab WRITER if neither WRITER nor UPGRADABLE is set (readers may remain: drain them next). */
  protected readonly tryWriterBit = (): boolean => {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (;;) {
      if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0) {
        return false;
      }
      // Acquire edge (for the part of the lock already free).
      const seen = Atomics.compareExchange(i32, this.idx, s, s | RW_WRITER);
      if (seen === s) return true;
      s = seen;
    }
  };

  protected readonly tryUpgradableLoop = (): boolean => {
    const i32 = this.i32;
    let s = Atomics.load(i32, this.idx);
    for (let i = 0; ; i++) {
      if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0 || s >>> READER_SHIFT >= MAX_READERS) {
        if ((s & (RW_WRITER | RW_UPGRADABLE)) !== 0) return false;
        throw new RangeError(`RwLock: too many readers (max ${MAX_READERS})`);
      }
      const seen = Atomics.compareExchange(i32, this.idx, s, s + (RW_ONE_READER | RW_UPGRADABLE));
      if (seen === s) return true;
      s = seen;
      pause(i);
    }
  };

  protected setOwner(): void {
    // Plain store, ordered by the lock (see the header): we hold WRITER or UPGRADABLE.
    this.i32[this.ownIdx] = this.me;
  }

  protected clearOwner(): void {
    // Plain store before the bit is given up; the releasing RMW that follows orders it.
    this.i32[this.ownIdx] = 0;
  }

  protected checkNotOwner(what: string): void {
    // Reading our own id means this thread holds WRITER or UPGRADABLE (see the header).
    const o = Atomics.load(this.i32, this.ownIdx);
    if (o > 0 && (o & ~OW_INCONSISTENT) === this.me) {
      throw new Error(
        `RwLock.${what}: deadlock: this thread (${this.region.threadId}) already holds the write or upgradable lock; ` +
          'between async tasks of one thread use the async forms',
      );
    }
  }
}
