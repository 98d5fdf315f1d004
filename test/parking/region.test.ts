import { describe, expect, it } from 'vitest';
import { Mutex, SharedRegion, resolveHandle } from '../../src/index.ts';
import { runWorkers } from '../support/workers.ts';

describe('SharedRegion: creation and options', () => {
  it('creates a region with the requested capacities', () => {
    const r = SharedRegion.create({ bytes: 4096, waiters: 8, buckets: 16 });
    expect(r.waiterCount).toBe(8);
    expect(r.bucketCount).toBe(16);
    expect(r.heapEnd - r.heapStart).toBe(4096);
    expect(r.freeBytes).toBe(4096);
    expect(r.freeWaiterCount()).toBe(8);
    expect(r.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('rejects a zero-size or malformed region with a RangeError naming the option', () => {
    expect(() => SharedRegion.create({ bytes: 0 })).toThrow(/`bytes`/);
    expect(() => SharedRegion.create({ bytes: -8 })).toThrow(RangeError);
    expect(() => SharedRegion.create({ bytes: 1.5 })).toThrow(/`bytes`/);
    expect(() => SharedRegion.create({ waiters: 0 })).toThrow(/`waiters`/);
    expect(() => SharedRegion.create({ waiters: 70000 })).toThrow(/`waiters`/);
    expect(() => SharedRegion.create({ buckets: 12 })).toThrow(/power of two/);
    expect(() => SharedRegion.create({ buckets: Number.NaN })).toThrow(/`buckets`/);
    // @ts-expect-error: bad options object
    expect(() => SharedRegion.create(null)).toThrow(TypeError);
  });

  it('default() is created once per thread', () => {
    expect(SharedRegion.default()).toBe(SharedRegion.default());
  });
});

describe('SharedRegion: allocation', () => {
  it('hands out aligned, zeroed, non-overlapping blocks', () => {
    const r = SharedRegion.create({ bytes: 4096 });
    const a = r.alloc('Raw', 4);
    const b = r.alloc('Raw', 12, 128);
    const c = r.alloc('Raw', 4, 8);
    expect(a % 4).toBe(0);
    expect(b % 128).toBe(0);
    expect(c % 8).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 4);
    expect(c).toBeGreaterThanOrEqual(b + 12);
    for (let i = b; i < b + 12; i += 4) expect(Atomics.load(r.i32, i >> 2)).toBe(0);
  });

  it('a full region throws a RangeError naming `bytes` and leaves the heap unchanged', () => {
    const r = SharedRegion.create({ bytes: 64 });
    r.alloc('Raw', 60);
    const free = r.freeBytes;
    expect(() => r.alloc('Raw', 8)).toThrow(/larger `bytes` option/);
    expect(r.freeBytes).toBe(free);
    r.alloc('Raw', 4); // the last word is still usable
    expect(r.freeBytes).toBe(0);
    expect(() => new Mutex({ region: r })).toThrow(RangeError);
  });

  it('rejects bad sizes and alignments', () => {
    const r = SharedRegion.create({ bytes: 256 });
    expect(() => r.alloc('Raw', 0)).toThrow(RangeError);
    expect(() => r.alloc('Raw', 4, 3)).toThrow(/align/);
    // @ts-expect-error: unknown kind
    expect(() => r.alloc('Nope', 4)).toThrow(TypeError);
  });

  it('concurrent allocation from many workers never hands out a word twice', async () => {
    const r = SharedRegion.create({ bytes: 8 * 200 * 8 + 64 });
    const results = await runWorkers<number[]>('region-alloc-worker.ts', 8, (i) => ({ region: r.handle, n: 200, index: i + 1 }), 30_000);
    const all = results.flat();
    expect(all.length).toBe(1600);
    expect(new Set(all).size).toBe(1600);
    // Each worker wrote its index into its blocks: no block was overwritten by another worker.
    for (const [w, offs] of results.entries()) for (const o of offs) expect(r.i32[o >> 2]).toBe(w + 1);
  });
});

describe('SharedRegion: handles and attach', () => {
  it('attach in the same thread returns the same object', () => {
    const r = SharedRegion.create({ bytes: 256 });
    expect(SharedRegion.attach(r.handle)).toBe(r);
    expect(SharedRegion.attach(structuredClone(r.handle))).toBe(r);
  });

  it('validates handles: non-shared buffer, magic, version, id, truncation', () => {
    const r = SharedRegion.create({ bytes: 256 });
    const h = r.handle;
    // @ts-expect-error: not an object
    expect(() => SharedRegion.attach(42)).toThrow(TypeError);
    expect(() => SharedRegion.attach({ ...h, buffer: new ArrayBuffer(1024) as never })).toThrow(/not shared/);
    expect(() => SharedRegion.attach({ ...h, kind: 'nope' as never })).toThrow(/parklot.region/);
    expect(() => SharedRegion.attach({ ...h, buffer: new SharedArrayBuffer(16) })).toThrow(/too small/);
    expect(() => SharedRegion.attach({ ...h, buffer: new SharedArrayBuffer(4096) })).toThrow(/magic/);
    expect(() => SharedRegion.attach({ ...h, id: h.id ^ 2 })).toThrow(/id/);
    const copy = new SharedArrayBuffer(h.buffer.byteLength - 128);
    new Uint8Array(copy).set(new Uint8Array(h.buffer, 0, copy.byteLength));
    expect(() => SharedRegion.attach({ ...h, buffer: copy })).toThrow(/truncated/);
    const bad = new SharedArrayBuffer(h.buffer.byteLength);
    new Uint8Array(bad).set(new Uint8Array(h.buffer));
    new Int32Array(bad)[1] = 99;
    expect(() => SharedRegion.attach({ ...h, buffer: bad })).toThrow(/version 99/);
  });

  it('primitive handles are checked for kind, bounds and alignment', () => {
    const r = SharedRegion.create({ bytes: 1024 });
    const m = new Mutex({ region: r });
    const raw = r.alloc('Raw', 16);
    const h = m.handle;
    expect(resolveHandle(h, 'Mutex').offset).toBe(m.offset);
    expect(() => resolveHandle(h, 'Semaphore')).toThrow(/expected a Semaphore handle, got a Mutex handle/);
    expect(() => Mutex.from({ ...h, offset: raw })).toThrow(/holds a Raw, not a Mutex/);
    expect(() => Mutex.from({ ...h, offset: raw + 4 })).toThrow(/inside another primitive/);
    expect(() => Mutex.from({ ...h, offset: m.offset + 2 })).toThrow(/not 4-byte aligned/);
    expect(() => Mutex.from({ ...h, offset: r.heapEnd })).toThrow(/outside the region's heap/);
    expect(() => Mutex.from({ ...h, offset: -4 })).toThrow(RangeError);
    expect(() => Mutex.from({ ...h, offset: Number.NaN })).toThrow(/integer/);
    expect(() => Mutex.from({ ...h, offset: r.heapStart + 512 })).toThrow(/nothing was allocated/);
    expect(() => Mutex.from(null as never)).toThrow(TypeError);
    expect(() => Mutex.from({ kind: 'Mutex', offset: m.offset } as never)).toThrow(/region is missing/);
    // State intact: the mutex still works after all the rejected attaches.
    m.lock();
    m.unlock();
    expect(m.isLocked).toBe(false);
  });

  it('handles survive structured cloning', () => {
    const r = SharedRegion.create({ bytes: 256 });
    const m = new Mutex({ region: r });
    const m2 = Mutex.from(structuredClone(m.handle));
    expect(m2.region).toBe(r);
    m2.lock();
    expect(m.isLocked).toBe(true);
    m2.unlock();
  });
});

describe('SharedRegion thread ids', () => {
  it('each thread gets its own id per region (1, 2, …), the same on every attach, independent across regions', async () => {
    const a = SharedRegion.create({ bytes: 4096 });
    const b = SharedRegion.create({ bytes: 4096 });
    expect(a.threadId).toBe(1); // the creator attaches first
    expect(SharedRegion.attach(a.handle).threadId).toBe(1);
    const res = await runWorkers<{ id: number; again: number; other: number }>('region-id-worker.ts', 4, () => ({ a: a.handle, b: b.handle }), 30_000);
    const ids = res.map((x) => x.id).sort((x, y) => x - y);
    expect(ids).toEqual([2, 3, 4, 5]); // unique, never 0, never the main thread's
    for (const x of res) expect(x.again).toBe(x.id);
    expect(new Set(res.map((x) => x.other)).size).toBe(4);
    expect(res.every((x) => x.other >= 2 && x.other <= 5)).toBe(true); // b's ids are b's own sequence
  });
});

describe('SharedRegion live-thread count (the adaptive spin hint)', () => {
  it('counts registered threads once each and drops them when marked dead', () => {
    const r = SharedRegion.create({ bytes: 4096 });
    const t = r.threads;
    const base = t.liveThreads();
    t.register(900_001);
    t.register(900_001); // idempotent
    t.register(900_002);
    expect(t.liveThreads()).toBe(base + 2);
    expect(t.markDead(900_001)).toBe(true);
    expect(t.markDead(900_001)).toBe(false); // already dead: counted once
    expect(t.liveThreads()).toBe(base + 1);
    expect(t.markDead(900_003)).toBe(true); // never registered: claimed and marked dead, net 0
    expect(t.liveThreads()).toBe(base + 1);
  });
});
