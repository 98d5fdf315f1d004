// Linearizability rounds: a pool of long-lived workers that, for each round, meet at a spin
// barrier, run a few random operations with jitter, stamp each call and return with one shared
// `Atomics.add` clock, and post their history back.
//
// Control block (Int32 words of a plain SharedArrayBuffer, test harness only):
//   CLOCK   the shared clock (every stamp is one Atomics.add, so stamps are distinct and
//           totally ordered consistently with real time across threads)
//   ARRIVED workers that reached this round's barrier (reset by the main thread per round)
//   GO      number of the round the barrier has released
//   BOARD   per-worker ticket boards for the TaskList rounds (see tasklist-lincheck.ts)
import { Worker } from 'node:worker_threads';
import { firstMessage } from './workers.ts';

export const CLOCK = 0;
export const ARRIVED = 32;
export const GO = 64;
/** Ticket board: per worker, a count word then pairs of (lo, hi) words. */
export const BOARD = 96;
export const BOARD_STRIDE = 64;

export interface RecordedOp {
  process: number;
  call: number;
  ret: number;
  kind: string;
  arg: number;
  /** number result, or null/boolean/'full' as the op defines. */
  out: number | boolean | null | 'full';
}

export interface RoundMessage {
  round: number;
  seed: number;
  ops: number;
  [key: string]: unknown;
}

export class RoundPool {
  readonly ctl: Int32Array;
  private readonly workers: Worker[];

  private constructor(workers: Worker[], ctl: Int32Array) {
    this.workers = workers;
    this.ctl = ctl;
  }

  /** Starts `n` workers on `url`; each gets `{ ctl, index, n, ...extra }` as workerData. */
  static async start(url: URL, n: number, extra: Record<string, unknown> = {}): Promise<RoundPool> {
    const ctl = new Int32Array(new SharedArrayBuffer((BOARD + n * BOARD_STRIDE) * 4));
    const workers: Worker[] = [];
    for (let i = 0; i < n; i++) workers.push(new Worker(url, { workerData: { ctl: ctl.buffer, index: i, n, ...extra } }));
    // Each worker posts 'ready' once its modules are loaded.
    await Promise.all(workers.map((w, i) => firstMessage(w, `lincheck worker ${i}`)));
    return new RoundPool(workers, ctl);
  }

  /** Runs one round; resolves with every worker's operations. */
  async run(msg: RoundMessage): Promise<RecordedOp[]> {
    Atomics.store(this.ctl, ARRIVED, 0);
    for (let i = 0; i < this.workers.length; i++) Atomics.store(this.ctl, BOARD + i * BOARD_STRIDE, 0);
    const replies = this.workers.map((w, i) => firstMessage<RecordedOp[] | { error: string }>(w, `lincheck worker ${i}`));
    for (const w of this.workers) w.postMessage(msg);
    const all: RecordedOp[] = [];
    for (const r of await Promise.all(replies)) {
      if (!Array.isArray(r)) throw new Error(r.error);
      all.push(...r);
    }
    return all;
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** Worker side: meet the others at the round's barrier (spinning: the start must be tight). */
export function barrier(ctl: Int32Array, n: number, round: number): void {
  if (Atomics.add(ctl, ARRIVED, 1) + 1 === n) {
    Atomics.store(ctl, GO, round);
    return;
  }
  const pause = (Atomics as { pause?: () => void }).pause;
  let spins = 0;
  while (Atomics.load(ctl, GO) !== round) {
    if (pause !== undefined) pause();
    // On an oversubscribed machine let the missing worker run: a 50 µs nap now and then.
    if (++spins % 4096 === 0) Atomics.wait(ctl, GO + 1, 0, 0.05);
  }
}

/** Worker side: busy-wait a random number of iterations (0 … max) to vary interleavings. */
export function jitter(rand: () => number, max: number): number {
  let x = 0;
  const n = Math.floor(rand() * max);
  for (let i = 0; i < n; i++) x = (x + i) | 0;
  return x;
}
