/** Error types that callers are expected to catch by class (or by `name`). */

/** A timed wait (`lockAsync({ timeoutMs })`, `acquireAsync`, …) ran out of time. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
  constructor(message = 'the operation timed out') {
    super(message);
  }
}

/**
 * The previous owner of a lock died while holding it. Thrown **with the lock held by the caller**:
 * repair the protected data, call `markConsistent()`, then unlock (glibc's EOWNERDEAD).
 */
export class OwnerDiedError extends Error {
  override name = 'OwnerDiedError';
  constructor(message = 'the previous owner of the lock died while holding it; the lock is now held by the caller') {
    super(message);
  }
}

/** A lock whose dead owner's state was never marked consistent can never be used again (ENOTRECOVERABLE). */
export class NotRecoverableError extends Error {
  override name = 'NotRecoverableError';
  constructor(message = 'the lock is not recoverable: it was unlocked after its owner died without markConsistent()') {
    super(message);
  }
}

/**
 * Debug deadlock detection (`SharedRegion.create({ debug: { deadlockDetection: true } })`): this
 * lock attempt would close a cycle of threads each waiting for a lock the next one holds.
 */
export class DeadlockError extends Error {
  override name = 'DeadlockError';
  /** The cycle, starting with the calling thread: each thread waits for `lockOffset`, held by the next. */
  readonly cycle: readonly { threadId: number; lockOffset: number }[];
  constructor(cycle: readonly { threadId: number; lockOffset: number }[]) {
    const steps = cycle.map((c, i) => `thread ${c.threadId} waits for the lock at offset ${c.lockOffset}, held by thread ${cycle[(i + 1) % cycle.length].threadId}`);
    super(`deadlock: ${steps.join('; ')}`);
    this.cycle = cycle;
  }
}
