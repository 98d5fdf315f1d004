/**
 * Chaos soak: `npm run soak -- --minutes N [--seed S] [--workers N] [--json out.json]`.
 *
 * Workers hammer every primitive, the queues and a WorkerPool while a chaos loop on the main
 * thread kills workers (lock workers at chosen points, pool workers at any time), aborts and times
 * out waits, and floods the pool past `maxQueue`. Invariants are checked throughout (by the
 * workers, inside their critical sections) and at the end, after every worker has quiesced.
 * Exit code 0 only if no violation was seen. See soak/README.md.
 */
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { getHeapStatistics } from 'node:v8';
import {
  Barrier, Condvar, MpmcQueue, Mutex, Once, RwLock, Semaphore, SharedRegion, TaskList, WaitGroup,
} from '../src/index.ts';
import { QueueFullError, WorkerExitError, WorkerPool } from '../src/pool/index.ts';
import { R_WAITERS } from '../src/task-list/ring.ts';
import * as S from './shared.ts';
import { mulberry32 } from '../bench/lib/stats.ts';
import { parseCli } from '../bench/lib/args.ts';

// ------------------------------------------------------------------ options

const USAGE = 'usage: npm run soak -- [--minutes N] [--seed S] [--workers N] [--json out.json] … (every option: soak/README.md)';
const { values: opt } = parseCli(process.argv.slice(2), {
  minutes: { type: 'string', default: '1' },
  seed: { type: 'string' },
  workers: { type: 'string', default: '2' },
  json: { type: 'string' },
  'kill-every-ms': { type: 'string', default: '250' },
  'wait-bound-ms': { type: 'string', default: '20000' },
  'rss-tolerance-mb': { type: 'string', default: '150' },
  // Young-generation cap of every soak worker, MB (resourceLimits.maxYoungGenerationSizeMb); 0 =
  // V8's default. See YOUNG_GEN_NOTE.
  'young-gen-mb': { type: 'string', default: '16' },
  // log2 of the pool's task ring (see POOL_RING); small values exercise slot reuse in a short run.
  'pool-ring-bits': { type: 'string', default: '20' },
  // Kill RwLock writers only while idle (default: also while holding the write/upgradable lock).
  'rw-idle-kills-only': { type: 'boolean', default: false },
}, USAGE);
const durationMs = Math.max(5000, Number(opt.minutes) * 60_000);
const seed = opt.seed !== undefined ? Number(opt.seed) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
const N = Math.max(1, Math.min(6, Number(opt.workers)));
const killEveryMs = Number(opt['kill-every-ms']);
const waitBoundMs = Number(opt['wait-bound-ms']);
const rssToleranceMb = Number(opt['rss-tolerance-mb']);
// glibc's malloc arena cap, printed with the result because it can change RSS under thread churn
// (it did not explain the soak's old growth: a 30-minute run with MALLOC_ARENA_MAX=2 grew as much).
const mallocArenaMax = process.env.MALLOC_ARENA_MAX ?? '(unset: glibc default)';
const poolRingBits = Number(opt['pool-ring-bits']);
const youngGenMb = Number(opt['young-gen-mb']);
if (!Number.isInteger(youngGenMb) || youngGenMb < 0) throw new RangeError('soak: --young-gen-mb must be a non-negative integer (0: V8 default)');
/**
 * YOUNG_GEN_NOTE. V8 grows a thread's young generation (new space) while its scavenges see many
 * survivors, up to a maximum far above what a soak worker needs, and does not shrink it while the
 * thread stays busy. A long-lived worker with a high allocation rate therefore adds ~100 MB of
 * committed heap, in steps, over tens of minutes: the 30-minute soak at 69fa7af grew +373 MB, of
 * which +283 MB were the three never-killed Barrier workers' heaps reaching a plateau (~118 MB
 * each at ~24 min, flat after). soak/barrier-heap.ts (the barrier role alone, 3 workers, heap
 * spaces per worker) showed the mechanism: new space 13 → 26 → 52 → 103 MB within ~100 s, then
 * flat; old space ~14 MB throughout; with a 16 MB cap, 30 MB per worker from the first minute at
 * the same operation rate. So the flatness check caps the young generation (workers:
 * resourceLimits; main thread: the npm script's --max-semi-space-size) so that V8's heap sizing
 * settles within the warm-up and what is left to detect is growth of live memory (old space,
 * native memory). `--young-gen-mb 0` restores V8's default.
 */
const workerLimits = youngGenMb > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: youngGenMb } } : {};
const mainSemiSpace = process.execArgv.find((a) => a.startsWith('--max-semi-space-size')) ?? '(V8 default)';
const heapSizing = `worker young gen ${youngGenMb > 0 ? `${youngGenMb} MB` : 'V8 default'}, main ${mainSemiSpace}`;
if (![durationMs, N, killEveryMs, waitBoundMs, rssToleranceMb].every(Number.isFinite)) throw new RangeError('soak: numeric options expected');
if (!Number.isInteger(poolRingBits) || poolRingBits < 8 || poolRingBits > 26) throw new RangeError('soak: --pool-ring-bits must be an integer in [8, 26]');

const rand = mulberry32(seed);
const epoch = Date.now();
const elapsed = (): number => Date.now() - epoch;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const log = (msg: string): void => console.log(`[soak ${(elapsed() / 1000).toFixed(1).padStart(6)}s] ${msg}`);

// ------------------------------------------------------------------ shared state

const region = SharedRegion.create({ bytes: 256 * 1024, waiters: 1024, buckets: 256, threads: 8192 });
const mutex = new Mutex({ region });
const cvMutex = new Mutex({ region });
const cvNotEmpty = new Condvar({ region });
const cvNotFull = new Condvar({ region });
const rw = new RwLock({ region, prefer: 'fair' });
const SEM_PERMITS = 4;
const sem = new Semaphore(SEM_PERMITS, { region });
const BARRIER_PARTIES = 3;
const barrier = new Barrier(BARRIER_PARTIES, { region });
const wg = new WaitGroup({ region });
const onces = Array.from({ length: S.O_COUNT }, () => new Once({ region }));
const queue = new MpmcQueue({ region, capacity: 64 });
const lists = [
  new TaskList({ region, capacity: S.T_BOARD_N + 16, impl: 'locked' }),
  new TaskList({ region, capacity: S.T_BOARD_N + 16, impl: 'lockfree' }),
];
const barrierGen0 = barrier.generation;

const ctl = new SharedArrayBuffer(S.CTL_WORDS * 4);
const c = new Int32Array(ctl);
const tickets = new SharedArrayBuffer(2 * S.T_BOARD_N * 8);
const Q_PRODUCERS = N;
if (Q_PRODUCERS > S.Q_MAX_PRODUCERS) throw new RangeError(`soak: at most ${S.Q_MAX_PRODUCERS} queue producers`);
const qGenBuf = new SharedArrayBuffer(Q_PRODUCERS * S.Q_WINDOW);
new Uint8Array(qGenBuf).fill(0); // touch every page now, so the table is in the RSS baseline
const handles: S.Handles = {
  region: region.handle, mutex: mutex.handle, cvMutex: cvMutex.handle, cvNotEmpty: cvNotEmpty.handle,
  cvNotFull: cvNotFull.handle, rw: rw.handle, sem: sem.handle, barrier: barrier.handle, wg: wg.handle,
  once: onces[0].handle, onceOffsets: onces.map((o) => o.offset), queue: queue.handle, lists: lists.map((l) => l.handle),
};

// ------------------------------------------------------------------ violations and counters

interface Violation { component: string; msg: string; atMs: number }
const violations: Violation[] = [];
const violationCount = new Map<string, number>();
function violation(component: string, msg: string): void {
  violationCount.set(component, (violationCount.get(component) ?? 0) + 1);
  if (violations.length < 200) violations.push({ component, msg, atMs: elapsed() });
  console.error(`[soak] VIOLATION (${component}): ${msg}`);
}
const kills = new Map<string, number>();
const killsAt = new Map<string, number>(); // "component@point"
const addKill = (component: string, point: string): void => {
  kills.set(component, (kills.get(component) ?? 0) + 1);
  killsAt.set(`${component}@${point}`, (killsAt.get(`${component}@${point}`) ?? 0) + 1);
};

// ------------------------------------------------------------------ lock workers

interface Slot {
  slot: number;
  role: S.Role;
  index: number;
  worker: Worker | undefined;
  incarnation: number;
  killing: boolean;
  exited: Promise<void>;
  lastIter: number;
  lastIterAt: number;
  flaggedSince: number;
}
const slots: Slot[] = [];
let stopping = false;
let finalTerminate = false; // quiesce timed out: terminating stuck workers, respawn nothing
let pendingRespawns = 0;
/**
 * Respawned after a kill, also while stopping: RwLock writers (readers blocked behind a dead writer
 * are released only by a writer's take-over; a writer's last act before leaving is one write()).
 */
const respawnWhileStopping = (role: S.Role): boolean => role === 'rw-writer';

// Two writers: a killed one's take-over is then usually done by the other, already parked (woken by
// the region's death handler), and readers are never left without a live or respawning writer.
const RW_WRITERS = 2;
const plan: [S.Role, number][] = [
  ['mutex', N + 1], ['cv-prod', N], ['cv-cons', N], ['rw-reader', N], ['rw-writer', RW_WRITERS], ['sem', N + 1],
  ['barrier', BARRIER_PARTIES], ['once', N], ['wg-coord', 1], ['wg-doer', N], ['q-prod', Q_PRODUCERS], ['q-cons', N],
  ['tasklist', N],
];
const WG_DOERS = N;
const workerUrl = new URL('./worker.ts', import.meta.url);

function spawn(s: Slot): void {
  const b = S.slotBase(s.slot);
  Atomics.store(c, b + S.S_KILL, 0);
  Atomics.store(c, b + S.S_OP, 0);
  Atomics.store(c, b + S.S_EXITED, 0);
  const init: S.WorkerInit & { wgDoers: number } = {
    role: s.role, slot: s.slot, index: s.index, seed: (seed + s.slot * 7919 + s.incarnation * 104729) >>> 0, epoch, ctl, tickets,
    qGen: qGenBuf, handles, semPermits: SEM_PERMITS, waitMs: 2000, wgDoers: WG_DOERS,
  };
  const w = new Worker(workerUrl, { workerData: init, ...workerLimits });
  region.watch(w); // before it can take a lock: on exit it is marked dead and its locks recoverable
  s.worker = w;
  s.incarnation++;
  s.lastIterAt = elapsed();
  const component = S.COMPONENT[s.role];
  w.on('message', (m: { type: string; msg?: string }) => {
    // Counted by the worker in its slot's S_VIOLATIONS (summed into the table); kept here for the report.
    if (m.type !== 'violation') return;
    console.error(`[soak] VIOLATION (${component}) reported by ${s.role}#${s.index}: ${m.msg}`);
    if (violations.length < 200) violations.push({ component, msg: `${s.role}#${s.index}: ${m.msg}`, atMs: elapsed() });
  });
  w.on('error', (e) => violation(component, `${s.role}#${s.index} crashed: ${e.stack ?? e.message}`));
  s.exited = new Promise<void>((resolve) => {
    w.once('exit', (code) => {
      const killed = s.killing;
      s.killing = false;
      s.worker = undefined;
      if (!killed && Atomics.load(c, b + S.S_EXITED) !== 1) violation(component, `${s.role}#${s.index} exited unexpectedly (code ${code})`);
      resolve();
      if (killed && !finalTerminate && (!stopping || respawnWhileStopping(s.role))) {
        pendingRespawns++;
        setTimeout(() => {
          pendingRespawns--;
          if (!finalTerminate && (!stopping || respawnWhileStopping(s.role))) spawn(s);
        }, 5 + rand() * 40);
      }
    });
  });
}

for (const [role, count] of plan) {
  for (let index = 0; index < count; index++) {
    const s: Slot = { slot: slots.length, role, index, worker: undefined, incarnation: 0, killing: false, exited: Promise.resolve(), lastIter: 0, lastIterAt: 0, flaggedSince: -1 };
    slots.push(s);
    spawn(s);
  }
}
if (slots.length > S.MAX_SLOTS) throw new RangeError('soak: too many worker slots');

/** Asks slot `s` to die at one of its role's kill points; terminates it once it is there. */
async function killAtPoint(s: Slot): Promise<boolean> {
  const points = s.role === 'rw-writer' && !opt['rw-idle-kills-only'] ? [...S.KILL_POINTS[s.role], ...S.RW_HOLDING_KILL_POINTS] : S.KILL_POINTS[s.role];
  const w = s.worker;
  if (points.length === 0 || w === undefined || s.killing) return false;
  const point = points[Math.floor(rand() * points.length)];
  const idx = S.slotBase(s.slot) + S.S_KILL;
  Atomics.store(c, idx, point);
  const deadline = Date.now() + 1500;
  while (Atomics.load(c, idx) === point && Date.now() < deadline && !stopping) {
    const r = Atomics.waitAsync(c, idx, point, deadline - Date.now());
    if (r.async) await r.value;
  }
  if (Atomics.load(c, idx) !== S.KILL_ACK && Atomics.compareExchange(c, idx, point, 0) === point) return false; // never got there
  s.killing = true;
  // Frozen holding the RwLock's exclusive part: the recoverer reports how long the lock stayed dead.
  if (point === S.KILL_IN_RW || point === S.KILL_IN_UPG) Atomics.store(c, S.G_RW_DEAD_SINCE, elapsed() + 1);
  await w.terminate();
  addKill(S.COMPONENT[s.role], S.KILL_NAMES[point]);
  return true;
}

// ------------------------------------------------------------------ pool

// One start counter and one outcome byte per task, in a ring of POOL_RING entries reused in
// submission order: a slot is reused only after its previous task settled, and is checked (ran at
// most once, resolved ⇒ ran once, QueueFullError ⇒ never ran) just before reuse, then reset; the
// slots still in use are checked at the end. The ring is touched up front, so it is part of the RSS
// baseline. (A table of one entry per task filled up mid-run twice: 2^21 ids at ~17 minutes, then
// 3,000 ids/s of run at ~18 minutes, and pool submissions stopped.) A late second run of a task
// whose slot was reused counts against the new task: still a violation, under the new task's number.
const POOL_RING = 2 ** poolRingBits;
const counts = new SharedArrayBuffer(POOL_RING * 4);
const started = new Int32Array(counts);
const outcome = new Uint8Array(POOL_RING); // 0 pending, 1 ok, 2 exit, 3 abort, 4 queue full, 5 other
const seqOf = new Float64Array(POOL_RING); // task number (submission order) of each slot's task
started.fill(0); // touch every page now (see above): a write faults the page in
outcome.fill(0);
seqOf.fill(0);
const MAX_QUEUE = 32;
const pool = new WorkerPool({
  filename: new URL('./pool-task.ts', import.meta.url), threads: N, maxQueue: MAX_QUEUE, abortGraceMs: 200, workerData: { counts }, ...workerLimits,
});
const poolStat = { submitted: 0, ok: 0, exit: 0, exitBeforeFirstStatement: 0, abort: 0, queueFull: 0, floods: 0, poolKills: 0, reuseStalls: 0 };
let poolInFlight = 0;
let nextSeq = 0;
const expected = (name: string, x: number): number => (name === 'sq' ? (x * x) % 1000003 : name === 'sleepy' ? x + 1 : x * 2);

/** Final checks of the settled task in `slot`. */
function checkPoolSlot(slot: number): void {
  const n = Atomics.load(started, slot);
  const o = outcome[slot];
  const task = `task ${seqOf[slot]}`;
  if (n > 1) violation('WorkerPool', `${task} ran ${n} times`);
  else if (o === 1 && n !== 1) violation('WorkerPool', `${task} resolved but ran ${n} times`);
  // Claimed (started, in the pool's terms: its state word went QUEUED → RUNNING) but killed before
  // its first statement: V8 services terminate() at the function's entry, after the claim. The
  // pool rejects it like any started task (it cannot know); counted, not a violation.
  else if (o === 2 && n === 0) poolStat.exitBeforeFirstStatement++;
  else if (o === 4 && n !== 0) violation('WorkerPool', `${task} rejected with QueueFullError but ran`);
}

/** Submits one task; returns false if its ring slot's previous task has not settled yet. */
function submit(): boolean {
  const slot = nextSeq % POOL_RING;
  if (nextSeq >= POOL_RING) {
    if (outcome[slot] === 0) { poolStat.reuseStalls++; return false; } // still in flight (or lost: the end check says so)
    checkPoolSlot(slot);
    Atomics.store(started, slot, 0);
    outcome[slot] = 0;
  }
  const seq = nextSeq++;
  seqOf[slot] = seq;
  const r = rand();
  const name = r < 0.6 ? 'sq' : r < 0.9 ? 'sleepy' : 'spin';
  const x = Math.floor(rand() * 100_000);
  const arg = { id: slot, x, ms: Math.floor(rand() * 10), us: Math.floor(rand() * 400) };
  let signal: AbortSignal | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (rand() < 0.08) {
    const ac = new AbortController();
    signal = ac.signal;
    timer = setTimeout(() => ac.abort(), Math.floor(rand() * 6));
  }
  poolStat.submitted++;
  poolInFlight++;
  const settle = (kind: number): void => {
    if (timer !== undefined) clearTimeout(timer);
    if (outcome[slot] !== 0) violation('WorkerPool', `task ${seq} settled twice`);
    outcome[slot] = kind;
    poolInFlight--;
  };
  pool.run(arg, { name, signal }).then(
    (v) => {
      settle(1);
      poolStat.ok++;
      if (v !== expected(name, x)) violation('WorkerPool', `task ${seq} (${name}) resolved with ${String(v)}, expected ${expected(name, x)}`);
    },
    (e: unknown) => {
      if (e instanceof WorkerExitError) { settle(2); poolStat.exit++; } else if (e instanceof QueueFullError) { settle(4); poolStat.queueFull++; } else if ((e as Error | undefined)?.name === 'AbortError') { settle(3); poolStat.abort++; } else {
        settle(5);
        violation('WorkerPool', `task ${seq} (${name}) rejected with an unexpected error: ${e instanceof Error ? e.stack : String(e)}`);
      }
    },
  );
  return true;
}

async function poolDriver(): Promise<void> {
  let nextFlood = elapsed() + 1000 + rand() * 2000;
  while (!stopping) {
    if (elapsed() >= nextFlood) {
      poolStat.floods++;
      for (let i = 0; i < MAX_QUEUE * 4 && submit(); i++); // past maxQueue: many must reject with QueueFullError
      nextFlood = elapsed() + 1000 + rand() * 3000;
    }
    for (let i = 0; i < 16 && poolInFlight < 48 && submit(); i++);
    await new Promise<void>((r) => setTimeout(r, 1));
  }
}

// ------------------------------------------------------------------ chaos

let killRequestsExpired = 0;
async function chaos(): Promise<void> {
  while (!stopping) {
    await sleep(killEveryMs * (0.5 + rand()));
    if (stopping) break;
    if (rand() < 0.25) {
      // Any worker, starting ones included (a kill before 'ready' used to be taken for a task-file
      // load failure; fixed, see README "Findings").
      const ws = pool.workers;
      const i = Math.floor(rand() * ws.length);
      const w = ws[i];
      if (w !== undefined) {
        poolStat.poolKills++;
        addKill('WorkerPool', pool.stats.workers[i]?.state === 'ready' ? 'any' : 'starting');
        await w.terminate(); // at any instruction: the pool claims crash safety for this
      }
      continue;
    }
    // Weighted towards the robust-mutex and RwLock-writer users (the recovery story under test).
    const r = rand();
    const want = r < 0.3 ? ['mutex'] : r < 0.5 ? ['cv-prod', 'cv-cons'] : r < 0.65 ? ['rw-writer'] : r < 0.77 ? ['once'] : r < 0.9 ? ['q-prod', 'q-cons'] : ['tasklist'];
    const candidates = slots.filter((s) => want.includes(s.role) && s.worker !== undefined && !s.killing);
    if (candidates.length === 0) continue;
    const s = candidates[Math.floor(rand() * candidates.length)];
    if (!(await killAtPoint(s))) killRequestsExpired++;
  }
}

// ------------------------------------------------------------------ watchdog and dump

function word(off: number): number {
  return Atomics.load(region.i32, off >> 2);
}
function dump(reason: string): string {
  const lines = [`=== soak dump: ${reason} (at ${(elapsed() / 1000).toFixed(1)} s, seed ${seed}) ===`];
  for (const s of slots) {
    const b = S.slotBase(s.slot);
    const op = Atomics.load(c, b + S.S_OP);
    lines.push(
      `  slot ${String(s.slot).padStart(2)} ${s.role.padEnd(9)}#${s.index} tid=${Atomics.load(c, b + S.S_TID)} alive=${s.worker !== undefined} ` +
      `iter=${Atomics.load(c, b + S.S_ITER)} op=${S.OPS[op] ?? op}${op !== 0 ? ` for ${elapsed() - Atomics.load(c, b + S.S_OP_SINCE)} ms` : ''} ` +
      `kill=${Atomics.load(c, b + S.S_KILL)} exited=${Atomics.load(c, b + S.S_EXITED)}`,
    );
  }
  const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
  lines.push(
    `  words: mutex=${hex(word(mutex.offset))} cvMutex=${hex(word(cvMutex.offset))} cv.notEmpty waiters=${word(cvNotEmpty.offset + 8)} ` +
    `cv.notFull waiters=${word(cvNotFull.offset + 8)} rw=${hex(word(rw.offset))}/${hex(word(rw.offset + 4))} sem=${hex(word(sem.offset))} ` +
    `barrier=${hex(word(barrier.offset))} wg=${hex(word(wg.offset))} queueWaiters=${hex(word(queue.offset + R_WAITERS * 4))}`,
  );
  lines.push(`  region: free waiter records ${region.freeWaiterCount()} / ${region.waiterCount}; main pending async parks ${region.lot.pendingAsyncParks}`);
  const ps = pool.stats;
  lines.push(`  pool: queued=${ps.queued} inFlight=${ps.inFlight} soakInFlight=${poolInFlight} workers=${ps.workers.map((w) => `${w.state}/${w.outstanding}`).join(',')}`);
  const text = lines.join('\n');
  console.error(text);
  return text;
}

const dumps: string[] = [];
const watchdog = setInterval(() => {
  const t = elapsed();
  for (const s of slots) {
    if (s.worker === undefined || s.killing) continue;
    const b = S.slotBase(s.slot);
    const op = Atomics.load(c, b + S.S_OP);
    const since = Atomics.load(c, b + S.S_OP_SINCE);
    if (op !== 0 && t - since > waitBoundMs && s.flaggedSince !== since) {
      s.flaggedSince = since;
      violation(S.COMPONENT[s.role], `${s.role}#${s.index}: wait ${S.OPS[op]} has not returned after ${t - since} ms (bound ${waitBoundMs} ms)`);
      if (dumps.length < 3) dumps.push(dump('wait over bound'));
    }
    const iter = Atomics.load(c, b + S.S_ITER);
    if (iter !== s.lastIter) {
      s.lastIter = iter;
      s.lastIterAt = t;
    } else if (op === 0 && t - s.lastIterAt > waitBoundMs && Atomics.load(c, b + S.S_KILL) !== S.KILL_ACK) {
      s.lastIterAt = t;
      violation(S.COMPONENT[s.role], `${s.role}#${s.index}: no progress for ${waitBoundMs} ms outside any announced wait`);
      if (dumps.length < 3) dumps.push(dump('no progress'));
    }
  }
}, 1000);

const hardLimitMs = durationMs + 120_000;
const hardTimer = setTimeout(() => {
  violation('soak', `global watchdog: the run did not finish within ${hardLimitMs / 1000} s`);
  dump('global watchdog');
  process.exit(2);
}, hardLimitMs);

// ------------------------------------------------------------------ RSS

// Every 5 s: the process RSS (what the flatness check uses) and the main thread's V8 heap, external
// and ArrayBuffer memory; every 30 s: each live worker's V8 heap (used and physical; pool workers
// included), summed by component, and the main thread's physical heap. The breakdown does not
// change the verdict; it says where growth is when the check fails.
const MB = 2 ** 20;
const rss: { t: number; mb: number; heapMb: number; externalMb: number; arrayBuffersMb: number }[] = [];
const rssTimer = setInterval(() => {
  // Only while the chaos runs: samples taken while workers exit would pull "last" down (a 10-minute
  // run's final sample, taken during the quiesce, read 820 MB against ~1,110 MB before it).
  if (stopping) return;
  const m = process.memoryUsage();
  rss.push({ t: elapsed(), mb: m.rss / MB, heapMb: m.heapUsed / MB, externalMb: m.external / MB, arrayBuffersMb: m.arrayBuffers / MB });
}, 5000);
const workerHeap: { t: number; workers: number; byComponent: Record<string, number>; physicalByComponent: Record<string, number>; mainPhysicalMb: number; rssMb: number }[] = [];
let heapSampling = false;
const heapTimer = setInterval(() => {
  if (heapSampling || stopping) return;
  heapSampling = true;
  const t = elapsed();
  const live: { component: string; w: Worker }[] = [
    ...slots.filter((s) => s.worker !== undefined && !s.killing).map((s) => ({ component: S.COMPONENT[s.role], w: s.worker! })),
    ...pool.workers.filter((w) => w !== undefined).map((w) => ({ component: 'WorkerPool', w })),
  ];
  void Promise.all(live.map(async ({ component, w }) => {
    try {
      const h = await w.getHeapStatistics();
      return { component, used: h.used_heap_size, physical: h.total_physical_size };
    } catch { return undefined; } // exited meanwhile
  })).then((rs) => {
    const byComponent: Record<string, number> = {};
    const physicalByComponent: Record<string, number> = {};
    let workers = 0;
    for (const r of rs) {
      if (r === undefined) continue;
      workers++;
      byComponent[r.component] = (byComponent[r.component] ?? 0) + r.used / MB;
      physicalByComponent[r.component] = (physicalByComponent[r.component] ?? 0) + r.physical / MB;
    }
    workerHeap.push({ t, workers, byComponent, physicalByComponent, mainPhysicalMb: getHeapStatistics().total_physical_size / MB, rssMb: process.memoryUsage.rss() / MB });
  }).finally(() => { heapSampling = false; });
}, 30_000);

// ------------------------------------------------------------------ run

log(`seed ${seed}, ${durationMs / 1000} s, MALLOC_ARENA_MAX=${mallocArenaMax}, ${heapSizing}, --workers ${N}: ${slots.length} lock/queue workers + ${N} pool threads; kill every ~${killEveryMs} ms${opt['rw-idle-kills-only'] ? '; RwLock writers killed only while idle' : ''}`);
const chaosDone = chaos();
const poolDone = poolDriver();
const progress = setInterval(() => {
  const ops = slots.reduce((a, s) => a + Atomics.load(c, S.slotBase(s.slot) + S.S_OPS), 0);
  log(`ops ${ops}, pool ${poolStat.submitted} submitted, kills ${[...kills.values()].reduce((a, b) => a + b, 0)}, violations ${[...violationCount.values()].reduce((a, b) => a + b, 0)}, rss ${(process.memoryUsage.rss() / 2 ** 20).toFixed(0)} MB`);
}, 10_000);
await sleep(durationMs);

// ---- quiesce
log('stopping: chaos, then workers, then the pool');
stopping = true;
clearInterval(progress);
await chaosDone;
await poolDone;
Atomics.store(c, S.G_STOP, 1);
async function bounded<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([p, new Promise<'timeout'>((res) => { t = setTimeout(() => res('timeout'), ms); })]);
  clearTimeout(t);
  return r;
}
// Respawns scheduled before `stopping` may still start (and RwLock writers are respawned while
// stopping): wait until no respawn is pending and every slot has exited.
async function allExited(): Promise<void> {
  for (;;) {
    await Promise.all(slots.map((s) => s.exited));
    if (pendingRespawns === 0 && slots.every((s) => s.worker === undefined)) return;
    await sleep(10);
  }
}
await sleep(100);
if ((await bounded(allExited(), 30_000)) === 'timeout') {
  finalTerminate = true;
  const stuck = slots.filter((s) => s.worker !== undefined);
  violation('soak', `workers did not quiesce within 30 s: ${stuck.map((s) => `${s.role}#${s.index}`).join(', ')}`);
  dumps.push(dump('quiesce'));
  for (const s of stuck) { s.killing = true; await s.worker?.terminate(); }
}
// markThreadDead runs on each exit event; give the event loop a turn.
await sleep(50);
const settleStart = Date.now();
while (poolInFlight > 0 && Date.now() - settleStart < 30_000) await sleep(10);
if (poolInFlight > 0) {
  const lost: number[] = [];
  for (let slot = 0; slot < Math.min(nextSeq, POOL_RING) && lost.length < 20; slot++) if (outcome[slot] === 0) lost.push(seqOf[slot]);
  violation('WorkerPool', `${poolInFlight} tasks never settled (lost), e.g. ids ${lost.join(', ')}`);
  dumps.push(dump('pool tasks not settled'));
}
if ((await bounded(pool.close(), 30_000)) === 'timeout') violation('WorkerPool', 'pool.close() did not finish within 30 s');
clearInterval(watchdog);
clearInterval(rssTimer);
clearInterval(heapTimer);

// ------------------------------------------------------------------ final invariants

let queueDrained: number;
let lotFree: number;

const at = (i: number): number => Atomics.load(c, i);
// Mutex counter.
{
  let sum = 0;
  for (let i = 0; i < S.MAX_SLOTS; i++) sum += at(S.M_ACK + i);
  if (at(S.M_LOG) !== 0) violation('Mutex', `undo log not empty at the end (${at(S.M_LOG)} entries)`);
  if (at(S.M_A) !== at(S.M_B) || at(S.M_A) !== sum) violation('Mutex', `counter A=${at(S.M_A)} B=${at(S.M_B)} but acknowledged increments sum to ${sum}`);
}
// Condvar buffer.
{
  const head = at(S.C_HEAD);
  const tail = at(S.C_TAIL);
  if (at(S.C_LOG) !== 0) violation('Condvar', 'undo log not empty at the end');
  if (tail - head < 0 || tail - head > S.C_CAP) violation('Condvar', `buffer head ${head} tail ${tail} out of range`);
  if (at(S.C_CONSUMED) !== head) violation('Condvar', `consumed ${at(S.C_CONSUMED)} != head ${head}`);
  const inBuf = new Map<number, number[]>();
  for (let i = head; i < tail; i++) {
    const item = at(S.C_BUF + (i % S.C_CAP));
    const list = inBuf.get(item >>> 24) ?? [];
    list.push(item & 0xffffff);
    inBuf.set(item >>> 24, list);
  }
  for (let p = 0; p < N; p++) {
    const produced = at(S.C_PRODUCED + p);
    const consumed = at(S.C_EXPECT + p);
    const buffered = inBuf.get(p) ?? [];
    if (produced !== consumed + buffered.length || buffered.some((seq, j) => seq !== ((consumed + j) & 0xffffff))) {
      violation('Condvar', `producer ${p}: produced ${produced}, consumed ${consumed}, buffered [${buffered.join(',')}] (lost or duplicated items)`);
    }
  }
  for (const cv of [cvNotEmpty, cvNotFull]) if (cv.waiters !== 0) violation('Condvar', `condvar at ${cv.offset} still counts ${cv.waiters} waiters`);
}
// RwLock.
{
  let sum = 0;
  for (let i = 0; i < S.MAX_SLOTS; i++) sum += at(S.R_ACK + i);
  if (at(S.R_LOG) !== 0) violation('RwLock', `undo log not empty at the end (${at(S.R_LOG)} entries)`);
  if (at(S.R_X) !== sum) violation('RwLock', `X=${at(S.R_X)} but acknowledged increments sum to ${sum}`);
  if (at(S.G_RW_DEAD_SINCE) !== 0) violation('RwLock', 'a writer died holding the lock and nobody took it over');
}
if (at(S.R_X) !== at(S.R_Y) || at(S.G_RW_READERS_IN) !== 0 || at(S.G_RW_WRITER_IN) !== 0) violation('RwLock', `X=${at(S.R_X)} Y=${at(S.R_Y)} readersIn=${at(S.G_RW_READERS_IN)} writerIn=${at(S.G_RW_WRITER_IN)}`);
if (word(rw.offset) !== 0 || word(rw.offset + 4) !== 0) violation('RwLock', `lock words not clear at the end: ${word(rw.offset)}/${word(rw.offset + 4)}`);
// Semaphore.
if (sem.available !== SEM_PERMITS || (word(sem.offset) & 1) !== 0 || at(S.G_SEM_INUSE) !== 0) violation('Semaphore', `available ${sem.available} of ${SEM_PERMITS}, word 0x${word(sem.offset).toString(16)}, inUse ${at(S.G_SEM_INUSE)}`);
// Barrier.
{
  const gens = (barrier.generation - barrierGen0 + (1 << 14)) % (1 << 14);
  if ((word(barrier.offset) & 1) !== 0 || barrier.arrived !== 0) violation('Barrier', `word 0x${word(barrier.offset).toString(16)} (PARKED or arrivals left)`);
  if (at(S.G_BARRIER_LEADERS) % (1 << 14) !== gens) violation('Barrier', `${at(S.G_BARRIER_LEADERS)} leaders for ${gens} completed generations`);
}
// Once.
{
  const next = at(S.G_ONCE_NEXT);
  for (let k = 0; k < S.O_COUNT; k++) {
    const runs = at(S.O_RUNS + k);
    const w = word(onces[k].offset);
    if ((w & 3) !== 0) violation('Once', `once #${k}: word 0x${w.toString(16)} still RUNNING or PARKED`);
    if (k < next && (runs !== 1 || !onces[k].isCompleted)) violation('Once', `once #${k}: ${runs} successful runs, completed=${onces[k].isCompleted}`);
    if (k > next && runs !== 0) violation('Once', `once #${k} ran before its turn`);
    if (runs > 1) violation('Once', `once #${k}: initializer completed ${runs} times`);
  }
}
// WaitGroup.
if (wg.count !== 0 || word(wg.offset) !== 0 || at(S.G_WG_DONES) !== at(S.G_WG_ROUND) * WG_DOERS) violation('WaitGroup', `count ${wg.count}, word ${word(wg.offset)}, ${at(S.G_WG_DONES)} done() for ${at(S.G_WG_ROUND)} rounds`);
// MPMC: drain, then every pushed value popped exactly once: each residue's generation byte names
// the last value pushed with that residue, and the pop count equals the push count.
{
  const gen = new Uint8Array(qGenBuf);
  let drained = 0;
  for (let v = queue.tryPop(); v !== undefined; v = queue.tryPop()) {
    drained++;
    const bad = S.qRecord(gen, c, v);
    if (bad !== undefined) violation('MpmcQueue', `drain: ${bad}`);
  }
  let pushedTotal = 0;
  for (let p = 0; p < Q_PRODUCERS; p++) {
    const pushed = at(S.Q_PUSHED + p);
    pushedTotal += pushed;
    for (let low = 0; low < S.Q_WINDOW; low++) {
      const last = pushed - 1 - ((pushed - 1 - low) & (S.Q_WINDOW - 1)); // last seq with this residue
      const want = last < 0 ? 0 : S.qGen(last);
      if (gen[p * S.Q_WINDOW + low] !== want) {
        violation('MpmcQueue', `producer ${p} seq ${last}: ${want === 0 ? 'popped but never pushed' : 'pushed but never popped (lost)'} (pushed ${pushed}, generation byte ${gen[p * S.Q_WINDOW + low]}, expected ${want})`);
        break;
      }
    }
  }
  if (pushedTotal !== at(S.Q_POPPED) + drained) violation('MpmcQueue', `${pushedTotal} values pushed, consumers counted ${at(S.Q_POPPED)} popped + ${drained} drained`);
  if (word(queue.offset + R_WAITERS * 4) !== 0) violation('MpmcQueue', `waiter word 0x${word(queue.offset + R_WAITERS * 4).toString(16)} not clear`);
  queueDrained = drained;
}
// TaskList.
lists.forEach((list, li) => {
  const live = new Set<number>();
  for (let i = 0; i < S.T_BOARD_N; i++) {
    const st = at(S.T_STATE + li * S.T_BOARD_N + i);
    if (st === S.TB_LIVE) live.add(at(S.T_VALUE + li * S.T_BOARD_N + i));
    else if (st !== S.TB_FREE) violation('TaskList', `list ${li} board entry ${i} left in state ${st}`);
  }
  const seen = new Set<number>();
  list.forEach((v) => {
    if (seen.has(v)) violation('TaskList', `list ${li}: forEach reported ${v} twice`);
    seen.add(v);
    if (!live.has(v)) violation('TaskList', `list ${li}: holds ${v}, which was removed (or never inserted)`);
  });
  if (seen.size !== live.size || list.size !== live.size) violation('TaskList', `list ${li}: ${live.size} live entries, forEach saw ${seen.size}, size ${list.size}`);
});
// Pool: every task settled once, ran at most once, and outcomes match runs (the tasks still in
// the ring; earlier ones were checked when their slot was reused).
for (let slot = 0; slot < Math.min(nextSeq, POOL_RING); slot++) if (outcome[slot] !== 0) checkPoolSlot(slot);
// Parking lot: no PARKED bit left, nobody parked, every waiter record back on the free stack.
{
  for (const m of [mutex, cvMutex]) if (word(m.offset) !== 0) violation('ParkingLot', `mutex at ${m.offset}: word 0x${word(m.offset).toString(16)} at the end (LOCKED/PARKED left)`);
  const keys = [mutex.offset, cvMutex.offset, cvNotEmpty.offset, cvNotFull.offset, rw.offset, rw.offset + 4, sem.offset, barrier.offset, wg.offset,
    queue.offset + R_WAITERS * 4, queue.offset + R_WAITERS * 4 + 4, ...onces.map((o) => o.offset)];
  let parked = 0;
  for (const k of keys) parked += region.lot.parkedCount(k);
  if (parked !== 0) violation('ParkingLot', `${parked} threads still parked on the soak's keys`);
  const free = region.freeWaiterCount();
  if (free !== region.waiterCount) violation('ParkingLot', `${region.waiterCount - free} waiter records not returned to the free stack`);
  if (region.lot.pendingAsyncParks !== 0) violation('ParkingLot', `main thread has ${region.lot.pendingAsyncParks} pending async parks`);
  lotFree = free;
}
// RSS.
const warmupMs = Math.max(5000, Math.min(20_000, durationMs * 0.3));
const post = rss.filter((r) => r.t >= warmupMs);
let rssReport = { baselineMb: NaN, lastMb: NaN, growthMb: NaN, slopeMbPerMin: NaN, samples: rss.length, toleranceMb: rssToleranceMb };
if (post.length >= 2) {
  const n = post.length;
  const mt = post.reduce((a, r) => a + r.t, 0) / n;
  const mm = post.reduce((a, r) => a + r.mb, 0) / n;
  const slope = post.reduce((a, r) => a + (r.t - mt) * (r.mb - mm), 0) / post.reduce((a, r) => a + (r.t - mt) ** 2, 0);
  const last = post.slice(-2).reduce((a, r) => a + r.mb, 0) / Math.min(2, n);
  rssReport = { baselineMb: post[0].mb, lastMb: last, growthMb: last - post[0].mb, slopeMbPerMin: slope * 60_000, samples: rss.length, toleranceMb: rssToleranceMb };
  if (rssReport.growthMb > rssToleranceMb) violation('memory', `RSS grew ${rssReport.growthMb.toFixed(0)} MB after warm-up (tolerance ${rssToleranceMb} MB)`);
}
/** Where memory went between the first sample after warm-up and the last: main-thread heap, external, ArrayBuffers, worker heaps. */
function memoryBreakdown(): string | undefined {
  if (post.length < 2) return undefined;
  const a = post[0];
  const b = post[post.length - 1];
  const d = (x: number, y: number): string => `${x.toFixed(0)}→${y.toFixed(0)} MB`;
  const parts = [`main heap ${d(a.heapMb, b.heapMb)}`, `external ${d(a.externalMb, b.externalMb)}`, `ArrayBuffers ${d(a.arrayBuffersMb, b.arrayBuffersMb)}`];
  const wh = workerHeap.filter((w) => w.t >= warmupMs);
  if (wh.length >= 2) {
    const w0 = wh[0];
    const w1 = wh[wh.length - 1];
    const sum = (m: Record<string, number>): number => Object.values(m).reduce((x, y) => x + y, 0);
    parts.push(`worker heaps (used) ${d(sum(w0.byComponent), sum(w1.byComponent))} (${w0.workers}/${w1.workers} workers sampled)`);
    // RSS = V8 heaps of the live threads (physical) + the rest (native: thread stacks, malloc, code, pages of exited isolates).
    const live = (w: typeof w0): number => sum(w.physicalByComponent) + w.mainPhysicalMb;
    parts.push(`V8 heaps of live threads (physical) ${d(live(w0), live(w1))}, rest of RSS ${d(w0.rssMb - live(w0), w1.rssMb - live(w1))}`);
    const grew = Object.keys(w1.byComponent).map((k) => [k, w1.byComponent[k] - (w0.byComponent[k] ?? 0), w1.physicalByComponent[k] - (w0.physicalByComponent[k] ?? 0)] as const);
    parts.push(`by component (used / physical): ${grew.map(([k, g, p]) => `${k} ${g >= 0 ? '+' : ''}${g.toFixed(0)} / ${p >= 0 ? '+' : ''}${p.toFixed(0)} MB`).join(', ')}`);
  }
  return parts.join('; ');
}

// ------------------------------------------------------------------ summary

interface Row { component: string; workers: number; ops: number; kills: number; timeouts: number; aborts: number; recoveries: number; other: number; violations: number }
const rows = new Map<string, Row>();
const row = (component: string): Row => {
  let r = rows.get(component);
  if (r === undefined) rows.set(component, r = { component, workers: 0, ops: 0, kills: 0, timeouts: 0, aborts: 0, recoveries: 0, other: 0, violations: 0 });
  return r;
};
for (const s of slots) {
  const b = S.slotBase(s.slot);
  const r = row(S.COMPONENT[s.role]);
  r.workers++;
  r.ops += at(b + S.S_OPS);
  r.timeouts += at(b + S.S_TIMEOUTS);
  r.aborts += at(b + S.S_ABORTS);
  r.recoveries += at(b + S.S_RECOVERIES);
  r.other += at(b + S.S_EXTRA);
  r.violations += at(b + S.S_VIOLATIONS);
}
{
  const r = row('WorkerPool');
  r.workers = N;
  r.ops = poolStat.ok;
  r.aborts = poolStat.abort;
  r.other = poolStat.queueFull;
}
for (const [component, n] of violationCount) row(component).violations += n;
for (const [component, n] of kills) row(component).kills += n;
const totalViolations = [...rows.values()].reduce((a, r) => a + r.violations, 0);

const header = ['component', 'workers', 'ops', 'kills', 'timeouts', 'aborts', 'owner-died rec.', 'other', 'violations'];
const table = [...rows.values()].map((r) => [r.component, r.workers, r.ops, r.kills, r.timeouts, r.aborts, r.recoveries, r.other, r.violations].map(String));
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const fmt = (cells: string[]): string => `| ${cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join(' | ')} |`;
console.log('');
console.log(`parklot chaos soak: ${(elapsed() / 1000).toFixed(1)} s (${durationMs / 1000} s of chaos), seed ${seed}, --workers ${N}${opt['rw-idle-kills-only'] ? ', --rw-idle-kills-only' : ''}`);
console.log(fmt(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const t of table) console.log(fmt(t));
console.log(`other = Once initializer throws (planned) / WorkerPool QueueFullError`);
console.log(`pool: ${poolStat.submitted} submitted: ${poolStat.ok} ok, ${poolStat.exit} WorkerExitError (${poolStat.exitBeforeFirstStatement} of them killed between the claim and the task's first statement), ${poolStat.abort} aborted, ${poolStat.queueFull} QueueFullError (${poolStat.floods} floods past maxQueue ${MAX_QUEUE}), ${poolStat.poolKills} pool workers terminated; ${poolStat.reuseStalls} submissions deferred because the task's ring slot (${POOL_RING}) was still in flight`);
console.log(`kills by point: ${[...killsAt].map(([k, v]) => `${k} ${v}`).join(', ')}; kill requests not reached in 1.5 s: ${killRequestsExpired}`);
console.log(`rwlock: X ${at(S.R_X)}; longest dead-holder window (freeze → take-over) ${!opt['rw-idle-kills-only'] ? `${at(S.G_RW_DEAD_MAX)} ms` : 'n/a (no in-lock kills with --rw-idle-kills-only)'}; longest untimed read() ${at(S.G_RW_READ_WAIT_MAX)} ms (bound ${waitBoundMs} ms)`);
console.log(`end state: waiter records free ${lotFree} / ${region.waiterCount}; queue drained ${queueDrained}; barrier generations ${at(S.G_BARRIER_LEADERS)}; waitgroup rounds ${at(S.G_WG_ROUND)}; onces done ${at(S.G_ONCE_NEXT)}`);
if (post.length < 2) console.log(`RSS: NOT CHECKED: ${post.length} sample(s) after the ${warmupMs / 1000} s warm-up (RSS is sampled every 5 s; run ≥ 1 minute for the flatness check)`);
else console.log(`RSS: baseline ${rssReport.baselineMb.toFixed(0)} MB after ${warmupMs / 1000} s warm-up, last ${rssReport.lastMb.toFixed(0)} MB, growth ${rssReport.growthMb.toFixed(1)} MB (tolerance ${rssToleranceMb} MB), slope ${rssReport.slopeMbPerMin.toFixed(1)} MB/min over ${post.length} samples; MALLOC_ARENA_MAX=${mallocArenaMax}; ${heapSizing}`);
const breakdown = memoryBreakdown();
if (breakdown !== undefined) console.log(`memory after warm-up: ${breakdown}`);
console.log(totalViolations === 0 ? 'PASS: 0 violations' : `FAIL: ${totalViolations} violations`);
for (const v of violations.slice(0, 30)) console.log(`  - [${(v.atMs / 1000).toFixed(1)} s] ${v.component}: ${v.msg.split('\n')[0]}`);

if (opt.json !== undefined) {
  writeFileSync(opt.json, JSON.stringify({
    seed, durationMs, elapsedMs: elapsed(), workers: N, rows: [...rows.values()], pool: poolStat, killsByPoint: Object.fromEntries(killsAt),
    killRequestsExpired, rwDeadWindowMaxMs: at(S.G_RW_DEAD_MAX), rwReadWaitMaxMs: at(S.G_RW_READ_WAIT_MAX), rss: { ...rssReport, mallocArenaMax, youngGenMb, mainSemiSpace, series: rss, workerHeap }, violations, dumps, pass: totalViolations === 0,
  }, null, 2));
}
clearTimeout(hardTimer);
process.exit(totalViolations === 0 ? 0 : 1);
