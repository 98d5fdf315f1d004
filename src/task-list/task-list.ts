/**
 * TaskList: a concurrent registry of live tasks in shared memory, as asyncio keeps its set of
 * all tasks. `insert(value)` registers an Int32 (e.g. a task slot id) and returns a ticket;
 * `remove(ticket)` unregisters it, from any thread; `forEach` / iteration enumerates entries.
 *
 * Three implementations behind one interface, chosen by `impl`:
 * - `'locked'` (locked-list.ts): one doubly linked list under one parklot Mutex — the simplest,
 *   with exact snapshots and an exact `size`, but every operation takes the lock;
 * - `'lockfree'` (lockfree-list.ts, default): a lock-free slot table;
 * - `'sharded'` (sharded-list.ts): per-thread owned lists, remote removal via an MPSC inbox.
 *
 * Common contract:
 * - `insert` throws a RangeError naming `capacity` when there is no room (for 'sharded': no
 *   room in the calling object's shard) and changes nothing then. 'lockfree' may also report
 *   full while a concurrent `remove` of the last free-making entry is completing (its count
 *   trails the removal by one step); 'locked' never does.
 * - `remove(ticket)` returns `true` if this call removed the entry, `false` if the entry was
 *   already removed (a ticket used twice, or two threads racing to remove it: exactly one gets
 *   `true`). A value that is not a ticket of this list (another list's, a forged number) is a
 *   TypeError, and nothing changes.
 * - insert and remove are linearizable (checked by the multi-worker tests against a set model).
 * - Iteration: 'locked' gives an exact snapshot. 'lockfree' and 'sharded' are weakly
 *   consistent: every entry live during the whole iteration is reported exactly once; an entry
 *   removed before it starts or inserted after it ends is never reported; entries inserted or
 *   removed meanwhile may or may not be. No implementation reports an entry twice or invents
 *   one. Callbacks run without any lock held, so they may insert and remove.
 * - `size` is exact when no operation is in progress ('locked': always exact, it takes the lock).
 *
 * Tickets are plain numbers (see ticket.ts): post them to other threads freely.
 */

import { Mutex } from '../lock/mutex.ts';
import { resolveHandle, SharedRegion, type PrimitiveHandle } from '../parking/region.ts';
import { LockedList, lockedBytes, lockedInit } from './locked-list.ts';
import { LockFreeList, lockfreeBytes } from './lockfree-list.ts';
import { DEFAULT_SHARDS, shardedBytes, shardedGeometry, shardedInit, ShardedList } from './sharded-list.ts';
import {
  checkCapacity, checkValue, H_CAPACITY, H_IMPL, H_INBOX_CAP, H_MUTEX_OFF, H_PER_SHARD, H_SHARDS, H_TAG,
  IMPL_CODES, randomTag, type TaskListCore, type TaskListImpl, type Ticket,
} from './ticket.ts';

export type { TaskListImpl, Ticket } from './ticket.ts';

export interface TaskListOptions {
  /** Region to allocate the list in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /** Most entries live at once (1 … 2^21). For 'sharded' it is split evenly over the shards. */
  capacity: number;
  /**
   * Implementation. `'lockfree'` (default): no lock, scales with threads, weakly consistent
   * iteration. `'locked'`: one Mutex around a linked list; exact snapshots and size, slower under
   * contention. `'sharded'`: each inserting object owns a shard (fastest inserts and local
   * removes; removes from other threads go through an inbox), capacity split over the shards.
   */
  impl?: TaskListImpl;
  /** 'sharded' only: number of shards = most TaskList objects that insert (default 16, max 1024). */
  shards?: number;
}

export interface TaskListHandle extends PrimitiveHandle {
  readonly kind: 'TaskList';
}

const IMPL_NAMES: Record<number, TaskListImpl> = { 1: 'locked', 2: 'lockfree', 3: 'sharded' };

export class TaskList implements Iterable<[Ticket, number]> {
  readonly region: SharedRegion;
  readonly offset: number;
  readonly impl: TaskListImpl;
  readonly capacity: number;
  private readonly core: TaskListCore;
  private cachedHandle: TaskListHandle | undefined;

  constructor(opts: TaskListOptions, attach?: { region: SharedRegion; offset: number }) {
    if (opts === null || typeof opts !== 'object') throw new TypeError('new TaskList(opts): opts must be an object');
    let region: SharedRegion;
    let offset: number;
    if (attach !== undefined) {
      ({ region, offset } = attach);
    } else {
      const capacity = checkCapacity(opts.capacity);
      const impl = opts.impl ?? 'lockfree';
      if (!Object.hasOwn(IMPL_CODES, impl)) {
        throw new TypeError(`TaskList option \`impl\` must be 'locked', 'lockfree' or 'sharded', got ${JSON.stringify(impl)}`);
      }
      const shards = opts.shards ?? DEFAULT_SHARDS;
      if (impl === 'sharded' && (!Number.isInteger(shards) || shards < 1 || shards > 1024)) {
        throw new RangeError(`TaskList option \`shards\` must be an integer from 1 to 1024, got ${String(shards)}`);
      }
      if (impl !== 'sharded' && opts.shards !== undefined && opts.shards !== null) {
        throw new TypeError(`TaskList option \`shards\` only applies to impl 'sharded', not '${impl}'`);
      }
      region = opts.region ?? SharedRegion.default();
      if (!(region instanceof SharedRegion)) throw new TypeError('new TaskList: `region` must be a SharedRegion');
      const bytes = impl === 'locked' ? lockedBytes(capacity) : impl === 'lockfree' ? lockfreeBytes(capacity) : shardedBytes(capacity, shards);
      // Allocate the mutex first: if the list block then does not fit, only 4 bytes are lost.
      const mutex = impl === 'locked' ? new Mutex({ region }) : undefined;
      offset = region.alloc('TaskList', bytes, 128);
      const i32 = region.i32;
      const b = offset >> 2;
      // Header writes: published to other threads with the handle (the post orders them).
      Atomics.store(i32, b + H_IMPL, IMPL_CODES[impl]);
      Atomics.store(i32, b + H_CAPACITY, capacity);
      Atomics.store(i32, b + H_TAG, randomTag());
      if (impl === 'locked') {
        Atomics.store(i32, b + H_MUTEX_OFF, mutex!.offset);
        lockedInit(i32, b, capacity);
      } else if (impl === 'sharded') {
        const g = shardedGeometry(capacity, shards);
        Atomics.store(i32, b + H_SHARDS, shards);
        Atomics.store(i32, b + H_PER_SHARD, g.perShard);
        Atomics.store(i32, b + H_INBOX_CAP, g.inboxCap);
        shardedInit(i32, b, capacity, shards);
      }
    }
    this.region = region;
    this.offset = offset;
    const code = Atomics.load(region.i32, (offset >> 2) + H_IMPL);
    const impl = IMPL_NAMES[code];
    if (impl === undefined) throw new TypeError(`TaskList.from: corrupt list header (impl code ${code})`);
    this.impl = impl;
    this.capacity = Atomics.load(region.i32, (offset >> 2) + H_CAPACITY);
    this.core =
      impl === 'locked' ? new LockedList(region, offset) : impl === 'lockfree' ? new LockFreeList(region, offset) : new ShardedList(region, offset);
  }

  /** Attaches to a list from its handle (e.g. received from another thread). */
  static from(handle: TaskListHandle | PrimitiveHandle): TaskList {
    const { region, offset } = resolveHandle(handle, 'TaskList');
    return new TaskList({ capacity: 0 }, { region, offset });
  }

  /** A plain cloneable handle: post it to a worker and call `TaskList.from(handle)` there. */
  get handle(): TaskListHandle {
    this.cachedHandle ??= this.region.handleFor('TaskList', this.offset) as TaskListHandle;
    return this.cachedHandle;
  }

  /** Registers `value` (an Int32). Returns the ticket that removes it. RangeError when full. */
  insert(value: number): Ticket {
    checkValue('TaskList.insert', value);
    return this.core.insert(value);
  }

  /** Unregisters the entry; `false` if it was already removed. TypeError for a foreign ticket. */
  remove(ticket: Ticket): boolean {
    return this.core.remove(ticket);
  }

  /** Number of live entries (exact when no operation is in progress). */
  get size(): number {
    return this.core.size();
  }

  /** Calls `cb(value, ticket)` for the entries (see the consistency notes above). */
  forEach(cb: (value: number, ticket: Ticket) => void): void {
    if (typeof cb !== 'function') throw new TypeError('TaskList.forEach: callback must be a function');
    this.core.forEach(cb);
  }

  /** `[ticket, value]` pairs of one `forEach` pass, collected first (so the list may change meanwhile). */
  [Symbol.iterator](): IterableIterator<[Ticket, number]> {
    const out: [Ticket, number][] = [];
    this.core.forEach((v, t) => out.push([t, v]));
    return out[Symbol.iterator]();
  }
}
