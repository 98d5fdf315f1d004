/**
 * Shared-memory layout of a WorkerPool: the control block, the per-task slot header, and the
 * encodings of task entries and task state words. Everything here is read by both the main thread
 * (worker-pool.ts, main/) and the workers (worker-runtime.ts, worker/), so the two agree on one definition.
 *
 * Task entry (the Int32 that travels through the submission and completion rings):
 *   bits 0..15  slot index (≤ 65535 slots per pool)
 *   bits 16..30 generation of the slot's current use (15 bits; bumped on every reuse and recovery)
 * A stale entry (its task was cancelled, recovered or finished) carries an old generation, so the
 * compare-and-swap that claims a task fails for it and it is skipped.
 *
 * Task state word (word H_STATE of the slot header):
 *   bits 0..3   state: S_FREE, S_QUEUED, S_RUNNING, S_DONE
 *   bits 4..15  index of the worker that claimed the task (S_RUNNING / S_DONE)
 *   bits 16..30 generation (as in the entry)
 * Transitions: main  FREE → QUEUED(g)                 (store, after writing the argument)
 *              worker QUEUED(g) → RUNNING(w, g)       (CAS: the claim; "started" from here on)
 *              worker RUNNING(w, g) → DONE(w, g)      (store, after writing the result)
 *              main  QUEUED(g) → FREE(g)              (CAS: cancels a queued task)
 *              main  QUEUED(g) → QUEUED(g + 1)        (CAS: re-dispatch after a worker died)
 *              main  DONE → FREE                      (after reading the result)
 * A claim and a cancel (or a re-dispatch) race on one CAS, so exactly one of them wins: a task is
 * never both run and re-dispatched.
 */

/** Int32 words per 128-byte line. */
export const LINE = 32;

// ---- entries and state words

export const SLOT_BITS = 16;
export const SLOT_MASK = 0xffff;
export const GEN_MASK = 0x7fff;
export const MAX_SLOTS = 1 << SLOT_BITS;

export const S_FREE = 0;
export const S_QUEUED = 1;
export const S_RUNNING = 2;
export const S_DONE = 3;
export const STATE_MASK = 0xf;
export const MAX_WORKERS = 0xfff;

export function entryOf(slot: number, gen: number): number {
  return slot | (gen << SLOT_BITS);
}

export function stateWord(state: number, worker: number, gen: number): number {
  return state | (worker << 4) | (gen << SLOT_BITS);
}

export function workerOfState(word: number): number {
  return (word >>> 4) & MAX_WORKERS;
}

// ---- slot header (Int32 words at the start of each FuturePool slot)

/** The state word above. */
export const H_STATE = 0;
/** Argument: codec tag of the payload (see codec.ts), or PAYLOAD_MESSAGE. */
export const H_ARG_TAG = 1;
/**
 * Argument: bytes of payload written after the name. In a worker's reserved result slot (never a
 * task's slot; see WorkerInit.reserve) this word is instead the busy flag: 1 from the worker's
 * result write until the main thread has read it, else 0.
 */
export const H_ARG_LEN = 2;
/** Task export: 0 = default, else 1 + index into the name table; the name's bytes lead the payload. */
export const H_NAME = 3;
/** Bytes of the name (latin1) at the start of the data area. */
export const H_NAME_LEN = 4;
/** Result: R_OK / R_ERROR. */
export const H_RES_KIND = 5;
/** Result: codec tag, PAYLOAD_MESSAGE, or PAYLOAD_OTHER_SLOT. */
export const H_RES_TAG = 6;
/** Result: payload bytes, or for PAYLOAD_OTHER_SLOT the slot index holding it. */
export const H_RES_LEN = 7;
/** Header bytes; the data area starts after them (8-byte aligned). */
export const HEADER_BYTES = 32;

export const R_OK = 1;
export const R_ERROR = 2;

/** Payload travels by message on the worker's payload port (too large for any slot, or a transfer list). */
export const PAYLOAD_MESSAGE = -1;
/** Result payload lives in another slot (allocated by the worker), whose index is in H_RES_LEN. */
export const PAYLOAD_OTHER_SLOT = -2;

// ---- control block (Int32 indices from the block start)

/** Number of worker slots in the block. */
export const C_THREADS = 0;
/** Main-thread doorbell: MAIN_AWAKE or MAIN_SLEEPING (main sleeps on it with waitAsync). */
export const C_MAIN = LINE;
/** Set to 1 when the pool shuts down (workers leave their loop). */
export const C_SHUTDOWN = 2 * LINE;
/**
 * Completion signal bits (completionPoll 'signalled'): bit w of word C_SIGNAL + (w >> 5)
 * is set (Atomics.or) by worker w after it pushed onto its completion ring; the main thread takes
 * the set with Atomics.exchange(word, 0) and drains only those rings. Four lines: 4096 bits.
 */
export const C_SIGNAL = 3 * LINE;
/** First worker record. */
export const C_WORKERS = 7 * LINE;
/** Words per worker record: three lines (run state / published settings / statistics). */
export const WORKER_WORDS = 3 * LINE;

export const MAIN_AWAKE = 0;
export const MAIN_SLEEPING = 1;

// Worker record, relative to C_WORKERS + w * WORKER_WORDS.
/** Run state, alone on its line: W_RUNNING / W_PARKED (main CASes PARKED → RUNNING to wake). */
export const W_STATE = 0;
/** Batch cap the worker uses now (adaptive mode changes it); main sizes the worker's window from it. */
export const W_CAP = LINE;
/** 1 once the worker loaded its task file and entered its loop (0 = still booting). */
export const W_READY = LINE + 1;
/** Message transport: tasks the worker has started (in arrival order). */
export const W_STARTED = LINE + 2;
/** Statistics line, written only by the worker. */
export const W_COMPLETED = 2 * LINE;
export const W_STOLEN = 2 * LINE + 1;
export const W_BATCHES = 2 * LINE + 2;
/** Busy time in µs, low and high 30-bit halves (stored high then low; read high, low, high). */
export const W_BUSY_LO = 2 * LINE + 3;
export const W_BUSY_HI = 2 * LINE + 4;
/** Times the worker parked (went to sleep on its run-state word until woken). */
export const W_PARKS = 2 * LINE + 5;

export const W_RUNNING = 0;
export const W_PARKED = 1;

export function controlBytes(threads: number): number {
  return (C_WORKERS + threads * WORKER_WORDS) * 4;
}

export function workerBase(controlBase: number, w: number): number {
  return controlBase + C_WORKERS + w * WORKER_WORDS;
}
