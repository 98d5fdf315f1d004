/**
 * Task file of the chaos soak's WorkerPool. Every task counts its own start in `counts[id]`
 * (workerData.data.counts), so the soak can tell which tasks ran and that none ran twice.
 */
import { workerData } from 'node:worker_threads';

const counts = new Int32Array((workerData as { data: { counts: SharedArrayBuffer } }).data.counts);

export interface Arg { id: number; x: number; ms?: number; us?: number }

/** Synchronous: (x² mod 1000003). */
export function sq(a: Arg): number {
  Atomics.add(counts, a.id, 1);
  return (a.x * a.x) % 1000003;
}

/** Asynchronous: x + 1 after `ms`; honours its abort signal. */
export async function sleepy(a: Arg, ctx: { signal: AbortSignal }): Promise<number> {
  Atomics.add(counts, a.id, 1);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, a.ms ?? 0);
    ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason as Error); }, { once: true });
  });
  return a.x + 1;
}

/** Busy for `us` microseconds, ignoring aborts (past abortGraceMs its worker is replaced): 2x. */
export function spin(a: Arg): number {
  Atomics.add(counts, a.id, 1);
  const end = performance.now() + (a.us ?? 0) / 1000;
  while (performance.now() < end) { /* busy */ }
  return a.x * 2;
}
