// One async-bench process = one (scenario, variant, repetition). bench/locks/async-run.ts spawns
// this file in a fresh `node` process with a JSON job as argv[2]; it prints exactly one line
// `ASYNC_BENCH_RESULT <json>` on stdout (or exits non-zero with the error on stderr: a lost
// update, a hang, a crash).

import { pathToFileURL } from 'node:url';
import { runAsyncContended, type AsyncRun } from './async-harness.ts';
import { setupAsyncLock, type AsyncLockName } from './async-locks.ts';

export interface AsyncJob {
  lock: AsyncLockName;
  syncWorkers?: number;
  threads: number;
  warmupRuns: number;
  warmupMs: number;
  runs: number;
  durationMs: number;
}

export interface AsyncChildResult {
  warmup: AsyncRun[];
  runs: AsyncRun[];
  /** Wall time of the whole process's work (worker start to close). */
  processMs: number;
}

export const ASYNC_RESULT_MARKER = 'ASYNC_BENCH_RESULT ';

/** Runs one job in this process. Exported for tests; the CLI path is below. */
export async function runAsyncJob(job: AsyncJob): Promise<AsyncChildResult> {
  const t0 = performance.now();
  const init = await setupAsyncLock(job.lock);
  const r = await runAsyncContended({
    init,
    threads: job.threads,
    syncWorkers: job.syncWorkers ?? 0,
    warmupRuns: job.warmupRuns,
    warmupMs: job.warmupMs,
    runs: job.runs,
    durationMs: job.durationMs,
  });
  return { ...r, processMs: performance.now() - t0 };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const job = JSON.parse(process.argv[2] ?? '') as AsyncJob;
  runAsyncJob(job).then(
    (res) => {
      process.stdout.write(`${ASYNC_RESULT_MARKER}${JSON.stringify(res)}\n`);
      // A worker left waiting on a lock grant that never comes (see weblocks) must not keep
      // this process alive once the result is out.
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 3000).unref();
      process.exit(1);
    },
  );
}
