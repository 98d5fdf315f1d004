/** Public exports of the task-list family: TaskList, MpmcQueue, SpscQueue. */
export { TaskList } from './task-list.ts';
export type { TaskListOptions, TaskListHandle, TaskListImpl, Ticket } from './task-list.ts';
export { MpmcQueue } from './mpmc-queue.ts';
export type { MpmcQueueOptions, MpmcQueueHandle, QueueWaitOptions } from './mpmc-queue.ts';
export { SpscQueue } from './spsc-queue.ts';
export type { SpscQueueOptions, SpscQueueHandle } from './spsc-queue.ts';
