/**
 * WorkerPool crash safety and cancellation. A shared counter per task id (incremented by the task
 * as it starts) shows exactly which tasks ran and how often: each test fails if a task is lost
 * (never settles or never runs), runs twice, is rejected without having started, or if a worker
 * death takes down more than the tasks it had started.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerExitError, WorkerPool, type WorkerPoolOptions } from '../src/pool/index.ts';
import { LONG } from './support/workers.ts';

const TASKS = new URL('./fixtures/pool-tasks.ts', import.meta.url);
const open: WorkerPool[] = [];
function pool(opts: Partial<WorkerPoolOptions>): WorkerPool {
  const p = new WorkerPool({ filename: TASKS, threads: 3, ...opts });
  open.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((p) => p.destroy()));
});

type Outcome = { ok: true; v: unknown } | { ok: false; e: unknown };
const settle = (p: Promise<unknown>): Promise<Outcome> => p.then((v) => ({ ok: true as const, v }), (e: unknown) => ({ ok: false as const, e }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const variants: [string, Partial<WorkerPoolOptions>][] = [
  ['sab, batch 32', { batch: 32 }],
  ['sab, adaptive batch, stealing', { stealing: true }],
  ['message transport, batch 8', { transport: 'message', batch: 8 }],
];

describe('WorkerPool: a worker dying mid-batch', () => {
  const N = LONG ? 20_000 : 1500;
  for (const [label, opts] of variants) {
    it(`process.exit() inside a task: only that task rejects (with the exit code); the rest run exactly once (${label})`, async () => {
      const counts = new SharedArrayBuffer(4 * N);
      const c = new Int32Array(counts);
      const p = pool({ ...opts, workerData: { counts } });
      const exits = new Set([Math.floor(N / 5), Math.floor(N / 2), Math.floor((4 * N) / 5)]);
      const jobs: Promise<Outcome>[] = [];
      for (let id = 0; id < N; id++) {
        jobs.push(settle(p.run(exits.has(id) ? { id, exitCode: 7 } : { id, us: 20 }, { name: 'counted' })));
      }
      const rs = await Promise.all(jobs);
      for (let id = 0; id < N; id++) {
        const r = rs[id];
        expect(c[id], `task ${id} start count`).toBe(1);
        if (exits.has(id)) {
          expect(r.ok).toBe(false);
          expect((r as { e: unknown }).e).toBeInstanceOf(WorkerExitError);
          expect((r as { e: WorkerExitError }).e.exitCode).toBe(7);
        } else {
          expect(r, `task ${id}`).toEqual({ ok: true, v: id });
        }
      }
      const s = p.stats;
      expect(s.workers.reduce((a, w) => a + w.starts, 0)).toBe(3 + exits.size); // each death replaced
      expect(s.inFlight + s.queued).toBe(0);
      await expect(p.run({ id: 0 })).resolves.toMatchObject({ id: 0 }); // still serving
    });
  }

  for (const [label, opts] of variants) {
    it(`worker.terminate() with many async tasks started: started ones reject, the rest run exactly once (${label})`, async () => {
      const n = LONG ? 5000 : 600;
      const counts = new SharedArrayBuffer(4 * n);
      const c = new Int32Array(counts);
      const p = pool({ ...opts, threads: 2, workerData: { counts } });
      await p.run({ id: 0, ms: 0 }, { name: 'countedAsync' });
      Atomics.store(c, 0, 0);
      const jobs: Promise<Outcome>[] = [];
      for (let id = 0; id < n; id++) jobs.push(settle(p.run({ id, ms: 150 }, { name: 'countedAsync' })));
      await sleep(60); // well inside the first 150 ms tasks
      const victim = p.workers[0]!;
      await victim.terminate();
      const rs = await Promise.all(jobs);
      let rejected = 0;
      for (let id = 0; id < n; id++) {
        const r = rs[id];
        if (r.ok) {
          expect(r.v).toBe(id);
          expect(c[id], `task ${id} start count`).toBe(1);
        } else {
          rejected++;
          expect(r.e).toBeInstanceOf(WorkerExitError);
          expect((r.e as WorkerExitError).exitCode).toBe(1);
          expect(c[id], `rejected task ${id} must have started`).toBe(1);
        }
      }
      // Without stealing the victim surely had started tasks in flight; with stealing the other
      // worker may have taken them all (that is the point of stealing), so only exactness is checked.
      if (opts.stealing !== true) expect(rejected).toBeGreaterThan(0);
      expect(p.stats.workers[0].starts).toBe(2);
      expect(p.stats.workers.every((w) => w.outstanding === 0)).toBe(true);
    });
  }
});

describe('WorkerPool: cancellation', () => {
  it('aborting a task that waits in the main queue rejects at once; it never runs', async () => {
    const counts = new SharedArrayBuffer(64);
    const p = pool({ threads: 1, batch: 1, workerData: { counts } });
    const blocker = p.run(300, { name: 'busy' });
    const ac = new AbortController();
    const victim = settle(p.run({ id: 1 }, { name: 'counted', signal: ac.signal }));
    const after = p.run({ id: 2 }, { name: 'counted' });
    expect(p.stats.queued).toBe(2);
    const reason = new Error('changed my mind');
    ac.abort(reason);
    expect(p.stats.queued).toBe(1); // removed at once
    expect(await victim).toEqual({ ok: false, e: reason });
    await blocker;
    await expect(after).resolves.toBe(2);
    expect(new Int32Array(counts)[1]).toBe(0);
    expect(p.stats.cancelled).toBe(1);
  });

  it('aborting a task already handed to a worker but not started rejects at once; it never runs', async () => {
    const counts = new SharedArrayBuffer(64);
    const p = pool({ threads: 1, batch: 8, workerData: { counts } });
    await p.run({ id: 0 }); // the worker has loaded the task file
    const blocker = p.run(300, { name: 'busy' });
    await sleep(30); // the worker is inside `busy`
    const ac = new AbortController();
    const victim = settle(p.run({ id: 3 }, { name: 'counted', signal: ac.signal }));
    const after = p.run({ id: 4 }, { name: 'counted' });
    expect(p.stats.queued).toBe(0); // both went to the worker's ring (window 16)
    ac.abort();
    const r = await victim;
    expect(r.ok).toBe(false);
    expect((r as { e: Error }).e.name).toBe('AbortError');
    await blocker;
    await expect(after).resolves.toBe(4);
    expect(new Int32Array(counts)[3]).toBe(0);
    expect(new Int32Array(counts)[4]).toBe(1);
  });

  it('a running task sees its signal abort (second parameter) and the worker is kept', async () => {
    for (const transport of ['sab', 'message'] as const) {
      const p = pool({ threads: 1, transport });
      await p.run({ id: 0 }); // the worker has loaded the task file
      const ac = new AbortController();
      const job = settle(p.run(null, { name: 'untilAborted', signal: ac.signal }));
      await sleep(50);
      ac.abort();
      const r = await job;
      expect(r.ok).toBe(false);
      expect((r as { e: Error }).e.name).toBe('AbortError');
      await expect(p.run({ id: 1 })).resolves.toMatchObject({ id: 1 });
      expect(p.stats.workers[0].starts).toBe(1);
    }
  });

  it('a running task that ignores its signal past abortGraceMs gets its worker replaced; queued work survives', async () => {
    for (const transport of ['sab', 'message'] as const) {
      const counts = new SharedArrayBuffer(64);
      const p = pool({ threads: 1, batch: 4, transport, abortGraceMs: 100, workerData: { counts } });
      await p.run({ id: 0 }); // the worker has loaded the task file
      const ac = new AbortController();
      const job = settle(p.run(20_000, { name: 'busy', signal: ac.signal }));
      await sleep(50);
      const behind = [5, 6, 7].map((id) => p.run({ id }, { name: 'counted' }));
      const t0 = performance.now();
      ac.abort();
      const r = await job;
      expect(performance.now() - t0).toBeLessThan(5000); // rejected at abort, not after the 20 s task
      expect((r as { e: Error }).e.name).toBe('AbortError');
      await expect(Promise.all(behind)).resolves.toEqual([5, 6, 7]);
      expect(Array.from(new Int32Array(counts).subarray(5, 8))).toEqual([1, 1, 1]);
      expect(p.stats.workers[0].starts).toBe(2);
    }
  });

  it('an already-aborted signal rejects without running; runBatch aborts all its tasks', async () => {
    const counts = new SharedArrayBuffer(64);
    const p = pool({ threads: 1, batch: 1, workerData: { counts } });
    await expect(p.run({ id: 1 }, { name: 'counted', signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    const blocker = p.run(200, { name: 'busy' });
    const ac = new AbortController();
    const batch = settle(p.runBatch([{ id: 2 }, { id: 3 }, { id: 4 }], { name: 'counted', signal: ac.signal }));
    ac.abort();
    expect((await batch).ok).toBe(false);
    await blocker;
    await sleep(20);
    expect(Array.from(new Int32Array(counts).subarray(1, 5))).toEqual([0, 0, 0, 0]);
  });
});
