/**
 * The region's fixed pool of waiter records: a free stack of record indices guarded by a word lock.
 *
 * Not a lock-free Treiber stack: a 16-bit ABA tag can wrap while a preempted thread sits between
 * its load and its CAS, and a wider tag does not fit an Int32; the lock costs a few ns on a path
 * that already pays a futex wait.
 *
 * Invariants
 * - The head (HOT_FREE_WAITERS) and the WTR_NEXT links of free records are read and written only
 *   under HOT_FREE_LOCK.
 * - A record is owned by exactly one parker from `alloc` to `free`; WTR_STATE is WSTATE_FREE
 *   exactly while it is on the stack.
 */

import { FREE_EMPTY, HOT_FREE_LOCK, HOT_FREE_WAITERS, WAITER_WORDS, WSTATE_ALLOCATED, WSTATE_FREE, WTR_NEXT, WTR_STATE } from './layout.ts';
import { wordLock, wordUnlock } from './word-lock.ts';

export class WaiterPool {
  private readonly h: Int32Array;
  /** Word index of record 0. */
  readonly w0: number;
  /** How many records the region has. */
  readonly count: number;

  constructor(h: Int32Array, firstWord: number, count: number) {
    this.h = h;
    this.w0 = firstWord;
    this.count = count;
  }

  /** Lays out a fresh stack (record i links to i+1). Only for a region nobody else sees yet. */
  static format(h: Int32Array, firstWord: number, count: number): void {
    for (let i = 0; i < count; i++) {
      h[firstWord + i * WAITER_WORDS + WTR_NEXT] = i + 1 < count ? i + 1 : FREE_EMPTY;
      h[firstWord + i * WAITER_WORDS + WTR_STATE] = WSTATE_FREE;
    }
    h[HOT_FREE_WAITERS] = 0;
  }

  /** Pops a free record; RangeError naming the region's `waiters` option when all are in use. */
  alloc(): number {
    const h = this.h;
    wordLock(h, HOT_FREE_LOCK);
    // Under the free-list lock: the head and the records' WTR_NEXT links are ours to read and write.
    const idx = Atomics.load(h, HOT_FREE_WAITERS);
    if (idx === FREE_EMPTY) {
      wordUnlock(h, HOT_FREE_LOCK);
      throw new RangeError(
        `SharedRegion out of waiter records: all ${this.count} are parked; create the region with a larger \`waiters\` option`,
      );
    }
    Atomics.store(h, HOT_FREE_WAITERS, Atomics.load(h, this.w0 + idx * WAITER_WORDS + WTR_NEXT));
    Atomics.store(h, this.w0 + idx * WAITER_WORDS + WTR_STATE, WSTATE_ALLOCATED);
    wordUnlock(h, HOT_FREE_LOCK);
    return idx;
  }

  /** Pushes a record back on the stack. */
  free(idx: number): void {
    const h = this.h;
    const base = this.w0 + idx * WAITER_WORDS;
    wordLock(h, HOT_FREE_LOCK);
    Atomics.store(h, base + WTR_STATE, WSTATE_FREE);
    Atomics.store(h, base + WTR_NEXT, Atomics.load(h, HOT_FREE_WAITERS));
    Atomics.store(h, HOT_FREE_WAITERS, idx);
    // Release edge (the unlock): the next popper sees this record's fields as we left them.
    wordUnlock(h, HOT_FREE_LOCK);
  }

  /** How many records are free now (walks the stack; for tests and leak checks). */
  freeCount(): number {
    let n = 0;
    wordLock(this.h, HOT_FREE_LOCK);
    let idx = Atomics.load(this.h, HOT_FREE_WAITERS);
    while (idx !== FREE_EMPTY && n <= this.count) {
      n++;
      idx = Atomics.load(this.h, this.w0 + idx * WAITER_WORDS + WTR_NEXT);
    }
    wordUnlock(this.h, HOT_FREE_LOCK);
    return n;
  }
}
