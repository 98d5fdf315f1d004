/**
 * Fuzz: MpmcQueue and SpscQueue against an array model, TaskList (all three implementations)
 * against a Map model, from one thread, with random values (non-Int32, wrong types), random batch
 * ranges (negative, NaN, fractional, past the end), random timeouts and option objects. Every
 * refused call changes nothing: same size, same contents in the same order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SpscQueue } from '../../src/task-list/spsc-queue.ts';
import { TaskList } from '../../src/task-list/task-list.ts';
import type { SharedRegion } from '../../src/parking/region.ts';
import { TimeoutError } from '../../src/errors.ts';
import { ANY_ERROR, FEW, RUNS, attempt, attemptAsync, badTimeout, expectNoWaiters, notAnObject, shortTimeout, smallRegion, validTimeout } from '../support/fuzz.ts';

const isInt32 = (v: unknown): v is number => typeof v === 'number' && (v | 0) === v;

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(2 ** 31, -(2 ** 31) - 1, 0.5, NaN, Infinity, -0, '1', null, undefined, 1n, {}) },
);

/** A batch argument: the values, plus start/count that may be omitted, valid or bogus. */
const rangeArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(-1, 0.5, NaN, Infinity, -Infinity, 2 ** 31, '1', null) },
);

type Queue = MpmcQueue | SpscQueue;
interface QModel { items: number[]; cap: number }
interface QReal { r: SharedRegion; q: Queue; name: string }

function checkQ(m: QModel, real: QReal): void {
  expect(real.q.size).toBe(m.items.length);
}

class QPush implements fc.Command<QModel, QReal> {
  readonly v: unknown;
  readonly form: 'try' | 'for' | 'block';
  readonly ms: unknown;
  constructor(v: unknown, form: 'try' | 'for' | 'block', ms: unknown) {
    this.v = v;
    this.form = form;
    this.ms = ms;
  }
  check = (m: Readonly<QModel>): boolean => this.form !== 'block' || m.items.length < m.cap || !isInt32(this.v);
  run(m: QModel, real: QReal): void {
    const q = real.q;
    const v = this.v as number;
    const res = attempt(() => (this.form === 'try' ? q.tryPush(v) : this.form === 'for' ? q.tryPushFor(v, this.ms as number) : (q.push(v), true)), [real.name], [TypeError, RangeError]);
    const valid = isInt32(this.v) && (this.form !== 'for' || validTimeout(this.ms));
    expect(res.ok ? 'ok' : res.error.message).toBe(valid ? 'ok' : res.ok ? 'error' : res.error.message);
    if (res.ok) {
      const room = m.items.length < m.cap;
      expect(res.value).toBe(room);
      if (room) m.items.push(v | 0);
    }
    checkQ(m, real);
  }
  toString = (): string => `${this.form}Push(${String(this.v)}${this.form === 'for' ? `, ${String(this.ms)}` : ''})`;
}

class QPop implements fc.Command<QModel, QReal> {
  readonly form: 'try' | 'for' | 'block';
  readonly ms: unknown;
  constructor(form: 'try' | 'for' | 'block', ms: unknown) {
    this.form = form;
    this.ms = ms;
  }
  check = (m: Readonly<QModel>): boolean => this.form !== 'block' || m.items.length > 0;
  run(m: QModel, real: QReal): void {
    const q = real.q;
    const res = attempt(() => (this.form === 'try' ? q.tryPop() : this.form === 'for' ? q.tryPopFor(this.ms as number) : q.pop()), [real.name], [RangeError]);
    const valid = this.form !== 'for' || validTimeout(this.ms);
    expect(res.ok).toBe(valid);
    if (res.ok) expect(res.value).toBe(m.items.length > 0 ? m.items.shift() : undefined);
    checkQ(m, real);
  }
  toString = (): string => `${this.form}Pop(${this.form === 'for' ? String(this.ms) : ''})`;
}

class QPushBatch implements fc.Command<QModel, QReal> {
  readonly values: unknown[];
  readonly typed: boolean;
  readonly start: unknown;
  readonly count: unknown;
  constructor(values: unknown[], typed: boolean, start: unknown, count: unknown) {
    this.values = values;
    this.typed = typed;
    this.start = start;
    this.count = count;
  }
  check = (): boolean => true;
  run(m: QModel, real: QReal): void {
    const arr: ArrayLike<number> = this.typed ? Int32Array.from(this.values.map((v) => (isInt32(v) ? v : 0))) : (this.values as number[]);
    const args: unknown[] = [arr];
    if (this.start !== undefined || this.count !== undefined) args.push(this.start);
    if (this.count !== undefined) args.push(this.count);
    const res = attempt(() => (real.q.pushBatch as (...a: unknown[]) => number)(...args), [real.name], [TypeError, RangeError]);
    const start = this.start === undefined ? 0 : this.start;
    const count = this.count === undefined ? (typeof start === 'number' ? arr.length - start : NaN) : this.count;
    const rangeOk = Number.isInteger(start) && Number.isInteger(count) && (start as number) >= 0 && (count as number) >= 0 && (start as number) + (count as number) <= arr.length;
    const valuesOk = rangeOk && Array.from(arr).slice(start as number, (start as number) + (count as number)).every(isInt32);
    expect(res.ok ? 'ok' : `threw ${res.error.message}`).toBe(rangeOk && valuesOk ? 'ok' : res.ok ? 'threw' : `threw ${res.error.message}`);
    if (res.ok) {
      const n = Math.min(count as number, m.cap - m.items.length);
      expect(res.value).toBe(n);
      for (let j = 0; j < n; j++) m.items.push(arr[(start as number) + j] | 0);
    }
    checkQ(m, real);
  }
  toString = (): string => `pushBatch(${this.typed ? 'Int32Array' : ''}${JSON.stringify(this.values.map(String))}, ${String(this.start)}, ${String(this.count)})`;
}

class QPopBatch implements fc.Command<QModel, QReal> {
  readonly out: 'array' | 'typed' | 'bogus';
  readonly len: number;
  readonly max: unknown;
  constructor(out: 'array' | 'typed' | 'bogus', len: number, max: unknown) {
    this.out = out;
    this.len = len;
    this.max = max;
  }
  check = (): boolean => true;
  run(m: QModel, real: QReal): void {
    const out: unknown = this.out === 'array' ? new Array<number>(this.len).fill(0) : this.out === 'typed' ? new Int32Array(this.len) : { length: this.len };
    const args: unknown[] = this.max === undefined ? [out] : [out, this.max];
    const res = attempt(() => (real.q.popBatch as (...a: unknown[]) => number)(...args), [real.name], [TypeError, RangeError]);
    const max = this.max === undefined ? this.len : this.max;
    const valid = this.out !== 'bogus' && Number.isInteger(max) && (max as number) >= 0;
    expect(res.ok).toBe(valid);
    if (res.ok) {
      const limit = this.out === 'typed' ? Math.min(max as number, this.len) : (max as number);
      const n = Math.min(limit, m.items.length);
      expect(res.value).toBe(n);
      const got = Array.from(out as ArrayLike<number>).slice(0, n);
      expect(got).toEqual(m.items.splice(0, n));
    }
    checkQ(m, real);
  }
  toString = (): string => `popBatch(${this.out}[${this.len}], ${String(this.max)})`;
}

const form = fc.constantFrom<'try' | 'for' | 'block'>('try', 'try', 'for', 'block');
const queueCommands = [
  fc.tuple(valueArb, form, fc.oneof(shortTimeout, badTimeout)).map(([v, f, ms]) => new QPush(v, f, ms)),
  fc.tuple(form, fc.oneof(shortTimeout, badTimeout)).map(([f, ms]) => new QPop(f, ms)),
  fc.tuple(fc.array(valueArb, { maxLength: 6 }), fc.boolean(), rangeArg, rangeArg).map(([vs, t, s, c]) => new QPushBatch(vs, t, s, c)),
  fc.tuple(fc.constantFrom<'array' | 'typed' | 'bogus'>('array', 'typed', 'typed', 'bogus'), fc.integer({ min: 0, max: 6 }), rangeArg).map(([o, l, m]) => new QPopBatch(o, l, m)),
];

const KINDS = [
  { name: 'MpmcQueue', make: (r: SharedRegion, capacity: number, fastPath: boolean): Queue => new MpmcQueue({ region: r, capacity, fastPath }) },
  { name: 'SpscQueue', make: (r: SharedRegion, capacity: number, fastPath: boolean): Queue => new SpscQueue({ region: r, capacity, fastPath }) },
] as const;

describe('fuzz: MpmcQueue / SpscQueue', () => {
  for (const K of KINDS) {
    it(`${K.name}: random push/pop/batch/timed operations match an array model; refused calls change nothing`, () => {
      fc.assert(
        fc.property(fc.commands(queueCommands, { maxCommands: 40 }), fc.constantFrom(1, 2, 4, 8), fc.boolean(), (cmds, capacity, fastPath) => {
          const r = smallRegion();
          const q = K.make(r, capacity, fastPath);
          const model: QModel = { items: [], cap: capacity };
          fc.modelRun(() => ({ model, real: { r, q, name: K.name } }), cmds);
          const rest: number[] = [];
          for (let v = q.tryPop(); v !== undefined; v = q.tryPop()) rest.push(v);
          expect(rest).toEqual(model.items);
          expectNoWaiters(r);
        }),
        { numRuns: RUNS },
      );
    });

    it(`${K.name}: pushAsync / popAsync with random options resolve, or reject with TimeoutError / TypeError / RangeError / the abort reason, consuming nothing`, async () => {
      const optsArb = fc.oneof(
        notAnObject,
        fc.record({ timeoutMs: fc.oneof(shortTimeout, badTimeout), signal: fc.constantFrom<unknown>(undefined, 'aborted', 'live', {}) }, { requiredKeys: [] }),
      );
      await fc.assert(
        fc.asyncProperty(fc.boolean(), valueArb, optsArb, fc.integer({ min: 0, max: 2 }), async (isPush, v, rawOpts, fill) => {
          const r = smallRegion();
          const q = K.make(r, 2, true);
          for (let i = 0; i < fill; i++) q.tryPush(100 + i);
          let opts = rawOpts;
          if (opts !== null && typeof opts === 'object') {
            const o = opts as Record<string, unknown>;
            const sig = o.signal === 'aborted' ? AbortSignal.abort(new Error('stop')) : o.signal === 'live' ? new AbortController().signal : o.signal;
            opts = { ...o, signal: sig, timeoutMs: o.timeoutMs ?? 1 }; // never wait forever
          }
          const what = `${K.name}.${isPush ? 'pushAsync' : 'popAsync'}`;
          const res = isPush
            ? await attemptAsync(() => q.pushAsync(v as number, opts as object), [what, 'stop'], ANY_ERROR)
            : await attemptAsync(() => q.popAsync(opts as object), [what, 'stop'], ANY_ERROR);
          const o = opts as Record<string, unknown> | null;
          const optsOk = o !== null && typeof o === 'object' && validTimeout(o.timeoutMs) && (o.signal === undefined || o.signal instanceof AbortSignal);
          const valid = optsOk && (!isPush || isInt32(v));
          // Validation does not depend on the queue's state.
          if (!valid) expect(res.ok ? 'resolved' : res.error.constructor.name).toMatch(/TypeError|RangeError/);
          const expectItems = Array.from({ length: fill }, (_, i) => 100 + i);
          if (res.ok && isPush) expectItems.push((v as number) | 0); // an Int32 slot stores -0 as 0
          if (res.ok && !isPush) expect(res.value).toBe(expectItems.shift());
          if (valid && !res.ok) expect(res.error instanceof TimeoutError || (o!.signal as AbortSignal).aborted).toBe(true);
          if (valid && res.ok === false && res.error instanceof TimeoutError) expect(isPush ? fill === 2 : fill === 0).toBe(true);
          const rest: number[] = [];
          for (let x = q.tryPop(); x !== undefined; x = q.tryPop()) rest.push(x);
          expect(rest).toEqual(expectItems);
          expectNoWaiters(r);
        }),
        { numRuns: FEW },
      );
    });

    it(`new ${K.name} / ${K.name}.from with random options`, () => {
      const capArb = fc.oneof(fc.constantFrom(1, 2, 64, 1024), fc.constantFrom<unknown>(0, 3, -2, 2 ** 28, 2 ** 29, NaN, Infinity, 1.5, '4', null, undefined));
      const fastArb = fc.constantFrom<unknown>(undefined, true, false, 'yes', 0, 1, null);
      fc.assert(
        fc.property(fc.oneof(notAnObject, fc.record({ capacity: capArb, fastPath: fastArb, region: fc.constantFrom<unknown>('valid', 'valid', 7, {}) }, { requiredKeys: [] })), fc.boolean(), (raw, viaFrom) => {
          const r = smallRegion(1 << 15);
          const Cls = K.name === 'MpmcQueue' ? MpmcQueue : SpscQueue;
          const base = new Cls({ region: r, capacity: 2 });
          let opts = raw as Record<string, unknown> | null;
          if (opts !== null && typeof opts === 'object') {
            opts = { ...opts, region: opts.region === 'valid' ? r : opts.region };
            if (viaFrom) {
              delete opts.region;
              delete opts.capacity;
            }
          }
          const res = attempt(() => (viaFrom ? Cls.from(base.handle, opts as object) : new Cls(opts as { capacity: number })), [K.name, 'SharedRegion']);
          const isObj = opts !== null && typeof opts === 'object';
          const o = isObj ? Object.fromEntries(Object.entries(opts as object).filter(([, v]) => v !== null)) : {};
          const c = o.capacity;
          const capOk = viaFrom || (Number.isInteger(c) && (c as number) >= 1 && (c as number) <= 2 ** 28 && ((c as number) & ((c as number) - 1)) === 0);
          const valid = isObj && capOk && (o.fastPath === undefined || typeof o.fastPath === 'boolean') && (o.region === undefined || o.region === r);
          if (!res.ok && valid) expect(res.error.message).toMatch(/SharedRegion is full/); // 2^28 cells do not fit a small region
          else expect(res.ok).toBe(valid);
          if (res.ok) {
            const q = res.value;
            expect(q.capacity).toBe(viaFrom ? 2 : c);
            expect(q.tryPush(1)).toBe(true);
            expect(q.tryPop()).toBe(1);
          }
        }),
        { numRuns: RUNS },
      );
    });
  }
});

// ---------------------------------------------------------------------------------- TaskList

interface TlModel { live: Map<number, number>; dead: number[]; cap: number }
interface TlReal { r: SharedRegion; l: TaskList; other: TaskList }

function checkTl(m: TlModel, real: TlReal): void {
  expect(real.l.size).toBe(m.live.size);
  const seen = new Map<number, number>();
  real.l.forEach((v, t) => {
    expect(seen.has(t)).toBe(false);
    seen.set(t, v);
  });
  expect(seen).toEqual(m.live);
}

class TlInsert implements fc.Command<TlModel, TlReal> {
  readonly v: unknown;
  constructor(v: unknown) {
    this.v = v;
  }
  check = (): boolean => true;
  run(m: TlModel, real: TlReal): void {
    const res = attempt(() => real.l.insert(this.v as number), ['TaskList'], [TypeError, RangeError]);
    if (!isInt32(this.v)) expect(res.ok ? 'ok' : res.error.constructor).toBe(TypeError);
    else if (m.live.size >= m.cap) expect(res.ok ? 'ok' : res.error.message).toMatch(/capacity/);
    else {
      expect(res.ok).toBe(true);
      if (res.ok) {
        expect(m.live.has(res.value)).toBe(false);
        m.live.set(res.value, this.v | 0);
      }
    }
    checkTl(m, real);
  }
  toString = (): string => `insert(${String(this.v)})`;
}

class TlRemove implements fc.Command<TlModel, TlReal> {
  readonly which: 'live' | 'dead' | 'forged' | 'foreign' | 'junk';
  readonly pick: number;
  readonly junk: unknown;
  constructor(which: 'live' | 'dead' | 'forged' | 'foreign' | 'junk', pick: number, junk: unknown) {
    this.which = which;
    this.pick = pick;
    this.junk = junk;
  }
  check = (): boolean => true;
  run(m: TlModel, real: TlReal): void {
    const live = [...m.live.keys()];
    let ticket: unknown;
    let expected: boolean | 'TypeError';
    if (this.which === 'live' && live.length > 0) {
      ticket = live[this.pick % live.length];
      expected = true;
    } else if (this.which === 'dead' && m.dead.length > 0) {
      ticket = m.dead[this.pick % m.dead.length];
      // A removed ticket whose slot was reused by a live entry is a different ticket (new generation).
      expected = false;
    } else if (this.which === 'foreign') {
      ticket = real.other.insert(1);
      expected = 'TypeError';
    } else {
      ticket = this.junk;
      expected = 'TypeError';
    }
    const res = attempt(() => real.l.remove(ticket as number), ['TaskList'], [TypeError]);
    if (expected === 'TypeError') {
      // A forged number may, with tiny probability, decode as a stale ticket of this list: then false.
      if (res.ok) expect(res.value).toBe(false);
    } else {
      expect(res.ok ? res.value : res.error.message).toBe(expected);
    }
    if (res.ok && res.value) {
      m.live.delete(ticket as number);
      m.dead.push(ticket as number);
    }
    checkTl(m, real);
  }
  toString = (): string => `remove(${this.which}${this.which === 'junk' ? ` ${String(this.junk)}` : ` #${this.pick}`})`;
}

const junkTicket = fc.oneof(fc.constantFrom<unknown>(-1, NaN, Infinity, 0.5, 2 ** 53, '0', null, undefined, 1n, {}), fc.integer({ min: 0, max: 2 ** 30 }));
const tlCommands = [
  valueArb.map((v) => new TlInsert(v)),
  fc.tuple(fc.constantFrom<'live' | 'dead' | 'forged' | 'foreign' | 'junk'>('live', 'live', 'dead', 'foreign', 'junk'), fc.nat(), junkTicket).map(([w, p, j]) => new TlRemove(w, p, j)),
];

describe('fuzz: TaskList', () => {
  it('random insert / remove (live, stale, foreign, forged tickets) / iterate match a Map model, for every implementation', () => {
    fc.assert(
      fc.property(fc.commands(tlCommands, { maxCommands: 40 }), fc.constantFrom<'locked' | 'lockfree' | 'sharded'>('locked', 'lockfree', 'sharded'), fc.integer({ min: 1, max: 6 }), (cmds, impl, capacity) => {
        const r = smallRegion();
        const shards = impl === 'sharded' ? 2 : undefined;
        const l = new TaskList({ region: r, capacity, impl, shards });
        // A list with another tag (tags are random 16-bit: a collision would make its tickets look stale here).
        const tagOf = (t: number): number => Math.floor(t / 2 ** 37);
        const probe = l.insert(0);
        l.remove(probe);
        let other = new TaskList({ region: r, capacity: 64, impl: 'lockfree' });
        while (tagOf(other.insert(0)) === tagOf(probe)) other = new TaskList({ region: r, capacity: 64, impl: 'lockfree' });
        // 'sharded': this object inserts into its own shard only, which holds ceil(capacity / shards).
        const cap = impl === 'sharded' ? Math.ceil(capacity / 2) : capacity;
        const model: TlModel = { live: new Map(), dead: [], cap };
        fc.modelRun(() => ({ model, real: { r, l, other } }), cmds);
        for (const t of model.live.keys()) expect(l.remove(t)).toBe(true);
        expect(l.size).toBe(0);
        expect([...l]).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('new TaskList / TaskList.from with random options', () => {
    const r = smallRegion(1 << 18);
    const capArb = fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constantFrom<unknown>(0, -1, 2 ** 21, 2 ** 21 + 1, NaN, Infinity, 1.5, '4', null, undefined));
    const implArb = fc.constantFrom<unknown>(undefined, 'locked', 'lockfree', 'sharded', 'lock-free', null, 1, '__proto__', 'toString');
    const shardsArb = fc.constantFrom<unknown>(undefined, 1, 2, 1024, 1025, 0, -1, NaN, 1.5, '2', null);
    fc.assert(
      fc.property(fc.oneof(notAnObject, fc.record({ capacity: capArb, impl: implArb, shards: shardsArb, region: fc.constantFrom<unknown>('valid', 'valid', 'valid', 3) }, { requiredKeys: [] })), (raw) => {
        let opts = raw as Record<string, unknown> | null;
        if (opts !== null && typeof opts === 'object') opts = { ...opts, region: opts.region === 'valid' ? r : opts.region };
        const res = attempt(() => new TaskList(opts as { capacity: number }), ['TaskList', 'SharedRegion']);
        const isObj = opts !== null && typeof opts === 'object';
        const o = isObj ? Object.fromEntries(Object.entries(opts as object).filter(([, v]) => v !== null)) : {};
        const impl = o.impl ?? 'lockfree';
        const capOk = Number.isInteger(o.capacity) && (o.capacity as number) >= 1 && (o.capacity as number) <= 2 ** 21;
        const implOk = impl === 'locked' || impl === 'lockfree' || impl === 'sharded';
        const shardsOk = impl === 'sharded' ? o.shards === undefined || (Number.isInteger(o.shards) && (o.shards as number) >= 1 && (o.shards as number) <= 1024) : o.shards === undefined;
        const valid = isObj && capOk && implOk && shardsOk && (o.region === undefined || o.region === r);
        if (!res.ok && valid) expect(res.error.message).toMatch(/SharedRegion is full/);
        else expect(res.ok).toBe(valid);
        if (res.ok) {
          const l = res.value;
          const a = TaskList.from(l.handle);
          const t = a.insert(-5);
          expect([...l]).toEqual([[t, -5]]);
          expect(l.remove(t)).toBe(true);
          expect(a.remove(t)).toBe(false);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
