// Lock variants of the bench: how each one is created in the thread that sets a scenario up
// and attached in every thread that uses it. The set-up result (`VariantInit`) is structured-
// cloneable so it can travel in `workerData`. parklot itself is imported lazily (dynamic
// import of src/index.ts; only types are imported statically) so the peers and the harness
// still run when src/ fails to load. The `multithreading` package is imported lazily too, and
// only by its own variant: its entry point installs global polyfills (globalThis.Worker and
// self in the main thread, a parentPort 'message' listener in workers).
//
// Invariant: a word-based peer's lock word sits alone on a 128-byte line (padding on both
// sides, as parking_lot's bench pads with 300 bytes), so no other bench word shares its line.

import type { MutexHandle, MutexOptions } from '../../src/index.ts';
import type { MutexTuning } from '../../src/lock/tuning.ts';
import {
  AlwaysNotifyLock,
  type BenchLock,
  CasExchangeFloor,
  Futex3Lock,
  type MultithreadingMutexLike,
  MultithreadingPeer,
  NoopLock,
  SpinLock,
  V8MutexPeer,
  v8Mutex,
} from './peers.ts';

/** Every variant the lock bench knows. `floor` is not a lock; `noop` is broken on purpose. */
export const VARIANTS = ['parklot', 'futex3', 'always-notify', 'spin', 'v8', 'multithreading', 'floor', 'noop'] as const;
export type VariantName = (typeof VARIANTS)[number];

/** One-line descriptions, printed in the bench output and README. */
export const VARIANT_INFO: Record<VariantName, string> = {
  parklot: "parklot Mutex (src/index.ts), default options: spin 'adaptive', wakes 'throttled', fairness 'dynamic'",
  futex3: 'Drepper "take 2" 3-state futex lock (parlib-simple lock.js shape)',
  'always-notify': 'atomics-sync shape: 0/1 word, unlock always calls Atomics.notify',
  spin: 'test-and-test-and-set spin lock, exponential Atomics.pause backoff (never sleeps)',
  v8: "V8 Atomics.Mutex (--harmony-struct), callback API Atomics.Mutex.lock(mu, fn)",
  multithreading: 'npm multithreading Mutex (the package itself): blockingLock() + guard.dispose(); 0/1 word, unlock always notifies',
  floor: 'bare compareExchange(0,1) + exchange(0): not a lock, the uncontended cost floor',
  noop: 'no-op "lock" (no exclusion): harness self-test only',
};

/** parklot Mutex options forwarded verbatim, tuning values included (src/lock/tuning.ts). */
export type ParklotOptions = Pick<MutexTuning, 'spin' | 'fairness' | 'wakes'>;

/** Structured-cloneable description of a created lock, attachable in any thread. */
export type VariantInit =
  | { name: 'futex3' | 'always-notify' | 'spin' | 'floor' | 'noop'; words: SharedArrayBuffer; index: number }
  | { name: 'v8'; mutex: object }
  | { name: 'multithreading'; lockBuffer: SharedArrayBuffer }
  | { name: 'parklot'; handle: MutexHandle; options: ParklotOptions };

/** A lock attached in the current thread: lock/unlock pair, or V8's callback form. */
export type AttachedLock = { kind: 'pair'; lock: BenchLock } | { kind: 'callback'; lock: V8MutexPeer };

type ParklotModule = typeof import('../../src/index.ts');
let parklotModule: Promise<ParklotModule> | undefined;

/**
 * Loads parklot's public entry once per thread (a lazy dynamic import, so the peers and the
 * harness load even when src/ is broken or mid-edit); rejects with a clear message if absent.
 */
export function loadParklot(): Promise<ParklotModule> {
  parklotModule ??= import('../../src/index.ts').catch((err: unknown) => {
    parklotModule = undefined;
    throw new Error(`parklot variant unavailable: cannot import src/index.ts (${String(err)})`);
  });
  return parklotModule;
}

type MultithreadingModule = typeof import('multithreading');
let multithreadingModule: Promise<MultithreadingModule> | undefined;

/**
 * Loads the `multithreading` package once per thread (lazily: see the header). In a worker
 * thread its polyfill adds a 'message' listener to parentPort, which would keep the worker
 * alive after the harness tells it to exit (the harness then waits 2 s and terminates it):
 * the port is unref'd again. The harness never sends messages to its workers, so nothing
 * else changes.
 */
export function loadMultithreading(): Promise<MultithreadingModule> {
  multithreadingModule ??= import('multithreading').then(
    async (mod) => {
      const { isMainThread, parentPort } = await import('node:worker_threads');
      if (!isMainThread) parentPort?.unref();
      return mod;
    },
    (err: unknown) => {
      multithreadingModule = undefined;
      throw new Error(`multithreading variant unavailable: cannot import the multithreading package (${String(err)})`);
    },
  );
  return multithreadingModule;
}

/** A `multithreading` Mutex over a lock buffer (what the package's own deserializer does). */
export async function multithreadingMutex(lockBuffer: SharedArrayBuffer): Promise<MultithreadingMutexLike> {
  const { Mutex } = await loadMultithreading();
  return new Mutex(undefined, lockBuffer);
}

/** Whether a variant can run in this process; with the reason when it cannot. */
export async function variantAvailable(name: VariantName): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (name === 'v8' && v8Mutex() === undefined) {
    return { ok: false, reason: 'Atomics.Mutex missing: run node with --harmony-struct' };
  }
  if (name === 'parklot') {
    try {
      await loadParklot();
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  }
  if (name === 'multithreading') {
    // Resolve only: importing would install the package's globals (globalThis.self, Worker …)
    // in the runner's process, which also renders the report (bench/cli.ts).
    try {
      import.meta.resolve('multithreading');
    } catch (err) {
      return { ok: false, reason: `multithreading variant unavailable: the package is not installed (${String(err)})` };
    }
  }
  return { ok: true };
}

/** Int32 slots per 128-byte line. */
export const LINE_WORDS = 32;

/** Creates a fresh lock of the given variant (in the thread that sets the scenario up). */
export async function setupVariant(name: VariantName, options: ParklotOptions = {}): Promise<VariantInit> {
  switch (name) {
    case 'v8':
      return { name, mutex: V8MutexPeer.create() };
    case 'parklot': {
      const { SharedRegion, Mutex } = await loadParklot();
      const region = SharedRegion.create({ bytes: 1 << 20 });
      // The constructor accepts the tuning values at run time; the public option type leaves them out.
      const tuning: MutexTuning = { region, ...options };
      const m = new Mutex(tuning as MutexOptions);
      return { name, handle: m.handle, options };
    }
    case 'multithreading':
      // The package allocates a 4-byte buffer per Mutex; a whole 128-byte line here keeps the
      // word alone on its line (the invariant above) as far as the allocation can: the buffer
      // starts at the word, so only bytes before it (another allocation) could share the line.
      return { name, lockBuffer: new SharedArrayBuffer(LINE_WORDS * 4) };
    default:
      // Three lines; the lock word is the first word of the middle one.
      return { name, words: new SharedArrayBuffer(3 * LINE_WORDS * 4), index: LINE_WORDS };
  }
}

/** Attaches a created lock in the current thread. */
export async function attachVariant(init: VariantInit): Promise<AttachedLock> {
  switch (init.name) {
    case 'v8':
      return { kind: 'callback', lock: new V8MutexPeer(init.mutex) };
    case 'parklot': {
      const { Mutex } = await loadParklot();
      return { kind: 'pair', lock: Mutex.from(init.handle) };
    }
    case 'multithreading':
      return { kind: 'pair', lock: new MultithreadingPeer(await multithreadingMutex(init.lockBuffer)) };
    default: {
      const words = new Int32Array(init.words);
      const ctor = {
        futex3: Futex3Lock,
        'always-notify': AlwaysNotifyLock,
        spin: SpinLock,
        floor: CasExchangeFloor,
      } as const;
      if (init.name === 'noop') return { kind: 'pair', lock: new NoopLock() };
      return { kind: 'pair', lock: new ctor[init.name](words, init.index) };
    }
  }
}
