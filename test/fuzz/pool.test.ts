/**
 * Fuzz: FuturePool from one thread against a model of owned slots (alloc / allocTier / free /
 * flush / freeCount), with random sizes and random option objects. Bad slot numbers, sizes and
 * tiers, double frees and non-object options are separate properties (the findings of issue 7,
 * fixed in src/pool/future-pool.ts: each must throw a RangeError/TypeError naming FuturePool and
 * change nothing).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FuturePool, type TierSpec } from '../../src/pool/future-pool.ts';
import { MAX_SLOTS } from '../../src/pool/layout.ts';
import { FEW, RUNS, attempt, notAnObject, smallRegion } from '../support/fuzz.ts';

const TIERS: TierSpec[] = [{ bytes: 32, count: 8 }, { bytes: 128, count: 4 }, { bytes: 1024, count: 2 }];

function pool(cache: 'thread' | 'shared', cacheMax = 4): FuturePool {
  return FuturePool.create({ region: smallRegion(FuturePool.regionBytes(TIERS) + 4096), tiers: TIERS, cache, cacheMax });
}

type Op = { t: 'alloc'; bytes: number } | { t: 'allocTier'; tier: number } | { t: 'free'; pick: number } | { t: 'flush' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('alloc' as const), bytes: fc.oneof(fc.integer({ min: 0, max: 1100 }), fc.constantFrom(1, 32, 33, 128, 129, 1024, 1025)) }),
  fc.record({ t: fc.constant('allocTier' as const), tier: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ t: fc.constant('free' as const), pick: fc.nat() }),
  fc.constant<Op>({ t: 'flush' }),
);

describe('fuzz: FuturePool', () => {
  it('alloc / allocTier / free / flush match a model of owned slots: no slot twice, sizes fit, -1 only when nothing fits, freeCount exact', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), fc.constantFrom<'thread' | 'shared'>('thread', 'shared'), fc.integer({ min: 0, max: 8 }), (ops, cache, cacheMax) => {
        const p = pool(cache, cacheMax);
        const total = TIERS.reduce((n, t) => n + t.count, 0);
        const owned = new Set<number>();
        const freeIn = (t: number): number => TIERS[t].count - [...owned].filter((s) => p.tierOf(s) === t).length;
        for (const o of ops) {
          if (o.t === 'alloc') {
            const s = p.alloc(o.bytes);
            const fits = TIERS.map((t, i) => (t.bytes >= o.bytes ? freeIn(i) : 0)).reduce((a, b) => a + b, 0);
            if (s === -1) expect(fits).toBe(0);
            else {
              expect(owned.has(s)).toBe(false);
              expect(p.capacityOf(s)).toBeGreaterThanOrEqual(o.bytes);
              owned.add(s);
            }
          } else if (o.t === 'allocTier') {
            const s = p.allocTier(o.tier);
            if (s === -1) expect(freeIn(o.tier)).toBe(0);
            else {
              expect(owned.has(s)).toBe(false);
              expect(p.tierOf(s)).toBe(o.tier);
              owned.add(s);
            }
          } else if (o.t === 'free') {
            if (owned.size === 0) continue;
            const s = [...owned][o.pick % owned.size];
            p.free(s);
            owned.delete(s);
          } else p.flush();
          expect(p.freeCount()).toBe(total - owned.size);
        }
        // Slots are distinct, in bounds, and their data areas do not overlap.
        const spans = [...owned].map((s) => [p.slotOffset(s), p.slotOffset(s) + p.capacityOf(s)] as const).sort((a, b) => a[0] - b[0]);
        for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][1]);
      }),
      { numRuns: RUNS },
    );
  });

  it('FuturePool.create / from with random options: valid ones work, invalid ones throw TypeError/RangeError naming the option', () => {
    const tierArb = fc.record({ bytes: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.constantFrom<unknown>(8, 64, 0, -8, NaN, 1.5, 2 ** 27, '8')), count: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.constantFrom<unknown>(0, -1, NaN, 1.5, 70_000, '2')) });
    const tiersArb = fc.oneof(fc.constant(undefined), fc.array(tierArb, { minLength: 0, maxLength: 9 }), fc.constantFrom<unknown>(null, 'tiers', {}, [null]));
    fc.assert(
      fc.property(
        fc.oneof(notAnObject, fc.record({ tiers: tiersArb, cache: fc.constantFrom<unknown>(undefined, 'thread', 'shared', 'none', null), cacheMax: fc.constantFrom<unknown>(undefined, 0, 64, 4096, 4097, -1, NaN, 1.5, null) }, { requiredKeys: [] })),
        fc.boolean(),
        (raw, viaFrom) => {
          // Only small tier sets get a real region here (the default tiers need 4.3 MiB).
          let opts = raw;
          if (opts !== null && typeof opts === 'object') {
            const o = { ...(opts as Record<string, unknown>) };
            if (o.tiers === undefined || o.tiers === null || viaFrom) o.tiers = [{ bytes: 64, count: 2 }]; // null = absent (`??`)
            opts = o;
          }
          const res = viaFrom
            ? attempt(() => FuturePool.from(FuturePool.create({ tiers: [{ bytes: 64, count: 2 }] }).handle, opts as object), ['FuturePool'])
            : attempt(() => FuturePool.create(opts as object), ['FuturePool', 'SharedRegion']);
          const isObj = opts !== null && typeof opts === 'object';
          const o = (isObj ? opts : {}) as Record<string, unknown>;
          const cacheOk = o.cache === undefined || o.cache === null || o.cache === 'thread' || o.cache === 'shared';
          const maxOk = o.cacheMax === undefined || o.cacheMax === null || (Number.isInteger(o.cacheMax) && (o.cacheMax as number) >= 0 && (o.cacheMax as number) <= 4096);
          let tiersOk = Array.isArray(o.tiers) && o.tiers.length >= 1 && o.tiers.length <= 8;
          if (tiersOk) {
            let prev = 0;
            let total = 0;
            for (const t of o.tiers as { bytes: unknown; count: unknown }[]) {
              const b = t?.bytes;
              const c = t?.count;
              if (!Number.isInteger(b) || (b as number) < 8 || (b as number) > 2 ** 26 || (b as number) % 8 !== 0 || (b as number) <= prev) tiersOk = false;
              if (!Number.isInteger(c) || (c as number) < 1) tiersOk = false;
              prev = b as number;
              total += c as number;
            }
            if (total >= MAX_SLOTS) tiersOk = false;
          }
          expect(res.ok).toBe(isObj && cacheOk && maxOk && tiersOk);
          if (res.ok) {
            const p = res.value;
            const s = p.alloc(8);
            expect(s).toBeGreaterThanOrEqual(0);
            p.free(s);
          }
        },
      ),
      { numRuns: FEW },
    );
  });

  // ---- findings of issue 7 in src/pool/future-pool.ts (fixed) ----

  it('alloc(bad size) throws a RangeError (or returns -1) for NaN / negative / non-numbers (was: alloc(NaN), alloc(-1), alloc("8") handed out a tier-0 slot)', () => {
    fc.assert(
      fc.property(fc.constantFrom<unknown>(NaN, -1, -Infinity, '8', null, undefined, 0.5), fc.constantFrom<'thread' | 'shared'>('thread', 'shared'), (bytes, cache) => {
        const p = pool(cache);
        const before = p.freeCount();
        const res = attempt(() => p.alloc(bytes as number), ['FuturePool']);
        if (res.ok) {
          // Returning -1 is acceptable for an impossible size; handing out a slot is not.
          expect(res.value).toBe(-1);
          expect(p.freeCount()).toBe(before);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('free(bad slot) throws a RangeError/TypeError and changes nothing (was: free(-1) / free(NaN) / free(1.5) cached as free slots, free(999) an engine TypeError, free(-1) with cache "shared" a hang)', () => {
    fc.assert(
      fc.property(fc.constantFrom<unknown>(-1, NaN, 1.5, 999, 2 ** 31, '0', null, undefined, -0.5, Infinity), fc.constantFrom<'thread' | 'shared'>('thread', 'shared'), (slot, cache) => {
        const p = pool(cache);
        const before = p.freeCount();
        const res = attempt(() => p.free(slot as number), ['FuturePool']);
        expect(res.ok).toBe(false);
        expect(p.freeCount()).toBe(before);
        // And no later alloc returns a bogus slot.
        const got = new Set<number>();
        for (let s = p.alloc(1); s !== -1; s = p.alloc(1)) {
          expect(Number.isInteger(s) && s >= 0 && s < p.slotCount).toBe(true);
          expect(got.has(s)).toBe(false);
          got.add(s);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('FuturePool.from(handle, null) throws a TypeError naming FuturePool (was: engine "Cannot read properties of null (reading \'cache\')")', () => {
    const p = pool('thread');
    const res = attempt(() => FuturePool.from(p.handle, null as unknown as object), ['FuturePool'], [TypeError]);
    expect(res.ok).toBe(false);
  });

  for (const cache of ['thread', 'shared'] as const) {
    it(`free(slot) twice (a double free) is refused and changes nothing, cache '${cache}' (was: the slot handed out twice; a hang with 'shared')`, () => {
      const p = pool(cache);
      const total = p.freeCount();
      // Also after the slot went round the cache / central list and came back to another holder.
      const s = p.alloc(8);
      p.free(s);
      const res = attempt(() => p.free(s), ['FuturePool'], [RangeError]);
      expect(res.ok).toBe(false);
      expect(p.freeCount()).toBe(total);
      const got = new Set<number>();
      for (let x = p.alloc(1); x !== -1; x = p.alloc(1)) {
        expect(got.has(x)).toBe(false);
        got.add(x);
      }
      expect(got.size).toBe(total);
      for (const x of got) p.free(x);
      expect(p.freeCount()).toBe(total);
    });
  }

  it('allocTier(bad tier) throws a RangeError/TypeError naming FuturePool (was: allocTier(7) / allocTier(-1) threw an engine TypeError "Cannot read properties of undefined")', () => {
    const p = pool('thread');
    const before = p.freeCount();
    for (const t of [7, 3, -1, NaN, 0.5, '0', null]) {
      const res = attempt(() => p.allocTier(t as number), ['FuturePool'], [RangeError, TypeError]);
      expect(res.ok).toBe(false);
    }
    expect(p.freeCount()).toBe(before);
  });
});
