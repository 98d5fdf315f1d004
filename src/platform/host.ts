/**
 * What the host runtime provides to the core, probed once per thread without importing any
 * runtime-specific module (so bundlers see no `node:` import and every runtime loads this file):
 *
 * - `CORES`: `navigator.hardwareConcurrency` (Node ≥ 21, Deno, Bun, browsers); 1 when unknown,
 *   which turns spinning off (a spinner never pays on one core).
 * - `pause(i)`: `Atomics.pause` where the engine has it (a CPU spin-wait hint), else nothing.
 * - `CAN_BLOCK`: whether this thread may call `Atomics.wait`. A browser's main thread (and some
 *   embedders' main threads) may not: there `Atomics.wait` throws a TypeError. Probed by one
 *   zero-timeout wait on a private word whose value never matches, which returns at once where
 *   blocking is allowed.
 * - `hostThreadId`: the runtime's own id for this thread where it has one (Node's, Deno's and Bun's
 *   `worker_threads.threadId`), else -1. The locks never use it (they use the region's thread ids);
 *   it only lets `SharedRegion.watch(worker)` find the records of a Node-style worker that exited.
 */

interface NodeLikeProcess {
  getBuiltinModule?: (id: string) => unknown;
}

function cores(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: unknown } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : 1;
}

function probeCanBlock(): boolean {
  try {
    // Value 1 never matches the 0 stored there: returns 'not-equal' at once where waiting is allowed.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

function probeHostThreadId(): number {
  const proc = (globalThis as { process?: NodeLikeProcess }).process;
  try {
    const wt = proc?.getBuiltinModule?.('node:worker_threads') as { threadId?: unknown } | undefined;
    const id = wt?.threadId;
    return typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : -1;
  } catch {
    return -1;
  }
}

/** The machine's logical cores as the runtime reports them (1 when unknown). */
export const CORES = cores();

/** Whether this thread may block in `Atomics.wait` (false on a browser's main thread). */
export const CAN_BLOCK = probeCanBlock();

/** The runtime's id for this thread (Node-style `threadId`), or -1 where there is none. */
export const hostThreadId = probeHostThreadId();

const hasPause = typeof (Atomics as { pause?: unknown }).pause === 'function';

/** A spin-wait hint for iteration `i` of a spin loop (`Atomics.pause` where the engine has it). */
export function pause(i: number): void {
  if (hasPause) Atomics.pause(i);
}

/**
 * Throws a TypeError naming `what` when this thread may not block, before the caller touches any
 * shared state; the async form of the call is the one to use there.
 */
export function assertCanBlock(what: string, asyncForm: string): void {
  if (!CAN_BLOCK) {
    throw new TypeError(`${what}: this thread may not block (Atomics.wait is not allowed here, e.g. a browser's main thread); use ${asyncForm} instead`);
  }
}
