/**
 * Fuzz: Semaphore, WaitGroup, Barrier, Once and Condvar from one thread against sequential models
 * (fc.commands), with random permit counts / deltas (negative, NaN, Infinity, huge, wrong type)
 * and random timeouts (0–3 ms where the call really waits, negative, NaN, Infinity where it
 * cannot wait). A refused call changes nothing (permits, counter, generation, Once state, mutex
 * ownership), and at the end every primitive is clean: no stale PARKED bits, no waiter records left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PERMITS, Semaphore } from '../../src/lock/semaphore.ts';
import { MAX_COUNT, WaitGroup } from '../../src/lock/waitgroup.ts';
import { Barrier, MAX_PARTIES } from '../../src/lock/barrier.ts';
import { Once } from '../../src/lock/once.ts';
import { Condvar } from '../../src/lock/condvar.ts';
import { Mutex } from '../../src/lock/mutex.ts';
import type { SharedRegion } from '../../src/parking/region.ts';
import { TimeoutError } from '../../src/errors.ts';
import {
  ANY_ERROR, FEW, RUNS, attempt, attemptAsync, badNumber, badTimeout, expectDocumented, expectNoWaiters, notANumber, notAnObject,
  shortTimeout, smallRegion, validTimeout,
} from '../support/fuzz.ts';

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0;

/** Permit counts: small valid ones (most), around the bounds, and invalid ones. */
const permitArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_PERMITS, MAX_PERMITS + 1, 2 ** 30, 2 ** 31) },
  { weight: 2, arbitrary: badNumber },
  { weight: 1, arbitrary: notANumber },
);

// ---------------------------------------------------------------------------------- Semaphore

interface SemModel { avail: number; max: number }
interface SemReal { r: SharedRegion; s: Semaphore }

function semWord(s: Semaphore): number {
  return Atomics.load(s.region.i32, s.offset >> 2);
}

function checkSem(m: SemModel, real: SemReal): void {
  expect(real.s.available).toBe(m.avail);
  expect(semWord(real.s) & 1).toBe(0); // nobody queued: PARKED clear
}

/** Is `n` a request the semaphore can ever satisfy (checkN)? */
function validRequest(m: SemModel, n: unknown): n is number {
  return isCount(n) && n <= m.max && n <= MAX_PERMITS;
}

class SemTryAcquire implements fc.Command<SemModel, SemReal> {
  readonly n: unknown;
  readonly form: 'try' | 'for' | 'block';
  readonly ms: unknown;
  constructor(n: unknown, form: 'try' | 'for' | 'block', ms: unknown) {
    this.n = n;
    this.form = form;
    this.ms = ms;
  }
  check = (m: Readonly<SemModel>): boolean => {
    const n = this.n === undefined ? 1 : this.n;
    return this.form !== 'block' || !validRequest(m, n) || m.avail >= n;
  };
  run(m: SemModel, real: SemReal): void {
    const s = real.s;
    // acquire()/tryAcquire() mean n = 1; tryAcquireFor has no default.
    const n = (this.n === undefined && this.form !== 'for' ? 1 : this.n) as number;
    const res = attempt(
      () => (this.form === 'try' ? s.tryAcquire(n) : this.form === 'for' ? s.tryAcquireFor(n, this.ms as number) : (s.acquire(n), true)),
      ['Semaphore'],
      [RangeError],
    );
    const valid = validRequest(m, n) && (this.form !== 'for' || validTimeout(this.ms));
    expect(res.ok).toBe(valid);
    if (res.ok) {
      expect(res.value).toBe(m.avail >= n);
      if (res.value) m.avail -= n;
    }
    checkSem(m, real);
  }
  toString = (): string => (this.form === 'try' ? `tryAcquire(${String(this.n)})` : this.form === 'for' ? `tryAcquireFor(${String(this.n)}, ${String(this.ms)})` : `acquire(${String(this.n)})`);
}

class SemRelease implements fc.Command<SemModel, SemReal> {
  readonly n: unknown;
  constructor(n: unknown) {
    this.n = n;
  }
  check = (): boolean => true;
  run(m: SemModel, real: SemReal): void {
    const res = attempt(() => real.s.release(this.n as number), ['Semaphore.release'], [RangeError]);
    const n = this.n === undefined ? 1 : this.n; // release() means release(1)
    const valid = isCount(n) && m.avail + n <= Math.min(m.max, MAX_PERMITS);
    expect(res.ok).toBe(valid);
    if (res.ok) m.avail += n as number;
    checkSem(m, real);
  }
  toString = (): string => `release(${String(this.n)})`;
}

class SemGuard implements fc.Command<SemModel, SemReal> {
  readonly n: number;
  readonly throws: boolean;
  constructor(n: number, throws: boolean) {
    this.n = n;
    this.throws = throws;
  }
  check = (m: Readonly<SemModel>): boolean => this.n <= m.avail;
  run(m: SemModel, real: SemReal): void {
    const boom = new Error('boom');
    try {
      real.s.withPermits(this.n, () => {
        expect(real.s.available).toBe(m.avail - this.n);
        if (this.throws) throw boom;
      });
    } catch (e) {
      expect(e).toBe(boom);
    }
    {
      using g = real.s.acquireGuard(this.n);
      expect(g.permits).toBe(this.n);
      g.release();
      g.release(); // a guard gives its permits back once
    }
    checkSem(m, real);
  }
  toString = (): string => `withPermits(${this.n}, ${this.throws ? 'throws' : 'ok'}) + guard`;
}

const semCommands = [
  fc.tuple(permitArg, fc.constantFrom<'try' | 'for' | 'block'>('try', 'for', 'block'), fc.oneof(shortTimeout, badTimeout)).map(([n, f, ms]) => new SemTryAcquire(n, f, ms)),
  permitArg.map((n) => new SemRelease(n)),
  fc.tuple(fc.integer({ min: 0, max: 3 }), fc.boolean()).map(([n, t]) => new SemGuard(n, t)),
];

// ---------------------------------------------------------------------------------- WaitGroup

interface WgModel { count: number }
interface WgReal { r: SharedRegion; g: WaitGroup }

const deltaArg: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -4, max: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(MAX_COUNT, MAX_COUNT + 1, -MAX_COUNT, 2 ** 31, -(2 ** 31), 2 ** 53) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(NaN, Infinity, -Infinity, 0.5, -1.5) },
  { weight: 1, arbitrary: notANumber },
);

class WgCall implements fc.Command<WgModel, WgReal> {
  readonly op: 'add' | 'done' | 'tryWait' | 'waitFor' | 'wait';
  readonly arg: unknown;
  constructor(op: 'add' | 'done' | 'tryWait' | 'waitFor' | 'wait', arg: unknown) {
    this.op = op;
    this.arg = arg;
  }
  check = (m: Readonly<WgModel>): boolean => this.op !== 'wait' || m.count === 0;
  run(m: WgModel, real: WgReal): void {
    const g = real.g;
    switch (this.op) {
      case 'add': {
        const res = attempt(() => g.add(this.arg as number), ['WaitGroup.add'], [RangeError]);
        const n = this.arg === undefined ? 1 : this.arg; // add() means add(1)
        const next = typeof n === 'number' ? m.count + n : NaN;
        const valid = Number.isInteger(n) && next >= 0 && next <= MAX_COUNT;
        expect(res.ok).toBe(valid);
        if (valid) m.count = next;
        break;
      }
      case 'done': {
        const res = attempt(() => g.done(), ['WaitGroup.done'], [RangeError]);
        expect(res.ok).toBe(m.count > 0);
        if (res.ok) m.count--;
        break;
      }
      case 'tryWait': expect(g.tryWait()).toBe(m.count === 0); break;
      case 'wait': g.wait(); break;
      case 'waitFor': {
        const res = attempt(() => g.waitFor(this.arg as number), ['WaitGroup.waitFor'], [RangeError]);
        expect(res.ok).toBe(validTimeout(this.arg));
        if (res.ok) expect(res.value).toBe(m.count === 0);
        break;
      }
    }
    expect(g.count).toBe(m.count);
  }
  toString = (): string => `${this.op}(${this.op === 'add' || this.op === 'waitFor' ? String(this.arg) : ''})`;
}

const wgCommands = [
  deltaArg.map((n) => new WgCall('add', n)),
  fc.constant(new WgCall('done', undefined)),
  fc.constant(new WgCall('tryWait', undefined)),
  fc.constant(new WgCall('wait', undefined)),
  fc.oneof(shortTimeout, badTimeout).map((ms) => new WgCall('waitFor', ms)),
];

// ---------------------------------------------------------------------------------- tests

describe('fuzz: Semaphore', () => {
  it('random tryAcquire(n) / tryAcquireFor(n, ms) / acquire(n) / release(n) / guards match the model; a refused call changes no permits', () => {
    fc.assert(
      fc.property(
        fc.commands(semCommands, { maxCommands: 40 }),
        fc.integer({ min: 0, max: 8 }),
        fc.oneof(fc.constant(Infinity), fc.integer({ min: 8, max: 12 })),
        fc.constantFrom<'adaptive' | 'block'>('adaptive', 'block'),
        (cmds, permits, max, wait) => {
          const r = smallRegion();
          const s = new Semaphore(permits, { region: r, max: max === Infinity ? undefined : max, wait });
          const model: SemModel = { avail: permits, max };
          fc.modelRun(() => ({ model, real: { r, s } }), cmds);
          expect(semWord(s)).toBe(model.avail * 2);
          expectNoWaiters(r);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('acquireAsync(random n, random opts): resolves with the permits, or rejects (TimeoutError / RangeError / TypeError / the abort reason) taking none', async () => {
    const optsArb = fc.oneof(
      notAnObject,
      fc.record({ timeoutMs: fc.oneof(shortTimeout, badTimeout, fc.constant(Infinity)), signal: fc.constantFrom<unknown>(undefined, 'aborted', 'live', {}) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(permitArg, optsArb, fc.integer({ min: 0, max: 4 }), async (rawN, rawOpts, permits) => {
        const n = rawN === undefined ? 1 : rawN; // acquireAsync() means n = 1
        const r = smallRegion();
        const s = new Semaphore(permits, { region: r });
        let opts = rawOpts;
        if (opts !== null && typeof opts === 'object') {
          const o = opts as Record<string, unknown>;
          // Would wait forever: an unsatisfiable request without a finite timeout.
          if (validRequest({ avail: permits, max: Infinity }, n) && n > permits && (o.timeoutMs === undefined || o.timeoutMs === Infinity) && o.signal !== 'aborted') o.timeoutMs = 1;
          const sig = o.signal === 'aborted' ? AbortSignal.abort(new Error('stop')) : o.signal === 'live' ? new AbortController().signal : o.signal;
          opts = { ...o, signal: sig };
        }
        const res = await attemptAsync(() => s.acquireAsync(rawN as number, opts as object), ['Semaphore.acquireAsync', 'stop'], ANY_ERROR);
        if (res.ok) {
          expect(s.available).toBe(permits - (n as number));
          s.release(n as number);
        } else if (res.error instanceof TimeoutError) {
          expect((n as number) > permits).toBe(true);
        }
        expect(semWord(s)).toBe(permits * 2);
        expectNoWaiters(r);
      }),
      { numRuns: FEW },
    );
  });

  it('new Semaphore(random permits, random options) / Semaphore.from(handle, random options)', () => {
    const r = smallRegion(1 << 16);
    const maxArb = fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: 10 }), fc.constantFrom<unknown>(Infinity, MAX_PERMITS, MAX_PERMITS + 1, -1, NaN, 1.5, '3', null));
    const waitArb = fc.constantFrom<unknown>(undefined, 'adaptive', 'block', 'spin', null, 1);
    fc.assert(
      fc.property(permitArg, fc.oneof(notAnObject, fc.record({ max: maxArb, wait: waitArb, region: fc.constantFrom<unknown>('valid', 'valid', null, {}) }, { requiredKeys: [] })), fc.boolean(), (permits, raw, viaFrom) => {
        let opts = raw as Record<string, unknown> | null;
        if (opts !== null && typeof opts === 'object') opts = { ...opts, region: opts.region === 'valid' ? r : opts.region };
        const base = new Semaphore(2, { region: r, max: 5 });
        if (viaFrom && opts !== null && typeof opts === 'object') {
          delete opts.region;
          delete opts.max;
        }
        const res = attempt(() => (viaFrom ? Semaphore.from(base.handle, opts as object) : new Semaphore(permits as number, opts as object)), ['Semaphore']);
        const isObj = opts !== null && typeof opts === 'object';
        const o = isObj ? Object.fromEntries(Object.entries(opts as object).filter(([, v]) => v !== null)) : {};
        const max = o.max ?? Infinity;
        const maxOk = max === Infinity || (isCount(max) && max <= MAX_PERMITS);
        const waitOk = o.wait === undefined || o.wait === 'adaptive' || o.wait === 'block';
        const regionOk = o.region === undefined || o.region === r;
        const permitsOk = viaFrom || (isCount(permits) && permits <= Math.min(max as number, MAX_PERMITS));
        expect(res.ok).toBe(isObj && maxOk && waitOk && regionOk && permitsOk);
        if (res.ok) {
          const s = res.value;
          const p = viaFrom ? 2 : (permits as number);
          expect(s.available).toBe(p);
          expect(s.max).toBe(viaFrom ? 5 : max);
          if (p > 0) {
            expect(s.tryAcquire(p)).toBe(true);
            s.release(p);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: WaitGroup', () => {
  it('random add(n) / done() / tryWait() / waitFor(ms) / wait() match the model; a refused add/done changes nothing', () => {
    fc.assert(
      fc.property(fc.commands(wgCommands, { maxCommands: 40 }), (cmds) => {
        const r = smallRegion();
        const g = new WaitGroup({ region: r });
        const model: WgModel = { count: 0 };
        fc.modelRun(() => ({ model, real: { r, g } }), cmds);
        if (model.count > 0) g.add(-model.count);
        expect(Atomics.load(r.i32, g.offset >> 2)).toBe(0); // no stale PARKED bit
        expectNoWaiters(r);
      }),
      { numRuns: RUNS },
    );
  });

  it('waitAsync(random opts) resolves at zero, else rejects with TimeoutError / TypeError / RangeError / the abort reason; validation does not depend on the count', async () => {
    const optsArb = fc.oneof(
      notAnObject,
      fc.record({ timeoutMs: fc.oneof(shortTimeout, badTimeout), signal: fc.constantFrom<unknown>(undefined, 'aborted', 'live', {}) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(optsArb, fc.integer({ min: 0, max: 2 }), async (rawOpts, count) => {
        const r = smallRegion();
        const g = new WaitGroup({ region: r });
        g.add(count);
        let opts = rawOpts;
        if (opts !== null && typeof opts === 'object') {
          const o = opts as Record<string, unknown>;
          const sig = o.signal === 'aborted' ? AbortSignal.abort(new Error('stop')) : o.signal === 'live' ? new AbortController().signal : o.signal;
          opts = { ...o, signal: sig, timeoutMs: o.timeoutMs ?? 1 };
        }
        const res = await attemptAsync(() => g.waitAsync(opts as object), ['WaitGroup.waitAsync', 'stop'], ANY_ERROR);
        const o = opts as Record<string, unknown> | null;
        const valid = o !== null && typeof o === 'object' && validTimeout(o.timeoutMs) && (o.signal === undefined || o.signal instanceof AbortSignal);
        if (!valid) expect(res.ok ? 'resolved' : res.error.constructor.name).toMatch(/TypeError|RangeError/);
        else if (count === 0) expect(res.ok).toBe(true);
        else expect(res.ok).toBe(false);
        expect(g.count).toBe(count);
        g.add(-count);
        expectNoWaiters(r);
      }),
      { numRuns: FEW },
    );
  });
});

describe('fuzz: Barrier', () => {
  it('parties 1: every wait/tryWait/waitFor/waitAsync is the leader and advances the generation; parties 2 from one thread: waitFor/tryWait time out and withdraw', async () => {
    const op = fc.record({ kind: fc.constantFrom('wait', 'tryWait', 'waitFor', 'waitAsync'), ms: fc.oneof(shortTimeout, badTimeout) });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 20 }), fc.constantFrom(1, 2), async (ops, parties) => {
        const r = smallRegion();
        const b = new Barrier(parties, { region: r, spin: 0 });
        let gen = 0;
        for (const { kind, ms } of ops) {
          if (parties === 2 && kind === 'wait') continue; // would wait forever
          let res: { ok: true; value: unknown } | { ok: false; error: Error };
          if (kind === 'wait') res = attempt(() => b.wait(), ['Barrier']);
          else if (kind === 'tryWait') res = attempt(() => b.tryWait(), ['Barrier']);
          else if (kind === 'waitFor') res = attempt(() => b.waitFor(ms as number), ['Barrier.waitFor']);
          else res = await attemptAsync(() => b.waitAsync({ timeoutMs: ms as number }), ['Barrier.waitAsync'], [TimeoutError, RangeError]);
          const needsMs = kind === 'waitFor' || kind === 'waitAsync';
          if (needsMs && !validTimeout(ms)) {
            expect(res.ok ? 'ok' : res.error.constructor).toBe(RangeError);
          } else if (parties === 1) {
            expect(res.ok ? res.value : res.error.message).toEqual({ leader: true });
            gen = (gen + 1) & 0x3fff;
          } else if (kind === 'waitAsync') {
            expect(res.ok ? 'ok' : res.error.constructor).toBe(TimeoutError);
          } else {
            expect(res.ok ? res.value : res.error.message).toBe(null);
          }
          expect(b.generation).toBe(gen);
          expect(b.arrived).toBe(0);
        }
        expect(Atomics.load(r.i32, b.offset >> 2)).toBe(gen << 17); // no stale PARKED bit
        expectNoWaiters(r);
      }),
      { numRuns: FEW },
    );
  });

  it('new Barrier(random parties, random options) / Barrier.from(handle, random options)', () => {
    const r = smallRegion(1 << 16);
    const partiesArb = fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom<unknown>(0, MAX_PARTIES, MAX_PARTIES + 1, -1, NaN, Infinity, 1.5, '2', null, undefined));
    const spinArb = fc.constantFrom<unknown>(undefined, 0, 10, 1_000_000, 1_000_001, -1, NaN, 0.5, 'x', null);
    fc.assert(
      fc.property(partiesArb, fc.oneof(notAnObject, fc.record({ spin: spinArb, region: fc.constantFrom<unknown>('valid', 'valid', null, 5) }, { requiredKeys: [] })), fc.boolean(), (parties, raw, viaFrom) => {
        const base = new Barrier(3, { region: r });
        let opts = raw as Record<string, unknown> | null;
        if (opts !== null && typeof opts === 'object') {
          opts = { ...opts, region: opts.region === 'valid' ? r : opts.region };
          if (viaFrom) delete opts.region;
        }
        const res = attempt(() => (viaFrom ? Barrier.from(base.handle, opts as object) : new Barrier(parties as number, opts as object)), ['Barrier']);
        const isObj = opts !== null && typeof opts === 'object';
        const o = isObj ? Object.fromEntries(Object.entries(opts as object).filter(([, v]) => v !== null)) : {};
        const valid = isObj && (o.spin === undefined || (isCount(o.spin) && o.spin <= 1_000_000)) && (o.region === undefined || o.region === r) &&
          (viaFrom || (isCount(parties) && parties >= 1 && parties <= MAX_PARTIES));
        expect(res.ok).toBe(valid);
        if (res.ok) expect(res.value.parties).toBe(viaFrom ? 3 : parties);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: Once', () => {
  it('random call / tryCall / callFor / callAsync with throwing, recursive and non-function initializers: runs exactly once, a throw leaves it un-run', async () => {
    const fnKind = fc.constantFrom('ok', 'throws', 'recursiveCall', 'recursiveTry', 'notFn', 'asyncOk', 'asyncThrows');
    const op = fc.record({ form: fc.constantFrom('call', 'tryCall', 'callFor', 'callAsync'), fn: fnKind, ms: fc.oneof(shortTimeout, badTimeout) });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 12 }), async (ops) => {
        const r = smallRegion();
        const once = new Once({ region: r });
        let done = false;
        let runs = 0;
        for (const { form, fn: kind, ms } of ops) {
          // An async initializer through a sync form would leave an unhandled rejection: async fns go to callAsync only.
          if (form !== 'callAsync' && kind.startsWith('async')) continue;
          const boom = new Error('boom');
          let inner: unknown = 'not run';
          const fn: unknown =
            kind === 'notFn' ? 42 :
            kind === 'asyncOk' ? async () => { runs++; await Promise.resolve(); } :
            kind === 'asyncThrows' ? async () => { runs++; await Promise.resolve(); throw boom; } :
            () => {
              runs++;
              if (kind === 'throws') throw boom;
              if (kind === 'recursiveCall') inner = attempt(() => once.call(() => {}), ['Once'], [Error]);
              if (kind === 'recursiveTry') inner = once.tryCall(() => {});
            };
          const runsBefore = runs;
          const res = form === 'callAsync'
            ? await attemptAsync(() => once.callAsync(fn as () => void, { timeoutMs: validTimeout(ms) ? ms : 1 }), ['Once', 'boom'], ANY_ERROR)
            : attempt(() => (form === 'call' ? once.call(fn as () => void) : form === 'tryCall' ? once.tryCall(fn as () => void) : once.callFor(fn as () => void, ms as number)), ['Once', 'boom'], ANY_ERROR);
          const badMs = form === 'callFor' && !validTimeout(ms);
          if (badMs) {
            expect(res.ok ? 'ok' : res.error.constructor).toBe(RangeError);
          } else if (done) {
            expect(res.ok).toBe(true); // completed: nothing runs (fn is not even looked at)
            expect(runs).toBe(runsBefore);
          } else if (kind === 'notFn') {
            expect(res.ok ? 'ok' : res.error.constructor).toBe(TypeError);
          } else {
            const threw = kind === 'throws' || kind === 'asyncThrows';
            expect(runs).toBe(runsBefore + 1);
            if (threw) expect(res.ok ? 'ok' : res.error).toBe(boom);
            else {
              expect(res.ok).toBe(true);
              done = true;
            }
            if (kind === 'recursiveCall') expect((inner as { ok: boolean; error?: Error }).error?.message).toMatch(/Once: deadlock/);
            if (kind === 'recursiveTry') expect(inner).toBe(false);
          }
          expect(once.isCompleted).toBe(done);
        }
        expect(Atomics.load(r.i32, once.offset >> 2)).toBe(done ? 4 : 0);
        expectNoWaiters(r);
      }),
      { numRuns: FEW },
    );
  });
});

describe('fuzz: Condvar', () => {
  it('wait / waitFor / waitAsync / notify with random mutex states, foreign mutexes, non-mutexes and timeouts: refused or timed out, the mutex ownership is unchanged', async () => {
    const op = fc.record({
      kind: fc.constantFrom('wait', 'waitFor', 'waitAsync', 'notifyOne', 'notifyAll', 'lock', 'unlock'),
      target: fc.constantFrom('mine', 'foreign', 'notMutex', 'null'),
      ms: fc.oneof(shortTimeout, badTimeout, fc.constant(undefined)),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 15 }), async (ops) => {
        const r = smallRegion();
        const cv = new Condvar({ region: r });
        const m = new Mutex({ region: r });
        const foreign = new Mutex({ region: smallRegion(1 << 10) });
        let held = false;
        for (const { kind, target, ms } of ops) {
          const arg: unknown = target === 'mine' ? m : target === 'foreign' ? foreign : target === 'notMutex' ? { lock() {}, unlock() {} } : null;
          if (kind === 'lock') {
            if (!held) m.lock();
            held = true;
          } else if (kind === 'unlock') {
            if (held) m.unlock();
            held = false;
          } else if (kind === 'notifyOne') {
            expect(cv.notifyOne()).toBe(false);
          } else if (kind === 'notifyAll') {
            expect(cv.notifyAll()).toBe(0);
          } else {
            // A valid wait with nobody to notify can only time out: never wait forever.
            const t = kind === 'wait' ? undefined : ms === undefined ? 1 : ms;
            if (kind === 'wait' && target === 'mine' && held) continue;
            const res = kind === 'wait'
              ? attempt(() => cv.wait(arg as Mutex), ['Condvar.wait'], [TypeError, Error])
              : kind === 'waitFor'
                ? attempt(() => cv.waitFor(arg as Mutex, t as number), ['Condvar.waitFor'], [TypeError, RangeError, Error])
                : await attemptAsync(() => cv.waitAsync(arg as Mutex, { timeoutMs: t as number }), ['Condvar.waitAsync'], [TypeError, RangeError, Error, TimeoutError]);
            const ok = validTimeout(t) || kind === 'wait';
            const proper = target === 'mine' && held && ok;
            if (!proper) expect(res.ok ? `returned ${String(res.value)}` : 'threw').toBe('threw');
            else if (kind === 'waitFor') expect(res.ok ? res.value : res.error.message).toBe(false);
            else expect(res.ok ? 'resolved' : res.error.constructor).toBe(TimeoutError);
            if (!res.ok && ok && target !== 'mine') expect(res.error).toBeInstanceOf(TypeError);
          }
          expect(m.owner).toBe(held ? m.region.threadId : -1);
          expect(cv.waiters).toBe(0);
        }
        if (held) m.unlock();
        expect(Atomics.load(r.i32, m.offset >> 2)).toBe(0);
        expect(Atomics.load(r.i32, (cv.offset >> 2) + 1)).toBe(0); // MUTEX word cleared
        expectNoWaiters(r);
      }),
      { numRuns: FEW },
    );
  });

  it('new Condvar / Condvar.from with random options', () => {
    const r = smallRegion();
    fc.assert(
      fc.property(fc.oneof(notAnObject, fc.record({ region: fc.constantFrom<unknown>(undefined, 'valid', {}, 1) }, { requiredKeys: [] })), (raw) => {
        let opts = raw as Record<string, unknown> | null;
        if (opts !== null && typeof opts === 'object' && opts.region === 'valid') opts = { region: r };
        const res = attempt(() => new Condvar(opts as object), ['Condvar']);
        const valid = opts !== null && typeof opts === 'object' && (opts.region === undefined || opts.region === r);
        expect(res.ok).toBe(valid);
        if (res.ok) expect(Condvar.from(res.value.handle).offset).toBe(res.value.offset);
      }),
      { numRuns: FEW },
    );
  });

  it('documented errors only: expectDocumented rejects engine errors (self-check of the suite)', () => {
    expect(() => expectDocumented(new TypeError("Cannot read properties of undefined (reading 'x')"), ['x'])).toThrow(/engine error/);
    expect(() => expectDocumented(new RangeError('Semaphore.release: bad'), ['Semaphore'])).not.toThrow();
  });
});
