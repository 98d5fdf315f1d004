/**
 * The Mutex's options, handle and statistics types, and the checks of option values. The
 * constructor also accepts the tuning values of tuning.ts (`spin: 'ema'`, `wakes`), which the
 * public option types leave out; the checks here validate the whole accepted range.
 */

import type { PrimitiveHandle, SharedRegion } from '../parking/region.ts';
import type { WaitAsyncOptions } from './common.ts';

export type FairnessOption = 'dynamic' | 'fifo' | 'none' | { readonly timeoutMs: number };
export type SpinOption = 'adaptive' | number;

/** Every spin policy the constructor accepts: the public ones and the tuning-only `'ema'`. */
export type SpinPolicy = SpinOption | 'ema';
/** Every wake policy the constructor accepts (`wakes` is a tuning option: see tuning.ts). */
export type WakesPolicy = 'throttled' | 'every-unlock';

export interface MutexOptions {
  /** Region to allocate the lock word in. Default: `SharedRegion.default()`. */
  region?: SharedRegion;
  /**
   * How a thread that finds the lock held spins before it sleeps. `'adaptive'` (default): re-reads
   * with exponentially growing pauses, gives up as soon as it loses a race for the free lock (the
   * holder is re-taking it: spinning would only move the cache line back and forth), and learns its
   * budget from how long recent successful spins took; never on a single core. A number fixes the
   * budget in `Atomics.pause()` rounds (with the same give-up rule); 0 never spins.
   */
  spin?: SpinOption;
  /**
   * When the lock is handed straight to a sleeping waiter instead of going to whoever takes it
   * first. `'dynamic'` (default): a waiter that has waited longer than a deadline learned from
   * recent hold times (8 × their average, kept between 0.1 and 1 ms) gets it at the next unlock
   * (at most about one such hand-off per 0.5 ms, so a busy lock does not convoy); `{ timeoutMs }`:
   * the same with a fixed deadline; `'fifo'`: every unlock with waiters hands the lock to the
   * first one; `'none'`: only at unlockFair() (best throughput; a waiter can starve while others
   * barge in).
   */
  fairness?: FairnessOption;
  /** Count acquisitions, contention, parks, hand-offs, spin successes and max wait in this thread. Off by default (zero cost). */
  stats?: boolean;
}

export interface MutexHandle extends PrimitiveHandle {
  readonly kind: 'Mutex';
  /** The creator's options, which `Mutex.from(handle)` uses unless overridden. */
  readonly options: { readonly spin: SpinOption; readonly fairness: FairnessOption };
}

/** What a handle carries at run time: the public options plus the tuning ones. */
export interface MutexCarriedOptions {
  readonly spin: SpinPolicy;
  readonly fairness: FairnessOption;
  readonly wakes: WakesPolicy;
}

export type LockAsyncOptions = WaitAsyncOptions;

/** Per-thread statistics of one Mutex (enabled with `stats: true`). */
export interface MutexStats {
  acquisitions: number;
  contendedAcquisitions: number;
  parks: number;
  handoffsReceived: number;
  handoffsGiven: number;
  spinSuccesses: number;
  maxWaitMs: number;
}

export function checkSpin(v: unknown): SpinPolicy {
  if (v === 'adaptive' || v === 'ema') return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1_000_000) return v;
  throw new RangeError(`Mutex option \`spin\` must be 'adaptive', 'ema' or an integer from 0 to 1000000, got ${JSON.stringify(v)}`);
}

export function checkWakes(v: unknown): WakesPolicy {
  if (v === 'throttled' || v === 'every-unlock') return v;
  throw new RangeError(`Mutex option \`wakes\` must be 'throttled' or 'every-unlock', got ${JSON.stringify(v)}`);
}

export function checkFairness(v: unknown): FairnessOption {
  if (v === 'dynamic' || v === 'fifo' || v === 'none') return v;
  if (v !== null && typeof v === 'object') {
    const t = (v as { timeoutMs?: unknown }).timeoutMs;
    if (typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= 60_000) return Object.freeze({ timeoutMs: t });
  }
  throw new RangeError(`Mutex option \`fairness\` must be 'dynamic', 'fifo', 'none' or { timeoutMs: 0 to 60000 ms }, got ${JSON.stringify(v)}`);
}
