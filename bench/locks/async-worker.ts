// Worker side of the async contended-lock bench (bench/locks/async-harness.ts). Attaches the
// lock once, then for each generation published by the main thread runs one async task, the
// workload of issue 13, until the stop flag carries that generation:
//
//   await lock();
//   try { const v = counter; await null; counter = v + 1 } finally { unlock() }
//   ops++
//
// `counter` is a plain Int32 in shared memory: the `await null` between its read and its write
// lets the worker's microtask queue run while the lock is held, and any overlap with another
// worker's critical section loses an update, which the main thread detects. The loop reads no
// clock and allocates nothing of its own: what it allocates is the lock API's (parklot's
// lockAsync options default and promise, multithreading's guard, Web Locks' request). The stop
// flag is read with Atomics.load once per iteration.
//
// Between runs the worker sleeps in Atomics.wait on GEN (its event loop idles with it: nothing
// is pending then). During a run every await may leave the event loop with nothing else to do:
// a pending Web Lock request does not keep a worker alive (checked on Node 24.21: a worker whose
// only pending work is a navigator.locks.request exits with code 0 before the lock is granted),
// and neither is a promise. A ref'd interval timer keeps this worker's event loop alive from
// attach to exit, for every variant alike.

import { parentPort, workerData } from 'node:worker_threads';
import { attachAsyncLock, type AttachedAsyncLock, type NoopAsyncLock } from './async-locks.ts';
import { ACTL, type AsyncWorkerConfig, type AsyncWorkerMessage } from './async-protocol.ts';
import type { Mutex } from '../../src/index.ts';
import type { MultithreadingMutexLike } from './peers.ts';

const cfg = workerData as AsyncWorkerConfig;
const port = parentPort;
if (port === null) throw new Error('async-worker must run in a worker thread');
const ctl = new Int32Array(cfg.ctl);

// The keep-alive (see the header); never fires, cleared when the worker leaves.
const keepAlive = setInterval(() => {}, 2 ** 30);

/** parklot (and the no-op lock): `await lockAsync()` … `unlock()`. */
async function runLockAsync(lock: Mutex | NoopAsyncLock, gen: number): Promise<number> {
  let ops = 0;
  // Reads main's store(STOP, gen); until then keep going.
  while (Atomics.load(ctl, ACTL.STOP) !== gen) {
    await lock.lockAsync();
    try {
      const v = ctl[ACTL.COUNTER]; // plain read …
      await null; // … a microtask hop while holding the lock …
      ctl[ACTL.COUNTER] = v + 1; // … plain write: any overlap loses an update
    } finally {
      lock.unlock();
    }
    ops++;
  }
  return ops;
}

/** parklot:mixed's sync worker: the blocking `lock()` (this thread's event loop waits with it). */
async function runLockSync(lock: Mutex, gen: number): Promise<number> {
  let ops = 0;
  while (Atomics.load(ctl, ACTL.STOP) !== gen) {
    lock.lock();
    try {
      const v = ctl[ACTL.COUNTER];
      await null;
      ctl[ACTL.COUNTER] = v + 1;
    } finally {
      lock.unlock();
    }
    ops++;
  }
  return ops;
}

/** multithreading: `guard = await mutex.lock()` … `guard.dispose()`. */
async function runGuard(mutex: MultithreadingMutexLike, gen: number): Promise<number> {
  let ops = 0;
  while (Atomics.load(ctl, ACTL.STOP) !== gen) {
    const guard = await mutex.lock();
    try {
      const v = ctl[ACTL.COUNTER];
      await null;
      ctl[ACTL.COUNTER] = v + 1;
    } finally {
      guard.dispose();
    }
    ops++;
  }
  return ops;
}

/** Web Locks: `await navigator.locks.request(name, criticalSection)` (released when it settles). */
async function runWebLocks(lockName: string, gen: number): Promise<number> {
  const locks = navigator.locks;
  // One callback for the whole run (no closure allocated per operation).
  const criticalSection = async (): Promise<void> => {
    const v = ctl[ACTL.COUNTER];
    await null;
    ctl[ACTL.COUNTER] = v + 1;
  };
  let ops = 0;
  while (Atomics.load(ctl, ACTL.STOP) !== gen) {
    await locks.request(lockName, criticalSection);
    ops++;
  }
  return ops;
}

function runOnce(lock: AttachedAsyncLock, gen: number): Promise<number> {
  switch (lock.kind) {
    case 'parklot':
      return cfg.sync ? runLockSync(lock.mutex, gen) : runLockAsync(lock.mutex, gen);
    case 'noop':
      return runLockAsync(lock.lock, gen);
    case 'multithreading':
      return runGuard(lock.mutex, gen);
    case 'weblocks':
      return runWebLocks(lock.lockName, gen);
  }
}

async function main(): Promise<void> {
  const lock = await attachAsyncLock(cfg.init);
  if (cfg.sync && lock.kind !== 'parklot') throw new Error(`sync workers exist only for parklot, not ${lock.kind}`);
  port!.postMessage({ type: 'ready', index: cfg.index } satisfies AsyncWorkerMessage);
  let seen = 0;
  for (;;) {
    // Sleeps until main publishes a new generation ('not-equal' returns at once if it already
    // did); the load reads main's store(GEN) and so sees everything main wrote before it.
    Atomics.wait(ctl, ACTL.GEN, seen);
    const gen = Atomics.load(ctl, ACTL.GEN);
    if (gen === seen) continue;
    if (gen < 0) break;
    seen = gen;
    const started = performance.now();
    const ops = await runOnce(lock, gen);
    port!.postMessage({
      type: 'result',
      index: cfg.index,
      gen,
      ops,
      activeMs: performance.now() - started,
    } satisfies AsyncWorkerMessage);
    // Release edge for the main thread's check: this RMW follows every plain counter write of
    // this worker's run in program order; main reads DONE before the counter.
    Atomics.add(ctl, ACTL.DONE, 1);
    Atomics.notify(ctl, ACTL.DONE);
  }
}

main().then(
  () => {
    clearInterval(keepAlive);
    // multithreading's polyfill listens on parentPort, which would keep the worker alive.
    port.unref();
  },
  (err: unknown) => {
    port.postMessage({ type: 'error', index: cfg.index, message: String((err as Error)?.stack ?? err) } satisfies AsyncWorkerMessage);
    clearInterval(keepAlive);
    port.unref();
  },
);
