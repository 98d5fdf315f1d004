// End-to-end smoke test of the lock bench: the multi-worker harness runs a tiny contended
// scenario with one peer and checks its counter; the lost-update check really fires for a
// deliberately broken no-op "lock"; and `bench/run.ts locks --quick --filter …` runs end to
// end, writing JSON with metadata. Kept short (a few seconds) on the 2-core machine.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LostUpdateError, runContended } from '../../bench/lib/harness.ts';
import { setupVariant } from '../../bench/locks/variants.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('lock bench harness', () => {
  it('runs a tiny contended scenario with the futex3 peer and accounts for every operation', async () => {
    const init = await setupVariant('futex3');
    const { warmup, runs, sampled } = await runContended({
      init,
      threads: 2,
      workInside: 5,
      workBetween: 5,
      warmupRuns: 1,
      warmupMs: 50,
      runs: 2,
      durationMs: 100,
      sampledRuns: 1,
      sampleEvery: 8,
    });
    expect(warmup).toHaveLength(1);
    expect(runs).toHaveLength(2);
    expect(sampled).toHaveLength(1);
    for (const r of runs) expect(r.wait.count).toBe(0); // throughput runs read no clock
    for (const r of sampled) {
      expect(r.sampleEvery).toBe(8);
      // one timed acquisition per 8 in each worker (the first of every 8, from op 0)
      const expected = r.opsPerWorker.reduce((s, n) => s + Math.ceil(n / 8), 0);
      expect(r.wait.count).toBe(expected);
      expect(r.waitMaxNs).toBeGreaterThanOrEqual(r.waitP99Ns);
    }
    for (const r of [...runs, ...sampled]) {
      expect(r.opsPerWorker).toHaveLength(2);
      expect(r.totalOps).toBeGreaterThan(0);
      expect(r.counterDelta).toBe(r.totalOps);
      expect(r.elapsedMs).toBeGreaterThanOrEqual(95);
      expect(r.minMaxRatio).toBeGreaterThan(0);
      expect(r.minMaxRatio).toBeLessThanOrEqual(1);
    }
  });

  it('detects lost updates from a no-op "lock" with several workers', async () => {
    const init = await setupVariant('noop');
    // 4 workers doing unprotected read-modify-writes of one word on 2 cores lose updates
    // within microseconds; the first run whose counter disagrees must throw.
    await expect(
      runContended({
        init,
        threads: 4,
        workInside: 5,
        workBetween: 5,
        warmupRuns: 0,
        warmupMs: 0,
        runs: 3,
        durationMs: 150,
      }),
    ).rejects.toThrow(LostUpdateError);
  });
});

describe('bench CLI', () => {
  it('runs one scenario end to end (--quick --filter) and writes JSON with metadata', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'parklot-bench-'));
    const out = path.join(dir, 'locks.json');
    try {
      const { stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
        execFile(
          process.execPath,
          [
            path.join(ROOT, 'bench', 'run.ts'),
            'locks',
            '--quick',
            '--filter',
            'lock/contended/threads:2/cs:short',
            '--variants',
            'futex3,spin',
            '--reps',
            '1',
            '--out',
            out,
          ],
          { cwd: ROOT, timeout: 60_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout, stderr })),
        );
      });
      expect(stdout).toMatch(/QUICK/);
      expect(stdout).toMatch(/lock\/contended\/threads:2\/cs:short/);
      const data = JSON.parse(readFileSync(out, 'utf8')) as {
        meta: Record<string, unknown>;
        scenarios: { definition: { name: string }; processes: { label: string; ok: boolean }[] }[];
      };
      expect(data.meta.quick).toBe(true);
      for (const k of ['parklotVersion', 'git', 'node', 'v8', 'cpuModel', 'availableParallelism', 'loadAvgAtStart', 'date']) {
        expect(data.meta).toHaveProperty(k);
      }
      expect(data.scenarios).toHaveLength(1);
      expect(data.scenarios[0].definition.name).toBe('lock/contended/threads:2/cs:short');
      const procs = data.scenarios[0].processes;
      expect(procs.map((p) => p.label).sort()).toEqual(['futex3', 'spin']);
      expect(procs.every((p) => p.ok)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
