// Unit tests of the linearizability checker on hand-made histories, plus a cross-check against
// brute-force enumeration on random small histories.
import { describe, expect, it } from 'vitest';
import {
  checkLinearizable,
  queueModel,
  registryModel,
  type Model,
  type Operation,
  type QueueInput,
  type QueueOp,
  type QueueOutput,
  type RegistryOp,
} from './lincheck.ts';

const push = (process: number, call: number, ret: number, value: number, ok = true): QueueOp => ({
  process,
  call,
  ret,
  input: { kind: 'push', value },
  output: ok,
});
const pop = (process: number, call: number, ret: number, value: number | null): QueueOp => ({
  process,
  call,
  ret,
  input: { kind: 'pop' },
  output: value,
});

describe('checkLinearizable on queue histories', () => {
  const strict = queueModel(4, false);
  const relaxed = queueModel(4, true);

  it('accepts a sequential FIFO history', () => {
    const h = [push(0, 1, 2, 1), push(0, 3, 4, 2), pop(1, 5, 6, 1), pop(1, 7, 8, 2)];
    expect(checkLinearizable(h, strict).ok).toBe(true);
  });

  it('accepts concurrent pushes popped in either order', () => {
    const a = [push(0, 1, 4, 1), push(1, 2, 3, 2), pop(2, 5, 6, 2), pop(2, 7, 8, 1)];
    const b = [push(0, 1, 4, 1), push(1, 2, 3, 2), pop(2, 5, 6, 1), pop(2, 7, 8, 2)];
    expect(checkLinearizable(a, strict).ok).toBe(true);
    expect(checkLinearizable(b, strict).ok).toBe(true);
  });

  it('rejects a FIFO violation between pushes ordered in real time', () => {
    const h = [push(0, 1, 2, 1), push(1, 3, 4, 2), pop(2, 5, 6, 2), pop(2, 7, 8, 1)];
    const r = checkLinearizable(h, strict);
    expect(r.ok).toBe(false);
    expect(r.longestPrefix).toEqual([0, 1]);
  });

  it('rejects a duplicated item', () => {
    const h = [push(0, 1, 2, 7), pop(1, 3, 6, 7), pop(2, 4, 5, 7)];
    expect(checkLinearizable(h, strict).ok).toBe(false);
    expect(checkLinearizable(h, relaxed).ok).toBe(false);
  });

  it('rejects an invented item', () => {
    expect(checkLinearizable([push(0, 1, 2, 1), pop(1, 3, 4, 9)], relaxed).ok).toBe(false);
  });

  it('rejects a lost item (empty after a completed push, with nothing concurrent)', () => {
    const h = [push(0, 1, 2, 5), pop(1, 3, 4, null)];
    expect(checkLinearizable(h, strict).ok).toBe(false);
    expect(checkLinearizable(h, relaxed).ok).toBe(false);
  });

  it('allows a spurious empty only while a push overlaps, and only in the relaxed model', () => {
    // p0 starts pushing 1 (claims the head cell) and is slow; p1 pushes 2 and finishes;
    // p2's pop then finds the head cell unpublished and reports empty.
    const h = [push(0, 1, 10, 1), push(1, 2, 3, 2), pop(2, 4, 5, null), pop(2, 11, 12, 1), pop(2, 13, 14, 2)];
    expect(checkLinearizable(h, strict).ok).toBe(false);
    expect(checkLinearizable(h, relaxed).ok).toBe(true);
  });

  it('handles full: legal at capacity, illegal below it unless a pop overlaps (relaxed)', () => {
    const one = queueModel(1, false);
    expect(checkLinearizable([push(0, 1, 2, 1), push(0, 3, 4, 2, false)], one).ok).toBe(true);
    const two = queueModel(2, false);
    const h = [push(0, 1, 2, 1), push(0, 3, 4, 2, false)];
    expect(checkLinearizable(h, two).ok).toBe(false);
    const withPop = [push(0, 1, 2, 1), push(0, 3, 4, 2), pop(1, 5, 9, 1), pop(2, 6, 7, 2), push(0, 8, 10, 3, false)];
    // Strictly, both pops are done or linearizable before the failed push except p1's pop,
    // which overlaps it: p1 can be linearized after, so the queue holds 1 item → full is
    // illegal at capacity 2 in the strict model…
    expect(checkLinearizable(withPop, queueModel(2, false)).ok).toBe(false);
    // …and legal in the relaxed one, because a pop overlaps the failed push.
    expect(checkLinearizable(withPop, queueModel(2, true)).ok).toBe(true);
  });

  it('rejects a pop that completes before the push that supplies its value starts', () => {
    expect(checkLinearizable([pop(0, 1, 2, 3), push(1, 3, 4, 3)], strict).ok).toBe(false);
  });

  it('accepts a pop that overlaps the push of its value', () => {
    expect(checkLinearizable([pop(0, 1, 4, 3), push(1, 2, 3, 3)], strict).ok).toBe(true);
  });

  it('rejects histories with call >= ret', () => {
    expect(() => checkLinearizable([push(0, 2, 2, 1)], strict)).toThrow(RangeError);
  });
});

describe('checkLinearizable on registry histories', () => {
  const ins = (process: number, call: number, ret: number, value: number, out: number | 'full'): RegistryOp => ({
    process,
    call,
    ret,
    input: { kind: 'insert', value },
    output: out,
  });
  const rem = (process: number, call: number, ret: number, ticket: number, out: boolean): RegistryOp => ({
    process,
    call,
    ret,
    input: { kind: 'remove', ticket },
    output: out,
  });
  const model = registryModel(2);

  it('accepts insert/remove with racing removes of one ticket (exactly one wins)', () => {
    const h = [ins(0, 1, 2, 10, 100), rem(1, 3, 6, 100, false), rem(2, 4, 5, 100, true)];
    expect(checkLinearizable(h, model).ok).toBe(true);
  });

  it('rejects two winners for one ticket', () => {
    const h = [ins(0, 1, 2, 10, 100), rem(1, 3, 6, 100, true), rem(2, 4, 5, 100, true)];
    expect(checkLinearizable(h, model).ok).toBe(false);
  });

  it('rejects a ticket handed out twice while live', () => {
    const h = [ins(0, 1, 3, 10, 100), ins(1, 2, 4, 11, 100)];
    expect(checkLinearizable(h, model).ok).toBe(false);
  });

  it('accepts a ticket reused after its removal', () => {
    const h = [ins(0, 1, 2, 10, 100), rem(0, 3, 4, 100, true), ins(1, 5, 6, 11, 100)];
    expect(checkLinearizable(h, model).ok).toBe(true);
  });

  it('rejects a remove reporting false for a live ticket', () => {
    const h = [ins(0, 1, 2, 10, 100), rem(1, 3, 4, 100, false)];
    expect(checkLinearizable(h, model).ok).toBe(false);
  });

  it('checks capacity: full only when capacity entries are live (strict), or with a removal overlapping (relaxed)', () => {
    const full = [ins(0, 1, 2, 1, 100), ins(0, 3, 4, 2, 101), ins(1, 5, 6, 3, 'full')];
    expect(checkLinearizable(full, model).ok).toBe(true);
    const notFull = [ins(0, 1, 2, 1, 100), ins(1, 5, 6, 3, 'full')];
    expect(checkLinearizable(notFull, model).ok).toBe(false);
    const racing = [ins(0, 1, 2, 1, 100), ins(0, 3, 4, 2, 101), rem(2, 5, 9, 100, true), ins(1, 6, 8, 3, 'full')];
    expect(checkLinearizable(racing, registryModel(2, true)).ok).toBe(true);
    const racingDone = [ins(0, 1, 2, 1, 100), ins(0, 3, 4, 2, 101), rem(2, 5, 6, 100, true), ins(1, 7, 8, 3, 'full')];
    expect(checkLinearizable(racingDone, registryModel(2, true)).ok).toBe(false);
  });
});

// --- cross-check against brute force --------------------------------------------------------

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Tries every permutation consistent with real-time order. Exponential; for ≤ 7 ops. */
function bruteForce<S, I, O>(history: ReadonlyArray<Operation<I, O>>, model: Model<S, I, O>): boolean {
  const n = history.length;
  const used = Array.from({ length: n }, () => false);
  const go = (state: S, depth: number): boolean => {
    if (depth === n) return true;
    for (let i = 0; i < n; i++) {
      if (used[i]) continue;
      const op = history[i]!;
      // Minimal: no unused op finished before this one started.
      let minimal = true;
      for (let j = 0; j < n; j++) {
        if (!used[j] && j !== i && history[j]!.ret < op.call) {
          minimal = false;
          break;
        }
      }
      if (!minimal) continue;
      const next = model.step(state, op, history, i);
      if (next === undefined) continue;
      used[i] = true;
      if (go(next, depth + 1)) return true;
      used[i] = false;
    }
    return false;
  };
  return go(model.init(), 0);
}

/** A random small history: random intervals, outputs mostly plausible, sometimes wrong. */
function randomQueueHistory(rand: () => number, n: number): QueueOp[] {
  const stamps = Array.from({ length: 2 * n }, (_, i) => i + 1).sort(() => rand() - 0.5);
  const ops: QueueOp[] = [];
  let next = 1;
  for (let i = 0; i < n; i++) {
    const a = stamps[2 * i]!;
    const b = stamps[2 * i + 1]!;
    const call = Math.min(a, b);
    const ret = Math.max(a, b);
    if (rand() < 0.5) {
      ops.push(push(i, call, ret, next++, rand() < 0.85));
    } else {
      const r = rand();
      ops.push(pop(i, call, ret, r < 0.25 ? null : 1 + Math.floor(rand() * (n / 2 + 1))));
    }
  }
  return ops;
}

describe('checkLinearizable agrees with brute force', () => {
  it('on 3000 random queue histories of 2–7 operations (strict and relaxed, capacities 1–3)', () => {
    const rand = mulberry32(12345);
    let linearizable = 0;
    let not = 0;
    for (let round = 0; round < 3000; round++) {
      const n = 2 + Math.floor(rand() * 6);
      const h = randomQueueHistory(rand, n);
      const cap = 1 + Math.floor(rand() * 3);
      const model: Model<readonly number[], QueueInput, QueueOutput> = queueModel(cap, rand() < 0.5);
      const expected = bruteForce(h, model);
      const got = checkLinearizable(h, model).ok;
      if (got !== expected) throw new Error(`round ${round}: checker ${got}, brute force ${expected}\n${JSON.stringify(h)}`);
      if (expected) linearizable++;
      else not++;
    }
    // Both verdicts must actually occur, or the cross-check proves nothing.
    expect(linearizable).toBeGreaterThan(100);
    expect(not).toBeGreaterThan(100);
  });

  it('finishes a 30-operation, highly concurrent linearizable history', () => {
    // Five processes each push 3 distinct values, all overlapping; then pops in one valid order.
    const h: QueueOp[] = [];
    let t = 1;
    const calls: number[] = [];
    for (let p = 0; p < 5; p++) calls.push(t++);
    const pushed: number[] = [];
    for (let k = 0; k < 3; k++) {
      for (let p = 0; p < 5; p++) {
        const v = p * 10 + k;
        h.push(push(p, k === 0 ? calls[p]! : t++, 1000 + h.length, v));
        pushed.push(v);
      }
    }
    // Every push interval spans [call, 1000+i]; pops start after all pushes end.
    t = 2000;
    // Pops in per-process order, interleaved round-robin: a legal FIFO order.
    for (const v of pushed) h.push(pop(9, t++, t++, v));
    const r = checkLinearizable(h, queueModel(64, false));
    expect(r.ok).toBe(true);
  });
});
