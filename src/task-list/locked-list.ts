/**
 * TaskList impl 'locked': one doubly linked list of index-linked nodes under one parklot Mutex.
 * The baseline of claim C5: CPython's task registration before 3.14 (one global list, insertion
 * at the tail, everything under one lock; gh-107803).
 *
 * Layout (Int32 indices from the block start):
 *
 * | index         | words                                            |
 * |---------------|--------------------------------------------------|
 * | 0…31          | header (ticket.ts: impl, capacity, tag, mutex offset) |
 * | 32            | HEAD, TAIL, FREE, SIZE (one line, all under the mutex) |
 * | 64 + 4i …     | node i: VALUE, GEN, PREV, NEXT                   |
 *
 * GEN word: `gen << 1 | live`. A node is on the live list iff `live` is 1; otherwise it is on
 * the singly linked free list (through NEXT). Removal bumps `gen`, so every ticket is accepted
 * by `remove` at most once.
 *
 * Memory edges: every word past the header is read and written with plain accesses, only while
 * holding the Mutex; the Mutex's lock CAS / unlock CAS order one critical section before the
 * next (see mutex.ts), so those accesses never race.
 *
 * Progress: blocking (a preempted lock holder stops everyone). Iteration is an exact snapshot
 * taken under the lock, so it is linearizable; the callback runs after the lock is released, so
 * it may call insert/remove.
 */

import { Mutex } from '../lock/mutex.ts';
import type { SharedRegion } from '../parking/region.ts';
import {
  decodeTicket, encodeTicket, fullError, H_CAPACITY, H_MUTEX_OFF, H_TAG, HEADER_WORDS, NIL,
  type TaskListCore, type Ticket,
} from './ticket.ts';

const L_HEAD = HEADER_WORDS;
const L_TAIL = HEADER_WORDS + 1;
const L_FREE = HEADER_WORDS + 2;
const L_SIZE = HEADER_WORDS + 3;
const L_NODES = 2 * HEADER_WORDS;
const N_VALUE = 0;
const N_GEN = 1;
const N_PREV = 2;
const N_NEXT = 3;
const NODE_WORDS = 4;

export function lockedBytes(capacity: number): number {
  return (L_NODES + NODE_WORDS * capacity) * 4;
}

/** Writes the empty list into a fresh zero-filled block (before its handle is published). */
export function lockedInit(i32: Int32Array, base: number, capacity: number): void {
  i32[base + L_HEAD] = NIL;
  i32[base + L_TAIL] = NIL;
  i32[base + L_FREE] = 0;
  i32[base + L_SIZE] = 0;
  for (let i = 0; i < capacity; i++) i32[base + L_NODES + NODE_WORDS * i + N_NEXT] = i + 1 < capacity ? i + 1 : NIL;
}

export class LockedList implements TaskListCore {
  private readonly i32: Int32Array;
  private readonly base: number;
  private readonly nodes: number;
  private readonly capacity: number;
  private readonly tag: number;
  private readonly mutex: Mutex;
  private readonly scratch = { gen: 0 };

  constructor(region: SharedRegion, offset: number) {
    this.i32 = region.i32;
    this.base = offset >> 2;
    this.nodes = this.base + L_NODES;
    this.capacity = Atomics.load(this.i32, this.base + H_CAPACITY);
    this.tag = Atomics.load(this.i32, this.base + H_TAG);
    this.mutex = Mutex.from(region.handleFor('Mutex', Atomics.load(this.i32, this.base + H_MUTEX_OFF)));
  }

  insert(value: number): Ticket {
    const i32 = this.i32;
    const b = this.base;
    this.mutex.lock();
    // Plain accesses below: all under the mutex (see the file comment).
    const idx = i32[b + L_FREE]!;
    if (idx === NIL) {
      this.mutex.unlock();
      throw fullError(`all ${this.capacity} entries are in use ('locked' list)`);
    }
    const node = this.nodes + NODE_WORDS * idx;
    i32[b + L_FREE] = i32[node + N_NEXT]!;
    const gen = i32[node + N_GEN]! >>> 1;
    i32[node + N_VALUE] = value;
    i32[node + N_GEN] = (gen << 1) | 1;
    const tail = i32[b + L_TAIL]!;
    i32[node + N_PREV] = tail;
    i32[node + N_NEXT] = NIL;
    if (tail === NIL) i32[b + L_HEAD] = idx;
    else i32[this.nodes + NODE_WORDS * tail + N_NEXT] = idx;
    i32[b + L_TAIL] = idx;
    i32[b + L_SIZE]!++;
    this.mutex.unlock();
    return encodeTicket(this.tag, gen, idx);
  }

  remove(ticket: Ticket): boolean {
    const idx = decodeTicket('TaskList.remove', ticket, this.tag, this.capacity, this.scratch);
    const tgen = this.scratch.gen;
    const i32 = this.i32;
    const b = this.base;
    const node = this.nodes + NODE_WORDS * idx;
    this.mutex.lock();
    const g = i32[node + N_GEN]!;
    if ((g & 1) === 0 || ((g >>> 1) & 0xffff) !== tgen) {
      this.mutex.unlock();
      return false;
    }
    const prev = i32[node + N_PREV]!;
    const next = i32[node + N_NEXT]!;
    if (prev === NIL) i32[b + L_HEAD] = next;
    else i32[this.nodes + NODE_WORDS * prev + N_NEXT] = next;
    if (next === NIL) i32[b + L_TAIL] = prev;
    else i32[this.nodes + NODE_WORDS * next + N_PREV] = prev;
    i32[node + N_GEN] = (((g >>> 1) + 1) & 0x3fffffff) << 1;
    i32[node + N_NEXT] = i32[b + L_FREE]!;
    i32[b + L_FREE] = idx;
    i32[b + L_SIZE]!--;
    this.mutex.unlock();
    return true;
  }

  size(): number {
    this.mutex.lock();
    const n = this.i32[this.base + L_SIZE]!;
    this.mutex.unlock();
    return n;
  }

  forEach(cb: (value: number, ticket: Ticket) => void): void {
    const values: number[] = [];
    const tickets: number[] = [];
    const i32 = this.i32;
    this.mutex.lock();
    try {
      for (let i = i32[this.base + L_HEAD]!; i !== NIL; i = i32[this.nodes + NODE_WORDS * i + N_NEXT]!) {
        const node = this.nodes + NODE_WORDS * i;
        values.push(i32[node + N_VALUE]!);
        tickets.push(encodeTicket(this.tag, i32[node + N_GEN]! >>> 1, i));
      }
    } finally {
      this.mutex.unlock();
    }
    for (let k = 0; k < values.length; k++) cb(values[k]!, tickets[k]!);
  }
}
