/**
 * The worker side of the shared-memory transport in isolation: a SabLoop built in the test's own
 * thread (no Worker) over the test's own region, rings and payload port. The test plays the main
 * thread: it writes a task into a slot, publishes QUEUED, pushes the entry onto the loop's ring,
 * runs one turn, and reads the completion ring, the state word and the result.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedRegion } from '../../src/parking/region.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import { Codec, errorFromWire } from '../../src/pool/codec.ts';
import { FuturePool } from '../../src/pool/future-pool.ts';
import {
  C_MAIN, C_SHUTDOWN, controlBytes, entryOf, H_ARG_LEN, H_ARG_TAG, H_NAME, H_NAME_LEN, H_RES_KIND, H_RES_TAG, H_STATE,
  HEADER_BYTES, MAIN_AWAKE, MAIN_SLEEPING, PAYLOAD_MESSAGE, R_ERROR, R_OK, S_DONE, S_FREE, S_QUEUED, SLOT_BITS, STATE_MASK, stateWord, W_BATCHES,
  W_CAP, W_COMPLETED, workerBase, workerOfState,
} from '../../src/pool/layout.ts';
import type { PayloadMessage } from '../../src/pool/protocol.ts';
import { TaskRing, taskRingBytes } from '../../src/pool/task-ring.ts';
import { SabLoop } from '../../src/pool/worker/sab-loop.ts';
import { TaskFunctions, TaskSignals } from '../../src/pool/worker/task-functions.ts';

const RING = 64;
const ports: MessagePort[] = [];
afterEach(() => {
  for (const p of ports.splice(0)) p.close();
});

/** The test's stand-in for a pool with one worker (index 0) and the main thread's handles on it. */
async function harness(exports: Record<string, unknown>, batch = 0) {
  const region = SharedRegion.create({ bytes: 1 << 20, waiters: 16, buckets: 16, threads: 64 });
  const i32 = region.i32;
  const control = region.alloc('WorkerPool', controlBytes(1), 128);
  const slots = FuturePool.create({ region, tiers: [{ bytes: 96, count: 32 }, { bytes: 4064, count: 4 }] });
  const ringOff = region.alloc('Raw', taskRingBytes(RING), 128);
  const ring = new TaskRing(i32, ringOff >> 2, RING, true);
  const comp = new SpscQueue({ region, capacity: 64 });
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  let shutdowns = 0;
  const loop = new SabLoop({
    init: {
      index: 0, control, slots: slots.handle, reserve: [], payloadsByMessage: false, rings: [ringOff], ringCapacity: RING,
      completion: comp.offset, batch, stealing: false, idleSpinUs: 0, idleWait: 'async', completionPoll: 'all',
    },
    region, port: port2, fns: await TaskFunctions.fromModule(exports, 'test:exports'), signals: new TaskSignals(),
    onShutdown: () => shutdowns++,
  });
  const codec = new Codec(region.buffer);
  const wb = workerBase(control >> 2, 0);
  let gen = 0;
  return {
    loop, ring, comp, i32, wb,
    ctl: control >> 2,
    shutdowns: () => shutdowns,
    /** Writes `arg` into a fresh slot as the main thread does, publishes QUEUED, pushes the entry. */
    submit(arg: unknown): { entry: number; hdr: number; dataOff: number } {
      const slot = slots.alloc(Codec.sizeHint(arg));
      const dataOff = slots.slotOffset(slot) + HEADER_BYTES;
      const hdr = slots.slotOffset(slot) >> 2;
      const len = codec.encode(arg, dataOff, slots.capacityOf(slot));
      i32[hdr + H_NAME] = 0;
      i32[hdr + H_NAME_LEN] = 0;
      i32[hdr + H_ARG_TAG] = 1;
      i32[hdr + H_ARG_LEN] = len;
      const entry = entryOf(slot, ++gen);
      Atomics.store(i32, hdr + H_STATE, stateWord(S_QUEUED, 0, gen));
      expect(ring.push(entry)).toBe(true);
      return { entry, hdr, dataOff };
    },
    /** Pops what the loop pushed onto its completion ring. */
    completions(): number[] {
      const buf = new Int32Array(64);
      return Array.from(buf.subarray(0, comp.popBatch(buf, buf.length)));
    },
    /** The result as the main thread reads it: from the argument's slot, or the payload message it names. */
    result(t: { entry: number; hdr: number; dataOff: number }): { ok: boolean; value: unknown; via: 'slot' | 'message' } {
      const ok = i32[t.hdr + H_RES_KIND] === R_OK;
      const tag = i32[t.hdr + H_RES_TAG];
      let v: unknown;
      if (tag === PAYLOAD_MESSAGE) {
        const m = receiveMessageOnPort(port1)?.message as PayloadMessage | undefined;
        expect(m?.e).toBe(t.entry);
        v = m?.v;
      } else {
        v = codec.decode(t.dataOff);
      }
      return { ok, value: ok ? v : errorFromWire(v), via: tag === PAYLOAD_MESSAGE ? 'message' : 'slot' };
    },
  };
}

describe('SabLoop in the test thread (no worker)', () => {
  it('one turn claims the task on its ring, runs it, writes the result, stores DONE and announces the entry', async () => {
    const h = await harness({ default: (x: { n: number }) => ({ doubled: x.n * 2 }) });
    expect(Atomics.load(h.i32, h.wb + W_CAP)).toBe(32); // adaptive start, published for the main thread
    const t = h.submit({ n: 21 });
    Atomics.store(h.i32, h.ctl + C_MAIN, MAIN_SLEEPING); // the "main thread" sleeps on its doorbell
    expect(h.loop.turn()).toBe(1);
    expect(h.completions()).toEqual([t.entry]);
    const st = Atomics.load(h.i32, t.hdr + H_STATE);
    expect(st & STATE_MASK).toBe(S_DONE);
    expect(workerOfState(st)).toBe(0);
    expect(h.result(t)).toEqual({ ok: true, value: { doubled: 42 }, via: 'slot' });
    expect(Atomics.load(h.i32, h.ctl + C_MAIN)).toBe(MAIN_AWAKE); // it rang the doorbell
    expect(Atomics.load(h.i32, h.wb + W_COMPLETED)).toBe(1);
    expect(Atomics.load(h.i32, h.wb + W_BATCHES)).toBe(1);
    expect(h.loop.turn()).toBe(0); // nothing left: no turn counted
    expect(Atomics.load(h.i32, h.wb + W_BATCHES)).toBe(1);
  });

  it('takes what is on the ring up to its batch cap per turn; skips a stale entry; a throw becomes an error result (by message)', async () => {
    const h = await harness({ default: (x: number) => { if (x < 0) throw new RangeError(`bad ${x}`); return x + 1; } }, 2);
    const a = h.submit(1);
    const stale = h.submit(2);
    const c = h.submit(-3);
    Atomics.store(h.i32, stale.hdr + H_STATE, stateWord(S_FREE, 0, stale.entry >>> SLOT_BITS)); // taken back by the "main thread"
    expect(h.loop.turn()).toBe(2); // batch 2: a and the stale entry
    expect(h.completions()).toEqual([a.entry]);
    expect(h.result(a)).toEqual({ ok: true, value: 2, via: 'slot' });
    expect(h.loop.turn()).toBe(1);
    expect(h.completions()).toEqual([c.entry]);
    expect(h.i32[c.hdr + H_RES_KIND]).toBe(R_ERROR);
    const r = h.result(c);
    expect(r.ok).toBe(false);
    expect(r.via).toBe('message'); // an error object does not go into a slot: the payload port carries it
    expect(r.value).toBeInstanceOf(RangeError);
    expect((r.value as Error).message).toBe('bad -3');
    expect(Atomics.load(h.i32, h.wb + W_BATCHES)).toBe(2);
  });

  it('an async task completes when its promise settles; the loop announces it from a microtask', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const h = await harness({ default: async (x: string) => { await gate; return x.toUpperCase(); } });
    const t = h.submit('done later');
    expect(h.loop.turn()).toBe(1);
    expect(h.completions()).toEqual([]);
    release();
    await new Promise((r) => setImmediate(r));
    expect(h.completions()).toEqual([t.entry]);
    expect(h.result(t)).toEqual({ ok: true, value: 'DONE LATER', via: 'slot' });
  });

  it('run() leaves at once when the pool has shut down, closing its port and calling onShutdown', async () => {
    const h = await harness({ default: (x: unknown) => x });
    Atomics.store(h.i32, h.ctl + C_SHUTDOWN, 1);
    h.loop.run();
    expect(h.shutdowns()).toBe(1);
  });
});
