/**
 * parklot: concurrency primitives for worker threads on SharedArrayBuffer + Atomics.
 * See README.md for the tour and ../shared/design for the design notes.
 */
export { SharedRegion, resolveHandle, onOwnerDeath } from './parking/region.ts';
export type { OwnerDeathHandler } from './parking/region.ts';
export { ThreadTable } from './parking/threads.ts';
export type { RegionOptions, RegionHandle, PrimitiveHandle } from './parking/region.ts';
export { ParkingLot } from './parking/lot.ts';
export type {
  ParkResult, ParkOptions, ParkAsyncOptions, UnparkResult, RequeueOp, RequeueResult, FilterOp,
} from './parking/lot.ts';
export type { KindName } from './parking/kinds.ts';
export { nowMs, nowUs, diffUs } from './parking/clock.ts';
export { Mutex, MutexGuard } from './lock/mutex.ts';
export type { MutexOptions, MutexHandle, MutexStats, LockAsyncOptions, FairnessOption, SpinOption } from './lock/mutex.ts';
export { TaskList, MpmcQueue, SpscQueue } from './task-list/index.ts';
export type {
  TaskListOptions, TaskListHandle, TaskListImpl, Ticket,
  MpmcQueueOptions, MpmcQueueHandle, QueueWaitOptions, SpscQueueOptions, SpscQueueHandle,
} from './task-list/index.ts';
export { TimeoutError, OwnerDiedError, NotRecoverableError, DeadlockError } from './errors.ts';
