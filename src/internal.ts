/**
 * Switches for the repository's own bench and tests (`parklot/internal`): they turn individual
 * optimizations off so a measurement can compare a variant with and without them. This entry
 * is not part of the public API: it is not documented for users, and what it exports may change
 * in any release.
 */
export { tuned } from './lock/tuning.ts';
export type { MutexTuning, WakesOption } from './lock/tuning.ts';
export { registerLockHandlers } from './lock/handlers.ts';
