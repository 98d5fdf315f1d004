/**
 * Fuzz: handles and regions. Every `Kind.from(handle)` given a random corruption of a valid
 * handle (wrong kind, truncated or foreign buffer, wrong id/version, offsets past the end,
 * negative, NaN, misaligned, inside another block, pointing at another kind) either attaches the
 * same primitive (only when the corruption left the handle valid) or throws a TypeError/RangeError
 * naming the problem, and the primitive still works afterwards. SharedRegion.create / attach /
 * alloc / handleFor / checkOffset against a model of the bump heap; the ParkingLot expert API with
 * random keys, validates (also throwing) and timeouts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SharedRegion, resolveHandle, type PrimitiveHandle } from '../../src/parking/region.ts';
import { KINDS, type KindName } from '../../src/parking/kinds.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import { RwLock } from '../../src/lock/rwlock.ts';
import { Condvar } from '../../src/lock/condvar.ts';
import { Semaphore } from '../../src/lock/semaphore.ts';
import { Barrier } from '../../src/lock/barrier.ts';
import { Once } from '../../src/lock/once.ts';
import { WaitGroup } from '../../src/lock/waitgroup.ts';
import { TaskList } from '../../src/task-list/task-list.ts';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import { FuturePool } from '../../src/pool/future-pool.ts';
import { RUNS, attempt, expectDocumented, notAnObject, smallRegion } from '../support/fuzz.ts';

type Attachable = Exclude<KindName, 'WorkerPool' | 'Raw'>;

interface Kind {
  create(r: SharedRegion): { handle: PrimitiveHandle; offset: number };
  from(h: unknown): { offset: number; region: SharedRegion };
  /** A quick use of an attached object and the original: they must share state. */
  roundTrip(orig: unknown, attached: unknown): void;
}

const KIND: Record<Attachable, Kind> = {
  Mutex: {
    create: (r) => new Mutex({ region: r }),
    from: (h) => Mutex.from(h as PrimitiveHandle),
    roundTrip: (a, b) => {
      const m = a as Mutex;
      (b as Mutex).lock();
      expect(m.isLocked).toBe(true);
      m.unlock();
    },
  },
  RwLock: {
    create: (r) => new RwLock({ region: r }),
    from: (h) => RwLock.from(h as PrimitiveHandle),
    roundTrip: (a, b) => {
      (b as RwLock).read();
      expect((a as RwLock).readers).toBe(1);
      (a as RwLock).readUnlock();
    },
  },
  Condvar: { create: (r) => new Condvar({ region: r }), from: (h) => Condvar.from(h as PrimitiveHandle), roundTrip: (_a, b) => expect((b as Condvar).notifyOne()).toBe(false) },
  Semaphore: {
    create: (r) => new Semaphore(3, { region: r }),
    from: (h) => Semaphore.from(h as PrimitiveHandle),
    roundTrip: (a, b) => {
      expect((b as Semaphore).tryAcquire(2)).toBe(true);
      expect((a as Semaphore).available).toBe(1);
      (a as Semaphore).release(2);
    },
  },
  Barrier: { create: (r) => new Barrier(1, { region: r }), from: (h) => Barrier.from(h as PrimitiveHandle), roundTrip: (_a, b) => expect((b as Barrier).wait().leader).toBe(true) },
  Once: { create: (r) => new Once({ region: r }), from: (h) => Once.from(h as PrimitiveHandle), roundTrip: (_a, b) => expect((b as Once).tryCall(() => {})).toBe(true) },
  WaitGroup: {
    create: (r) => new WaitGroup({ region: r }),
    from: (h) => WaitGroup.from(h as PrimitiveHandle),
    roundTrip: (a, b) => {
      (b as WaitGroup).add(2);
      expect((a as WaitGroup).count).toBe(2);
      (a as WaitGroup).add(-2);
    },
  },
  TaskList: {
    create: (r) => new TaskList({ region: r, capacity: 4, impl: 'locked' }),
    from: (h) => TaskList.from(h as PrimitiveHandle),
    roundTrip: (a, b) => expect((a as TaskList).remove((b as TaskList).insert(7))).toBe(true),
  },
  MpmcQueue: {
    create: (r) => new MpmcQueue({ region: r, capacity: 4 }),
    from: (h) => MpmcQueue.from(h as PrimitiveHandle),
    roundTrip: (a, b) => {
      expect((b as MpmcQueue).tryPush(5)).toBe(true);
      expect((a as MpmcQueue).tryPop()).toBe(5);
    },
  },
  SpscQueue: {
    create: (r) => new SpscQueue({ region: r, capacity: 4 }),
    from: (h) => SpscQueue.from(h as PrimitiveHandle),
    roundTrip: (a, b) => {
      expect((b as SpscQueue).tryPush(5)).toBe(true);
      expect((a as SpscQueue).tryPop()).toBe(5);
    },
  },
  FuturePool: {
    create: (r) => FuturePool.create({ region: r, tiers: [{ bytes: 64, count: 4 }] }),
    from: (h) => FuturePool.from(h as PrimitiveHandle),
    roundTrip: (_a, b) => {
      const p = b as FuturePool;
      const s = p.alloc(8);
      expect(s).toBeGreaterThanOrEqual(0);
      p.free(s);
    },
  },
};
const NAMES = Object.keys(KIND) as Attachable[];

/** One fixture region with one primitive of every kind, plus a foreign region. */
function fixture(): { r: SharedRegion; objs: Map<Attachable, ReturnType<Kind['create']>>; other: SharedRegion } {
  const r = smallRegion(1 << 16);
  const objs = new Map<Attachable, ReturnType<Kind['create']>>();
  for (const k of NAMES) objs.set(k, KIND[k].create(r));
  const other = smallRegion(1 << 12);
  new Mutex({ region: other });
  return { r, objs, other };
}

type Mutation =
  | { t: 'none' }
  | { t: 'notObject'; v: unknown }
  | { t: 'kind'; v: unknown }
  | { t: 'otherKindHandle'; k: Attachable }
  | { t: 'region'; v: unknown }
  | { t: 'regionKind'; v: unknown }
  | { t: 'buffer'; v: 'arraybuffer' | 'foreign' | 'truncated' | 'number' | 'other-region' }
  | { t: 'id'; v: number }
  | { t: 'version'; v: unknown }
  | { t: 'offset'; v: 'heapEnd' | 'pastEnd' | 'beforeHeap' | 'negative' | 'nan' | 'inf' | 'fraction' | 'misaligned' | 'inside' | 'unallocated' | 'string' | 'bigint' | 'missing' | 'otherKindOffset' | 'huge' }
  | { t: 'extra' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>({ t: 'none' }),
  fc.record({ t: fc.constant('notObject' as const), v: notAnObject }),
  fc.record({ t: fc.constant('kind' as const), v: fc.oneof(fc.constantFrom<unknown>('Raw', 'WorkerPool', 'mutex', '', undefined, null, 3), fc.string()) }),
  fc.record({ t: fc.constant('otherKindHandle' as const), k: fc.constantFrom(...NAMES) }),
  fc.record({ t: fc.constant('region' as const), v: fc.constantFrom<unknown>(null, undefined, 1, 'r', []) }),
  fc.record({ t: fc.constant('regionKind' as const), v: fc.constantFrom<unknown>('parklot.Region', undefined, 'Mutex', 7) }),
  fc.record({ t: fc.constant('buffer' as const), v: fc.constantFrom('arraybuffer', 'foreign', 'truncated', 'number', 'other-region') }),
  fc.record({ t: fc.constant('id' as const), v: fc.integer() }),
  fc.record({ t: fc.constant('version' as const), v: fc.constantFrom<unknown>(0, 2, 99, 'x', undefined) }),
  fc.record({
    t: fc.constant('offset' as const),
    v: fc.constantFrom('heapEnd', 'pastEnd', 'beforeHeap', 'negative', 'nan', 'inf', 'fraction', 'misaligned', 'inside', 'unallocated', 'string', 'bigint', 'missing', 'otherKindOffset', 'huge'),
  }),
  fc.constant<Mutation>({ t: 'extra' }),
);

function mutate(fx: ReturnType<typeof fixture>, kind: Attachable, m: Mutation): { h: unknown; valid: boolean } {
  const { r, objs, other } = fx;
  const orig = objs.get(kind)!;
  const h = orig.handle as unknown as Record<string, unknown>;
  const reg = h.region as Record<string, unknown>;
  const withRegion = (patch: Record<string, unknown>): unknown => ({ ...h, region: { ...reg, ...patch } });
  switch (m.t) {
    case 'none': return { h, valid: true };
    case 'extra': return { h: { ...h, extra: 1, region: { ...reg, extra: 2 } }, valid: true };
    case 'notObject': return { h: m.v, valid: false };
    case 'kind': return { h: { ...h, kind: m.v }, valid: m.v === kind };
    case 'otherKindHandle': return { h: objs.get(m.k)!.handle, valid: m.k === kind };
    case 'region': return { h: { ...h, region: m.v }, valid: false };
    case 'regionKind': return { h: withRegion({ kind: m.v }), valid: false };
    case 'buffer': {
      if (m.v === 'arraybuffer') return { h: withRegion({ buffer: new ArrayBuffer(r.buffer.byteLength) }), valid: false };
      if (m.v === 'number') return { h: withRegion({ buffer: 4096 }), valid: false };
      if (m.v === 'other-region') return { h: withRegion({ buffer: other.buffer }), valid: false };
      if (m.v === 'foreign') return { h: withRegion({ buffer: new SharedArrayBuffer(r.buffer.byteLength) }), valid: false };
      // Truncated: a copy of the first part of the region (header intact).
      const cut = new SharedArrayBuffer(Math.max(64, orig.offset));
      new Uint8Array(cut).set(new Uint8Array(r.buffer, 0, cut.byteLength));
      return { h: withRegion({ buffer: cut }), valid: false };
    }
    case 'id': return { h: withRegion({ id: m.v }), valid: m.v === r.id };
    case 'version': return { h: withRegion({ version: m.v }), valid: true }; // the header's version is what counts
    case 'offset': {
      const o = orig.offset;
      const v: unknown = {
        heapEnd: r.heapEnd, pastEnd: r.buffer.byteLength + 4096, beforeHeap: r.heapStart - 4, negative: -o, nan: NaN, inf: Infinity,
        fraction: o + 0.5, misaligned: o + 1, inside: o + 4, unallocated: r.heapEnd - 4, string: String(o), bigint: BigInt(o),
        missing: undefined, huge: 2 ** 40, otherKindOffset: objs.get(kind === 'Mutex' ? 'Once' : 'Mutex')!.offset,
      }[m.v];
      // Every variant is invalid ('inside' of a one-word block is the next block, of another kind).
      return { h: { ...h, offset: v }, valid: false };
    }
  }
}

describe('fuzz: handles', () => {
  it('Kind.from(random corruption of a handle) attaches the same primitive or throws a TypeError/RangeError naming the problem', () => {
    const fx = fixture();
    fc.assert(
      fc.property(fc.constantFrom(...NAMES), mutation, (kind, m) => {
        const { h, valid } = mutate(fx, kind, m);
        const res = attempt(() => KIND[kind].from(h), [kind, 'SharedRegion']);
        if (res.ok) {
          expect(valid).toBe(true);
          expect(res.value.offset).toBe(fx.objs.get(kind)!.offset);
          expect(res.value.region).toBe(fx.r);
          KIND[kind].roundTrip(fx.objs.get(kind), res.value);
        } else {
          expect(valid).toBe(false);
        }
        // Whatever happened, the original still works.
        const again = KIND[kind].from(fx.objs.get(kind)!.handle);
        KIND[kind].roundTrip(fx.objs.get(kind), again);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('resolveHandle(random value, random kind) never throws anything but a TypeError/RangeError', () => {
    const fx = fixture();
    const anyHandle = fc.oneof(
      fc.anything(),
      fc.record({ kind: fc.constantFrom<unknown>(...KINDS, 'x'), region: fc.oneof(fc.anything(), fc.constant(fx.r.handle)), offset: fc.oneof(fc.integer(), fc.double(), fc.anything()) }),
    );
    fc.assert(
      fc.property(anyHandle, fc.constantFrom(...KINDS), (h, kind) => {
        attempt(() => resolveHandle(h, kind), [kind, 'SharedRegion']);
      }),
      { numRuns: RUNS * 2 },
    );
  });
});

describe('fuzz: SharedRegion', () => {
  const optValue = fc.oneof(fc.constant(undefined), fc.integer({ min: -4, max: 70_000 }), fc.constantFrom<unknown>(NaN, Infinity, 1.5, '64', null, 2 ** 31, 1 << 16, 65534, 65535));

  it('create(random options) builds a working region or throws TypeError/RangeError naming the option', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          notAnObject,
          fc.record(
            {
              bytes: fc.oneof(optValue, fc.integer({ min: 1, max: 1 << 16 })),
              waiters: optValue,
              buckets: fc.oneof(optValue, fc.constantFrom(1, 2, 4, 16, 3, 6, 1 << 17)),
              threads: optValue,
              debug: fc.constantFrom<unknown>(undefined, {}, { deadlockDetection: true }, null, 'yes', 1),
            },
            { requiredKeys: [] },
          ),
        ),
        (opts) => {
          const res = attempt(() => SharedRegion.create(opts as object), ['SharedRegion']);
          if (!res.ok) return;
          const o = opts as Record<string, unknown>;
          // Accepted: every given option was valid.
          // A null size means "absent" (`opts.x ?? default`), as everywhere in parklot.
          const int = (v: unknown, lo: number, hi: number): boolean => v === undefined || v === null || (Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi);
          expect(int(o.bytes, 4, 1 << 30)).toBe(true);
          expect(int(o.waiters, 1, 65534)).toBe(true);
          expect(int(o.buckets, 1, 1 << 16) && (o.buckets == null || ((o.buckets as number) & ((o.buckets as number) - 1)) === 0)).toBe(true);
          expect(int(o.threads, 1, 1 << 16)).toBe(true);
          expect(o.debug === undefined || (typeof o.debug === 'object' && o.debug !== null)).toBe(true);
          const r = res.value;
          expect(r.waiterCount).toBe((o.waiters as number | null | undefined) ?? 1024);
          expect(r.freeWaiterCount()).toBe(r.waiterCount);
          expect(SharedRegion.attach(r.handle)).toBe(r);
          if (r.freeBytes >= 4) {
            const m = new Mutex({ region: r });
            expect(m.tryLock()).toBe(true);
            m.unlock();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('alloc / handleFor / checkOffset against a model of the bump heap; a refused alloc changes nothing', () => {
    const kindArb = fc.oneof(fc.constantFrom<unknown>(...KINDS), fc.constantFrom<unknown>('Nope', '', null, 3));
    const bytesArb = fc.oneof(fc.integer({ min: 1, max: 600 }), fc.constantFrom<unknown>(0, -4, NaN, Infinity, 2.5, '8', 1 << 20));
    const alignArb = fc.oneof(fc.constantFrom<unknown>(undefined, 4, 8, 16, 32, 64, 128), fc.constantFrom<unknown>(0, 1, 2, 3, 256, NaN, '8'));
    fc.assert(
      fc.property(fc.array(fc.tuple(kindArb, bytesArb, alignArb), { maxLength: 25 }), fc.integer({ min: 64, max: 4096 }), (ops, heap) => {
        const r = SharedRegion.create({ bytes: heap, waiters: 4, buckets: 4, threads: 4 });
        const blocks: { kind: KindName; start: number; end: number }[] = [];
        for (const [kind, bytes, align] of ops) {
          const before = r.freeBytes;
          const res = attempt(() => r.alloc(kind as KindName, bytes as number, align as number | undefined), ['SharedRegion', 'kind']);
          if (!res.ok) {
            expect(r.freeBytes).toBe(before);
            continue;
          }
          const start = res.value;
          const a = (align as number | undefined) ?? 4;
          expect(KINDS).toContain(kind);
          expect(Number.isInteger(bytes) && (bytes as number) > 0).toBe(true);
          expect(start % a).toBe(0);
          const end = start + Math.ceil((bytes as number) / 4) * 4;
          expect(start).toBeGreaterThanOrEqual(r.heapStart);
          expect(end).toBeLessThanOrEqual(r.heapEnd);
          for (const b of blocks) expect(start >= b.end || end <= b.start).toBe(true);
          blocks.push({ kind: kind as KindName, start, end });
        }
        // checkOffset: each block start is its own kind and nobody else's; inside words are refused.
        for (const b of blocks) {
          expect(r.handleFor(b.kind, b.start).offset).toBe(b.start);
          for (const k of KINDS) {
            if (k !== b.kind) expect(() => r.checkOffset(k, b.start)).toThrow(TypeError);
          }
          if (b.end - b.start > 4) {
            const inside = attempt(() => r.checkOffset(b.kind, b.start + 4), [b.kind]);
            expect(inside.ok).toBe(false);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: ParkingLot (expert API, single thread)', () => {
  it('park / unparkOne / unparkAll / unparkFilter / parkedCount with random keys, validates and timeouts: a result or a RangeError naming ParkingLot; no waiter record leaks', () => {
    const keyArb = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom<unknown>(NaN, Infinity, 0.5, 2 ** 31, -(2 ** 31) - 1, '4', null, undefined));
    const op = fc.record({
      kind: fc.constantFrom('park', 'unparkOne', 'unparkAll', 'unparkFilter', 'parkedCount'),
      key: keyArb,
      validate: fc.constantFrom('false', 'true', 'throws'),
      ms: fc.oneof(fc.constant(undefined), fc.integer({ min: -2, max: 2 }), fc.constantFrom<unknown>(NaN, '1', -Infinity)),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 20 }), (ops) => {
        const r = SharedRegion.create({ bytes: 1024, waiters: 4, buckets: 4, threads: 4 });
        const lot = r.lot;
        for (const o of ops) {
          // A park whose validate says "sleep" with no finite timeout would sleep forever here: make it time out.
          if (o.kind === 'park' && o.validate === 'true' && (typeof o.ms !== 'number' || Number.isNaN(o.ms))) o.ms = 0;
          const boom = new Error('boom');
          const validate = (): boolean => {
            if (o.validate === 'throws') throw boom;
            return o.validate === 'true';
          };
          const key = o.key as number;
          const keyOk = Number.isInteger(o.key) && (o.key as number) >= -(2 ** 31) && (o.key as number) < 2 ** 31;
          let res: { ok: true; value: unknown } | { ok: false; error: Error };
          try {
            let v: unknown;
            switch (o.kind) {
              case 'park': v = lot.park(key, validate, o.ms === undefined ? undefined : { timeoutMs: o.ms as number }); break;
              case 'unparkOne': v = lot.unparkOne(key); break;
              case 'unparkAll': v = lot.unparkAll(key); break;
              case 'unparkFilter': v = lot.unparkFilter(key, () => 'unpark'); break;
              default: v = lot.parkedCount(key);
            }
            res = { ok: true, value: v };
          } catch (e) {
            if (e === boom) {
              // validate's own exception propagates unchanged (and the bucket lock is released: checked below).
              expect(o.kind).toBe('park');
              res = { ok: true, value: 'validate threw' };
            } else {
              expectDocumented(e, ['ParkingLot']);
              res = { ok: false, error: e as Error };
            }
          }
          if (!keyOk) expect(res.ok).toBe(false);
          else if (res.ok && o.kind === 'park' && res.value !== 'validate threw') {
            // Nobody else is here: refused, or timed out (a park that would sleep forever is never generated: ms given or validate false).
            const timed = o.ms !== undefined && !Number.isNaN(o.ms) && typeof o.ms === 'number';
            if (o.validate === 'true' && !timed) throw new Error('unreachable: would sleep forever');
            expect((res.value as { result: string }).result).toMatch(o.validate === 'true' ? /timedOut/ : /invalid/);
          } else if (res.ok && o.kind === 'unparkAll') expect(res.value).toBe(0);
          else if (res.ok && o.kind === 'parkedCount') expect(res.value).toBe(0);
          expect(r.freeWaiterCount()).toBe(r.waiterCount);
        }
        // The lot still works: a timed park on a valid key times out, every bucket lock was released.
        for (let k = 0; k < 8; k++) expect(lot.park(k * 4, () => true, { timeoutMs: 0 }).result).toBe('timedOut');
      }),
      { numRuns: RUNS },
    );
  });
});
