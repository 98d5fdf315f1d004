/**
 * parklot: concurrency primitives for threads that share a `SharedArrayBuffer`.
 *
 * This is the package's main entry (`import … from 'parklot'`): the shared region and its
 * parking lot, the lock family, the queues and the task list, their errors and the shared
 * clock. The worker pools live in a separate entry, `parklot/pool`.
 *
 * The repository's `docs/` folder explains how the pieces work (start at `docs/README.md`).
 *
 * @module parklot
 */
import { registerLockHandlers } from './lock/handlers.ts';

export { SharedRegion, resolveHandle, onOwnerDeath } from './parking/region.ts';
export type { OwnerDeathHandler } from './parking/region.ts';
export { ThreadTable } from './parking/threads.ts';
export type { RegionOptions, RegionHandle, PrimitiveHandle } from './parking/region.ts';
export { ParkingLot } from './parking/lot.ts';
export type {
  ParkResult, ParkOptions, ParkAsyncOptions, UnparkResult, RequeueOp, RequeueResult, FilterOp,
} from './parking/lot.ts';
export type { KindName } from './parking/kinds.ts';
export { nowMs, nowUs, diffUs } from './platform/clock.ts';
export { Mutex, MutexGuard } from './lock/mutex.ts';
export type { MutexOptions, MutexHandle, MutexStats, LockAsyncOptions, FairnessOption, SpinOption } from './lock/mutex.ts';
export { RwLock, RwLockReadGuard, RwLockWriteGuard, RwLockUpgradableGuard } from './lock/rwlock.ts';
export type { RwLockOptions, RwLockHandle, RwLockPolicy } from './lock/rwlock.ts';
export { Condvar } from './lock/condvar.ts';
export type { CondvarOptions, CondvarHandle } from './lock/condvar.ts';
export { Semaphore, SemaphoreGuard } from './lock/semaphore.ts';
export type { SemaphoreOptions, SemaphoreHandle, SemaphoreWait } from './lock/semaphore.ts';
export { Barrier } from './lock/barrier.ts';
export type { BarrierOptions, BarrierHandle, BarrierWaitResult } from './lock/barrier.ts';
export { Once } from './lock/once.ts';
export type { OnceOptions, OnceHandle } from './lock/once.ts';
export { WaitGroup } from './lock/waitgroup.ts';
export type { WaitGroupOptions, WaitGroupHandle } from './lock/waitgroup.ts';
export { TaskList, MpmcQueue, SpscQueue } from './task-list/index.ts';
export type {
  TaskListOptions, TaskListHandle, TaskListImpl, Ticket,
  MpmcQueueOptions, MpmcQueueHandle, QueueWaitOptions, SpscQueueOptions, SpscQueueHandle,
} from './task-list/index.ts';
export type { WaitAsyncOptions } from './lock/common.ts';
export { TimeoutError, OwnerDiedError, NotRecoverableError, DeadlockError } from './errors.ts';

// The one place that wires the lock family's owner-death handlers and deadlock-detector lookups
// into the region: any thread that loads the package runs every kind's handler when a watched
// worker dies, even for lock kinds it never created itself. The modules themselves register
// nothing on import (each also registers from its constructor).
registerLockHandlers();
