/**
 * Shared layout and helpers of the chaos soak (run.ts = orchestrator, worker.ts = roles).
 *
 * Everything the soak itself shares lives in one plain SharedArrayBuffer, `ctl` (an Int32Array),
 * separate from the parklot region that holds the primitives under test. Data protected by a lock
 * is only touched by its holder, but always through Atomics (so a recoverer sees the dead holder's
 * last writes in order: JS Atomics are sequentially consistent).
 *
 * Robust critical sections use an undo log: before a protected word is written, its index and old
 * value are appended to the log (log count stored last), and the log is cleared (count = 0) when
 * the critical section is complete. A thread that takes the lock over with OwnerDiedError rolls
 * the log back in reverse, which restores the exact state before the dead holder's critical
 * section, whatever prefix of it the holder executed.
 */

/** Worker slots (per-slot ack arrays and status words are sized by it): 10 N + 8 workers, N ≤ 6. */
export const MAX_SLOTS = 80;
/** Status words per worker slot. */
export const SLOT_WORDS = 16;
export const S_KILL = 0; // kill request: 0 none, KILL_* = "die at this point", KILL_ACK = at the point, waiting
export const S_OP = 1; // code of the wait in progress (0 = none)
export const S_OP_SINCE = 2; // ms since epoch (run-relative) the wait started
export const S_ITER = 3; // loop iterations (heartbeat)
export const S_TID = 4; // threadId of the current incarnation
export const S_OPS = 5; // completed operations (all incarnations of the slot)
export const S_TIMEOUTS = 6;
export const S_ABORTS = 7;
export const S_RECOVERIES = 8; // OwnerDiedError recoveries performed by this slot
export const S_VIOLATIONS = 9;
export const S_EXTRA = 10; // role-specific counter (e.g. Once initializer throws, queue-full, …)
export const S_EXITED = 11; // 1 once the incarnation left its loop cleanly

export const KILL_IDLE = 1; // holding nothing
export const KILL_IN_CS = 2; // holding a robust mutex, mid-critical-section (undo log non-empty)
export const KILL_IN_ONCE = 3; // running a Once initializer
export const KILL_IN_RW = 4; // holding the RwLock write lock, mid-update (undo log non-empty)
export const KILL_IN_UPG = 5; // holding the RwLock upgradable read lock (no protected write yet)
export const KILL_NAMES: Record<number, string> = { 1: 'idle', 2: 'in-cs', 3: 'in-once', 4: 'in-write', 5: 'in-upgradable' };
export const KILL_ACK = 100; // the worker reached the point and is blocked, waiting to be terminated

// Global words.
export const G_STOP = 0;
export const G_WG_ROUND = 1;
export const G_WG_DONES = 2;
export const G_WG_COORD_EXITED = 3;
export const G_BARRIER_LEADERS = 4;
export const G_ONCE_NEXT = 5;
export const G_SEM_INUSE = 6;
export const G_RW_READERS_IN = 7;
export const G_RW_WRITER_IN = 8;
export const G_RW_DEAD_SINCE = 9; // run ms + 1 at which a writer/upgradable holder froze holding the lock (0: none)
export const G_RW_DEAD_MAX = 10; // longest dead-holder window (freeze → take-over), ms
export const G_RW_READ_WAIT_MAX = 11; // longest untimed read() wait, ms

// Mutex counter component: A == B == sum(ACK) at every lock acquisition.
export const M_A = 32;
export const M_B = 33;
export const M_ACK = 40; // MAX_SLOTS words (≤ 88: M_LOG follows)
export const M_LOG = 128; // undo log (LOG_WORDS)
export const LOG_MAX = 8;
export const LOG_WORDS = 1 + 2 * LOG_MAX;

// Condvar bounded buffer component.
export const C_CAP = 16;
export const C_HEAD = 160;
export const C_TAIL = 161;
export const C_CONSUMED = 162;
export const C_BUF = 176; // C_CAP words
export const C_PRODUCED = 192; // per producer index (≤ 6 used, 64 reserved)
export const C_EXPECT = 256; // per producer index (≤ 6 used, 64 reserved)
export const C_LOG = 320;

// RwLock data: X == Y == sum(R_ACK) at every write acquisition, X == Y for readers; written by
// writers through the undo log R_LOG.
export const R_X = 352;
export const R_Y = 353;
export const R_LOG = 356; // LOG_WORDS (up to 372)

// MPMC queue: per producer slot index, values pushed (the next sequence number).
export const Q_PUSHED = 384; // per producer index (≤ 6 used, 64 reserved)
export const Q_POPPED = 448;
/**
 * Values are `producer << 24 | seq mod Q_WINDOW`; producers never run out (a 30-minute run pushes
 * ~50 M values). Each consumer records a popped value in a per-producer generation table (one byte
 * per `seq mod Q_WINDOW`, see qRecord): the entry must move from the previous generation of that
 * residue to this one, so a value popped twice, or one of the previous generation never popped, is
 * caught when it happens. Assumes a popped value is recorded before its producer pushes Q_WINDOW
 * more (the queue holds 64).
 */
export const Q_SEQ_BITS = 22;
export const Q_WINDOW = 1 << Q_SEQ_BITS;
export const Q_MAX_PRODUCERS = 64;
export const qValue = (producer: number, seq: number): number => (producer << 24) | (seq & (Q_WINDOW - 1));
/** Generation byte of `seq`: 1..255 (0 = residue never popped). */
export const qGen = (seq: number): number => (Math.floor(seq / Q_WINDOW) % 255) + 1;
/**
 * Records popped value `v` in `gen` (Q_WINDOW bytes per producer). Returns a violation message, or
 * undefined. `pushed` words are read after the pop: the producer stores `seq + 1` only after its
 * push returns, so the value's seq is the largest one ≡ its residue that is ≤ `pushed`.
 */
export function qRecord(gen: Uint8Array, c: Int32Array, v: number): string | undefined {
  const p = v >>> 24;
  const low = v & (Q_WINDOW - 1);
  if (p >= Q_MAX_PRODUCERS || (v & 0x00ffffff) !== low) return `mpmc: popped ${v}, which no producer pushes`;
  const pushed = Atomics.load(c, Q_PUSHED + p);
  const seq = pushed - ((pushed - low) & (Q_WINDOW - 1));
  if (seq < 0) return `mpmc: popped ${p}:${low} before producer ${p} pushed it (pushed ${pushed})`;
  const g = qGen(seq);
  const prev = seq >= Q_WINDOW ? qGen(seq - Q_WINDOW) : 0;
  const old = Atomics.exchange(gen, p * Q_WINDOW + low, g);
  if (old === g) return `mpmc: value ${p}:${seq} popped twice`;
  if (old !== prev) return `mpmc: producer ${p} seq ${seq - Q_WINDOW} never popped (lost) before seq ${seq} was (generation byte ${old}, expected ${prev})`;
  return undefined;
}

// TaskList boards: per list, BOARD_N entries of [state, value] (+ tickets in a Float64Array).
export const T_BOARD_N = 256;
export const T_STATE = 512; // 2 lists × T_BOARD_N
export const T_VALUE = T_STATE + 2 * T_BOARD_N;
export const TB_FREE = 0;
export const TB_LIVE = 1;
export const TB_CLAIMED = 2;
export const TB_INSERTING = 3;

// RwLock per-slot acks (MAX_SLOTS words).
export const R_ACK = 1536;

// Once array: RUNS[k] (successful initializer runs).
export const O_COUNT = 16384;
export const O_RUNS = 2048;

export const STATUS_BASE = O_RUNS + O_COUNT;
export const CTL_WORDS = STATUS_BASE + MAX_SLOTS * SLOT_WORDS;

export const slotBase = (slot: number): number => STATUS_BASE + slot * SLOT_WORDS;

/** Wait op codes (for the watchdog's dump). */
export const OPS = [
  'none', 'mutex.lock', 'mutex.tryLockFor', 'mutex.lockAsync', 'condvar.waitFor', 'condvar.waitAsync',
  'rw.read', 'rw.tryReadFor', 'rw.readAsync', 'rw.write', 'rw.tryWriteFor', 'rw.writeAsync', 'rw.upgradable',
  'sem.acquire', 'sem.tryAcquireFor', 'sem.acquireAsync', 'barrier.waitFor', 'barrier.waitAsync',
  'once.call', 'once.callFor', 'once.callAsync', 'wg.waitFor', 'wg.waitAsync', 'wg.round',
  'queue.push', 'queue.tryPushFor', 'queue.pushAsync', 'queue.pop', 'queue.tryPopFor', 'queue.popAsync',
  'tasklist.op', 'sleep',
] as const;
export type OpName = (typeof OPS)[number];
export const opCode = (name: OpName): number => OPS.indexOf(name);

/** Appends (idx, old value) to the undo log at `log`, then writes `value` to `idx`. */
export function logWrite(c: Int32Array, log: number, idx: number, value: number): void {
  const n = Atomics.load(c, log);
  if (n >= LOG_MAX) throw new Error('soak: undo log overflow');
  Atomics.store(c, log + 1 + 2 * n, idx);
  Atomics.store(c, log + 2 + 2 * n, Atomics.load(c, idx));
  Atomics.store(c, log, n + 1); // the entry is complete before it counts
  Atomics.store(c, idx, value);
}

/** The critical section is complete: forget the log. */
export function logCommit(c: Int32Array, log: number): void {
  Atomics.store(c, log, 0);
}

/** Restores every logged word (newest first) and clears the log. Returns how many entries it undid. */
export function logRollback(c: Int32Array, log: number): number {
  const n = Atomics.load(c, log);
  for (let i = n - 1; i >= 0; i--) Atomics.store(c, Atomics.load(c, log + 1 + 2 * i), Atomics.load(c, log + 2 + 2 * i));
  Atomics.store(c, log, 0);
  return n;
}


export type Role =
  | 'mutex' | 'cv-prod' | 'cv-cons' | 'rw-reader' | 'rw-writer' | 'sem' | 'barrier' | 'once'
  | 'wg-coord' | 'wg-doer' | 'q-prod' | 'q-cons' | 'tasklist';

/** Where each role may be killed (empty: never killed). */
export const KILL_POINTS: Record<Role, readonly number[]> = {
  'mutex': [KILL_IDLE, KILL_IN_CS, KILL_IN_CS],
  'cv-prod': [KILL_IDLE, KILL_IN_CS],
  'cv-cons': [KILL_IDLE, KILL_IN_CS],
  'rw-reader': [], // never: a dead reader's share is never released (documented RwLock limitation)
  // Plus the holding points (RW_HOLDING_KILL_POINTS) unless --rw-idle-kills-only: see below.
  'rw-writer': [KILL_IDLE],
  'sem': [],
  'barrier': [],
  'once': [KILL_IDLE, KILL_IN_ONCE],
  'wg-coord': [],
  'wg-doer': [],
  'q-prod': [KILL_IDLE],
  'q-cons': [KILL_IDLE],
  'tasklist': [KILL_IDLE],
};

/**
 * RwLock writer kill points while holding the write lock mid-update / the upgradable lock (on by
 * default; run.ts `--rw-idle-kills-only` turns them off). They found a library bug, since fixed
 * (README "Findings"): a stale PENDING word of a dead holder let a writer "take over" a lock a live
 * thread held.
 */
export const RW_HOLDING_KILL_POINTS: readonly number[] = [KILL_IN_RW, KILL_IN_RW, KILL_IN_UPG];

/** Which summary component a role belongs to. */
export const COMPONENT: Record<Role, string> = {
  'mutex': 'Mutex', 'cv-prod': 'Condvar', 'cv-cons': 'Condvar', 'rw-reader': 'RwLock', 'rw-writer': 'RwLock',
  'sem': 'Semaphore', 'barrier': 'Barrier', 'once': 'Once', 'wg-coord': 'WaitGroup', 'wg-doer': 'WaitGroup',
  'q-prod': 'MpmcQueue', 'q-cons': 'MpmcQueue', 'tasklist': 'TaskList',
};

export interface Handles {
  region: unknown;
  mutex: unknown;
  cvMutex: unknown;
  cvNotEmpty: unknown;
  cvNotFull: unknown;
  rw: unknown;
  sem: unknown;
  barrier: unknown;
  wg: unknown;
  /** One Once handle; the others are the same with `offset` from onceOffsets. */
  once: unknown;
  onceOffsets: number[];
  queue: unknown;
  lists: unknown[];
}

export interface WorkerInit {
  role: Role;
  slot: number;
  /** Index of this worker among its role (producer index for the queue's generation table and buffers). */
  index: number;
  seed: number;
  epoch: number;
  ctl: SharedArrayBuffer;
  tickets: SharedArrayBuffer;
  /** MpmcQueue generation table: Q_WINDOW bytes per producer (see qRecord). */
  qGen: SharedArrayBuffer;
  handles: Handles;
  semPermits: number;
  /** Timeout of timed waits, ms. */
  waitMs: number;
}
