/**
 * Tuning options: values the lock constructors accept at run time but the public option types
 * leave out, because they only reproduce another implementation's policy so that the bench and
 * the tests can compare against it. Not part of the advertised API.
 */

import type { MutexOptions, SpinPolicy, WakesPolicy } from './mutex-options.ts';

/** `'throttled'` is the Mutex's only public behaviour; `'every-unlock'` is the comparison point. */
export type WakesOption = WakesPolicy;

/** MutexOptions plus the tuning values. */
export interface MutexTuning extends Omit<MutexOptions, 'spin'> {
  /**
   * The public spin options, plus `'ema'`: glibc's adaptive-mutex policy (one pause per re-read,
   * a budget of 2 × the average of recent successful spins + 8 reads, no give-up on a lost race).
   */
  spin?: SpinPolicy;
  /**
   * `'throttled'` (default): while a waiter woken by an unlock is on its way, further unlocks do
   * not wake another one (Go's sync.Mutex does the same). `'every-unlock'`: every unlock that
   * finds sleeping waiters wakes one.
   */
  wakes?: WakesPolicy;
}

/** A MutexTuning to pass where MutexOptions are expected (`new Mutex(tuned({ spin: 'ema' }))`). */
export function tuned(opts: MutexTuning): MutexOptions {
  return opts as MutexOptions;
}
