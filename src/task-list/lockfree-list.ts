/**
 * TaskList impl 'lockfree': a lock-free slot table.
 *
 * Why this design and not the two the issue names:
 * - A Harris–Michael list needs a marked, tagged next-index per node and two-step unlinking,
 *   and it buys ordered traversal, which a task registry does not need (asyncio only asks
 *   "register, unregister, enumerate"). Its insert and remove each cost several CASes on
 *   lines shared by all threads (the predecessor's next word).
 * - A slot table with a tagged Treiber free stack must pack index and ABA tag into one Int32
 *   (16/16 bits: 65,536 slots, and a tag that a preempted thread can see wrap in about a
 *   millisecond of other threads' work) or use a 64-bit BigInt CAS (≈1.6× the cost, boxed
 *   BigInts). The free-stack head is also one hot line for every insert and remove.
 * So instead of a free stack, an insert claims a free slot directly with one CAS on that slot's
 * own state word, probing linearly from a per-thread cursor. There is no shared free-list head
 * and nothing to ABA-protect: a CAS from FREE(gen) to BUSY(gen) is correct whatever happened to
 * the slot before. A count of reserved slots (one `Atomics.add`) makes "full" exact and bounds
 * the probe. Cursors start at a hash of the thread id, so threads mostly probe disjoint lines.
 *
 * Slot state word (`gen` = 16-bit generation, `st` = 2-bit state):
 *
 * | st | name | meaning                                                       |
 * |----|------|---------------------------------------------------------------|
 * | 0  | FREE | unused; `gen` is the generation the next entry will carry      |
 * | 1  | BUSY | claimed by an insert that is writing the value (not yet visible) |
 * | 2  | USED | holds a live entry whose ticket carries `gen`                  |
 *
 * Transitions: FREE(g) → BUSY(g) (insert's claim CAS) → USED(g) (insert's publishing store) →
 * FREE(g+1) (remove's CAS; the only way out of USED, so each ticket is removed at most once).
 *
 * Layout (Int32 indices): header line (ticket.ts), COUNT on its own line (index 32), then slots
 * of 2 words `[state, value]` from index 64.
 *
 * Invariants: number of slots not FREE ≤ COUNT ≤ capacity (insert reserves by CAS, never past
 * capacity, before claiming; remove releases after freeing). Hence an insert holding a
 * reservation always has at least one FREE slot to find. "Full" is reported only when COUNT is
 * at capacity, which can lag a concurrent remove by one step (between its CAS and its
 * `Atomics.sub`): the one documented spurious case.
 *
 * Progress: lock-free. Remove is one CAS that never retries plus one `Atomics.sub` (wait-free).
 * Insert's reservation CAS fails only when another insert or remove changed COUNT, and its
 * probe only fails a CAS or skips a slot when another insert claimed it: each retry means some
 * operation made progress. No operation ever waits for another to finish.
 *
 * Memory edges: the value word is written plainly by the inserting thread while the slot is
 * BUSY (no other thread reads it as a live value then), and published by the
 * `Atomics.store(state, USED(g))` that iterators read with `Atomics.load`. Iterators read the
 * value with `Atomics.load` and then re-load the state; if the state is unchanged, the value
 * they read is the one published with it (a reuse would have changed the state first).
 *
 * Iteration (`forEach`): one pass over all slots (O(capacity), not O(size)). It reports every
 * entry that was live for the whole pass, exactly once; it never reports an entry that was
 * removed before the pass began or inserted after it ended; entries inserted or removed during
 * the pass may or may not be reported. It is not a snapshot: two entries inserted in order
 * during the pass may be reported "out of order" (the later one without the earlier one).
 * `size` is the reservation count: exact when no operation is in progress.
 */

import type { SharedRegion } from '../parking/region.ts';
import { decodeTicket, encodeTicket, fullError, H_CAPACITY, H_TAG, HEADER_WORDS, type TaskListCore, type Ticket } from './ticket.ts';

const F_COUNT = HEADER_WORDS;
const F_SLOTS = 2 * HEADER_WORDS;
const ST_MASK = 3;
const FREE = 0;
const BUSY = 1;
const USED = 2;

export function lockfreeBytes(capacity: number): number {
  return (F_SLOTS + 2 * capacity) * 4;
}

export class LockFreeList implements TaskListCore {
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly slots: number;
  private readonly capacity: number;
  private readonly tag: number;
  /** This thread's probe cursor (thread-local: never shared). */
  private cursor: number;
  private readonly scratch = { gen: 0 };

  constructor(region: SharedRegion, offset: number) {
    this.i32 = region.i32;
    this.base = offset >> 2;
    this.slots = this.base + F_SLOTS;
    this.capacity = Atomics.load(this.i32, this.base + H_CAPACITY);
    this.tag = Atomics.load(this.i32, this.base + H_TAG);
    // Fibonacci hash of the thread id spreads threads' cursors over the table.
    this.cursor = Math.floor(((Math.imul(region.threadId, 0x9e3779b1) >>> 0) / 2 ** 32) * this.capacity);
  }

  insert(value: number): Ticket {
    const i32 = this.i32;
    const cap = this.capacity;
    // Reserve a slot: CAS the count up unless it is at capacity. (Not `Atomics.add` then undo:
    // a failing insert's transient over-count made a concurrent insert report "full" with
    // free slots left, which the linearizability rounds caught.) Reads remove's Atomics.sub.
    const countIdx = this.base + F_COUNT;
    let c = Atomics.load(i32, countIdx);
    for (;;) {
      if (c >= cap) throw fullError(`all ${cap} entries are in use ('lockfree' table)`);
      const seen = Atomics.compareExchange(i32, countIdx, c, c + 1);
      if (seen === c) break;
      c = seen;
    }
    let i = this.cursor;
    let s: number;
    for (;;) {
      const at = this.slots + 2 * i;
      // Synchronizes with the remove (or init) that freed the slot.
      s = Atomics.load(i32, at);
      if ((s & ST_MASK) === FREE && Atomics.compareExchange(i32, at, s, s | BUSY) === s) break;
      i = i + 1 === cap ? 0 : i + 1;
    }
    const at = this.slots + 2 * i;
    this.cursor = i + 1 === cap ? 0 : i + 1;
    i32[at + 1] = value; // plain: the slot is BUSY, so no reader treats this as live yet
    // Publishes the entry (value included): iterators and removers read this store.
    Atomics.store(i32, at, (s & ~ST_MASK) | USED);
    return encodeTicket(this.tag, s >>> 2, i);
  }

  remove(ticket: Ticket): boolean {
    const i = decodeTicket('TaskList.remove', ticket, this.tag, this.capacity, this.scratch);
    const g = this.scratch.gen;
    const used = (g << 2) | USED;
    // Linearization point. SC CAS: exactly one remover of this ticket sees `used`.
    if (Atomics.compareExchange(this.i32, this.slots + 2 * i, used, (((g + 1) & 0xffff) << 2) | FREE) !== used) return false;
    // Release the reservation after the slot is FREE (keeps COUNT ≥ slots in use).
    Atomics.sub(this.i32, this.base + F_COUNT, 1);
    return true;
  }

  size(): number {
    const n = Atomics.load(this.i32, this.base + F_COUNT);
    return n < 0 ? 0 : n > this.capacity ? this.capacity : n;
  }

  forEach(cb: (value: number, ticket: Ticket) => void): void {
    const i32 = this.i32;
    for (let i = 0; i < this.capacity; i++) {
      const at = this.slots + 2 * i;
      const s = Atomics.load(i32, at);
      if ((s & ST_MASK) !== USED) continue;
      const v = Atomics.load(i32, at + 1);
      // Still the same entry? (A remove + reuse would have changed the state word first.)
      if (Atomics.load(i32, at) !== s) continue;
      cb(v, encodeTicket(this.tag, s >>> 2, i));
    }
  }
}
