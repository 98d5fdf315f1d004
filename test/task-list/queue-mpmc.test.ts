// Single-thread behaviour of MpmcQueue and SpscQueue: FIFO, capacity, wraparound, batches,
// bad input, handles, timeouts and async waits on the main thread.
import { describe, expect, it } from 'vitest';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import { R_DEQ, R_ENQ, ringInit, ringTryPop, ringTryPush } from '../../src/task-list/ring.ts';
import { SharedRegion } from '../../src/parking/region.ts';
import { TimeoutError } from '../../src/errors.ts';

const region = SharedRegion.create({ bytes: 1 << 20 });

for (const Q of [MpmcQueue, SpscQueue]) {
  describe(`${Q.name} (single thread)`, () => {
    it('is FIFO and reports full and empty exactly when nothing is concurrent', () => {
      const q = new Q({ region, capacity: 4 });
      expect(q.capacity).toBe(4);
      expect(q.tryPop()).toBeUndefined();
      for (let i = 0; i < 4; i++) expect(q.tryPush(10 + i)).toBe(true);
      expect(q.tryPush(99)).toBe(false);
      expect(q.size).toBe(4);
      for (let i = 0; i < 4; i++) expect(q.tryPop()).toBe(10 + i);
      expect(q.tryPop()).toBeUndefined();
      expect(q.size).toBe(0);
    });

    it('works at capacity 1 (full after one value, empty after one pop)', () => {
      const q = new Q({ region, capacity: 1 });
      for (let round = 0; round < 5; round++) {
        expect(q.tryPush(round)).toBe(true);
        expect(q.tryPush(-1)).toBe(false);
        expect(q.tryPop()).toBe(round);
        expect(q.tryPop()).toBeUndefined();
      }
    });

    it('carries the whole Int32 range', () => {
      const q = new Q({ region, capacity: 8 });
      for (const v of [0, -1, 2 ** 31 - 1, -(2 ** 31), 12345]) {
        q.push(v);
        expect(q.pop()).toBe(v);
      }
    });

    it('rejects a capacity that is not a power of two, naming the option, and allocates nothing', () => {
      const before = region.freeBytes;
      for (const bad of [0, 3, 6, 1000, -4, 1.5, 2 ** 29, NaN]) {
        expect(() => new Q({ region, capacity: bad })).toThrow(/capacity.*power of two/);
      }
      expect(() => new Q({ region, capacity: '8' as unknown as number })).toThrow(RangeError);
      expect(region.freeBytes).toBe(before);
    });

    it('rejects non-Int32 values with a TypeError and leaves the queue unchanged', () => {
      const q = new Q({ region, capacity: 4 });
      q.push(1);
      for (const bad of [1.5, 2 ** 31, NaN, '3', undefined]) {
        expect(() => q.tryPush(bad as number)).toThrow(TypeError);
        expect(() => q.push(bad as number)).toThrow(/Int32/);
      }
      expect(() => q.pushBatch([2, 2.5])).toThrow(TypeError);
      expect(q.size).toBe(1);
      expect(q.tryPop()).toBe(1);
      expect(q.tryPop()).toBeUndefined();
    });

    it('pushes and pops batches in order, partially when short of room or items', () => {
      const q = new Q({ region, capacity: 8 });
      expect(q.pushBatch([1, 2, 3, 4, 5, 6])).toBe(6);
      expect(q.pushBatch([7, 8, 9, 10])).toBe(2);
      const out = new Int32Array(5);
      expect(q.popBatch(out)).toBe(5);
      expect([...out]).toEqual([1, 2, 3, 4, 5]);
      const rest: number[] = [];
      expect(q.popBatch(rest, 10)).toBe(3);
      expect(rest).toEqual([6, 7, 8]);
      expect(q.popBatch(rest, 10)).toBe(0);
      expect(q.pushBatch([])).toBe(0);
    });

    it('keeps FIFO order across many laps (wraparound of cell sequences)', () => {
      const q = new Q({ region, capacity: 2 });
      let next = 0;
      let expectNext = 0;
      for (let i = 0; i < 10_000; i++) {
        if (q.tryPush(next)) next++;
        if (i % 3 !== 0) {
          const v = q.tryPop();
          if (v !== undefined) expect(v).toBe(expectNext++);
        }
      }
      while (q.tryPop() !== undefined) expectNext++;
      expect(expectNext).toBe(next);
    });

    it('attaches from its handle and validates the handle kind', () => {
      const q = new Q({ region, capacity: 4 });
      q.push(7);
      const h = structuredClone(q.handle);
      const q2 = Q.from(h);
      expect(q2.capacity).toBe(4);
      expect(q2.pop()).toBe(7);
      const other = Q === MpmcQueue ? SpscQueue : MpmcQueue;
      expect(() => other.from(h)).toThrow(TypeError);
      expect(() => Q.from({ ...h, offset: h.offset + 4 })).toThrow(RangeError);
      expect(() => Q.from(null as never)).toThrow(TypeError);
    });

    it('tryPopFor / tryPushFor time out with undefined / false', () => {
      const q = new Q({ region, capacity: 1 });
      const t0 = performance.now();
      expect(q.tryPopFor(20)).toBeUndefined();
      expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
      q.push(1);
      expect(q.tryPushFor(2, 10)).toBe(false);
      expect(q.tryPopFor(10)).toBe(1);
      expect(() => q.tryPopFor(NaN)).toThrow(RangeError);
    });

    it('popAsync resolves when a value arrives later on the same thread, without blocking the loop', async () => {
      const q = new Q({ region, capacity: 2 });
      const p = q.popAsync();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      await new Promise((r) => setTimeout(r, 20));
      q.push(42);
      expect(await p).toBe(42);
      clearInterval(timer);
      expect(ticks).toBeGreaterThan(0);
    });

    it('popAsync rejects with TimeoutError, and with the abort reason, consuming nothing', async () => {
      const q = new Q({ region, capacity: 2 });
      await expect(q.popAsync({ timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
      const ac = new AbortController();
      const p = q.popAsync({ signal: ac.signal });
      setTimeout(() => ac.abort(new Error('stop')), 5);
      await expect(p).rejects.toThrow('stop');
      q.push(5);
      expect(q.tryPop()).toBe(5);
      expect(region.lot.pendingAsyncParks).toBe(0);
    });

    it('pushAsync waits for room', async () => {
      const q = new Q({ region, capacity: 1 });
      q.push(1);
      const p = q.pushAsync(2);
      await new Promise((r) => setTimeout(r, 5));
      expect(q.tryPop()).toBe(1);
      await p;
      expect(q.tryPop()).toBe(2);
      await expect(new Q({ region, capacity: 1 }).pushAsync(1.5)).rejects.toThrow(TypeError);
    });

    it('with fastPath: false still delivers (always-park baseline of claim L2)', async () => {
      const q = new Q({ region, capacity: 4, fastPath: false });
      q.push(1);
      q.push(2);
      expect(q.pop()).toBe(1);
      expect(await q.popAsync()).toBe(2);
    });
  });
}

describe('MpmcQueue extras', () => {
  it('values() iterates asynchronously until aborted', async () => {
    const q = new MpmcQueue({ region, capacity: 8 });
    q.pushBatch([1, 2, 3]);
    const ac = new AbortController();
    const seen: number[] = [];
    for await (const v of q.values({ signal: ac.signal })) {
      seen.push(v);
      if (v === 3) setTimeout(() => ac.abort(), 5);
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  it('ring counters wrap past 2^31 without losing order', () => {
    const sab = new SharedArrayBuffer(4096);
    const i32 = new Int32Array(sab);
    ringInit(i32, 0, 4);
    // Pretend 2^31 - 2 operations already happened: move both counters and the cell sequences.
    const start = 0x7ffffffe;
    Atomics.store(i32, R_ENQ, start);
    Atomics.store(i32, R_DEQ, start);
    for (let i = 0; i < 4; i++) {
      // Cell for position p = start + k has seq 2p; pick p ≡ i (mod 4).
      const k = (i - (start & 3) + 4) & 3;
      Atomics.store(i32, 128 + 2 * i, ((start + k) | 0) << 1);
    }
    for (let v = 0; v < 100; v++) {
      expect(ringTryPush(i32, 0, 3, v)).toBe(true);
      expect(ringTryPop(i32, 0, 3)).toBe(v);
    }
    expect(Atomics.load(i32, R_ENQ)).toBeLessThan(0); // it did wrap
  });
});
