// Worker thread of the lock-family bench (bench/family/child.ts spawns these). Idle between runs;
// for each run message it attaches that run's primitives, reports 'armed', waits for the child to
// publish the run's generation in GO, loops until STOP carries it, and posts its counts.
//
// Loops (xorshift `work` steps stand in for real work, as in WebKit's LockSpeedTest):
// - rw: read (with probability readPct %) or write; readers check the K data words are equal,
//   writers rewrite them and bump a plain counter (checked by the child: a lost update fails).
//   Only write() is timed, and only one write in WRITE_SAMPLE (performance.now() around it, the
//   same in every variant): timing every acquisition would dilute and reshape contention (two
//   clock reads cost about as much as a short critical section), so the loop stays plain.
// - cv: one shared condvar for "not full" and "not empty", notifyAll after every put/take (the
//   broadcast pattern where requeue vs wake-all matters, C3); waits are waitFor(20 ms) so a stop
//   can never strand a waiter. Counts items and wait calls.
// - semBatch: acquire n permits and release them, as one call each (batched) or n calls (single).
// - semWait: acquire(1) (one in ACQUIRE_SAMPLE timed), work, release(1), work; counts parks.
// - barrier: wait(); the generation's leader reads STOP into DECIDE; wait(); everyone reads DECIDE
//   (so all workers stop after the same generation).
// Wake calls (C3): when the child asks for it (`countAtomics`), every Atomics.wait / notify this
// thread makes between its release (end of go()) and the end of its loop is counted, including
// the mutex's and the parking lot's; the result carries the counts.

// First import: counts Atomics.wait/notify calls when workerData.countAtomics (cv, barrier: C3).
import { atomicsCounts, countsDelta, type AtomicsCounts } from '../lib/count-atomics.ts';
import { availableParallelism } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { LogHistogram } from '../lib/histogram.ts';
import { SharedRegion, type RegionHandle } from '../../src/parking/region.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import { RwLock } from '../../src/lock/rwlock.ts';
import { Condvar } from '../../src/lock/condvar.ts';
import { Semaphore } from '../../src/lock/semaphore.ts';
import { Barrier } from '../../src/lock/barrier.ts';
import { CPythonRwMutex, FutexBarrier, FutexRwLock, MutexAsRw, WakeAllCondvar, type BenchCondvar, type BenchRwLock } from './peers.ts';
import { CTL, type RunMessage, type WorkerResult } from './protocol.ts';

const init = workerData as { index: number; ctl: SharedArrayBuffer; region: RegionHandle; countAtomics: boolean };
const ctl = new Int32Array(init.ctl);
const region = SharedRegion.attach(init.region);
const i32 = region.i32;
const port = parentPort!;

/** One write in this many is timed (rw); one acquire in this many (semWait). Powers of two. */
const WRITE_SAMPLE = 16;
const ACQUIRE_SAMPLE = 64;

function work(n: number, x: number): number {
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x | 0;
}

function attachRw(m: RunMessage): BenchRwLock {
  const v = m.variant;
  if (v.startsWith('parklot-')) return RwLock.from(m.handles.rw as never);
  if (v === 'futex-rw') return new FutexRwLock(i32, m.offsets.peer >> 2);
  if (v === 'cpython-rw') return new CPythonRwMutex(region, m.offsets.peer);
  if (v === 'mutex') return new MutexAsRw(Mutex.from(m.handles.mutex as never));
  throw new Error(`unknown rw variant ${v}`);
}

function runRw(m: RunMessage, gen: number, x: number): WorkerResult {
  const lock = attachRw(m);
  const { readPct, inside, between } = m.point;
  const k = 4;
  const d0 = m.offsets.data >> 2;
  const c = m.offsets.counter >> 2;
  const hist = new LogHistogram();
  let reads = 0;
  let writes = 0;
  let bad = 0;
  let r = (m.index + 1) * 0x9e3779b1;
  go(gen);
  while (Atomics.load(ctl, CTL.STOP) !== gen) {
    r ^= r << 13;
    r ^= r >>> 17;
    r ^= r << 5;
    if ((r >>> 0) % 100 < (readPct ?? 0)) {
      lock.read();
      const v = i32[d0];
      for (let j = 1; j < k; j++) if (i32[d0 + j] !== v) bad++;
      x = work(inside, x);
      lock.readUnlock();
      reads++;
    } else {
      if ((writes & (WRITE_SAMPLE - 1)) === 0) {
        const t0 = performance.now();
        lock.write();
        hist.record((performance.now() - t0) * 1e6);
      } else {
        lock.write();
      }
      const v = i32[d0] + 1;
      for (let j = 0; j < k; j++) i32[d0 + j] = v;
      i32[c] = i32[c] + 1; // plain: only exclusion keeps it exact
      x = work(inside, x);
      lock.writeUnlock();
      writes++;
    }
    x = work(between, x);
  }
  return { index: m.index, gen, ops: reads + writes, reads, writes, bad, hist: hist.toJSON(), sink: x };
}

function runCv(m: RunMessage, gen: number, x: number): WorkerResult {
  const mutex = Mutex.from(m.handles.mutex as never);
  const cv: BenchCondvar = m.variant === 'requeue' ? Condvar.from(m.handles.cv as never) : new WakeAllCondvar(region, m.offsets.peer);
  const producer = m.index < (m.point.producers ?? 0);
  const cap = m.point.cap ?? 4;
  const B = m.offsets.data >> 2; // [head, tail, size, items...]
  let items = 0;
  let waits = 0;
  go(gen);
  outer: while (Atomics.load(ctl, CTL.STOP) !== gen) {
    mutex.lock();
    while (producer ? i32[B + 2] === cap : i32[B + 2] === 0) {
      if (Atomics.load(ctl, CTL.STOP) === gen) {
        mutex.unlock();
        break outer;
      }
      cv.waitFor(mutex, 20);
      waits++;
    }
    if (producer) {
      i32[B + 3 + i32[B + 1]] = m.index;
      i32[B + 1] = (i32[B + 1] + 1) % cap;
      i32[B + 2]++;
    } else {
      x ^= i32[B + 3 + i32[B]];
      i32[B] = (i32[B] + 1) % cap;
      i32[B + 2]--;
    }
    cv.notifyAll();
    mutex.unlock();
    items++;
    x = work(m.point.between, x);
  }
  return { index: m.index, gen, ops: items, items: producer ? 0 : items, produced: producer ? items : 0, waits, sink: x };
}

function runSemBatch(m: RunMessage, gen: number, x: number): WorkerResult {
  const sem = Semaphore.from(m.handles.sem as never);
  const n = m.point.n ?? 1;
  const single = m.variant === 'single';
  let cycles = 0;
  go(gen);
  while (Atomics.load(ctl, CTL.STOP) !== gen) {
    if (single) for (let i = 0; i < n; i++) sem.acquire(1);
    else sem.acquire(n);
    x = work(m.point.inside, x);
    if (single) for (let i = 0; i < n; i++) sem.release(1);
    else sem.release(n);
    x = work(m.point.between, x);
    cycles++;
  }
  return { index: m.index, gen, ops: cycles, sink: x };
}

function runSemWait(m: RunMessage, gen: number, x: number): WorkerResult {
  const sem = Semaphore.from(m.handles.sem as never, { wait: m.variant === 'block' ? 'block' : 'adaptive' });
  const hist = new LogHistogram();
  const parks0 = sem.parks;
  let ops = 0;
  go(gen);
  while (Atomics.load(ctl, CTL.STOP) !== gen) {
    if ((ops & (ACQUIRE_SAMPLE - 1)) === 0) {
      const t0 = performance.now();
      sem.acquire(1);
      hist.record((performance.now() - t0) * 1e6);
    } else {
      sem.acquire(1);
    }
    x = work(m.point.inside, x);
    sem.release(1);
    x = work(m.point.between, x);
    ops++;
  }
  return { index: m.index, gen, ops, parks: sem.parks - parks0, hist: hist.toJSON(), sink: x };
}

function runBarrier(m: RunMessage, gen: number, x: number): WorkerResult {
  const parties = m.point.threads;
  let wait: () => boolean;
  if (m.variant.startsWith('parklot')) {
    const b = Barrier.from(m.handles.barrier as never, m.variant === 'parklot-nospin' ? { spin: 0 } : {});
    wait = () => b.wait().leader;
  } else {
    const b = new FutexBarrier(i32, m.offsets.peer >> 2, parties, m.variant === 'futex-spin' && parties <= availableParallelism() ? 200 : 0);
    wait = () => b.wait();
  }
  const decide = m.offsets.counter >> 2;
  let led = 0;
  go(gen);
  for (;;) {
    if (wait()) {
      led++;
      if (Atomics.load(ctl, CTL.STOP) === gen) Atomics.store(i32, decide, gen);
    }
    x = work(m.point.between, x);
    if (wait()) led++;
    if (Atomics.load(i32, decide) === gen) break;
  }
  return { index: m.index, gen, ops: led, leaders: led, sink: x };
}

/** Atomics call counts at this run's release (set by go()). */
let countsAtGo: AtomicsCounts = atomicsCounts();

/** Reports 'armed' and waits for the child's release of `gen`. */
function go(gen: number): void {
  port.postMessage({ type: 'armed', index: init.index, gen });
  while (Atomics.load(ctl, CTL.GO) !== gen) Atomics.wait(ctl, CTL.GO, Atomics.load(ctl, CTL.GO), 50);
  countsAtGo = atomicsCounts();
}

let sinkX = (init.index + 1) * 7919;
port.on('message', (m: RunMessage) => {
  try {
    const gen = m.gen;
    let res: WorkerResult;
    if (m.group === 'rw') res = runRw(m, gen, sinkX);
    else if (m.group === 'cv') res = runCv(m, gen, sinkX);
    else if (m.group === 'semBatch') res = runSemBatch(m, gen, sinkX);
    else if (m.group === 'semWait') res = runSemWait(m, gen, sinkX);
    else res = runBarrier(m, gen, sinkX);
    if (init.countAtomics) {
      const d = countsDelta(countsAtGo, atomicsCounts());
      res.waitCalls = d.waitCalls;
      res.notifyCalls = d.notifyCalls;
      res.notifyWoken = d.notifyWoken;
    }
    sinkX = res.sink;
    port.postMessage({ type: 'result', result: res });
  } catch (err) {
    port.postMessage({ type: 'error', index: init.index, message: String((err as Error)?.stack ?? err) });
  }
});
port.postMessage({ type: 'ready', index: init.index });
