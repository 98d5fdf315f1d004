/**
 * Spawning worker fixtures with a bound: every multi-worker test waits through `runWorkers`, which
 * rejects (and terminates the workers) if they do not all finish in time, so a lost wake-up fails
 * the test instead of hanging CI.
 */
import { Worker } from 'node:worker_threads';

export interface WorkerRun<T> {
  results: T[];
  workers: Worker[];
}

/** Starts `count` workers on `fixture` and resolves with each one's posted result once all exit. */
export function runWorkers<T>(fixture: string, count: number, data: (i: number) => unknown, timeoutMs: number): Promise<T[]> {
  const url = new URL(`../fixtures/${fixture}`, import.meta.url);
  const workers: Worker[] = [];
  const results: T[] = Array.from({ length: count });
  return new Promise<T[]>((resolve, reject) => {
    let left = count;
    let failed = false;
    const timer = setTimeout(() => {
      failed = true;
      for (const w of workers) void w.terminate();
      reject(new Error(`${fixture}: ${left} of ${count} workers still running after ${timeoutMs} ms (lost wake-up or deadlock?)`));
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

/** Starts one worker and returns it with a promise of its first message. */
export function startWorker(fixture: string, data: unknown): { worker: Worker; firstMessage: Promise<unknown>; exited: Promise<number> } {
  const worker = new Worker(new URL(`../fixtures/${fixture}`, import.meta.url), { workerData: data });
  const firstMessage = new Promise<unknown>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, firstMessage, exited };
}

/** Resolves after `ms` (for letting workers reach a parked state; never used to assert speed). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
