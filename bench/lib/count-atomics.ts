// Counting wrappers for Atomics.wait and Atomics.notify, for bench worker threads only.
//
// Importing this module in a worker thread whose `workerData.countAtomics` is true replaces
// `Atomics.wait` and `Atomics.notify` on that thread's global `Atomics` object (every worker
// thread has its own) with wrappers that count calls, and for
// notify also sum the return values (how many waiters each call woke). parklot and the peers
// look `Atomics.wait`/`Atomics.notify` up at every call (none keeps a reference), so the
// wrappers see every wait (a park) and every wake system call the thread makes. Import it
// first, before the library, in a bench worker (a static import, so it is evaluated before the
// modules imported after it); never in library code or its tests. Without `countAtomics` it
// installs nothing and the counters stay 0.
//
// Cost: one extra JS call per wait/notify, which is small next to the runtime call behind it
// (and a wait that sleeps costs microseconds); it applies to every variant alike. The counters
// are plain numbers of this thread: read them with `atomicsCounts()` before and after a run.

import { isMainThread, workerData } from 'node:worker_threads';

interface Counts {
  /** Atomics.wait calls (whatever they returned). */
  waitCalls: number;
  /** Atomics.notify calls. */
  notifyCalls: number;
  /** Sum of Atomics.notify's return values: waiters actually woken. */
  notifyWoken: number;
}

const counts: Counts = { waitCalls: 0, notifyCalls: 0, notifyWoken: 0 };

const A = globalThis.Atomics as Atomics & { __parklotCounting?: true };
const wanted = !isMainThread && (workerData as { countAtomics?: boolean } | null)?.countAtomics === true;
if (wanted && A.__parklotCounting !== true) {
  const wait = A.wait;
  const notify = A.notify;
  A.wait = function countingWait(...args: unknown[]): unknown {
    counts.waitCalls++;
    return Reflect.apply(wait, A, args);
  } as typeof A.wait;
  A.notify = function countingNotify(...args: unknown[]): number {
    counts.notifyCalls++;
    const woken = Reflect.apply(notify, A, args) as number;
    counts.notifyWoken += woken;
    return woken;
  } as typeof A.notify;
  A.__parklotCounting = true;
}

/** Whether this thread counts (the wrappers are installed). */
export const countingAtomics: boolean = A.__parklotCounting === true;

/** A snapshot of this thread's counters. */
export function atomicsCounts(): Counts {
  return { ...counts };
}

/** `after − before`, field by field. */
export function countsDelta(before: Counts, after: Counts): Counts {
  return {
    waitCalls: after.waitCalls - before.waitCalls,
    notifyCalls: after.notifyCalls - before.notifyCalls,
    notifyWoken: after.notifyWoken - before.notifyWoken,
  };
}

export type { Counts as AtomicsCounts };
