/**
 * Debug deadlock detection (region option `debug.deadlockDetection`; the locks test the flag once
 * on their slow path, so it costs nothing when off).
 *
 * The wait-for graph lives in the region's thread table: one entry per thread, "the lock this
 * thread is about to wait for", or -1. Before parking, a lock records its entry and walks
 * owner → the lock that owner waits for → its owner …; a walk that comes back to the calling
 * thread closes a cycle and throws DeadlockError instead of parking.
 *
 * Entry: the lock's byte offset (4-aligned) with the lock kind's wait tag in bits 0..1. The walk
 * asks the kind for the holder of an entry's lock through the lookup the kind registered
 * (`registerHolderLookup`): this module knows no lock's layout. A lookup is registered per thread
 * when the thread creates or attaches its first lock of that kind (or calls registerLockHandlers(),
 * handlers.ts); an entry of a kind this thread has no lookup for ends the walk (as a wait on
 * anonymous readers does).
 *
 * Memory: the entry store and the walk's loads are sequentially consistent, so of two threads
 * closing a cycle at the same time at least one sees the other's edge.
 */

import type { SharedRegion } from '../parking/region.ts';
import { DeadlockError } from '../errors.ts';

/** The lock kinds that take part in the wait-for graph, and their wait tags (bits 0..1 of an entry). */
const WAIT_TAGS = { Mutex: 0, RwLock: 1 } as const;
export type WaitKind = keyof typeof WAIT_TAGS;
const TAG_MASK = 3;

/** The thread holding the lock at `offset` exclusively (its region thread id), or -1 if none is known. */
export type HolderLookup = (i32: Int32Array, offset: number) => number;

const lookups: (HolderLookup | undefined)[] = [undefined, undefined, undefined, undefined];

/** Registers how to find the holder of a lock of `kind` (one lookup per kind; idempotent). */
export function registerHolderLookup(kind: WaitKind, lookup: HolderLookup): void {
  lookups[WAIT_TAGS[kind]] = lookup;
}

/** The thread holding the lock a wait-for entry names, or -1. */
function waitedOwner(i32: Int32Array, entry: number): number {
  const lookup = lookups[entry & TAG_MASK];
  return lookup === undefined ? -1 : lookup(i32, entry & ~TAG_MASK);
}

/**
 * Records that this thread is about to wait for the `kind` lock at `offset`, held by `owner`,
 * then follows owner → the lock it waits for → its owner …; throws DeadlockError (clearing the
 * edge) if the walk comes back to this thread. The caller clears the edge when its wait ends.
 * `async`: a lock held by this thread itself is not a cycle (another task of the thread may
 * release it), so the check is skipped. The graph is per thread: with several async waits in one
 * thread, the entry is the latest one (a cycle through an earlier one can go unseen).
 */
export function checkDeadlock(region: SharedRegion, kind: WaitKind, offset: number, owner: number, async: boolean): void {
  const threadId = region.threadId;
  const threads = region.threads;
  const i32 = region.i32;
  if (async && owner === threadId) return;
  threads.setWaitingFor(threadId, offset | WAIT_TAGS[kind]);
  // Store, then walk (both SC): of two threads closing a cycle at once, at least one sees the other's edge.
  const cycle = [{ threadId, lockOffset: offset }];
  let cur = owner;
  for (let n = 0; n < threads.capacity; n++) {
    if (cur < 0) return;
    if (cur === threadId) {
      threads.setWaitingFor(threadId, -1);
      throw new DeadlockError(cycle);
    }
    const e = threads.waitingFor(cur);
    if (e < 0) return;
    cycle.push({ threadId: cur, lockOffset: e & ~TAG_MASK });
    cur = waitedOwner(i32, e);
  }
}
