// Helpers for multi-worker tests: start fixture workers, collect their results, fail loudly.
import { Worker } from 'node:worker_threads';

/** Starts `count` workers on `url`, each with `data(i)` as workerData, and resolves with the
 * first message each one posts (its result). Rejects on any worker error or non-zero exit
 * before a result, or after `timeoutMs` (so a lost wake-up fails instead of hanging). */
export async function runWorkers<T>(url: URL, count: number, data: (i: number) => unknown, timeoutMs = 45_000): Promise<T[]> {
  const workers: Worker[] = [];
  const results: Promise<T>[] = [];
  for (let i = 0; i < count; i++) {
    const w = new Worker(url, { workerData: data(i) });
    workers.push(w);
    results.push(firstMessage<T>(w, `worker ${i}`));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`workers did not finish within ${timeoutMs} ms (lost wake-up or deadlock?)`)), timeoutMs);
  });
  try {
    return await Promise.race([Promise.all(results), timeout]);
  } finally {
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Resolves with the first message `w` posts; rejects if it errors or exits first. */
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

/** Deterministic PRNG (mulberry32) so a failing round can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `true` when long modes are requested (`PARKLOT_LONG=1`). */
export const LONG = process.env.PARKLOT_LONG === '1';
