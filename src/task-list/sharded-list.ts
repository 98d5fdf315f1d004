/**
 * TaskList impl 'sharded': per-thread owned lists with remote removal through an MPSC inbox.
 *
 * This is CPython 3.14's design (gh-128002: each thread keeps its own intrusive doubly linked
 * list of tasks and registers/unregisters on it without atomics) adapted to shared memory
 * without stop-the-world, which JS cannot do: instead of pausing the owner, a thread that
 * removes an entry it does not own marks it removed with one CAS and posts the node into the
 * owner's inbox (a Vyukov ring, ring.ts, used as MPSC); the owner unlinks and recycles inbox
 * nodes when its free list runs dry. Cross-thread free lists are mimalloc's "free list
 * multi-sharding" (Leijen et al., 2019) in miniature.
 *
 * Shards: `shards` of them (default 16), each with `ceil(capacity / shards)` nodes. A TaskList
 * object claims a free shard (CAS on the shard's OWNER word) on its first insert and owns it for
 * the list's lifetime; more inserting TaskList objects than shards is a RangeError naming
 * `shards`. Capacity is per shard: a thread's insert throws the `capacity` RangeError when *its*
 * shard is full, even if other shards have room.
 *
 * Node state word (atomic; `gen` 16 bits, `st` 2 bits): FREE 0 → USED 2 (owner insert, Atomics
 * store) → FREE(g+1) (owner remove: CAS) or REMOVED 3 (remote remove: CAS) → FREE(g+1) (owner
 * drain). All other node words (VALUE, PREV, NEXT) and the shard's HEAD/TAIL/FREE/INSERTED/
 * LOCAL_REMOVED are written by the owner only, with plain accesses.
 *
 * Owner path: insert = plain list and free-list work + one `Atomics.store` (publishing the
 * state); remove = one uncontended CAS on the node's own state word (needed to decide the race
 * with a remote remover of the same ticket; CPython decides it by stopping the world) + plain
 * unlinking. No atomics touch a line shared with other threads on either path.
 *
 * Layout (Int32 indices): list header line (ticket.ts), then per shard, 128-byte aligned:
 * an owner line [OWNER, HEAD, TAIL, FREE, INSERTED, LOCAL_REMOVED], the inbox ring (ring.ts;
 * its capacity word's line also holds REMOTE_REMOVED at ring index 1), then nodes
 * `[state, value, prev, next]`.
 *
 * Invariants: a node is in the owner's list iff its state is USED or REMOVED; a REMOVED node is
 * in the inbox exactly once. The inbox has at least as many cells as the shard has nodes, so a
 * remote remover's push always finds a free cell: a cell a lap behind could only still be held
 * if more than `nodes` distinct REMOVED nodes were queued at once.
 *
 * Progress: insert and local remove are wait-free; remote remove is one CAS plus a ring push
 * that cannot fail for "full" (above) but can wait, in its CAS retry loop, on other remote
 * removers of the same shard.
 *
 * Memory edges: VALUE is written plainly by the owner before its `Atomics.store` of USED, which
 * iterators and remote removers read with Atomics (synchronizes-with). An iterator reads VALUE
 * with `Atomics.load` and re-checks the state (as in the lock-free table); an owner's plain
 * write racing with that load is benign (aligned Int32 accesses do not tear, ECMA-262 NoTear,
 * and a changed value implies a changed state, which the re-check rejects). The plain
 * INSERTED/LOCAL_REMOVED counters are read with `Atomics.load` by `size` in the same benign way.
 *
 * Iteration: a pass over every shard's node array with the same guarantees as the lock-free
 * table (entries live for the whole pass are reported exactly once; others maybe). `size` sums
 * per-shard counters: exact when no operation is in progress.
 */

import type { SharedRegion } from '../parking/region.ts';
import { LINE, ringBytes, ringInit, ringTryPop, ringTryPush } from './ring.ts';
import {
  decodeTicket, encodeTicket, fullError, H_CAPACITY, H_INBOX_CAP, H_PER_SHARD, H_SHARDS, H_TAG,
  HEADER_WORDS, NIL, type TaskListCore, type Ticket,
} from './ticket.ts';

const O_OWNER = 0;
const O_HEAD = 1;
const O_TAIL = 2;
const O_FREE = 3;
const O_INSERTED = 4;
const O_LOCAL_REMOVED = 5;
/** REMOTE_REMOVED lives in the inbox ring's capacity line (ring index 1). */
const RING_REMOTE_REMOVED = 1;
const N_STATE = 0;
const N_VALUE = 1;
const N_PREV = 2;
const N_NEXT = 3;
const NODE_WORDS = 4;
const ST_MASK = 3;
const FREE = 0;
const USED = 2;
const REMOVED = 3;

export const DEFAULT_SHARDS = 16;

/** Shard geometry derived from the options (all sizes in Int32 words). */
export function shardedGeometry(capacity: number, shards: number): { perShard: number; inboxCap: number; shardWords: number } {
  const perShard = Math.ceil(capacity / shards);
  let inboxCap = 1;
  while (inboxCap < perShard) inboxCap <<= 1;
  const raw = LINE + (ringBytes(inboxCap) >> 2) + NODE_WORDS * perShard;
  return { perShard, inboxCap, shardWords: Math.ceil(raw / LINE) * LINE };
}

export function shardedBytes(capacity: number, shards: number): number {
  return (HEADER_WORDS + shards * shardedGeometry(capacity, shards).shardWords) * 4;
}

/** Initializes every shard of a fresh zero-filled block (before its handle is published). */
export function shardedInit(i32: Int32Array, base: number, capacity: number, shards: number): void {
  const { perShard, inboxCap, shardWords } = shardedGeometry(capacity, shards);
  for (let s = 0; s < shards; s++) {
    const sb = base + HEADER_WORDS + s * shardWords;
    i32[sb + O_HEAD] = NIL;
    i32[sb + O_TAIL] = NIL;
    i32[sb + O_FREE] = 0;
    ringInit(i32, sb + LINE, inboxCap);
    const nodes = sb + LINE + (ringBytes(inboxCap) >> 2);
    for (let i = 0; i < perShard; i++) i32[nodes + NODE_WORDS * i + N_NEXT] = i + 1 < perShard ? i + 1 : NIL;
  }
}

export class ShardedList implements TaskListCore {
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly capacity: number;
  private readonly tag: number;
  private readonly shards: number;
  private readonly perShard: number;
  private readonly inboxMask: number;
  private readonly shardWords: number;
  private readonly ringWords: number;
  /** This object's shard, or -1 before its first insert. */
  private mine = -1;
  /** This thread's id in the region (marks the shard it owns; never 0). */
  private readonly tid: number;
  /** Int32 index of this object's shard owner line / inbox / node array (valid when mine ≥ 0). */
  private sb = 0;
  private inbox = 0;
  private nodes = 0;
  private readonly scratch = { gen: 0 };

  constructor(region: SharedRegion, offset: number) {
    const i32 = region.i32;
    this.i32 = i32;
    this.base = offset >> 2;
    this.tid = region.threadId;
    this.capacity = Atomics.load(i32, this.base + H_CAPACITY);
    this.tag = Atomics.load(i32, this.base + H_TAG);
    this.shards = Atomics.load(i32, this.base + H_SHARDS);
    this.perShard = Atomics.load(i32, this.base + H_PER_SHARD);
    const inboxCap = Atomics.load(i32, this.base + H_INBOX_CAP);
    this.inboxMask = inboxCap - 1;
    this.ringWords = ringBytes(inboxCap) >> 2;
    this.shardWords = shardedGeometry(this.capacity, this.shards).shardWords;
  }

  private shardBase(s: number): number {
    return this.base + HEADER_WORDS + s * this.shardWords;
  }

  /** Claims a shard for this object (first insert). */
  private claim(): void {
    const start = this.tid % this.shards;
    for (let k = 0; k < this.shards; k++) {
      const s = (start + k) % this.shards;
      // SC CAS: exactly one object owns a shard. Its later plain writes to the shard are ordered
      // for other readers by the Atomics stores that publish them (see the file comment).
      if (Atomics.compareExchange(this.i32, this.shardBase(s) + O_OWNER, 0, this.tid) === 0) {
        this.mine = s;
        this.sb = this.shardBase(s);
        this.inbox = this.sb + LINE;
        this.nodes = this.inbox + this.ringWords;
        return;
      }
    }
    throw new RangeError(
      `TaskList ('sharded'): all ${this.shards} shards are owned by other TaskList objects; create the list with a larger \`shards\` option`,
    );
  }

  insert(value: number): Ticket {
    if (this.mine < 0) this.claim();
    const i32 = this.i32;
    const sb = this.sb;
    // Plain accesses to the owner line and node links: only this object writes them.
    let idx = i32[sb + O_FREE]!;
    if (idx === NIL) {
      this.drain();
      idx = i32[sb + O_FREE]!;
      if (idx === NIL) {
        throw fullError(
          `this thread's shard holds all its ${this.perShard} entries ('sharded' list: capacity ${this.capacity} split over ${this.shards} shards; or lower \`shards\`)`,
        );
      }
    }
    const node = this.nodes + NODE_WORDS * idx;
    i32[sb + O_FREE] = i32[node + N_NEXT]!;
    // Plain read of a FREE node's state: only its owner (us) changes a FREE state; a stale
    // remover's failed CAS writes back the same value.
    const gen = i32[node + N_STATE]! >>> 2;
    i32[node + N_VALUE] = value;
    const tail = i32[sb + O_TAIL]!;
    i32[node + N_PREV] = tail;
    i32[node + N_NEXT] = NIL;
    if (tail === NIL) i32[sb + O_HEAD] = idx;
    else i32[this.nodes + NODE_WORDS * tail + N_NEXT] = idx;
    i32[sb + O_TAIL] = idx;
    i32[sb + O_INSERTED]!++;
    // Publishes the entry (value included) to iterators and remote removers.
    Atomics.store(i32, node + N_STATE, (gen << 2) | USED);
    return encodeTicket(this.tag, gen, this.mine * this.perShard + idx);
  }

  remove(ticket: Ticket): boolean {
    const global = decodeTicket('TaskList.remove', ticket, this.tag, this.shards * this.perShard, this.scratch);
    const g = this.scratch.gen;
    const used = (g << 2) | USED;
    const shard = (global / this.perShard) | 0;
    const idx = global - shard * this.perShard;
    const i32 = this.i32;
    if (shard === this.mine) {
      const node = this.nodes + NODE_WORDS * idx;
      // Linearization point; decides the race with remote removers of the same ticket.
      if (Atomics.compareExchange(i32, node + N_STATE, used, (((g + 1) & 0xffff) << 2) | FREE) !== used) return false;
      this.unlink(idx);
      i32[this.sb + O_LOCAL_REMOVED]!++; // plain: owner-only counter
      return true;
    }
    const sb = this.shardBase(shard);
    const inbox = sb + LINE;
    const node = inbox + this.ringWords + NODE_WORDS * idx;
    // Linearization point for a remote removal. The owner reads REMOVED when it drains.
    if (Atomics.compareExchange(i32, node + N_STATE, used, (g << 2) | REMOVED) !== used) return false;
    Atomics.add(i32, inbox + RING_REMOTE_REMOVED, 1);
    if (!ringTryPush(i32, inbox, this.inboxMask, idx)) {
      // Unreachable by the inbox-capacity invariant (file comment).
      throw new Error('TaskList (sharded): remote-removal inbox overflow; this is a bug in parklot');
    }
    return true;
  }

  /** Owner: unlinks every node posted to the inbox and returns it to the free list. */
  private drain(): void {
    const i32 = this.i32;
    for (;;) {
      const idx = ringTryPop(i32, this.inbox, this.inboxMask);
      if (idx === undefined) return;
      const node = this.nodes + NODE_WORDS * idx;
      const s = Atomics.load(i32, node + N_STATE); // REMOVED(g), published by the remover's CAS
      this.unlink(idx);
      // FREE(g+1): readable by iterators and stale removers (whose CAS then fails).
      Atomics.store(i32, node + N_STATE, ((((s >>> 2) + 1) & 0xffff) << 2) | FREE);
    }
  }

  /** Owner: takes node `idx` off the live list and pushes it on the free list (plain). */
  private unlink(idx: number): void {
    const i32 = this.i32;
    const sb = this.sb;
    const nodes = this.nodes;
    const node = nodes + NODE_WORDS * idx;
    const prev = i32[node + N_PREV]!;
    const next = i32[node + N_NEXT]!;
    if (prev === NIL) i32[sb + O_HEAD] = next;
    else i32[nodes + NODE_WORDS * prev + N_NEXT] = next;
    if (next === NIL) i32[sb + O_TAIL] = prev;
    else i32[nodes + NODE_WORDS * next + N_PREV] = prev;
    i32[node + N_NEXT] = i32[sb + O_FREE]!;
    i32[sb + O_FREE] = idx;
  }

  size(): number {
    let n = 0;
    const i32 = this.i32;
    for (let s = 0; s < this.shards; s++) {
      const sb = this.shardBase(s);
      // Atomic loads of owner-written plain counters: benign (file comment).
      n += (Atomics.load(i32, sb + O_INSERTED) - Atomics.load(i32, sb + O_LOCAL_REMOVED) - Atomics.load(i32, sb + LINE + RING_REMOTE_REMOVED)) | 0;
    }
    return n < 0 ? 0 : n;
  }

  forEach(cb: (value: number, ticket: Ticket) => void): void {
    const i32 = this.i32;
    for (let s = 0; s < this.shards; s++) {
      const nodes = this.shardBase(s) + LINE + this.ringWords;
      for (let i = 0; i < this.perShard; i++) {
        const node = nodes + NODE_WORDS * i;
        const st = Atomics.load(i32, node + N_STATE);
        if ((st & ST_MASK) !== USED) continue;
        const v = Atomics.load(i32, node + N_VALUE);
        if (Atomics.load(i32, node + N_STATE) !== st) continue;
        cb(v, encodeTicket(this.tag, st >>> 2, s * this.perShard + i));
      }
    }
  }
}
