/**
 * Chaos soak worker: one role per worker (see shared.ts `Role`), looping until the global STOP
 * word is set. Every wait is timed or guaranteed to end (robust mutex), and is announced in the
 * slot's status words so the orchestrator's watchdog can name a stuck one.
 *
 * Kills: the orchestrator writes a kill point into the slot's S_KILL word; when the loop reaches
 * that point (see killPoint) the worker acknowledges and blocks on a private word until it is
 * terminated. So a kill lands exactly where the role's recovery story covers it (holding a robust
 * mutex mid-critical-section with a torn update, running a Once initializer, or holding nothing),
 * never inside the parking lot's internal word locks (see README: not covered).
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import {
  Barrier, Condvar, MpmcQueue, Mutex, Once, OwnerDiedError, RwLock, Semaphore, TaskList, WaitGroup,
  type PrimitiveHandle,
} from '../src/index.ts';
import { RW_UPGRADABLE, RW_WRITER } from '../src/lock/rwlock.ts';
import * as S from './shared.ts';
import { mulberry32 } from '../bench/lib/stats.ts';

const d = workerData as S.WorkerInit;
const c = new Int32Array(d.ctl);
const base = S.slotBase(d.slot);
const rand = mulberry32(d.seed);
const block = new Int32Array(new SharedArrayBuffer(4));
const now = (): number => Date.now() - d.epoch;
const stopped = (): boolean => Atomics.load(c, S.G_STOP) !== 0;
const sleep = (ms: number): void => { Atomics.wait(block, 0, 0, ms); };
const bump = (k: number, n = 1): void => { Atomics.add(c, base + k, n); };
const H = d.handles;
const W = d.waitMs;

let reported = 0;
function violation(msg: string): void {
  bump(S.S_VIOLATIONS);
  if (reported++ < 5) parentPort!.postMessage({ type: 'violation', role: d.role, slot: d.slot, msg });
}

function begin(op: S.OpName): void {
  Atomics.store(c, base + S.S_OP_SINCE, now());
  Atomics.store(c, base + S.S_OP, S.opCode(op));
}
function end(): void {
  Atomics.store(c, base + S.S_OP, 0);
}

/** If the orchestrator asked to kill this worker at `point`: acknowledge, then block until terminated. */
function killPoint(point: number): void {
  if (Atomics.load(c, base + S.S_KILL) !== point) return;
  if (Atomics.compareExchange(c, base + S.S_KILL, point, S.KILL_ACK) !== point) return; // request withdrawn
  Atomics.notify(c, base + S.S_KILL);
  for (;;) Atomics.wait(block, 0, 0);
}

const errName = (e: unknown): string => (e !== null && typeof e === 'object' && 'name' in e ? String((e as { name: unknown }).name) : '');
const isTimeout = (e: unknown): boolean => errName(e) === 'TimeoutError';
const isAbort = (e: unknown): boolean => errName(e) === 'AbortError';

/** Runs `f` with no signal (70 %) or with one that aborts after 0–4 ms. */
async function maybeAbort<T>(f: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (rand() < 0.7) return f(undefined);
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), Math.floor(rand() * 5));
  try {
    return await f(ac.signal);
  } finally {
    clearTimeout(t);
  }
}

/** Classifies a failed wait: counts timeouts and aborts, rethrows anything else. */
function waitFailed(e: unknown): void {
  if (isTimeout(e)) bump(S.S_TIMEOUTS);
  else if (isAbort(e)) bump(S.S_ABORTS);
  else throw e;
}

// ------------------------------------------------------------------ robust mutex sections

/** Recovery after OwnerDiedError (we hold the lock): undo the dead holder's partial section. */
function recover(m: Mutex, log: number): void {
  S.logRollback(c, log);
  m.markConsistent();
  bump(S.S_RECOVERIES);
}

/** Takes `m` with a random API; true when held (after repairing a dead holder's section). */
async function acquire(m: Mutex, log: number): Promise<boolean> {
  const r = rand();
  try {
    if (r < 0.35) {
      begin('mutex.lock');
      m.lock();
    } else if (r < 0.7) {
      begin('mutex.tryLockFor');
      if (!m.tryLockFor(rand() * 3)) {
        bump(S.S_TIMEOUTS);
        return false;
      }
    } else {
      begin('mutex.lockAsync');
      await maybeAbort((signal) => m.lockAsync({ timeoutMs: 1 + rand() * 5, signal }));
    }
  } catch (e) {
    if (e instanceof OwnerDiedError) {
      recover(m, log);
      return true;
    }
    waitFailed(e);
    return false;
  } finally {
    end();
  }
  return true;
}

/** A condvar wait with a random API; the mutex is held again afterwards, whatever happened. */
async function cvWait(cv: Condvar, m: Mutex, log: number): Promise<void> {
  try {
    if (rand() < 0.6) {
      begin('condvar.waitFor');
      if (!cv.waitFor(m, 1 + rand() * 20)) bump(S.S_TIMEOUTS);
    } else {
      begin('condvar.waitAsync');
      await maybeAbort((signal) => cv.waitAsync(m, { timeoutMs: 1 + rand() * 20, signal }));
    }
  } catch (e) {
    if (e instanceof OwnerDiedError) recover(m, log);
    else waitFailed(e);
  } finally {
    end();
  }
}

// ------------------------------------------------------------------ roles

type Step = () => Promise<void> | void;
/** Run once after the loop, when STOP is seen (set by a role). */
let finalStep: Step | undefined;

function mutexRole(): Step {
  const m = Mutex.from(H.mutex as PrimitiveHandle);
  return async () => {
    if (!(await acquire(m, S.M_LOG))) return;
    const a = Atomics.load(c, S.M_A);
    const b = Atomics.load(c, S.M_B);
    let sum = 0;
    for (let i = 0; i < S.MAX_SLOTS; i++) sum += Atomics.load(c, S.M_ACK + i);
    if (a !== b || a !== sum) violation(`mutex counter torn: A=${a} B=${b} sum(acks)=${sum}`);
    const inc = 1 + Math.floor(rand() * 3);
    S.logWrite(c, S.M_LOG, S.M_A, a + inc);
    killPoint(S.KILL_IN_CS); // torn: A updated, B and the ack not
    S.logWrite(c, S.M_LOG, S.M_B, b + inc);
    S.logWrite(c, S.M_LOG, S.M_ACK + d.slot, Atomics.load(c, S.M_ACK + d.slot) + inc);
    if (rand() < 0.5) killPoint(S.KILL_IN_CS); // everything written, not committed
    S.logCommit(c, S.M_LOG);
    m.unlock();
    bump(S.S_OPS);
  };
}

function condvarRole(producer: boolean): Step {
  const m = Mutex.from(H.cvMutex as PrimitiveHandle);
  const notEmpty = Condvar.from(H.cvNotEmpty as PrimitiveHandle);
  const notFull = Condvar.from(H.cvNotFull as PrimitiveHandle);
  const L = S.C_LOG;
  return async () => {
    if (!(await acquire(m, L))) return;
    try {
      if (producer) {
        while (Atomics.load(c, S.C_TAIL) - Atomics.load(c, S.C_HEAD) >= S.C_CAP) {
          if (stopped()) return;
          await cvWait(notFull, m, L);
        }
        const seq = Atomics.load(c, S.C_PRODUCED + d.index);
        const tail = Atomics.load(c, S.C_TAIL);
        S.logWrite(c, L, S.C_BUF + (tail % S.C_CAP), (d.index << 24) | (seq & 0xffffff));
        killPoint(S.KILL_IN_CS);
        S.logWrite(c, L, S.C_TAIL, tail + 1);
        S.logWrite(c, L, S.C_PRODUCED + d.index, seq + 1);
        S.logCommit(c, L);
        notEmpty.notifyOne();
      } else {
        while (Atomics.load(c, S.C_TAIL) === Atomics.load(c, S.C_HEAD)) {
          if (stopped()) return;
          await cvWait(notEmpty, m, L);
        }
        const head = Atomics.load(c, S.C_HEAD);
        const item = Atomics.load(c, S.C_BUF + (head % S.C_CAP));
        const p = item >>> 24;
        const seq = item & 0xffffff;
        const want = Atomics.load(c, S.C_EXPECT + p);
        if (seq !== (want & 0xffffff)) violation(`condvar buffer: producer ${p} item ${seq}, expected ${want} (lost or duplicated)`);
        S.logWrite(c, L, S.C_EXPECT + p, want + 1);
        killPoint(S.KILL_IN_CS);
        S.logWrite(c, L, S.C_HEAD, head + 1);
        S.logWrite(c, L, S.C_CONSUMED, Atomics.load(c, S.C_CONSUMED) + 1);
        S.logCommit(c, L);
        notFull.notifyOne();
      }
      bump(S.S_OPS);
    } finally {
      m.unlock();
    }
  };
}

/** Stores max(current, v) into c[idx]. */
function storeMax(idx: number, v: number): void {
  for (let cur = Atomics.load(c, idx); v > cur; cur = Atomics.load(c, idx)) {
    if (Atomics.compareExchange(c, idx, cur, v) === cur) return;
  }
}

function rwRole(writer: boolean): Step {
  const rw = RwLock.from(H.rw as PrimitiveHandle);
  const L = S.R_LOG;
  const readSection = (): void => {
    Atomics.add(c, S.G_RW_READERS_IN, 1);
    // A writer that died inside its section leaves WRITER_IN set until a writer repairs the lock:
    // a reader seeing it got in behind a dead writer.
    if (Atomics.load(c, S.G_RW_WRITER_IN) !== 0) violation('rwlock: a reader is inside while a writer is (or behind a dead, unrepaired writer)');
    const x = Atomics.load(c, S.R_X);
    const y = Atomics.load(c, S.R_Y);
    if (x !== y) violation(`rwlock: reader saw a torn write X=${x} Y=${y}`);
    if (Atomics.load(c, L) !== 0) violation(`rwlock: reader saw a non-empty undo log (${Atomics.load(c, L)} entries)`);
    Atomics.sub(c, S.G_RW_READERS_IN, 1);
  };
  /** Robust write section: X, Y and our ack through the undo log; killable mid-update. */
  const writeSection = (): void => {
    if (Atomics.exchange(c, S.G_RW_WRITER_IN, 1) !== 0) violation('rwlock: two writers inside');
    if (Atomics.load(c, S.G_RW_READERS_IN) !== 0) violation('rwlock: a writer is inside while readers are');
    const x = Atomics.load(c, S.R_X);
    const y = Atomics.load(c, S.R_Y);
    let sum = 0;
    for (let i = 0; i < S.MAX_SLOTS; i++) sum += Atomics.load(c, S.R_ACK + i);
    if (x !== y || x !== sum || Atomics.load(c, L) !== 0) violation(`rwlock: writer found X=${x} Y=${y} sum(acks)=${sum} log=${Atomics.load(c, L)}`);
    const inc = 1 + Math.floor(rand() * 3);
    S.logWrite(c, L, S.R_X, x + inc);
    killPoint(S.KILL_IN_RW); // torn: X updated, Y and the ack not
    if (rand() < 0.1) sleep(0.2);
    S.logWrite(c, L, S.R_Y, y + inc);
    S.logWrite(c, L, S.R_ACK + d.slot, Atomics.load(c, S.R_ACK + d.slot) + inc);
    if (rand() < 0.5) killPoint(S.KILL_IN_RW); // everything written, not committed
    S.logCommit(c, L);
    Atomics.store(c, S.G_RW_WRITER_IN, 0);
  };
  /**
   * After OwnerDiedError: we hold the exclusive part (the write lock, or the upgradable lock when
   * the dead thread held that). Undo the dead writer's partial section, clear its WRITER_IN mark,
   * markConsistent(). Returns true (the lock is held).
   */
  const recover = (upgradable: boolean): boolean => {
    // Do we really hold it? (A spurious OwnerDiedError — README "Findings" — must not roll back
    // the live holder's log.)
    const st = Atomics.load(rw.region.i32, rw.offset >> 2);
    if (!rw.isInconsistent || rw.owner !== rw.region.threadId || (st & (upgradable ? RW_UPGRADABLE : RW_WRITER)) === 0) {
      violation(`rwlock: OwnerDiedError (${upgradable ? 'upgradable' : 'write'}) without holding the lock: state 0x${st.toString(16)}, owner ${rw.owner}, me ${rw.region.threadId}, inconsistent ${rw.isInconsistent}`);
      return false;
    }
    const since = Atomics.exchange(c, S.G_RW_DEAD_SINCE, 0);
    if (since !== 0) storeMax(S.G_RW_DEAD_MAX, now() - (since - 1));
    if (upgradable) {
      // A dead upgradable holder never wrote (writing needs the upgrade, and a dead WRITER is
      // taken over by writers only): readers may be inside with us, nothing to roll back.
      if (Atomics.load(c, L) !== 0 || Atomics.load(c, S.G_RW_WRITER_IN) !== 0) {
        violation(`rwlock: upgradable take-over found a dead writer's state (log ${Atomics.load(c, L)}, writerIn ${Atomics.load(c, S.G_RW_WRITER_IN)})`);
      }
    } else {
      S.logRollback(c, L);
      Atomics.store(c, S.G_RW_WRITER_IN, 0);
    }
    rw.markConsistent();
    bump(S.S_RECOVERIES);
    return true;
  };
  /** Takes the write lock with a random API; true when held (after repairing a dead holder). */
  const acquireWrite = async (r: number): Promise<boolean> => {
    try {
      if (r < 0.4) {
        begin('rw.write');
        rw.write();
      } else if (r < 0.5) {
        if (!rw.tryWrite()) return false;
      } else if (r < 0.75) {
        begin('rw.tryWriteFor');
        if (!rw.tryWriteFor(rand() * 3)) { bump(S.S_TIMEOUTS); return false; }
      } else {
        begin('rw.writeAsync');
        await maybeAbort((signal) => rw.writeAsync({ timeoutMs: 1 + rand() * 5, signal }));
      }
      return true;
    } catch (e) {
      if (e instanceof OwnerDiedError) return recover(false);
      waitFailed(e);
      return false;
    } finally {
      end();
    }
  };
  const acquireUpgradable = async (): Promise<boolean> => {
    begin('rw.upgradable');
    try {
      if (rand() < 0.6) {
        if (!rw.tryUpgradableReadFor(rand() * 3)) { bump(S.S_TIMEOUTS); return false; }
      } else {
        await maybeAbort((signal) => rw.upgradableReadAsync({ timeoutMs: 1 + rand() * 5, signal }));
      }
      return true;
    } catch (e) {
      if (e instanceof OwnerDiedError) return recover(true);
      waitFailed(e);
      return false;
    } finally {
      end();
    }
  };
  if (writer) {
    // Leaving after STOP: one last write acquisition, so a writer killed holding the lock just
    // before the stop is repaired (the slot is respawned even while stopping) and readers blocked
    // behind it are released before the final checks.
    finalStep = async () => {
      if (await acquireWrite(0)) rw.writeUnlock(); // write(): returns holding it, or throws (a violation)
      else violation('rwlock: the final write() did not acquire the lock');
    };
  }
  return async () => {
    const r = rand();
    try {
      if (!writer) {
        if (r < 0.3) {
          begin('rw.read');
          const t0 = now();
          rw.read(); // untimed: behind a dead writer it lasts until a writer takes over (README)
          storeMax(S.G_RW_READ_WAIT_MAX, now() - t0);
        } else if (r < 0.65) {
          begin('rw.tryReadFor');
          if (!rw.tryReadFor(rand() * 3)) { bump(S.S_TIMEOUTS); return; }
        } else {
          begin('rw.readAsync');
          await maybeAbort((signal) => rw.readAsync({ timeoutMs: 1 + rand() * 5, signal }));
        }
        end();
        readSection();
        rw.readUnlock();
      } else if (r < 0.2) {
        if (!(await acquireUpgradable())) return;
        readSection();
        killPoint(S.KILL_IN_UPG); // holding the upgradable lock (a read share + UPGRADABLE)
        begin('rw.upgradable');
        const up = rw.tryUpgradeFor(rand() * 3);
        end();
        if (up) {
          writeSection();
          rw.writeUnlock();
        } else {
          bump(S.S_TIMEOUTS);
          rw.upgradableUnlock();
        }
      } else {
        if (!(await acquireWrite(rand()))) return;
        writeSection();
        if (rand() < 0.2) {
          rw.downgrade(); // from here on a read lock: no kill point until readUnlock
          readSection();
          rw.readUnlock();
        } else {
          rw.writeUnlock();
        }
      }
      bump(S.S_OPS);
    } catch (e) {
      waitFailed(e);
    } finally {
      end();
    }
  };
}

function semRole(): Step {
  const sem = Semaphore.from(H.sem as PrimitiveHandle);
  return async () => {
    const n = 1 + Math.floor(rand() * 3);
    const r = rand();
    try {
      if (r < 0.15) { begin('sem.acquire'); sem.acquire(n); } else if (r < 0.25) {
        if (!sem.tryAcquire(n)) return;
      } else if (r < 0.6) {
        begin('sem.tryAcquireFor');
        if (!sem.tryAcquireFor(n, rand() * 3)) { bump(S.S_TIMEOUTS); return; }
      } else {
        begin('sem.acquireAsync');
        await maybeAbort((signal) => sem.acquireAsync(n, { timeoutMs: 1 + rand() * 5, signal }));
      }
    } catch (e) {
      waitFailed(e);
      return;
    } finally {
      end();
    }
    const inUse = Atomics.add(c, S.G_SEM_INUSE, n) + n;
    if (inUse > d.semPermits) violation(`semaphore: ${inUse} permits in use, only ${d.semPermits} exist`);
    if (rand() < 0.2) sleep(0.1);
    Atomics.sub(c, S.G_SEM_INUSE, n);
    sem.release(n);
    bump(S.S_OPS);
  };
}

function barrierRole(): Step {
  const barrier = Barrier.from(H.barrier as PrimitiveHandle);
  return async () => {
    const g0 = barrier.generation;
    let res: { leader: boolean } | null;
    let signal: AbortSignal | undefined;
    try {
      if (rand() < 0.7) {
        begin('barrier.waitFor');
        res = barrier.waitFor(Math.min(W, 200 + rand() * 800));
        if (res === null) bump(S.S_TIMEOUTS);
      } else {
        begin('barrier.waitAsync');
        // Rarely aborted: an abort withdraws the arrival, the others then wait for us again.
        signal = rand() < 0.05 ? AbortSignal.timeout(Math.floor(rand() * 5)) : undefined;
        res = await barrier.waitAsync({ timeoutMs: Math.min(W, 200 + rand() * 800), signal });
      }
    } catch (e) {
      // AbortSignal.timeout aborts with a DOMException named TimeoutError: count it as an abort
      // (it is the signal's reason), not as the wait's own timeout.
      if (signal?.aborted === true && e === signal.reason) bump(S.S_ABORTS);
      else waitFailed(e);
      return;
    } finally {
      end();
    }
    if (res === null) return;
    if (res.leader) Atomics.add(c, S.G_BARRIER_LEADERS, 1);
    if (barrier.generation === g0) violation(`barrier: released but the generation is still ${g0}`);
    bump(S.S_OPS);
  };
}

function onceRole(): Step {
  const cache = new Map<number, Once>();
  const onceAt = (k: number): Once => {
    let o = cache.get(k);
    if (o === undefined) {
      o = Once.from({ ...(H.once as PrimitiveHandle), offset: H.onceOffsets[k] });
      cache.set(k, o);
    }
    return o;
  };
  return async () => {
    const k = Atomics.load(c, S.G_ONCE_NEXT);
    if (k >= S.O_COUNT) {
      sleep(5);
      return;
    }
    const once = onceAt(k);
    const init = (): void => {
      sleep(rand() * 2);
      killPoint(S.KILL_IN_ONCE);
      if (rand() < 0.2) throw new Error('soak: planned initializer failure');
      Atomics.add(c, S.O_RUNS + k, 1);
    };
    const r = rand();
    try {
      if (r < 0.4) { begin('once.call'); once.call(init); } else if (r < 0.7) {
        begin('once.callFor');
        if (!once.callFor(init, rand() * 2)) { bump(S.S_TIMEOUTS); return; }
      } else {
        begin('once.callAsync');
        await maybeAbort((signal) => once.callAsync(init, { timeoutMs: 1 + rand() * 3, signal }));
      }
    } catch (e) {
      if (e instanceof Error && e.message === 'soak: planned initializer failure') { bump(S.S_EXTRA); return; }
      waitFailed(e);
      return;
    } finally {
      end();
    }
    if (!once.isCompleted) violation(`once #${k}: call returned but the Once is not completed`);
    const runs = Atomics.load(c, S.O_RUNS + k);
    if (runs !== 1) violation(`once #${k}: initializer completed ${runs} times`);
    Atomics.compareExchange(c, S.G_ONCE_NEXT, k, k + 1);
    bump(S.S_OPS);
    sleep(rand() * 4);
  };
}

function wgCoordRole(doers: number): Step {
  const wg = WaitGroup.from(H.wg as PrimitiveHandle);
  return async () => {
    const r = Atomics.load(c, S.G_WG_ROUND) + 1;
    wg.add(doers);
    Atomics.store(c, S.G_WG_ROUND, r);
    Atomics.notify(c, S.G_WG_ROUND);
    const t0 = now();
    for (;;) {
      try {
        if (rand() < 0.5) {
          begin('wg.waitFor');
          if (wg.waitFor(1 + rand() * 10)) break;
          bump(S.S_TIMEOUTS);
        } else {
          begin('wg.waitAsync');
          await maybeAbort((signal) => wg.waitAsync({ timeoutMs: 1 + rand() * 10, signal }));
          break;
        }
      } catch (e) {
        waitFailed(e);
      } finally {
        end();
      }
      if (now() - t0 > 30_000) {
        violation(`waitgroup: round ${r} not done after 30 s (count ${wg.count})`);
        return;
      }
    }
    const dones = Atomics.load(c, S.G_WG_DONES);
    if (dones !== r * doers) violation(`waitgroup: wait returned in round ${r} with ${dones} done() calls, expected ${r * doers}`);
    bump(S.S_OPS);
  };
}

function wgDoerRole(): Step {
  const wg = WaitGroup.from(H.wg as PrimitiveHandle);
  let seen = 0;
  return () => {
    const r = Atomics.load(c, S.G_WG_ROUND);
    if (r === seen) {
      Atomics.wait(c, S.G_WG_ROUND, r, 20);
      return;
    }
    if (r !== seen + 1) violation(`waitgroup: round jumped from ${seen} to ${r}`);
    if (rand() < 0.3) sleep(rand() * 2);
    Atomics.add(c, S.G_WG_DONES, 1);
    wg.done();
    seen = r;
    bump(S.S_OPS);
  };
}

function queueRole(producer: boolean): Step {
  const q = MpmcQueue.from(H.queue as PrimitiveHandle);
  const gen = new Uint8Array(d.qGen);
  const record = (v: number): void => {
    const bad = S.qRecord(gen, c, v);
    if (bad !== undefined) violation(bad);
    Atomics.add(c, S.Q_POPPED, 1);
    bump(S.S_OPS);
  };
  const out = new Int32Array(8);
  return async () => {
    const r = rand();
    try {
      if (producer) {
        const seq = Atomics.load(c, S.Q_PUSHED + d.index);
        const v = S.qValue(d.index, seq);
        let ok = true;
        if (r < 0.15) ok = q.tryPush(v);
        else if (r < 0.6) { begin('queue.tryPushFor'); ok = q.tryPushFor(v, rand() * 5); if (!ok) bump(S.S_TIMEOUTS); } else {
          begin('queue.pushAsync');
          await maybeAbort((signal) => q.pushAsync(v, { timeoutMs: 1 + rand() * 5, signal }));
        }
        if (ok) {
          Atomics.store(c, S.Q_PUSHED + d.index, seq + 1);
          bump(S.S_OPS);
        }
      } else if (r < 0.1) {
        const n = q.popBatch(out, 1 + Math.floor(rand() * 8));
        for (let i = 0; i < n; i++) record(out[i]);
      } else if (r < 0.55) {
        begin('queue.tryPopFor');
        const v = q.tryPopFor(rand() * 5);
        if (v === undefined) bump(S.S_TIMEOUTS);
        else record(v);
      } else {
        begin('queue.popAsync');
        record(await maybeAbort((signal) => q.popAsync({ timeoutMs: 1 + rand() * 5, signal })));
      }
    } catch (e) {
      waitFailed(e);
    } finally {
      end();
    }
  };
}

function taskListRole(): Step {
  const lists = (H.lists as PrimitiveHandle[]).map((h) => TaskList.from(h));
  const tickets = new Float64Array(d.tickets);
  const N = S.T_BOARD_N;
  return () => {
    const li = rand() < 0.5 ? 0 : 1;
    const list = lists[li];
    const start = Math.floor(rand() * N);
    begin('tasklist.op');
    try {
      const r = rand();
      if (r < 0.5) {
        for (let j = 0; j < N; j++) {
          const i = (start + j) % N;
          const st = S.T_STATE + li * N + i;
          if (Atomics.compareExchange(c, st, S.TB_FREE, S.TB_INSERTING) !== S.TB_FREE) continue;
          // Per-slot generation in the low 16 bits (the previous value of this board slot + 1): two
          // entries of one slot that overlap one forEach pass (removed, then re-inserted) never share
          // a value, so "reported twice" means one entry reported twice. (A per-worker counter let
          // two workers' entries of one slot collide: the 30-minute soak's one TaskList violation.)
          const v = (i << 16) | ((Atomics.load(c, S.T_VALUE + li * N + i) + 1) & 0xffff);
          tickets[li * N + i] = list.insert(v);
          Atomics.store(c, S.T_VALUE + li * N + i, v);
          Atomics.store(c, st, S.TB_LIVE); // publishes the ticket (plain write above)
          bump(S.S_OPS);
          return;
        }
      } else if (r < 0.98) {
        for (let j = 0; j < N; j++) {
          const i = (start + j) % N;
          const st = S.T_STATE + li * N + i;
          if (Atomics.compareExchange(c, st, S.TB_LIVE, S.TB_CLAIMED) !== S.TB_LIVE) continue;
          const t = tickets[li * N + i];
          if (!list.remove(t)) violation(`tasklist ${li}: live ticket ${t} (value ${Atomics.load(c, S.T_VALUE + li * N + i)}) could not be removed (lost)`);
          if (list.remove(t)) violation(`tasklist ${li}: ticket ${t} removed twice`);
          Atomics.store(c, st, S.TB_FREE);
          bump(S.S_OPS);
          return;
        }
      } else {
        const seen = new Set<number>();
        list.forEach((v) => {
          if (seen.has(v)) violation(`tasklist ${li}: forEach reported value ${v} twice`);
          seen.add(v);
        });
        bump(S.S_OPS);
      }
    } finally {
      end();
    }
  };
}

function makeStep(): Step {
  switch (d.role) {
    case 'mutex': return mutexRole();
    case 'cv-prod': return condvarRole(true);
    case 'cv-cons': return condvarRole(false);
    case 'rw-reader': return rwRole(false);
    case 'rw-writer': return rwRole(true);
    case 'sem': return semRole();
    case 'barrier': return barrierRole();
    case 'once': return onceRole();
    case 'wg-coord': return wgCoordRole((workerData as { wgDoers: number }).wgDoers);
    case 'wg-doer': return wgDoerRole();
    case 'q-prod': return queueRole(true);
    case 'q-cons': return queueRole(false);
    case 'tasklist': return taskListRole();
  }
}

async function main(): Promise<void> {
  Atomics.store(c, base + S.S_TID, threadId);
  const step = makeStep();
  const doer = d.role === 'wg-doer';
  for (;;) {
    if (doer ? Atomics.load(c, S.G_WG_COORD_EXITED) !== 0 : stopped()) break;
    await step();
    Atomics.add(c, base + S.S_ITER, 1);
    killPoint(S.KILL_IDLE);
    if (rand() < 0.01) {
      begin('sleep');
      sleep(1);
      end();
    }
  }
  if (finalStep !== undefined) await finalStep();
  if (d.role === 'wg-coord') {
    Atomics.store(c, S.G_WG_COORD_EXITED, 1);
    Atomics.notify(c, S.G_WG_ROUND);
  }
  Atomics.store(c, base + S.S_EXITED, 1);
}

main().then(
  () => parentPort!.postMessage({ type: 'done' }),
  (e: unknown) => {
    violation(`uncaught in ${d.role}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    Atomics.store(c, base + S.S_EXITED, 1);
  },
);
