// Peer locks for the lock bench: small, independent re-implementations of the designs parklot
// is measured against (written for this bench from the published algorithms, not copied).
// Each word-based peer lives in one Int32 slot of a SharedArrayBuffer; callers keep that slot
// on its own 128-byte line. Common interface: `lock()` / `unlock()`; V8's `Atomics.Mutex` only
// has a callback API, so it implements `withLock(fn)` instead (see V8MutexPeer).
//
// Memory ordering: every JS Atomics operation is sequentially consistent, so each successful
// acquiring RMW synchronizes-with the releasing write of the previous owner; the comments say
// which write that is. Protected data is accessed with plain loads/stores only between a
// successful acquire and the matching release.

/** The common interface of the word-based peers (and of parklot's Mutex). */
export interface BenchLock {
  lock(): void;
  unlock(): void;
}

/**
 * Bare CAS + exchange: NOT a lock. The cost floor of any lock whose uncontended path is one
 * CAS to acquire and one RMW to release: `compareExchange(0, 1)` then `exchange(0)`. It
 * throws if the CAS ever fails, so it cannot be (mis)used under contention without noticing.
 * States: 0 free, 1 "held". Source: the uncontended-cost baseline of CPython PR #109344 and
 * the target in bench/claims.md ("≤ 1.15× a bare compareExchange+exchange pair").
 */
export class CasExchangeFloor implements BenchLock {
  readonly #a: Int32Array;
  readonly #i: number;
  constructor(words: Int32Array, index: number) {
    this.#a = words;
    this.#i = index;
  }
  lock(): void {
    // Acquire RMW; reads the exchange(0) of the previous unlock() in this same thread.
    if (Atomics.compareExchange(this.#a, this.#i, 0, 1) !== 0) {
      throw new Error('CasExchangeFloor is not a lock: it was contended');
    }
  }
  unlock(): void {
    // Release RMW: the next lock()'s CAS reads this write.
    Atomics.exchange(this.#a, this.#i, 0);
  }
}

const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;

/**
 * Drepper's "take 2" futex mutex ("Futexes Are Tricky", mutex2), the textbook 3-state lock
 * that lars-t-hansen/parlib-simple `src/lock.js` uses in JS. States: 0 free, 1 locked with no
 * waiters, 2 locked and maybe waiters. lock(): CAS 0→1; on failure, mark the word 2 (directly
 * if it already is, else by CAS 1→2) and `Atomics.wait` while it is 2, then retry with CAS 0→2
 * (a thread that slept must assume others sleep too). unlock(): `sub(1)`; if the old value was
 * not 1 (it was 2) store 0 and wake one waiter. No spinning, no fairness, and once contended
 * every unlock pays a notify even if nobody sleeps any more.
 */
export class Futex3Lock implements BenchLock {
  readonly #a: Int32Array;
  readonly #i: number;
  constructor(words: Int32Array, index: number) {
    this.#a = words;
    this.#i = index;
  }
  lock(): void {
    const a = this.#a;
    const i = this.#i;
    // Fast path acquire: on success this CAS read the 0 stored by the previous unlock().
    let c = Atomics.compareExchange(a, i, FREE, LOCKED);
    if (c === FREE) return;
    do {
      // Announce a waiter (1 → 2) unless already announced; the wait returns at once if the
      // word is no longer 2, so a concurrent unlock's store(0) cannot be missed.
      if (c === CONTENDED || Atomics.compareExchange(a, i, LOCKED, CONTENDED) !== FREE) {
        Atomics.wait(a, i, CONTENDED);
      }
      // Acquire in the contended state: this CAS reads unlock()'s store(0) (or sub to 0).
    } while ((c = Atomics.compareExchange(a, i, FREE, CONTENDED)) !== FREE);
  }
  unlock(): void {
    const a = this.#a;
    const i = this.#i;
    // Release: the next owner's CAS reads this sub (1 → 0) or the store(0) below.
    if (Atomics.sub(a, i, 1) !== LOCKED) {
      Atomics.store(a, i, FREE);
      Atomics.notify(a, i, 1);
    }
  }
}

/**
 * Always-notify lock, the shape of slavamuravey/atomics-sync `src/mutex.ts`: a 0/1 word;
 * lock() CASes 0→1 and `Atomics.wait`s while the word is 1; unlock() stores 0 and always calls
 * `Atomics.notify(…, 1)`, paying V8's process-wide futex-emulation mutex on every release even
 * when nobody sleeps. (atomics-sync also keeps a separate owner-id word; omitted here since it
 * only serves error checks and is not part of the synchronization.) States: 0 free, 1 locked.
 */
export class AlwaysNotifyLock implements BenchLock {
  readonly #a: Int32Array;
  readonly #i: number;
  constructor(words: Int32Array, index: number) {
    this.#a = words;
    this.#i = index;
  }
  lock(): void {
    const a = this.#a;
    const i = this.#i;
    // Acquire: a successful CAS reads the store(0) of the previous unlock().
    while (Atomics.compareExchange(a, i, 0, 1) !== 0) {
      Atomics.wait(a, i, 1);
    }
  }
  unlock(): void {
    // Release: the next owner's CAS reads this store.
    Atomics.store(this.#a, this.#i, 0);
    Atomics.notify(this.#a, this.#i, 1);
  }
}

const SPIN_MAX_PAUSES = 64;
const pause: (n?: number) => void =
  typeof (Atomics as { pause?: unknown }).pause === 'function'
    ? (Atomics as unknown as { pause: (n?: number) => void }).pause
    : () => {};

/**
 * Test-and-test-and-set spin lock with exponential `Atomics.pause` backoff (Anderson 1990;
 * the "pause-spin" ToyLock of WebKit's benchmarks). States: 0 free, 1 locked. lock(): read
 * the word until it is 0 (plain-ish polling through Atomics.load, so waiters share the line
 * instead of bouncing it), then CAS 0→1; after each failed attempt pause 1, 2, 4 … 64 times.
 * Never sleeps: with more threads than cores a preempted owner leaves the others burning
 * their time slices, which is exactly what the bench should show.
 */
export class SpinLock implements BenchLock {
  readonly #a: Int32Array;
  readonly #i: number;
  constructor(words: Int32Array, index: number) {
    this.#a = words;
    this.#i = index;
  }
  lock(): void {
    const a = this.#a;
    const i = this.#i;
    let pauses = 1;
    for (;;) {
      // Acquire: a successful CAS reads the store(0) of the previous unlock().
      if (Atomics.load(a, i) === 0 && Atomics.compareExchange(a, i, 0, 1) === 0) return;
      for (let k = 0; k < pauses; k++) pause();
      if (pauses < SPIN_MAX_PAUSES) pauses <<= 1;
    }
  }
  unlock(): void {
    // Release: the next owner's load/CAS reads this store.
    Atomics.store(this.#a, this.#i, 0);
  }
}

/**
 * The part of the `multithreading` package's `Mutex` (W4G1/multithreading 0.3.x,
 * `src/lib/sync/mutex.js`) the bench uses, typed locally so this file does not load the package
 * (variants.ts imports it lazily: its entry point installs global polyfills).
 */
export interface MultithreadingMutexLike {
  blockingLock(): { dispose(): void };
  lock(): Promise<{ dispose(): void }>;
}

/**
 * The `multithreading` npm package's Mutex itself (a devDependency, not a re-implementation),
 * through its synchronous API: `guard = mutex.blockingLock()` … `guard.dispose()`. Its lock is
 * one 0/1 Int32 word in a 4-byte SharedArrayBuffer of its own; a Mutex crosses threads as that
 * buffer (the package's own deserializer does `new Mutex(data, lockBuffer)`, and so does
 * variants.ts). blockingLock(): CAS 0→1, else `Atomics.wait(word, 1)` and retry; every
 * acquisition allocates a MutexGuard. guard.dispose() → unlock: CAS 1→0 (throws if the word
 * was not 1), then always `Atomics.notify(word, 1)`, as `always-notify`. Its async `lock()` is
 * the same CAS with `Atomics.waitAsync` (bench/locks/async-*.ts). States: 0 free, 1 locked.
 */
export class MultithreadingPeer implements BenchLock {
  readonly #m: MultithreadingMutexLike;
  #guard: { dispose(): void } | undefined;
  constructor(mutex: MultithreadingMutexLike) {
    this.#m = mutex;
  }
  lock(): void {
    // Acquire: the package's CAS 0→1 reads the CAS 1→0 of the previous guard's dispose().
    this.#guard = this.#m.blockingLock();
  }
  unlock(): void {
    // Release: dispose() CASes the word 1→0 (the next owner's CAS reads it) and notifies one.
    const g = this.#guard;
    if (g === undefined) throw new Error('MultithreadingPeer.unlock: not locked');
    this.#guard = undefined;
    g.dispose();
  }
}

/** A deliberately broken "lock" for the harness self-test: provides no exclusion at all. */
export class NoopLock implements BenchLock {
  lock(): void {}
  unlock(): void {}
}

/** The shape of V8's `Atomics.Mutex` (`--harmony-struct`), typed locally. */
export interface V8MutexStatic {
  new (): object;
  lock<T>(mutex: object, fn: () => T): T;
  tryLock<T>(mutex: object, fn: () => T): { value: T | undefined; success: boolean };
}

/** `Atomics.Mutex` if this process runs with `--harmony-struct`, else undefined. */
export function v8Mutex(): V8MutexStatic | undefined {
  return (Atomics as unknown as { Mutex?: V8MutexStatic }).Mutex;
}

/**
 * V8's `Atomics.Mutex` (v8 `src/objects/js-atomics-synchronization.{h,cc}`): a shared heap
 * object whose 32-bit state holds W (has waiters), Q (queue spinlock) and L (locked) bits plus
 * the head of a waiter list. lock: up to ~8 CAS attempts with doubling `YIELD_PROCESSOR`
 * backoff, then enqueue a stack waiter node and sleep on its own condition variable; unlock
 * wakes the head with no hand-off (the woken thread re-contends). Only a callback API exists:
 * `Atomics.Mutex.lock(mu, fn)` runs fn while holding the lock and unlocks when fn returns.
 */
export class V8MutexPeer {
  readonly #M: V8MutexStatic;
  readonly #mu: object;
  constructor(mutex: object) {
    const M = v8Mutex();
    if (M === undefined) throw new Error('Atomics.Mutex needs node --harmony-struct');
    this.#M = M;
    this.#mu = mutex;
  }
  static create(): object {
    const M = v8Mutex();
    if (M === undefined) throw new Error('Atomics.Mutex needs node --harmony-struct');
    return new M();
  }
  /** Runs fn under the lock; acquisition/release edges are V8's (seq-cst on its state word). */
  withLock(fn: () => void): void {
    this.#M.lock(this.#mu, fn);
  }
}
