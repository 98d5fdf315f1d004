// Linearizability of TaskList insert/remove (a set of tickets) for all three implementations,
// from many small random multi-worker rounds, and proof that the harness catches an injected
// insert bug.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskList, type TaskListImpl } from '../../src/task-list/task-list.ts';
import { SharedRegion } from '../../src/parking/region.ts';
import { checkLinearizable, formatHistory, registryModel, type RegistryOp } from '../support/lincheck.ts';
import { RoundPool, type RecordedOp } from '../support/rounds.ts';
import { LONG, mulberry32 } from '../support/workers.ts';

const url = new URL('../fixtures/tasklist-lincheck.ts', import.meta.url);
const ROUNDS = LONG ? 10_000 : 1_000;

function toHistory(ops: RecordedOp[]): RegistryOp[] {
  return ops.map((o) => ({
    process: o.process,
    call: o.call,
    ret: o.ret,
    input: o.kind === 'insert' ? { kind: 'insert', value: o.arg } : { kind: 'remove', ticket: o.arg },
    output: o.out as number | 'full' | boolean,
  }));
}

async function runRounds(
  pool: RoundPool,
  opts: { impl: TaskListImpl; variant: 'correct' | 'buggy-insert'; rounds: number; stopAtFirst: boolean; seed: number },
): Promise<{ rounds: number; violations: number; fulls: number; remoteRemoves: number; firstBad: string | null }> {
  let region = SharedRegion.create({ bytes: 4 << 20 });
  const rand = mulberry32(opts.seed);
  let violations = 0;
  let fulls = 0;
  let remoteRemoves = 0;
  let firstBad: string | null = null;
  let r = 0;
  for (; r < opts.rounds; r++) {
    if (region.freeBytes < 256 << 10) region = SharedRegion.create({ bytes: 4 << 20 });
    // Small capacities make 'full' happen; 'sharded' splits capacity per shard, so it gets room
    // enough never to fill (its per-shard limit is not a property of the set model).
    const capacity = opts.impl === 'sharded' ? 64 : 2 + Math.floor(rand() * 3);
    const list = new TaskList({ region, capacity, impl: opts.impl, ...(opts.impl === 'sharded' ? { shards: 4 } : {}) });
    const seed = Math.floor(rand() * 2 ** 31);
    const ops = await pool.run({ round: r + 1, seed, ops: 6, handle: list.handle, variant: opts.variant, jitterMax: 300 });
    const history = toHistory(ops);
    fulls += history.filter((o) => o.output === 'full').length;
    const inserter = new Map(history.filter((o) => typeof o.output === 'number').map((o) => [o.output as number, o.process]));
    remoteRemoves += history.filter((o) => o.input.kind === 'remove' && inserter.get(o.input.ticket) !== o.process).length;
    // The lock-free table may report 'full' while a remove overlaps (documented; see its file).
    const res = checkLinearizable(history, registryModel(capacity, opts.impl === 'lockfree'));
    if (res.ok === 'unknown') throw new Error(`round ${r}: checker budget exhausted`);
    if (!res.ok) {
      violations++;
      firstBad ??= `round ${r} (seed ${seed}, capacity ${capacity}):\n${formatHistory(history)}`;
      if (opts.stopAtFirst) return { rounds: r + 1, violations, fulls, remoteRemoves, firstBad };
    }
  }
  return { rounds: r, violations, fulls, remoteRemoves, firstBad };
}

describe('TaskList linearizability (4 workers on 2 cores, 6 random ops each)', () => {
  let pool: RoundPool;
  beforeAll(async () => {
    pool = await RoundPool.start(url, 4);
  });
  afterAll(async () => {
    await pool.close();
  });

  for (const impl of ['locked', 'lockfree', 'sharded'] as const) {
    it(`'${impl}': insert/remove linearize as a set in ${ROUNDS} rounds`, async () => {
      const out = await runRounds(pool, { impl, variant: 'correct', rounds: ROUNDS, stopAtFirst: false, seed: 7 });
      if (out.firstBad !== null) console.log(out.firstBad);
      expect(out.firstBad).toBeNull();
      expect(out.violations).toBe(0);
      // The rounds must actually exercise removal by non-owners (and 'full' where reachable).
      expect(out.remoteRemoves).toBeGreaterThan(ROUNDS / 4);
      if (impl !== 'sharded') expect(out.fulls).toBeGreaterThan(0);
    });
  }

  it('catches an injected bug: a lock-free insert that claims its slot with load+store instead of CAS', async () => {
    const out = await runRounds(pool, { impl: 'lockfree', variant: 'buggy-insert', rounds: LONG ? 100_000 : 20_000, stopAtFirst: true, seed: Number(process.env.SEED ?? 8) });
    console.log(`buggy insert caught after ${out.rounds} rounds`);
    expect(out.violations).toBe(1);
    expect(out.firstBad).toMatch(/insert/);
  });
});
