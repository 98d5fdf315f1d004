// C1's per-acquisition counters (context switches, parks, wake calls) in the locks summary, and
// the report loader's reading of committed data under today's scenario names.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { processMetrics } from '../../bench/locks/summary.ts';
import type { ChildResult, ContendedRunScalars } from '../../bench/locks/child.ts';
import { loadDataDir } from '../../bench/report/load.ts';
import { LogHistogram } from '../../bench/lib/histogram.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function run(ops: number, extra: Partial<ContendedRunScalars>): ContendedRunScalars {
  return {
    elapsedMs: 100, sampleEvery: 0, opsPerWorker: [ops / 2, ops / 2], totalOps: ops, opsPerSec: ops * 10, counterDelta: ops, minMaxRatio: 1,
    waitP50Ns: 1, waitP99Ns: 1, waitMaxNs: 1, activeMsPerWorker: [100, 100], voluntaryCtxSwitches: 0, involuntaryCtxSwitches: 0,
    ...extra,
  };
}

function result(runs: ContendedRunScalars[]): ChildResult {
  const h = new LogHistogram();
  h.record(100);
  return { kind: 'contended', warmup: [], runs, wait: h.toJSON(), processMs: 1 };
}

describe('locks counters per acquisition', () => {
  it('reports the sampled runs\' ops/s relative to the throughput runs\' (the cost of wait sampling)', () => {
    const r = result([run(1000, {}), run(3000, {})]);
    if (r.kind === 'contended') r.sampled = [run(1900, { sampleEvery: 64 })];
    // throughput runs: 4000 ops / 200 ms; sampled: 1900 ops / 100 ms → 0.95
    expect(processMetrics(r).samplingCost).toBeCloseTo(0.95);
    expect(processMetrics(result([run(1000, {})])).samplingCost).toBeUndefined();
  });

  it('divides the summed counters of the measured runs by their operations', () => {
    const m = processMetrics(
      result([
        run(1000, { voluntaryCtxSwitches: 10, involuntaryCtxSwitches: 4, atomics: { waitCalls: 6, notifyCalls: 8, notifyWoken: 5 } }),
        run(3000, { voluntaryCtxSwitches: 30, involuntaryCtxSwitches: 0, atomics: { waitCalls: 2, notifyCalls: 0, notifyWoken: 0 } }),
      ]),
    );
    expect(m.volCtxSwitchesPerOp).toBeCloseTo(40 / 4000);
    expect(m.involCtxSwitchesPerOp).toBeCloseTo(4 / 4000);
    expect(m.parksPerOp).toBeCloseTo(8 / 4000);
    expect(m.wakeCallsPerOp).toBeCloseTo(8 / 4000);
  });

  it('leaves the counters out for data written before they existed', () => {
    const old = run(1000, {}) as Partial<ContendedRunScalars>;
    delete old.voluntaryCtxSwitches;
    delete old.involuntaryCtxSwitches;
    const m = processMetrics(result([old as ContendedRunScalars]));
    expect(m.volCtxSwitchesPerOp).toBeUndefined();
    expect(m.parksPerOp).toBeUndefined();
    expect(m.opsPerSec).toBeGreaterThan(0);
  });
});

describe('committed data under today\'s names', () => {
  it('names family units by scenario and maps old L2 ids', () => {
    const d = loadDataDir(path.join(ROOT, 'reports', 'data'));
    const units = new Set(d.comparisons.map((c) => c.unit));
    expect(units.has('barrier/parties:8')).toBe(true);
    expect(units.has('rwlock/threads:8/reads:99')).toBe(true);
    expect(units.has('task-list/l2/consumer:async-main')).toBe(true);
    expect([...units].some((u) => /^task-list\/l2\/(async-main|sync-worker)$/.test(u))).toBe(false);
    const l2 = d.comparisons.filter((c) => c.tag === 'L2');
    expect(l2.length).toBe(2);
    for (const c of l2) expect(c.baselineSamples.length).toBeGreaterThan(0);
  });
});
