/**
 * Control for the soak's RSS check: worker churn at the soak's rate with no parklot code at all.
 * `--workers` workers (default 28, the soak's lock/queue worker count) allocate small objects
 * and wait in a loop; one is terminated every ~`--kill-every-ms` (default 250, jittered 0.5–1.5×)
 * at whatever instruction it is at, and replaced 5–45 ms later. Prints the RSS slope after the same
 * warm-up rule as the soak (30 % of the run). If this grows like the soak does, the soak's growth
 * is Node's/glibc's per-thread memory, not a parklot leak.
 *
 *   node soak/churn-control.ts --minutes 7                      # glibc defaults
 *   MALLOC_ARENA_MAX=2 node soak/churn-control.ts --minutes 7   # glibc malloc capped at 2 arenas
 */
import { parseCli } from '../bench/lib/args.ts';
import { Worker } from 'node:worker_threads';

const { values: opt } = parseCli(process.argv.slice(2), {
  minutes: { type: 'string', default: '7' },
  workers: { type: 'string', default: '28' },
  'kill-every-ms': { type: 'string', default: '250' },
}, 'usage: node soak/churn-control.ts [--minutes N] [--workers N] [--kill-every-ms N]');
const minutes = Number(opt.minutes);
const W = Number(opt.workers);
const killEveryMs = Number(opt['kill-every-ms']);
if (!(minutes > 0) || !Number.isInteger(W) || W < 1 || !(killEveryMs > 0)) throw new RangeError('churn-control: --minutes > 0, --workers ≥ 1 (integer), --kill-every-ms > 0');

// The worker keeps a bounded live set (≤ 100 arrays of 200 small objects), makes garbage, throws
// and catches an Error now and then (as timed-out waits do), and waits 1 ms per round.
const src = `
const b = new Int32Array(new SharedArrayBuffer(4));
let keep = [];
for (let i = 0;; i++) {
  const a = []; for (let k = 0; k < 200; k++) a.push({ k, s: 'x' + k, v: [k, k + 1] });
  keep.push(a); if (keep.length > 100) keep = keep.slice(50);
  try { if (i % 7 === 0) throw new Error('timeout ' + i); } catch (e) { void e.stack; }
  Atomics.wait(b, 0, 0, 1);
}`;
const ws: (Worker | undefined)[] = [];
const spawn = (i: number): void => { ws[i] = new Worker(src, { eval: true }); };
for (let i = 0; i < W; i++) spawn(i);

const t0 = Date.now();
const mb = (): number => process.memoryUsage.rss() / 2 ** 20;
const samples: [number, number][] = [];
const timer = setInterval(() => samples.push([(Date.now() - t0) / 60_000, mb()]), 5000);
let kills = 0;
while (Date.now() - t0 < minutes * 60_000) {
  await new Promise((r) => setTimeout(r, killEveryMs * (0.5 + Math.random())));
  const i = Math.floor(Math.random() * W);
  const w = ws[i];
  if (w === undefined) continue;
  ws[i] = undefined;
  await w.terminate();
  kills++;
  setTimeout(() => spawn(i), 5 + Math.random() * 40);
  if (kills % 240 === 0) console.log(`[churn ${((Date.now() - t0) / 60_000).toFixed(1)} min] ${kills} kills, rss ${mb().toFixed(0)} MB`);
}
clearInterval(timer);
const post = samples.filter(([t]) => t >= minutes * 0.3);
if (post.length < 2) throw new Error('churn-control: run longer (need ≥ 2 RSS samples after warm-up)');
const n = post.length;
const mt = post.reduce((a, s) => a + s[0], 0) / n;
const mm = post.reduce((a, s) => a + s[1], 0) / n;
const slope = post.reduce((a, s) => a + (s[0] - mt) * (s[1] - mm), 0) / post.reduce((a, s) => a + (s[0] - mt) ** 2, 0);
console.log(`churn control (no parklot), MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '(unset)'}: ${kills} kills in ${minutes} min (${(kills / minutes).toFixed(0)}/min); RSS after warm-up ${post[0][1].toFixed(0)} → ${post[n - 1][1].toFixed(0)} MB (${(post[n - 1][1] - post[0][1]).toFixed(0)} MB), slope ${slope.toFixed(1)} MB/min`);
for (const w of ws) await w?.terminate();
