/** Errors a WorkerPool rejects tasks with (besides the task's own errors and abort reasons). */

/** The worker running the task exited (crash, `process.exit`, OOM, or terminated after ignoring an abort). */
export class WorkerExitError extends Error {
  override name = 'WorkerExitError';
  /** The worker's exit code (`process.exit(n)` gives n; `terminate()` and uncaught errors give 1). */
  readonly exitCode: number;
  /** The pool's index of the worker (stable across replacements). */
  readonly workerIndex: number;
  constructor(message: string, exitCode: number, workerIndex: number, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.exitCode = exitCode;
    this.workerIndex = workerIndex;
  }
}

/** Workers cannot load the task file (missing file, syntax error, a throwing top level, …). */
export class WorkerStartError extends Error {
  override name = 'WorkerStartError';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** `run` was called with `maxQueue` tasks already waiting for a worker. */
export class QueueFullError extends Error {
  override name = 'QueueFullError';
  readonly maxQueue: number;
  constructor(maxQueue: number) {
    super(`WorkerPool queue is full: ${maxQueue} tasks are already waiting for a worker (maxQueue = ${maxQueue}); wait for some to finish or raise maxQueue`);
    this.maxQueue = maxQueue;
  }
}

/** The pool is closing or was destroyed. */
export class PoolClosedError extends Error {
  override name = 'PoolClosedError';
}
