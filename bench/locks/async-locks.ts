// Async lock variants of the async contended bench (lock/async/*): how each lock is created in
// the process that sets a scenario up (structured-cloneable, so it travels in workerData) and
// attached in every worker. parklot and the `multithreading` package are created and attached
// through bench/locks/variants.ts (the same lazy imports as the sync bench); Web Locks need
// nothing shared but a lock name.
//
//   parklot         `await mutex.lockAsync()` … `mutex.unlock()` (Mutex.from(handle) per worker)
//   multithreading  `guard = await mutex.lock()` … `guard.dispose()` (Atomics.waitAsync inside)
//   weblocks        `await navigator.locks.request(name, criticalSection)` (Node's Web Locks;
//                   one LockManager per process, shared by its worker threads)
//   noop            `await noop.lockAsync()`: no exclusion at all, for the lost-update self-test

import { loadParklot, multithreadingMutex, setupVariant, type ParklotOptions } from './variants.ts';
import type { MultithreadingMutexLike } from './peers.ts';
import type { Mutex, MutexHandle } from '../../src/index.ts';

export const ASYNC_LOCKS = ['parklot', 'multithreading', 'weblocks', 'noop'] as const;
export type AsyncLockName = (typeof ASYNC_LOCKS)[number];

/** One-line descriptions, printed in the bench output and recorded in the JSON. */
export const ASYNC_LOCK_INFO: Record<AsyncLockName, string> = {
  parklot: 'parklot Mutex (src/index.ts), default options: await lockAsync() … unlock()',
  multithreading: 'npm multithreading Mutex (the package itself): guard = await lock() … guard.dispose()',
  weblocks: "Node's built-in Web Locks: await navigator.locks.request(name, criticalSection)",
  noop: 'no-op async "lock" (no exclusion): lost-update self-test only',
};

/** Structured-cloneable description of a created async lock. */
export type AsyncLockInit =
  | { name: 'parklot'; handle: MutexHandle; options: ParklotOptions }
  | { name: 'multithreading'; lockBuffer: SharedArrayBuffer }
  | { name: 'weblocks'; lockName: string }
  | { name: 'noop' };

/** The lock every worker of a run contends for, as that worker uses it. */
export type AttachedAsyncLock =
  | { kind: 'parklot'; mutex: Mutex }
  | { kind: 'multithreading'; mutex: MultithreadingMutexLike }
  | { kind: 'weblocks'; lockName: string }
  | { kind: 'noop'; lock: NoopAsyncLock };

/** A deliberately broken async "lock": lockAsync() resolves at once, unlock() does nothing. */
export class NoopAsyncLock {
  lockAsync(): Promise<void> {
    return Promise.resolve();
  }
  unlock(): void {}
}

/** Whether Web Locks exist in this thread (Node ≥ 24.5 has navigator.locks, workers included). */
export function webLocksAvailable(): boolean {
  return typeof globalThis.navigator === 'object' && typeof globalThis.navigator.locks?.request === 'function';
}

/** Creates a fresh lock (in the process that runs the scenario). */
export async function setupAsyncLock(name: AsyncLockName, options: ParklotOptions = {}): Promise<AsyncLockInit> {
  switch (name) {
    case 'parklot': {
      const init = await setupVariant('parklot', options);
      if (init.name !== 'parklot') throw new Error('unreachable');
      return init;
    }
    case 'multithreading': {
      const init = await setupVariant('multithreading');
      if (init.name !== 'multithreading') throw new Error('unreachable');
      return init;
    }
    case 'weblocks':
      if (!webLocksAvailable()) throw new Error(`weblocks variant unavailable: navigator.locks missing in Node ${process.version}`);
      // Web Locks are process-wide: a name of its own keeps this lock apart from any other user.
      return { name, lockName: `parklot-bench-async-${process.pid}-${Math.random().toString(36).slice(2)}` };
    case 'noop':
      return { name };
  }
}

/** Attaches a created lock in the current thread (a worker). */
export async function attachAsyncLock(init: AsyncLockInit): Promise<AttachedAsyncLock> {
  switch (init.name) {
    case 'parklot': {
      const { Mutex } = await loadParklot();
      // Options travel in the handle (Mutex.from defaults to the creator's), as in variants.ts.
      return { kind: 'parklot', mutex: Mutex.from(init.handle) };
    }
    case 'multithreading':
      return { kind: 'multithreading', mutex: await multithreadingMutex(init.lockBuffer) };
    case 'weblocks':
      if (!webLocksAvailable()) throw new Error(`navigator.locks missing in this worker (Node ${process.version})`);
      return { kind: 'weblocks', lockName: init.lockName };
    case 'noop':
      return { kind: 'noop', lock: new NoopAsyncLock() };
  }
}
