/** Small helpers shared by the lock family: option checks, abort reasons and the spin rule. */

import { CORES } from '../platform/host.ts';
import type { ThreadTable } from '../parking/threads.ts';

/**
 * Whether spinning can pay for a lock of this region: only while its live threads fit the cores
 * (one extra allowed for a main thread that only coordinates). With more threads a lock holder
 * may be preempted, and a spinner that wins only keeps one more thread runnable, so the OS
 * time-slices the contenders and the lock's line moves between cores at every acquisition (the
 * Linux kernel's mutexes spin only while the owner runs; this is the closest JS can see). Never
 * on a single core.
 */
export function spinCanPay(threads: ThreadTable): boolean {
  return CORES > 1 && threads.liveThreads() <= CORES + 1;
}

/** Normalizes a user timeout: NaN or a non-number is a RangeError, negative means "do not wait", Infinity waits forever. */
export function checkTimeoutMs(what: string, ms: unknown): number {
  if (typeof ms !== 'number' || Number.isNaN(ms)) throw new RangeError(`${what}: timeout must be a number of milliseconds, got ${String(ms)}`);
  return Math.max(0, ms);
}

/** The error an aborted wait rejects with: the signal's reason, or an AbortError DOMException. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Throws unless `signal` is undefined or an AbortSignal. */
export function checkSignal(what: string, signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError(`${what}: \`signal\` must be an AbortSignal`);
}

/**
 * Checks an async wait's options object before any fast path, so bad options fail the same way
 * whether or not the lock happens to be free: a TypeError unless `opts` is an object, then the
 * `signal` and `timeoutMs` checks above. Returns the normalized timeout (Infinity if absent).
 */
export function checkWaitOpts(what: string, opts: unknown): number {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${what}: opts must be an object, got ${opts === null ? 'null' : typeof opts}`);
  const o = opts as WaitAsyncOptions;
  checkSignal(what, o.signal);
  return o.timeoutMs === undefined ? Infinity : checkTimeoutMs(what, o.timeoutMs);
}

/** Throws unless the options passed to a primitive's `from(handle, opts)` are an object. */
export function checkFromOpts(what: string, opts: unknown): void {
  if (opts === null || typeof opts !== 'object') throw new TypeError(`${what}.from(handle, opts): opts must be an object, got ${opts === null ? 'null' : typeof opts}`);
}

/** Options every async wait accepts. */
export interface WaitAsyncOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/**
 * Makes a lock kind's per-thread registration (its owner-death handler and owner check with the
 * region, its holder lookup with the deadlock detector) explicit and idempotent: the returned
 * function runs `register` on its first call in this thread and does nothing afterwards. Each kind
 * calls it from its constructor (so also from `from(handle)`); importing a module registers nothing.
 * handlers.ts registers every kind at once, for a thread that uses no lock of some kind itself.
 */
export function registration(register: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    register();
  };
}
