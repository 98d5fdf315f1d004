/**
 * The guard every lock of the family hands out (`acquire()`, `acquireRead()`, `acquireGuard()` …):
 * it holds the lock until `release()` or the end of a `using` / `await using` block, and releases
 * it at most once. Each lock kind subclasses it with its own release call (and, for the RwLock,
 * the conversions between guards).
 */
export abstract class LockGuard<L> implements Disposable, AsyncDisposable {
  private held: L | null;

  constructor(lock: L) {
    this.held = lock;
  }

  /** Releases what the guard holds (the lock kind's unlock call). */
  protected abstract unlock(lock: L): void;

  /** Unlocks; later calls do nothing. */
  release(): void {
    const l = this.held;
    if (l === null) return;
    this.held = null;
    this.unlock(l);
  }

  /** The held lock, for a conversion named `what`; throws if the guard was already released. */
  protected heldFor(what: string): L {
    const l = this.held;
    if (l === null) throw new Error(`${what}: the guard was already released`);
    return l;
  }

  /** Marks the guard spent without unlocking: what it held now belongs to another guard. */
  protected spend(): void {
    this.held = null;
  }

  [Symbol.dispose](): void {
    this.release();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.release();
    return Promise.resolve();
  }
}
