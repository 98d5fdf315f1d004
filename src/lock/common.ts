/** Small helpers shared by the lock family: option checks and abort reasons. */

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

/** Options every async wait accepts. */
export interface WaitAsyncOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}
