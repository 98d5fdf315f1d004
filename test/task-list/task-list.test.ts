// The shared TaskList suite, run against all three implementations: insert/remove/iterate from
// one thread and from many workers, removal by a non-owner, capacity exhaustion, bad tickets.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskList, type TaskListImpl } from '../../src/task-list/task-list.ts';
import { MpmcQueue } from '../../src/task-list/mpmc-queue.ts';
import { SharedRegion } from '../../src/parking/region.ts';
import { firstMessage, LONG } from '../support/workers.ts';
import type { TaskListCommand, TaskListReply } from '../fixtures/tasklist-worker.ts';

const IMPLS: TaskListImpl[] = ['locked', 'lockfree', 'sharded'];
const url = new URL('../fixtures/tasklist-worker.ts', import.meta.url);
const WORKERS = 4;

/** Most entries one thread can insert into a list of `capacity` (per shard for 'sharded'). */
function perThreadLimit(impl: TaskListImpl, capacity: number, shards = 16): number {
  return impl === 'sharded' ? Math.ceil(capacity / shards) : capacity;
}

function entries(list: TaskList): Map<number, number> {
  const m = new Map<number, number>();
  list.forEach((v, t) => {
    if (m.has(t)) throw new Error(`ticket ${t} reported twice`);
    m.set(t, v);
  });
  return m;
}

class Pool {
  readonly workers: Worker[] = [];
  readonly board: BigInt64Array;
  constructor(list: TaskList, n: number, boardSize: number) {
    this.board = new BigInt64Array(new SharedArrayBuffer(boardSize * 8));
    for (let index = 0; index < n; index++) {
      this.workers.push(new Worker(url, { workerData: { handle: list.handle, index, board: this.board.buffer } }));
    }
  }
  async ready(): Promise<void> {
    await Promise.all(this.workers.map((w) => firstMessage(w)));
  }
  async ask<R extends TaskListReply>(i: number, cmd: TaskListCommand): Promise<R> {
    const reply = firstMessage<TaskListReply>(this.workers[i]!, `tasklist worker ${i}`);
    this.workers[i]!.postMessage(cmd);
    const r = await reply;
    if (r.cmd === 'error') throw new Error(r.error);
    return r as R;
  }
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

describe.each(IMPLS)("TaskList impl '%s'", (impl) => {
  const region = SharedRegion.create({ bytes: 8 << 20 });

  it('inserts, iterates and removes; a ticket removes its entry once', () => {
    const list = new TaskList({ region, capacity: 64, impl, ...(impl === 'sharded' ? { shards: 2 } : {}) });
    expect(list.impl).toBe(impl);
    expect(list.size).toBe(0);
    const tickets = [5, -7, 2 ** 31 - 1, 0].map((v) => list.insert(v));
    expect(new Set(tickets).size).toBe(4);
    expect(list.size).toBe(4);
    expect([...entries(list).values()].sort((a, b) => a - b)).toEqual([-7, 0, 5, 2 ** 31 - 1]);
    expect(list.remove(tickets[1]!)).toBe(true);
    expect(list.remove(tickets[1]!)).toBe(false); // used twice
    expect(list.size).toBe(3);
    expect([...entries(list).values()].sort((a, b) => a - b)).toEqual([0, 5, 2 ** 31 - 1]);
    // A reused slot hands out a different ticket; the stale one stays dead.
    const again = list.insert(9);
    expect(tickets).not.toContain(again);
    expect(list.remove(tickets[1]!)).toBe(false);
    expect([...list].map(([, v]) => v).sort((a, b) => a - b)).toEqual([0, 5, 9, 2 ** 31 - 1]);
    for (const t of [tickets[0]!, tickets[2]!, tickets[3]!, again]) expect(list.remove(t)).toBe(true);
    expect(list.size).toBe(0);
    expect(entries(list).size).toBe(0);
  });

  it('rejects tickets from another list and forged values with a TypeError, changing nothing', () => {
    const a = new TaskList({ region, capacity: 16, impl });
    const b = new TaskList({ region, capacity: 16, impl });
    const ta = a.insert(1);
    b.insert(2);
    expect(() => b.remove(ta)).toThrow(/another TaskList/);
    for (const bad of [-1, 1.5, NaN, 2 ** 53, '3', null, undefined]) expect(() => a.remove(bad as number)).toThrow(TypeError);
    expect(() => a.remove(ta + 16)).toThrow(TypeError); // names a slot the list does not have
    expect(a.remove(ta + 2 ** 21)).toBe(false); // right list and slot, wrong generation: stale
    expect(a.size).toBe(1);
    expect(b.size).toBe(1);
    expect(a.remove(ta)).toBe(true);
  });

  it('rejects non-Int32 values with a TypeError and nothing inserted', () => {
    const list = new TaskList({ region, capacity: 4, impl });
    for (const bad of [1.5, 2 ** 31, NaN, '1', undefined]) expect(() => list.insert(bad as number)).toThrow(TypeError);
    expect(list.size).toBe(0);
  });

  it('throws a RangeError naming the capacity when full, and stays intact', () => {
    const capacity = impl === 'sharded' ? 32 : 8;
    const list = new TaskList({ region, capacity, impl, ...(impl === 'sharded' ? { shards: 4 } : {}) });
    const limit = perThreadLimit(impl, capacity, 4);
    const tickets = Array.from({ length: limit }, (_, i) => list.insert(i));
    expect(() => list.insert(99)).toThrow(RangeError);
    expect(() => list.insert(99)).toThrow(/capacity/);
    expect(list.size).toBe(limit);
    expect([...entries(list).values()].sort((a, b) => a - b)).toEqual(Array.from({ length: limit }, (_, i) => i));
    expect(list.remove(tickets[3]!)).toBe(true);
    const t = list.insert(100);
    expect(list.remove(t)).toBe(true);
    for (const x of tickets) list.remove(x);
    expect(list.size).toBe(0);
  });

  it('validates its options with errors naming them', () => {
    for (const capacity of [0, -1, 1.5, 2 ** 21 + 1]) expect(() => new TaskList({ region, capacity, impl })).toThrow(/capacity/);
    expect(() => new TaskList({ region, capacity: 4, impl: 'fast' as TaskListImpl })).toThrow(/impl/);
    if (impl === 'sharded') expect(() => new TaskList({ region, capacity: 4, impl, shards: 0 })).toThrow(/shards/);
    else expect(() => new TaskList({ region, capacity: 4, impl, shards: 2 })).toThrow(/shards/);
  });

  it('attaches from its handle; a handle of another kind is a TypeError', () => {
    const list = new TaskList({ region, capacity: 8, impl });
    const t = list.insert(42);
    const again = TaskList.from(structuredClone(list.handle));
    expect(again.impl).toBe(impl);
    expect(again.capacity).toBe(8);
    expect([...entries(again).values()]).toEqual([42]);
    expect(again.remove(t)).toBe(true); // for 'sharded': a remote removal (another object's shard)
    expect(list.size).toBe(0);
    const q = new MpmcQueue({ region, capacity: 2 });
    expect(() => TaskList.from(q.handle)).toThrow(TypeError);
  });

  it('lets forEach callbacks remove and insert', () => {
    const list = new TaskList({ region, capacity: 64, impl, ...(impl === 'sharded' ? { shards: 2 } : {}) });
    for (let i = 0; i < 10; i++) list.insert(i);
    list.forEach((v, t) => {
      if (v % 2 === 0) expect(list.remove(t)).toBe(true);
    });
    expect([...entries(list).values()].sort((a, b) => a - b)).toEqual([1, 3, 5, 7, 9]);
  });

  describe('with 4 workers (more threads than the 2 cores)', () => {
    const K = LONG ? 2_000 : 400;
    let list: TaskList;
    let pool: Pool;
    beforeAll(async () => {
      list = new TaskList({ region, capacity: 4096, impl, ...(impl === 'sharded' ? { shards: 8 } : {}) });
      pool = new Pool(list, WORKERS + 1, 4096);
      await pool.ready();
    });
    afterAll(async () => {
      await pool.close();
    });

    it('inserts from every worker, then non-owners race to remove each entry: exactly one wins', async () => {
      const inserted = await Promise.all(
        Array.from({ length: WORKERS }, (_, i) => pool.ask<{ cmd: 'insert'; tickets: number[] }>(i, { cmd: 'insert', count: K })),
      );
      const all = inserted.flatMap((r) => r.tickets);
      expect(new Set(all).size).toBe(WORKERS * K);
      expect(list.size).toBe(WORKERS * K);
      all.forEach((t, s) => Atomics.store(pool.board, s, BigInt(t)));
      const seen = entries(list);
      expect(seen.size).toBe(WORKERS * K);
      for (let w = 0; w < WORKERS; w++) for (let k = 0; k < K; k++) expect(seen.get(all[w * K + k]!)).toBe(w * 1_000_000 + k);
      // Entry of worker w is removed by workers w+1 and w+2 at the same time (never by w).
      const slotsFor = (remover: number): number[] => {
        const out: number[] = [];
        for (let w = 0; w < WORKERS; w++) {
          if ((w + 1) % WORKERS === remover || (w + 2) % WORKERS === remover) for (let k = 0; k < K; k++) out.push(w * K + k);
        }
        return out;
      };
      const removed = await Promise.all(
        Array.from({ length: WORKERS }, (_, i) => pool.ask<{ cmd: 'remove'; results: boolean[] }>(i, { cmd: 'remove', slots: slotsFor(i) })),
      );
      const wins = new Map<number, number>();
      removed.forEach((r, i) => slotsFor(i).forEach((slot, j) => wins.set(slot, (wins.get(slot) ?? 0) + (r.results[j] ? 1 : 0))));
      expect(wins.size).toBe(WORKERS * K);
      expect([...wins.values()].every((n) => n === 1)).toBe(true);
      expect(list.size).toBe(0);
      expect(entries(list).size).toBe(0);
    });

    it('churns (insert, remove own and others\u2019) while another worker iterates; final state is exact', async () => {
      const pinnedValues = Array.from({ length: 8 }, (_, i) => 99_000_000 + i);
      const pinned = pinnedValues.map((v) => list.insert(v));
      const iters = LONG ? 20_000 : 3_000;
      const span = 64;
      pool.board.fill(0n);
      const iterating = pool.ask<{ cmd: 'iterate'; problems: string[] }>(WORKERS, { cmd: 'iterate', passes: 200, pinnedValues });
      const churned = await Promise.all(
        Array.from({ length: WORKERS }, (_, i) =>
          pool.ask<{ cmd: 'churn'; inserted: [number, number][]; removed: number[] }>(i, { cmd: 'churn', iters, seed: 17 + i, keep: 8, boardSpan: span }),
        ),
      );
      expect((await iterating).problems).toEqual([]);
      const inserted = new Map<number, number>();
      for (const r of churned) for (const [t, v] of r.inserted) {
        expect(inserted.has(t)).toBe(false); // a live ticket was never handed out twice
        inserted.set(t, v);
      }
      const removedAll = churned.flatMap((r) => r.removed);
      expect(new Set(removedAll).size).toBe(removedAll.length); // nothing removed twice
      for (const t of removedAll) expect(inserted.has(t)).toBe(true);
      const expected = new Map(inserted);
      for (const t of removedAll) expected.delete(t);
      pinned.forEach((t, i) => expected.set(t, pinnedValues[i]!));
      const live = entries(list);
      expect(live).toEqual(expected);
      expect(list.size).toBe(expected.size);
      for (const t of live.keys()) expect(list.remove(t)).toBe(true);
      expect(list.size).toBe(0);
    });
  });
});
