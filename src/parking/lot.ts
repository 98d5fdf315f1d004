/**
 * ParkingLot: WebKit's / Rust parking_lot's parking lot, in shared memory.
 *
 * Algorithm
 * - A fixed power-of-two table of buckets (a region cannot grow), indexed by a Fibonacci hash of
 *   the key (by convention the byte offset of the word a primitive waits on). Each bucket is one
 *   128-byte line holding a word lock and the head/tail of a FIFO of waiter records.
 * - A waiter takes a record from the region's free stack, locks the bucket, runs `validate` (the
 *   caller's "should I still sleep?" check), appends itself and unlocks; then it sleeps on the
 *   record's own SLOT word, so an unpark wakes exactly that thread (V8's futex list for the
 *   address has length one) and no other sleeper is disturbed.
 * - Unparkers lock the bucket, dequeue the first record(s) with the key, run the caller's
 *   callback (which sees whether more waiters remain — exact, because the scan counts them),
 *   store the unpark token, mark the record DEQUEUED, unlock, and only then wake the thread.
 *
 * SLOT word (per waiter record): WAITING 0 → SLEEPING 2 (set by the waiter just before it calls
 * Atomics.wait) → UNPARKED 1 (set by the unparker with an exchange). The unparker calls
 * `Atomics.notify` only if the exchange saw SLEEPING: notify takes a process-wide mutex in V8,
 * so it is never called for a thread that is not (about to be) asleep.
 *
 * Invariants
 * - A record's queue links, KEY and STATE change only with its bucket lock held (requeue holds
 *   both buckets' locks). `validate`, `timedOut` and every unpark callback run under that lock.
 * - A record in STATE QUEUED is in exactly one bucket FIFO, the one its KEY hashes to.
 * - Once an unparker has marked a record DEQUEUED, the waiter will consume that unpark: a waiter
 *   whose timeout or abort fires finds itself DEQUEUED under the bucket lock and then waits for
 *   SLOT = UNPARKED instead of reporting a timeout. So no unpark (and no lock hand-off) is lost.
 * - A record is returned to the free stack only by its waiter, after it has seen UNPARKED (or
 *   after removing itself under the bucket lock), so an unparker never writes a record's fields
 *   after it was freed. Its late `notify` may reach the record's next owner, which treats it as
 *   spurious (every sleeper re-checks its SLOT).
 *
 * Fairness (`beFair`): true when the dequeued waiter is past its own deadline (`fairAtUs`,
 * CPython's per-waiter TIME_TO_BE_FAIR) *and* the bucket's fairness timer has run out, which then
 * re-arms it for FAIR_INTERVAL_US (WebKit's and parking_lot's per-bucket timer). The deadline
 * bounds each waiter; the timer bounds how often locks hand off. Without the timer, once the
 * machine is oversubscribed every waiter is overdue, every unlock hands off, and the lock
 * convoys: measured on 8 workers / 2 cores, hand-off on every overdue unlock cut throughput by
 * ~half and made the least-served worker's share 100× worse. `waiterOverdue` reports the deadline
 * alone, for callers that must hand off regardless (FIFO locks, async waiters).
 *
 * Async parking (`parkAsync`) sleeps on the same SLOT with `Atomics.waitAsync`, keeps the event
 * loop alive with a ref'd timer (a pending waitAsync does not, nodejs/node#61941), and handles
 * timeouts and aborts itself with the same dequeue-or-consume rule.
 */

import { diffUs, nowMs, nowUs } from '../platform/clock.ts';
import { assertCanBlock } from '../platform/host.ts';
import {
  BKT_FAIR_AT, BKT_HEAD, BKT_LOCK, BKT_TAIL, BUCKET_WORDS, NIL, SLOT_SLEEPING, SLOT_UNPARKED, SLOT_WAITING,
  WAITER_WORDS, WSTATE_DEQUEUED, WSTATE_QUEUED, WTR_FAIR_AT, WTR_KEY, WTR_NEVER_FAIR, WTR_NEXT,
  WTR_PARK_TOKEN, WTR_SINCE, WTR_SLOT, WTR_STATE, WTR_THREAD, WTR_UNPARK_TOKEN,
} from './layout.ts';
import type { WaiterPool } from './waiters.ts';
import { wordLock, wordUnlock } from './word-lock.ts';

/** What a park ended with. `token` is the value the unparker's callback returned. */
export type ParkResult =
  | { readonly result: 'unparked'; readonly token: number }
  | { readonly result: 'invalid' }
  | { readonly result: 'timedOut' }
  | { readonly result: 'aborted' };

export interface ParkOptions {
  /** Give up after this many milliseconds (default: wait forever). 0 or less times out at once after enqueueing is skipped. */
  timeoutMs?: number;
  /** Int32 token the unparkers' `unparkFilter` filter sees. Default 0. */
  token?: number;
  /** Runs after the waiter is queued and the bucket lock released, before sleeping. */
  beforeSleep?: () => void;
  /**
   * Runs under the bucket lock when the waiter leaves the queue without being unparked (timeout
   * or abort); `wasLast` says whether no other waiter on `key` remains.
   */
  timedOut?: (key: number, wasLast: boolean) => void;
  /**
   * `nowUs()` timestamp from which unparkers see `beFair: true` for this waiter; `null` never.
   * Default: 1 ms after the park (CPython's TIME_TO_BE_FAIR).
   */
  fairAtUs?: number | null;
}

export interface ParkAsyncOptions extends ParkOptions {
  /** Aborting removes the waiter (unless it was already unparked) and resolves `{ result: 'aborted' }`. */
  signal?: AbortSignal;
}

/** What an unparker's callback sees (and what unparkOne / unparkFilter return). */
export interface UnparkResult {
  /** How many threads this call unparked. */
  unparkedThreads: number;
  /** Whether threads are still parked on the key after this call (exact, not a hash-collision guess). */
  haveMore: boolean;
  /** Whether to be fair now: the (first) unparked waiter is overdue and the bucket's fairness timer ran out. */
  beFair: boolean;
  /** Whether the (first) unparked waiter has passed its own fairness time (`fairAtUs`), ignoring the rate limit. */
  waiterOverdue: boolean;
  /** Park token of the (first) unparked waiter, or 0. */
  parkToken: number;
  /** Region thread id (`SharedRegion.threadId`) of the (first) unparked waiter, or -1. */
  threadId: number;
  /** How long the (first) unparked waiter waited, in milliseconds. */
  waitedMs: number;
}

export type RequeueOp = 'abort' | 'unparkOneRequeueRest' | 'requeueAll' | 'unparkOne' | 'requeueOne';
export type FilterOp = 'unpark' | 'skip' | 'stop';

export interface RequeueResult {
  unparkedThreads: number;
  requeuedThreads: number;
  /** Whether threads remain parked on the `from` key. */
  haveMoreThreads: boolean;
}

const INVALID: ParkResult = Object.freeze({ result: 'invalid' });
const TIMED_OUT: ParkResult = Object.freeze({ result: 'timedOut' });
const ABORTED: ParkResult = Object.freeze({ result: 'aborted' });
const DEFAULT_FAIR_US = 1000;
/** At most one `beFair` per bucket per this many µs (parking_lot's average is 500 µs). */
const FAIR_INTERVAL_US = 500;
/** A stored time further ahead than this is stale (the 32-bit µs clock wrapped past it). */
const MAX_AHEAD_US = 1 << 30;

/** Wrap-safe "now is at or past t" for nowUs() stamps that are never legitimately > MAX_AHEAD_US ahead. */
function reached(now: number, t: number): boolean {
  const d = diffUs(t, now);
  return d <= 0 || d > MAX_AHEAD_US;
}
const GOLDEN = 0x9e3779b9 | 0;
const KEEPALIVE_MS = 1 << 30;
const noop = (): void => {};

function checkKey(key: number): void {
  if (!Number.isInteger(key) || key < -0x80000000 || key > 0x7fffffff) {
    throw new RangeError(`ParkingLot: key must be an int32, got ${key}`);
  }
}

function checkTimeout(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return Infinity;
  if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs)) {
    throw new RangeError(`ParkingLot: timeoutMs must be a number of milliseconds, got ${String(timeoutMs)}`);
  }
  return Math.max(0, timeoutMs);
}

export class ParkingLot {
  private readonly waiters: WaiterPool;
  private readonly h: Int32Array;
  /** This thread's id in the region (stored in its waiter records). */
  private readonly tid: number;
  private readonly bucketCount: number;
  private readonly b0: number;
  private readonly w0: number;
  private readonly shift: number;
  /** Live parkAsync waiters of this thread (for leak checks). */
  private pendingAsync = 0;

  /** @internal Constructed by SharedRegion, once per region per thread. */
  constructor(h: Int32Array, tid: number, bucketsWord: number, buckets: number, waiters: WaiterPool) {
    this.waiters = waiters;
    this.h = h;
    this.tid = tid;
    this.b0 = bucketsWord;
    this.bucketCount = buckets;
    this.w0 = waiters.w0;
    this.shift = 32 - Math.log2(buckets);
  }

  /** Number of this thread's parkAsync calls still pending. */
  get pendingAsyncParks(): number {
    return this.pendingAsync;
  }

  // ---------------------------------------------------------------- buckets

  private bucketOf(key: number): number {
    // Fibonacci hashing: the top bits of key·φ spread consecutive offsets over the table.
    return this.shift === 32 ? this.b0 : this.b0 + (Math.imul(key, GOLDEN) >>> this.shift) * BUCKET_WORDS;
  }

  private lockBucket(b: number): void {
    wordLock(this.h, b + BKT_LOCK);
  }

  private unlockBucket(b: number): void {
    wordUnlock(this.h, b + BKT_LOCK);
  }

  /** Locks the bucket of the key a record is queued under; retries if a requeue moved it meanwhile. */
  private lockRecordBucket(rec: number): number {
    for (;;) {
      const key = Atomics.load(this.h, rec + WTR_KEY);
      const b = this.bucketOf(key);
      this.lockBucket(b);
      // KEY only changes with both buckets locked, so it is stable now if it still matches.
      if (Atomics.load(this.h, rec + WTR_KEY) === key) return b;
      this.unlockBucket(b);
    }
  }

  private lockTwo(a: number, b: number): void {
    if (a === b) this.lockBucket(a);
    else if (a < b) { this.lockBucket(a); this.lockBucket(b); } else { this.lockBucket(b); this.lockBucket(a); }
  }

  private unlockTwo(a: number, b: number): void {
    this.unlockBucket(a);
    if (a !== b) this.unlockBucket(b);
  }

  // Queue helpers: all run with the bucket lock held (plain-ordered by it; Atomics used throughout
  // so every shared access is an atomic one).

  private rec(idx: number): number {
    return this.w0 + idx * WAITER_WORDS;
  }

  private append(b: number, idx: number): void {
    const h = this.h;
    Atomics.store(h, this.rec(idx) + WTR_NEXT, NIL);
    const tail = Atomics.load(h, b + BKT_TAIL);
    if (tail === NIL) Atomics.store(h, b + BKT_HEAD, idx);
    else Atomics.store(h, this.rec(tail) + WTR_NEXT, idx);
    Atomics.store(h, b + BKT_TAIL, idx);
  }

  /** Unlinks `idx` whose predecessor is `prev` (NIL if head). */
  private unlink(b: number, prev: number, idx: number): void {
    const h = this.h;
    const next = Atomics.load(h, this.rec(idx) + WTR_NEXT);
    if (prev === NIL) Atomics.store(h, b + BKT_HEAD, next);
    else Atomics.store(h, this.rec(prev) + WTR_NEXT, next);
    if (Atomics.load(h, b + BKT_TAIL) === idx) Atomics.store(h, b + BKT_TAIL, prev);
  }

  /** Whether any record after `from` (exclusive; NIL = from the head) waits on `key`. */
  private anyWith(b: number, key: number, from: number): boolean {
    const h = this.h;
    let i = from === NIL ? Atomics.load(h, b + BKT_HEAD) : Atomics.load(h, this.rec(from) + WTR_NEXT);
    while (i !== NIL) {
      if (Atomics.load(h, this.rec(i) + WTR_KEY) === key) return true;
      i = Atomics.load(h, this.rec(i) + WTR_NEXT);
    }
    return false;
  }

  /** Removes a still-queued record (timeout/abort path). Returns whether it was the last on its key. */
  private removeQueued(b: number, idx: number, key: number): boolean {
    const h = this.h;
    let prev = NIL;
    let i = Atomics.load(h, b + BKT_HEAD);
    while (i !== idx) {
      prev = i;
      i = Atomics.load(h, this.rec(i) + WTR_NEXT);
    }
    this.unlink(b, prev, idx);
    Atomics.store(h, this.rec(idx) + WTR_STATE, WSTATE_DEQUEUED);
    return !this.anyWith(b, key, NIL);
  }

  /** Marks a dequeued record with its token (bucket lock held). */
  private grant(idx: number, token: number): void {
    Atomics.store(this.h, this.rec(idx) + WTR_UNPARK_TOKEN, token | 0);
    Atomics.store(this.h, this.rec(idx) + WTR_STATE, WSTATE_DEQUEUED);
  }

  /** Wakes a granted record (bucket lock released). */
  private wake(idx: number): void {
    const slot = this.rec(idx) + WTR_SLOT;
    // Release edge: the waiter's read of UNPARKED synchronizes with this exchange, so it sees the
    // token and whatever the callback published before it. Notify only a thread that sleeps.
    if (Atomics.exchange(this.h, slot, SLOT_UNPARKED) === SLOT_SLEEPING) Atomics.notify(this.h, slot, 1);
  }

  // ---------------------------------------------------------------- parking

  /** Takes a record, validates under the bucket lock and queues it. Returns the record index, or -1 if invalid. */
  private enqueue(key: number, validate: () => boolean, opts: ParkOptions | undefined): number {
    const idx = this.waiters.alloc();
    const h = this.h;
    const rec = this.rec(idx);
    const b = this.bucketOf(key);
    this.lockBucket(b);
    let ok = false;
    try {
      ok = validate();
    } finally {
      if (!ok) {
        this.unlockBucket(b);
        this.waiters.free(idx);
      }
    }
    if (!ok) return -1;
    const now = nowUs();
    const fairAt = opts?.fairAtUs;
    Atomics.store(h, rec + WTR_SLOT, SLOT_WAITING);
    Atomics.store(h, rec + WTR_KEY, key);
    Atomics.store(h, rec + WTR_PARK_TOKEN, (opts?.token ?? 0) | 0);
    Atomics.store(h, rec + WTR_UNPARK_TOKEN, 0);
    Atomics.store(h, rec + WTR_THREAD, this.tid);
    Atomics.store(h, rec + WTR_SINCE, now);
    Atomics.store(h, rec + WTR_NEVER_FAIR, fairAt === null ? 1 : 0);
    Atomics.store(h, rec + WTR_FAIR_AT, fairAt == null ? (now + DEFAULT_FAIR_US) | 0 : fairAt | 0);
    Atomics.store(h, rec + WTR_STATE, WSTATE_QUEUED);
    this.append(b, idx);
    this.unlockBucket(b);
    return idx;
  }

  /**
   * Leaves the queue after a timeout or abort, unless an unparker got there first.
   * Returns true if the waiter removed itself; false if it was already dequeued (the unpark must be consumed).
   */
  private cancel(idx: number, opts: ParkOptions | undefined): boolean {
    const h = this.h;
    const rec = this.rec(idx);
    const b = this.lockRecordBucket(rec);
    if (Atomics.load(h, rec + WTR_STATE) !== WSTATE_QUEUED) {
      this.unlockBucket(b);
      return false;
    }
    const key = Atomics.load(h, rec + WTR_KEY);
    const wasLast = this.removeQueued(b, idx, key);
    try {
      opts?.timedOut?.(key, wasLast);
    } finally {
      this.unlockBucket(b);
    }
    return true;
  }

  /**
   * Parks the calling thread on `key` if `validate()` (run under the bucket lock) returns true.
   * Blocks the thread (allowed on Node's main thread, but it stalls the event loop: prefer parkAsync there).
   * Where the thread may not block (a browser's main thread) it throws a TypeError before queueing.
   */
  park(key: number, validate: () => boolean, opts?: ParkOptions): ParkResult {
    assertCanBlock('ParkingLot.park', 'parkAsync');
    checkKey(key);
    const timeout = checkTimeout(opts?.timeoutMs);
    const idx = this.enqueue(key, validate, opts);
    if (idx < 0) return INVALID;
    opts?.beforeSleep?.();
    const h = this.h;
    const slot = this.rec(idx) + WTR_SLOT;
    const deadline = timeout === Infinity ? Infinity : nowMs() + timeout;
    for (;;) {
      // Acquire edge: reading UNPARKED synchronizes with the unparker's exchange in wake().
      const s = Atomics.compareExchange(h, slot, SLOT_WAITING, SLOT_SLEEPING);
      if (s === SLOT_UNPARKED) break;
      const left = deadline - nowMs();
      if (left <= 0) {
        let removed: boolean;
        try {
          removed = this.cancel(idx, opts);
        } catch (e) {
          this.waiters.free(idx); // timedOut threw after the record was unlinked
          throw e;
        }
        if (removed) {
          this.waiters.free(idx);
          return TIMED_OUT;
        }
        // Already dequeued by an unparker: its wake is imminent; consume it.
        while (Atomics.compareExchange(h, slot, SLOT_WAITING, SLOT_SLEEPING) !== SLOT_UNPARKED) {
          Atomics.wait(h, slot, SLOT_SLEEPING);
        }
        break;
      }
      Atomics.wait(h, slot, SLOT_SLEEPING, left === Infinity ? undefined : left);
    }
    const token = Atomics.load(h, this.rec(idx) + WTR_UNPARK_TOKEN);
    this.waiters.free(idx);
    return { result: 'unparked', token };
  }

  /**
   * Like park, but never blocks the event loop: sleeps with Atomics.waitAsync and resolves when
   * unparked, timed out or aborted. While pending it keeps the event loop alive.
   */
  parkAsync(key: number, validate: () => boolean, opts?: ParkAsyncOptions): Promise<ParkResult> {
    try {
      checkKey(key);
      const timeout = checkTimeout(opts?.timeoutMs);
      const signal = opts?.signal;
      if (signal?.aborted) return Promise.resolve(ABORTED);
      const idx = this.enqueue(key, validate, opts);
      if (idx < 0) return Promise.resolve(INVALID);
      opts?.beforeSleep?.();
      return this.sleepAsync(idx, timeout, opts, signal);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private sleepAsync(idx: number, timeout: number, opts: ParkAsyncOptions | undefined, signal: AbortSignal | undefined): Promise<ParkResult> {
    const h = this.h;
    const slot = this.rec(idx) + WTR_SLOT;
    this.pendingAsync++;
    return new Promise<ParkResult>((resolve, reject) => {
      let cancelled: ParkResult | undefined;
      let failure: { error: unknown } | undefined;
      let settled = false;
      // A pending waitAsync holds no ref on the event loop (nodejs/node#61941): this timer does,
      // from the park until the promise settles, whatever path settles it.
      const keepAlive = setInterval(noop, KEEPALIVE_MS);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const finish = (): void => {
        settled = true;
        this.pendingAsync--;
        clearInterval(keepAlive);
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const out: ParkResult = cancelled ?? { result: 'unparked', token: Atomics.load(h, this.rec(idx) + WTR_UNPARK_TOKEN) };
        this.waiters.free(idx);
        if (failure !== undefined) reject(failure.error);
        else resolve(out);
      };
      const step = (): void => {
        if (settled) return;
        // Acquire edge as in park(): reading UNPARKED synchronizes with wake() (or our own cancel below).
        const s = Atomics.compareExchange(h, slot, SLOT_WAITING, SLOT_SLEEPING);
        if (s === SLOT_UNPARKED) return finish();
        const r = Atomics.waitAsync(h, slot, SLOT_SLEEPING);
        if (r.async) void r.value.then(step);
        else step();
      };
      const leave = (why: ParkResult): void => {
        if (settled || cancelled !== undefined) return;
        let removed: boolean;
        try {
          removed = this.cancel(idx, opts);
        } catch (error) {
          // timedOut threw after the record was unlinked: the record is ours; settle with the error.
          removed = true;
          failure = { error };
        }
        if (removed) {
          cancelled = why;
          // Release our own pending waitAsync (V8 would otherwise keep it forever); step() then finishes.
          this.wake(idx);
        }
        // Else an unparker dequeued us first: its wake resolves the waitAsync and we report that unpark.
      };
      const onAbort = (): void => leave(ABORTED);
      if (timeout !== Infinity) {
        // Timers may fire up to ~1 ms early against the clock (the event loop's time is in whole
        // milliseconds): re-arm until the deadline has really passed, as park() does.
        const deadline = nowMs() + timeout;
        const fire = (): void => {
          const rest = deadline - nowMs();
          if (rest > 0) {
            timer = setTimeout(fire, Math.ceil(rest));
            return;
          }
          timer = undefined;
          leave(TIMED_OUT);
        };
        timer = setTimeout(fire, timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      step();
    });
  }

  // ---------------------------------------------------------------- unparking

  /** Sets r.waiterOverdue and r.beFair for the dequeued record (bucket lock held); re-arms the bucket timer. */
  private judgeFairness(b: number, rec: number, now: number, r: UnparkResult): void {
    const h = this.h;
    r.waiterOverdue = Atomics.load(h, rec + WTR_NEVER_FAIR) === 0 && reached(now, Atomics.load(h, rec + WTR_FAIR_AT));
    // 0 means "never armed" (a real stamp of 0 is stored as 1): with a wrapping 32-bit clock, a
    // bare 0 would look up to 2^30 µs in the future for a quarter of the clock's cycle.
    const fairAt = Atomics.load(h, b + BKT_FAIR_AT);
    if (r.waiterOverdue && (fairAt === 0 || reached(now, fairAt))) {
      r.beFair = true;
      Atomics.store(h, b + BKT_FAIR_AT, ((now + FAIR_INTERVAL_US) | 0) || 1);
    }
  }

  /**
   * Unparks the first thread parked on `key`. `callback` runs under the bucket lock, even when no
   * thread was parked, and returns the token the woken thread receives.
   */
  unparkOne(key: number, callback?: (r: UnparkResult) => number): UnparkResult {
    checkKey(key);
    const h = this.h;
    const b = this.bucketOf(key);
    this.lockBucket(b);
    let prev = NIL;
    let i = Atomics.load(h, b + BKT_HEAD);
    while (i !== NIL && Atomics.load(h, this.rec(i) + WTR_KEY) !== key) {
      prev = i;
      i = Atomics.load(h, this.rec(i) + WTR_NEXT);
    }
    const r: UnparkResult = { unparkedThreads: 0, haveMore: false, beFair: false, waiterOverdue: false, parkToken: 0, threadId: -1, waitedMs: 0 };
    if (i !== NIL) {
      const rec = this.rec(i);
      const now = nowUs();
      r.unparkedThreads = 1;
      r.haveMore = this.anyWith(b, key, i);
      this.unlink(b, prev, i);
      this.judgeFairness(b, rec, now, r);
      r.parkToken = Atomics.load(h, rec + WTR_PARK_TOKEN);
      r.threadId = Atomics.load(h, rec + WTR_THREAD);
      r.waitedMs = diffUs(now, Atomics.load(h, rec + WTR_SINCE)) / 1000;
    }
    let token = 0;
    try {
      if (callback !== undefined) token = callback(r);
    } finally {
      // Even if the callback threw, the dequeued waiter is granted (token 0) so it is not lost.
      if (i !== NIL) this.grant(i, token);
      this.unlockBucket(b);
      if (i !== NIL) this.wake(i);
    }
    return r;
  }

  /** Unparks every thread parked on `key`, each receiving `token`. Returns how many. */
  unparkAll(key: number, token = 0): number {
    return this.unparkFilter(key, () => 'unpark', () => token).unparkedThreads;
  }

  /**
   * Walks the threads parked on `key` in FIFO order; `filter(parkToken, threadId)` decides for each whether
   * to unpark it, skip it, or stop. `callback` runs under the bucket lock after the walk and
   * returns the token every unparked thread receives.
   */
  unparkFilter(key: number, filter: (parkToken: number, threadId: number) => FilterOp, callback?: (r: UnparkResult) => number): UnparkResult {
    checkKey(key);
    const h = this.h;
    const b = this.bucketOf(key);
    const woken: number[] = [];
    const r: UnparkResult = { unparkedThreads: 0, haveMore: false, beFair: false, waiterOverdue: false, parkToken: 0, threadId: -1, waitedMs: 0 };
    let token = 0;
    this.lockBucket(b);
    try {
      let prev = NIL;
      let i = Atomics.load(h, b + BKT_HEAD);
      while (i !== NIL) {
        const rec = this.rec(i);
        const next = Atomics.load(h, rec + WTR_NEXT);
        if (Atomics.load(h, rec + WTR_KEY) === key) {
          const op = filter(Atomics.load(h, rec + WTR_PARK_TOKEN), Atomics.load(h, rec + WTR_THREAD));
          if (op === 'stop') break;
          if (op === 'unpark') {
            if (woken.length === 0) {
              const now = nowUs();
              this.judgeFairness(b, rec, now, r);
              r.parkToken = Atomics.load(h, rec + WTR_PARK_TOKEN);
              r.threadId = Atomics.load(h, rec + WTR_THREAD);
              r.waitedMs = diffUs(now, Atomics.load(h, rec + WTR_SINCE)) / 1000;
            }
            this.unlink(b, prev, i);
            woken.push(i);
            i = next;
            continue;
          }
        }
        prev = i;
        i = next;
      }
      r.unparkedThreads = woken.length;
      r.haveMore = this.anyWith(b, key, NIL);
      if (callback !== undefined) token = callback(r);
    } finally {
      for (const idx of woken) this.grant(idx, token);
      this.unlockBucket(b);
      for (const idx of woken) this.wake(idx);
    }
    return r;
  }

  /**
   * Moves threads parked on `from` to `to` (and/or unparks one), as `validate()` decides under both
   * bucket locks. `callback(op, result)` runs under the locks and returns the unparked thread's token.
   */
  unparkRequeue(
    from: number,
    to: number,
    validate: () => RequeueOp,
    callback?: (op: RequeueOp, r: RequeueResult) => number,
  ): RequeueResult {
    checkKey(from);
    checkKey(to);
    const h = this.h;
    const bf = this.bucketOf(from);
    const bt = this.bucketOf(to);
    const r: RequeueResult = { unparkedThreads: 0, requeuedThreads: 0, haveMoreThreads: false };
    let woken = NIL;
    let token = 0;
    this.lockTwo(bf, bt);
    try {
      const op = validate();
      if (op === 'abort') return r;
      const wakeFirst = op === 'unparkOne' || op === 'unparkOneRequeueRest';
      const moveRest = op === 'unparkOneRequeueRest' || op === 'requeueAll';
      let moveOne = op === 'requeueOne';
      const moved: number[] = [];
      let prev = NIL;
      let i = Atomics.load(h, bf + BKT_HEAD);
      let first = true;
      while (i !== NIL) {
        const rec = this.rec(i);
        const next = Atomics.load(h, rec + WTR_NEXT);
        if (Atomics.load(h, rec + WTR_KEY) === from) {
          if (first && wakeFirst) {
            this.unlink(bf, prev, i);
            woken = i;
            first = false;
            i = next;
            continue;
          }
          first = false;
          if (moveRest || moveOne) {
            moveOne = false;
            this.unlink(bf, prev, i);
            moved.push(i);
            i = next;
            continue;
          }
        }
        prev = i;
        i = next;
      }
      for (const idx of moved) {
        // KEY changes with both bucket locks held (see lockRecordBucket).
        Atomics.store(h, this.rec(idx) + WTR_KEY, to);
        this.append(bt, idx);
      }
      r.unparkedThreads = woken === NIL ? 0 : 1;
      r.requeuedThreads = moved.length;
      r.haveMoreThreads = this.anyWith(bf, from, NIL);
      if (callback !== undefined) token = callback(op, r);
    } finally {
      if (woken !== NIL) this.grant(woken, token);
      this.unlockTwo(bf, bt);
      if (woken !== NIL) this.wake(woken);
    }
    return r;
  }

  /**
   * Removes and frees every queued waiter record of a thread that has died (it can never consume
   * an unpark, and an unlocker must not hand a lock to it). Called by SharedRegion.markThreadDead.
   */
  purgeThread(tid: number): number {
    const h = this.h;
    let purged = 0;
    for (let b = this.b0, n = 0; n < this.bucketCount; n++, b += BUCKET_WORDS) {
      const dead: number[] = [];
      this.lockBucket(b);
      let prev = NIL;
      let i = Atomics.load(h, b + BKT_HEAD);
      while (i !== NIL) {
        const next = Atomics.load(h, this.rec(i) + WTR_NEXT);
        if (Atomics.load(h, this.rec(i) + WTR_THREAD) === tid) {
          this.unlink(b, prev, i);
          Atomics.store(h, this.rec(i) + WTR_STATE, WSTATE_DEQUEUED);
          dead.push(i);
        } else {
          prev = i;
        }
        i = next;
      }
      this.unlockBucket(b);
      // The dead thread will never touch these records again: they are ours to free.
      for (const idx of dead) this.waiters.free(idx);
      purged += dead.length;
    }
    return purged;
  }

  /** Number of threads parked on `key` now (takes the bucket lock; for tests and diagnostics). */
  parkedCount(key: number): number {
    checkKey(key);
    const h = this.h;
    const b = this.bucketOf(key);
    this.lockBucket(b);
    let n = 0;
    for (let i = Atomics.load(h, b + BKT_HEAD); i !== NIL; i = Atomics.load(h, this.rec(i) + WTR_NEXT)) {
      if (Atomics.load(h, this.rec(i) + WTR_KEY) === key) n++;
    }
    this.unlockBucket(b);
    return n;
  }
}
