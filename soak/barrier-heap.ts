/**
 * Where the soak's Barrier workers' memory goes: the soak's barrier role alone, on a quiet machine.
 * Three workers (one Barrier of 3 parties) loop as the soak's barrier role does — 70 %
 * `waitFor(200–1000 ms)`, 30 % `waitAsync` with the same timeout, 5 % of those with an
 * `AbortSignal.timeout(0–4 ms)` — and every 10 s the script prints each worker's committed V8
 * heap (physical) and, per heap space, the physical size each worker reported last.
 *
 *   node soak/barrier-heap.ts --seconds 240 --young-gen-mb 0    # V8's default young generation
 *   node soak/barrier-heap.ts --seconds 120 --young-gen-mb 16   # the soak's cap
 *
 * A leak on the barrier path would grow old space (or native memory) without bound; V8's sizing
 * of the young generation (new space) grows in steps to a fixed maximum and then stays there.
 * Exit code 1 if a worker fails; the figures are the result (no pass/fail on memory).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { getHeapSpaceStatistics } from 'node:v8';
import { Barrier, SharedRegion, type PrimitiveHandle } from '../src/index.ts';
import { mulberry32 } from '../bench/lib/stats.ts';
import { parseCli } from '../bench/lib/args.ts';

const MB = 2 ** 20;
interface Init { barrier: PrimitiveHandle; stop: SharedArrayBuffer; seed: number }
interface Report { ops: number; timeouts: number; aborts: number; spaces: Record<string, number> }

if (isMainThread) {
  const { values: opt } = parseCli(
    process.argv.slice(2),
    { seconds: { type: 'string', default: '120' }, 'young-gen-mb': { type: 'string', default: '0' } },
    'usage: node soak/barrier-heap.ts [--seconds N] [--young-gen-mb N]',
  );
  const seconds = Number(opt.seconds);
  const youngGenMb = Number(opt['young-gen-mb']);
  if (!(seconds >= 10) || !Number.isInteger(youngGenMb) || youngGenMb < 0) {
    throw new RangeError('barrier-heap: --seconds ≥ 10, --young-gen-mb a non-negative integer (0: V8 default)');
  }
  const region = SharedRegion.create({ bytes: 64 * 1024, waiters: 64, buckets: 16, threads: 64 });
  const barrier = new Barrier(3, { region });
  const stop = new SharedArrayBuffer(4);
  const last: (Report | undefined)[] = [];
  const workers = [0, 1, 2].map((i) => {
    const init: Init = { barrier: barrier.handle, stop, seed: 2026 + i };
    const w = new Worker(new URL(import.meta.url), {
      workerData: init, ...(youngGenMb > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: youngGenMb } } : {}),
    });
    region.watch(w);
    w.on('message', (m: Report) => { last[i] = m; });
    w.on('error', (e) => { console.error(`barrier-heap: worker ${i} failed:`, e); process.exitCode = 1; });
    return w;
  });
  console.log(`barrier-heap: 3 workers, ${seconds} s, young generation ${youngGenMb > 0 ? `${youngGenMb} MB` : 'V8 default'}`);
  const t0 = Date.now();
  const tick = setInterval(() => {
    void Promise.all(workers.map((w) => w.getHeapStatistics())).then((hs) => {
      const phys = hs.map((h) => (h.total_physical_size / MB).toFixed(0)).join('/');
      const spaces = (last[0] === undefined ? [] : Object.keys(last[0].spaces))
        .filter((k) => last.some((r) => (r?.spaces[k] ?? 0) >= 1)) // omit spaces under 1 MB everywhere
        .map((k) => `${k.replace('_space', '')} ${last.map((r) => (r?.spaces[k] ?? 0).toFixed(0)).join('/')}`)
        .join(', ');
      const ops = last.reduce((a, r) => a + (r?.ops ?? 0), 0);
      console.log(`${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s  physical ${phys} MB  ops ${ops}  spaces (MB, last report): ${spaces}`);
      if (Date.now() - t0 >= seconds * 1000) {
        clearInterval(tick);
        Atomics.store(new Int32Array(stop), 0, 1);
        const sum = (k: 'timeouts' | 'aborts'): number => last.reduce((a, r) => a + (r?.[k] ?? 0), 0);
        console.log(`done: ${ops} barrier waits, ${sum('timeouts')} timeouts, ${sum('aborts')} aborts`);
      }
    });
  }, 10_000);
} else {
  const d = workerData as Init;
  const barrier = Barrier.from(d.barrier);
  const stop = new Int32Array(d.stop);
  const rand = mulberry32(d.seed);
  const r: Report = { ops: 0, timeouts: 0, aborts: 0, spaces: {} };
  let reportedAt = Date.now();
  while (Atomics.load(stop, 0) === 0) {
    let signal: AbortSignal | undefined;
    try {
      const ms = 200 + rand() * 800;
      if (rand() < 0.7) {
        if (barrier.waitFor(ms) === null) r.timeouts++;
      } else {
        signal = rand() < 0.05 ? AbortSignal.timeout(Math.floor(rand() * 5)) : undefined;
        await barrier.waitAsync({ timeoutMs: ms, signal });
      }
    } catch (e) {
      if (signal?.aborted === true && e === signal.reason) r.aborts++;
      else if (e instanceof Error && e.name === 'TimeoutError') r.timeouts++;
      else throw e;
    }
    r.ops++;
    if (Date.now() - reportedAt >= 5000) {
      reportedAt = Date.now();
      for (const s of getHeapSpaceStatistics()) r.spaces[s.space_name] = s.physical_space_size / MB;
      parentPort!.postMessage(r);
    }
  }
}
