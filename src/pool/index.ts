/**
 * parklot/pool: the worker pools (Node only today): WorkerPool, FuturePool, the ready fast path
 * and the pool's errors.
 *
 * @module parklot/pool
 */
export { WorkerPool } from './worker-pool.ts';
export type { WorkerPoolOptions, RunOptions, PoolStats, WorkerStats } from './worker-pool.ts';
export type { WorkerState } from './main/options.ts';
export { FuturePool, DEFAULT_TIERS } from './future-pool.ts';
export type { FuturePoolOptions, FuturePoolHandle, FuturePoolCache, TierSpec } from './future-pool.ts';
export { ready, pending, unwrap, popReady, ReadyCache } from './ready.ts';
export type { Ready, Pending, MaybeReady, TryPopAsync } from './ready.ts';
export { WorkerExitError, WorkerStartError, QueueFullError, PoolClosedError } from './errors.ts';
export type { Transport } from './protocol.ts';
