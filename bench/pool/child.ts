/**
 * One bench process: runs one scenario on one variant and prints one result line
 * (`RESULT_MARKER` + JSON) on stdout. Started by bench/pool/run.ts with the job as argv[2].
 *
 * Scenarios (the single definition; run.ts only schedules them):
 * Every scenario on a pool first warms up for 1 s (repeating a smaller burst, or the loop itself).
 * - burst:    `n` run() calls of the trivial add task issued at once, then Promise.all; tasks/s.
 *             `reps` measured bursts after the warm-up; the process's value is their median.
 * - closed:   `loops` concurrent await-loops (piscina's simple-benchmark shape) for `ms`; tasks/s.
 * - latency:  one task at a time (await each) for `ms`; the value is the median round trip in µs.
 * - payload:  burst of `n` echo tasks with a 1 KiB ASCII string argument and result; tasks/s.
 * - cpu:      burst of `n` tasks of ~50 µs CPU each; tasks/s.
 * - skewed:   burst of `n` tasks, 2 % of them 2 ms and the rest 20 µs (seeded order); tasks/s.
 * - priority: a backlog of `n` 50 µs low-priority tasks; meanwhile `high` priority-10 tasks are
 *             submitted one per ms; the value is their median latency in µs.
 * - l6:       `loops` concurrent await-loops of the add task for `ms` on a pool of `threads` (8)
 *             workers, so most completion rings are empty at any moment; the value is the empty
 *             completion-source polls (rings, or signal words for 'signalled') per completed task,
 *             from the pool's own counters; tasks/s goes in extra.
 * - l1:       consume `n` values already in an MpmcQueue, `await q.popAsync()` ('promise') vs
 *             `popReady(q)` ('ready'); ns per value.
 * - l5:       two threads doing alloc+free on one FuturePool, per-thread caches vs the shared
 *             free lists; ns per alloc+free pair per thread.
 * Every result is checked (sums, echoes, ids) so a broken variant fails instead of producing a number.
 */
import { Worker } from 'node:worker_threads';
import { MpmcQueue, SharedRegion } from '../../src/index.ts';
import { FuturePool, popReady, type FuturePoolCache } from '../../src/pool/index.ts';
import { median, mulberry32, quantile } from '../lib/stats.ts';
import { makePool, type BenchPool } from './variants.ts';
import { RESULT_MARKER, type ChildResult, type Job } from './protocol.ts';

/** Warm-up: repeat `once(size)` until WARMUP_MS have passed (at least once), so the JIT and the heap settle. */
const WARMUP_MS = 1000;
async function warmUp(once: (count: number) => Promise<number>, size: number): Promise<void> {
  const end = performance.now() + WARMUP_MS;
  do await once(size);
  while (performance.now() < end);
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(`result check failed: ${msg}`);
}

async function burst(pool: BenchPool, n: number, reps: number): Promise<ChildResult> {
  const once = async (count: number): Promise<number> => {
    const t0 = performance.now();
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) ps.push(pool.run({ a: i, b: 1 }));
    const rs = (await Promise.all(ps)) as number[];
    const dt = performance.now() - t0;
    check(rs[0] === 1 && rs[count - 1] === count && rs[count >> 1] === (count >> 1) + 1, 'add results');
    return (count / dt) * 1000;
  };
  await warmUp(once, Math.max(1000, Math.floor(n / 5)));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(await once(n));
  return { value: median(samples), unit: 'tasks/s', samples, extra: {} };
}

async function closed(pool: BenchPool, loops: number, ms: number): Promise<ChildResult> {
  const phase = async (dur: number): Promise<number> => {
    let done = 0;
    let stop = false;
    const loop = async (k: number): Promise<void> => {
      let i = 0;
      while (!stop) {
        const r = await pool.run({ a: k, b: i });
        if (r !== k + i) throw new Error('closed: wrong result');
        i++;
        done++;
      }
    };
    const t0 = performance.now();
    const all = Promise.all(Array.from({ length: loops }, (_, k) => loop(k)));
    await new Promise((r) => setTimeout(r, dur));
    stop = true;
    const counted = done;
    const dt = performance.now() - t0;
    await all;
    return (counted / dt) * 1000;
  };
  await phase(WARMUP_MS);
  const v = await phase(ms);
  return { value: v, unit: 'tasks/s', samples: [v], extra: { loops } };
}

async function l6(pool: BenchPool, loops: number, ms: number): Promise<ChildResult> {
  const polls = (): { total: number; empty: number } => pool.info().polls as { total: number; empty: number };
  await closed(pool, loops, WARMUP_MS); // warm-up (its own 1 s phase plus a short measured one, discarded)
  const p0 = polls();
  let done = 0;
  let stop = false;
  const loop = async (k: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const r = await pool.run({ a: k, b: i });
      if (r !== k + i) throw new Error('l6: wrong result');
      done++;
    }
  };
  const t0 = performance.now();
  const all = Promise.all(Array.from({ length: loops }, (_, k) => loop(k)));
  await new Promise((r) => setTimeout(r, ms));
  stop = true;
  await all;
  const dt = performance.now() - t0;
  const p1 = polls();
  const emptyPerTask = (p1.empty - p0.empty) / done;
  return {
    value: emptyPerTask,
    unit: 'empty polls/task',
    samples: [emptyPerTask],
    extra: { loops, tasks: done, tasksPerSec: (done / dt) * 1000, pollsPerTask: (p1.total - p0.total) / done },
  };
}

async function latency(pool: BenchPool, ms: number): Promise<ChildResult> {
  const warmEnd = performance.now() + WARMUP_MS;
  for (let i = 0; performance.now() < warmEnd; i++) await pool.run({ a: i, b: 1 });
  const rtts: number[] = [];
  const end = performance.now() + ms;
  let i = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const r = await pool.run({ a: i, b: 1 });
    rtts.push((performance.now() - t0) * 1000);
    check(r === i + 1, 'latency result');
    i++;
  }
  return { value: median(rtts), unit: 'µs', samples: [median(rtts)], extra: { p99Us: quantile(rtts, 0.99), count: rtts.length } };
}

async function payload(pool: BenchPool, n: number, reps: number): Promise<ChildResult> {
  const strs = Array.from({ length: 64 }, (_, k) => `${k}`.padEnd(1024, String.fromCharCode(97 + (k % 26))));
  const once = async (count: number): Promise<number> => {
    const t0 = performance.now();
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) ps.push(pool.run(strs[i & 63], { name: 'echo' }));
    const rs = (await Promise.all(ps)) as string[];
    const dt = performance.now() - t0;
    check(rs[count - 1] === strs[(count - 1) & 63] && rs[7] === strs[7], '1 KiB echo');
    return (count / dt) * 1000;
  };
  await warmUp(once, Math.max(500, Math.floor(n / 5)));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(await once(n));
  return { value: median(samples), unit: 'tasks/s', samples, extra: {} };
}

async function cpu(pool: BenchPool, n: number, stepsPerUs: number, reps: number): Promise<ChildResult> {
  const steps = Math.round(50 * stepsPerUs);
  const once = async (count: number): Promise<number> => {
    const t0 = performance.now();
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) ps.push(pool.run({ id: i, n: steps }, { name: 'sized' }));
    const rs = (await Promise.all(ps)) as number[];
    const dt = performance.now() - t0;
    check(rs[count - 1] === count - 1, 'cpu ids');
    return (count / dt) * 1000;
  };
  await warmUp(once, Math.floor(n / 4));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(await once(n));
  return { value: median(samples), unit: 'tasks/s', samples, extra: { stepsPerTask: steps } };
}

async function skewed(pool: BenchPool, n: number, stepsPerUs: number, reps: number): Promise<ChildResult> {
  const rnd = mulberry32(12345);
  const sizes = Array.from({ length: n }, () => Math.round((rnd() < 0.02 ? 2000 : 20) * stepsPerUs));
  const once = async (count: number): Promise<number> => {
    const t0 = performance.now();
    const ps: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) ps.push(pool.run({ id: i, n: sizes[i] }, { name: 'sized' }));
    const rs = (await Promise.all(ps)) as number[];
    const dt = performance.now() - t0;
    check(rs[count - 1] === count - 1, 'skewed ids');
    return (count / dt) * 1000;
  };
  await warmUp(once, Math.floor(n / 4));
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) samples.push(await once(n));
  return { value: median(samples), unit: 'tasks/s', samples, extra: {} };
}

async function priority(pool: BenchPool, n: number, high: number, stepsPerUs: number): Promise<ChildResult> {
  const steps = Math.round(50 * stepsPerUs);
  await Promise.all(Array.from({ length: 200 }, (_, i) => pool.run({ id: i, n: steps }, { name: 'sized', priority: 0 })));
  const backlog: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) backlog.push(pool.run({ id: i, n: steps }, { name: 'sized', priority: 0 }));
  const lat: number[] = [];
  const highs: Promise<unknown>[] = [];
  for (let k = 0; k < high; k++) {
    await new Promise((r) => setTimeout(r, 1));
    const t0 = performance.now();
    highs.push(pool.run({ id: -k, n: steps }, { name: 'sized', priority: 10 }).then(() => lat.push((performance.now() - t0) * 1000)));
  }
  await Promise.all([...backlog, ...highs]);
  return { value: median(lat), unit: 'µs', samples: [median(lat)], extra: { p99Us: quantile(lat, 0.99), high, backlog: n } };
}

async function l1(variant: string, n: number, reps: number): Promise<ChildResult> {
  const q = new MpmcQueue({ region: SharedRegion.create({ bytes: 2 << 20 }), capacity: 1 << 16 });
  const samples: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    for (let i = 0; i < n; i++) q.tryPush(i);
    let sum = 0;
    const t0 = performance.now();
    if (variant === 'l1:ready') {
      for (let i = 0; i < n; i++) {
        const x = popReady(q);
        sum += x.done ? x.value : await x.promise;
      }
    } else {
      for (let i = 0; i < n; i++) sum += await q.popAsync();
    }
    const dt = performance.now() - t0;
    check(sum === (n * (n - 1)) / 2, 'l1 sum');
    if (r > 0) samples.push((dt * 1e6) / n);
  }
  return { value: median(samples), unit: 'ns/value', samples, extra: {} };
}

async function l5(variant: string, ms: number): Promise<ChildResult> {
  const cache = variant.split(':')[1] as FuturePoolCache;
  const fp = FuturePool.create({ cache });
  const go = new Int32Array(new SharedArrayBuffer(4));
  const url = new URL('./l5-worker.ts', import.meta.url);
  const ws = [0, 1].map(() => new Worker(url, { workerData: { handle: fp.handle, cache, ms, go } }));
  const results = ws.map((w) => new Promise<{ pairs: number; misses: number; ms: number }>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  }));
  await new Promise((r) => setTimeout(r, 300)); // let both start and attach
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  const rs = await Promise.all(results);
  await Promise.all(ws.map((w) => w.terminate()));
  check(fp.freeCount() === fp.slotCount, 'l5: every slot returned');
  const nsPerPair = rs.map((r) => (r.ms * 1e6) / r.pairs);
  return { value: median(nsPerPair), unit: 'ns/pair', samples: nsPerPair, extra: { misses: rs.map((r) => r.misses) } };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2]) as Job;
  const p = job.params;
  let res: ChildResult;
  if (job.scenario === 'l1') {
    res = await l1(job.variant, p.n, p.reps);
  } else if (job.scenario === 'l5') {
    res = await l5(job.variant, p.ms);
  } else {
    const pool = await makePool(job.variant, job.threads);
    try {
      switch (job.scenario) {
        case 'burst': res = await burst(pool, p.n, p.reps); break;
        case 'closed': res = await closed(pool, p.loops, p.ms); break;
        case 'latency': res = await latency(pool, p.ms); break;
        case 'payload': res = await payload(pool, p.n, p.reps); break;
        case 'cpu': res = await cpu(pool, p.n, p.stepsPerUs, p.reps); break;
        case 'skewed': res = await skewed(pool, p.n, p.stepsPerUs, p.reps); break;
        case 'priority': res = await priority(pool, p.n, p.high, p.stepsPerUs); break;
        case 'l6': res = await l6(pool, p.loops, p.ms); break;
        default: throw new Error(`unknown scenario ${job.scenario}`);
      }
      res.extra.pool = pool.info();
    } finally {
      await pool.close();
    }
  }
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(res)}\n`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
