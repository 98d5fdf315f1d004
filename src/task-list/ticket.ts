/**
 * Tickets and the header shared by the three TaskList implementations.
 *
 * A ticket is a plain non-negative integer below 2^53 (so it is cloneable, comparable and can be
 * stored in shared memory as two Int32 words by callers that need to):
 *
 * ```
 * ticket = (tag · 2^16 + gen) · 2^21 + index
 *          tag:   16 bits, random per list, stored in the list header
 *          gen:   16 bits, the slot's generation when the entry was inserted
 *          index: 21 bits, the slot (capacity ≤ 2^21)
 * ```
 *
 * A ticket whose tag is not this list's is "from another list" and is rejected with a
 * TypeError (two lists share a tag with probability 2^-15; then the ticket is checked like a
 * stale one). A ticket whose slot has moved on to another generation (the entry was removed,
 * and maybe the slot reused) makes `remove` return `false`: the generation is what makes "the
 * same ticket twice" detectable. It wraps after 65,536 reuses of one slot, so a ticket kept
 * across that many reuses of its slot would be mistaken for the live one (ABA on tickets).
 */

/** Opaque handle for one inserted entry; pass it to `remove`. */
export type Ticket = number;

export const MAX_TASKLIST_CAPACITY = 1 << 21;
const INDEX_SPAN = 2 ** 21;
const GEN_SPAN = 2 ** 16;

// Header words of every TaskList block (Int32 indices from its start; one 128-byte line,
// written once by the creator before the handle is posted, read-only afterwards).
export const H_IMPL = 0;
export const H_CAPACITY = 1;
export const H_TAG = 2;
export const H_SHARDS = 3;
export const H_PER_SHARD = 4;
export const H_MUTEX_OFF = 5;
export const H_INBOX_CAP = 6;
export const HEADER_WORDS = 32;

/** TaskList implementations (see TaskListOptions.impl). */
export type TaskListImpl = 'locked' | 'lockfree' | 'sharded';
export const IMPL_CODES: Readonly<Record<TaskListImpl, number>> = { locked: 1, lockfree: 2, sharded: 3 };

export function encodeTicket(tag: number, gen: number, index: number): Ticket {
  return (tag * GEN_SPAN + (gen & 0xffff)) * INDEX_SPAN + index;
}

/**
 * Decodes `ticket` for the list with `tag` and `slots` slots. Throws TypeError for a value that
 * is not a ticket of this list. Returns the slot index; the generation is left in `out.gen`.
 */
export function decodeTicket(what: string, ticket: unknown, tag: number, slots: number, out: { gen: number }): number {
  if (typeof ticket !== 'number' || !Number.isSafeInteger(ticket) || ticket < 0) {
    throw new TypeError(`${what}: not a TaskList ticket: ${typeof ticket === 'number' ? ticket : typeof ticket}`);
  }
  const index = ticket % INDEX_SPAN;
  const hi = (ticket - index) / INDEX_SPAN;
  const gen = hi % GEN_SPAN;
  const t = (hi - gen) / GEN_SPAN;
  if (t !== tag) throw new TypeError(`${what}: the ticket belongs to another TaskList`);
  if (index >= slots) throw new TypeError(`${what}: the ticket names slot ${index}, but this TaskList has ${slots}`);
  out.gen = gen;
  return index;
}

/** A fresh random list tag in [1, 65535]. */
export function randomTag(): number {
  return (crypto.getRandomValues(new Uint16Array(1))[0]! % 0xffff) + 1;
}

export function checkCapacity(capacity: unknown): number {
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1 || capacity > MAX_TASKLIST_CAPACITY) {
    throw new RangeError(`TaskList option \`capacity\` must be an integer from 1 to 2^21, got ${String(capacity)}`);
  }
  return capacity;
}

export function checkValue(what: string, v: unknown): asserts v is number {
  if (typeof v !== 'number' || (v | 0) !== v) {
    throw new TypeError(`${what}: value must be an Int32 (an integer from -2^31 to 2^31-1), got ${typeof v === 'number' ? v : typeof v}`);
  }
}

/** The RangeError every implementation throws when it has no room, naming the capacity. */
export function fullError(detail: string): RangeError {
  return new RangeError(`TaskList is full: ${detail}; create it with a larger \`capacity\``);
}

/** Node words (Int32 index-linked lists use NIL = -1). */
export const NIL = -1;

/** Implementation behind the TaskList facade. */
export interface TaskListCore {
  insert(value: number): Ticket;
  remove(ticket: Ticket): boolean;
  size(): number;
  /** Calls `cb` for each entry of a (weakly consistent, see each impl) snapshot. */
  forEach(cb: (value: number, ticket: Ticket) => void): void;
}
