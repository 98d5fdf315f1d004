/**
 * Worker threads for multi-worker tests. A worker script is named by its file name in
 * test/fixtures/, or given as a URL.
 *
 * A test that waits for a group of workers to finish goes through `runWorkers`, which is bounded:
 * if the workers have not all exited after `timeoutMs`, it terminates them and rejects, so a lost
 * wake-up or a deadlock fails the test instead of hanging CI. A test that drives a worker step by
 * step (start it, wait for a message, terminate it) uses `startWorker` or `firstMessage`.
 */
import { Worker } from 'node:worker_threads';

/** A worker script: a file name in test/fixtures/, or a URL. */
export type Fixture = string | URL;

function fixtureUrl(fixture: Fixture): URL {
  return typeof fixture === 'string' ? new URL(`../fixtures/${fixture}`, import.meta.url) : fixture;
}

/**
 * Starts `count` workers on `fixture`, worker i with `data(i)` as workerData, and resolves once
 * all have exited, with the last message each one posted. Rejects on the first worker error, or
 * when `timeoutMs` passes first; either way the other workers are terminated.
 */
export function runWorkers<T>(fixture: Fixture, count: number, data: (i: number) => unknown, timeoutMs = 45_000): Promise<T[]> {
  const url = fixtureUrl(fixture);
  const name = typeof fixture === 'string' ? fixture : fixture.pathname.slice(fixture.pathname.lastIndexOf('/') + 1);
  const workers: Worker[] = [];
  const results: T[] = Array.from({ length: count });
  return new Promise<T[]>((resolve, reject) => {
    let left = count;
    let failed = false;
    const timer = setTimeout(() => {
      failed = true;
      for (const w of workers) void w.terminate();
      reject(new Error(`${name}: ${left} of ${count} workers still running after ${timeoutMs} ms (lost wake-up or deadlock?)`));
    }, timeoutMs);
    for (let i = 0; i < count; i++) {
      const w = new Worker(url, { workerData: data(i) });
      workers.push(w);
      w.on('message', (m: T) => { results[i] = m; });
      w.on('error', (e) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        for (const x of workers) void x.terminate();
        reject(e);
      });
      w.on('exit', () => {
        if (--left === 0 && !failed) {
          clearTimeout(timer);
          resolve(results);
        }
      });
    }
  });
}

/** Starts one worker on `fixture` and returns it with a promise of its first message and one of its exit code. */
export function startWorker(fixture: Fixture, data: unknown): { worker: Worker; firstMessage: Promise<unknown>; exited: Promise<number> } {
  const worker = new Worker(fixtureUrl(fixture), { workerData: data });
  const firstMessage = new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, firstMessage, exited };
}

/** Resolves with the next message `w` posts; rejects if it errors or exits first. */
export function firstMessage<T>(w: Worker, name = 'worker'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: T): void => {
      cleanup();
      resolve(m);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(new Error(`${name} failed: ${e.stack ?? e.message}`));
    };
    const onExit = (code: number): void => {
      cleanup();
      reject(new Error(`${name} exited with code ${code} before posting a result`));
    };
    const cleanup = (): void => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
  });
}

/** Resolves after `ms` (for letting workers reach a parked state; never used to assert speed). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seeded PRNG (the bench's mulberry32), so a failing round can be replayed from its seed. */
export { mulberry32 } from '../../bench/lib/stats.ts';

/** `true` when long modes are requested (`PARKLOT_LONG=1`). */
export const LONG = process.env.PARKLOT_LONG === '1';
