// End to end through the `parklot` CLI (bench/cli.ts): `parklot bench --quick --filter
// lock/uncontended/floor` runs the one small locks scenario (2 variants × 3 processes, a few
// seconds), writes its JSON with metadata (the load during the run included), and `parklot
// report --no-run` turns that file into a report with the scenario's data and its quick flag.
// `parklot bench async` runs one async scenario with two variants, one process each, and the
// report shows it in its Async locking section.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'bench', 'cli.ts');
const run = promisify(execFile);

describe('parklot CLI end to end', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parklot-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('bench --quick --filter <one scenario>, then report from its data', async () => {
    const json = path.join(dir, 'data', 'locks-e2e.json');
    const bench = await run(process.execPath, [CLI, 'bench', '--quick', '--filter', 'lock/uncontended/floor', '--out', json], {
      cwd: ROOT,
      timeout: 60_000,
    });
    expect(bench.stdout).toMatch(/suite locks \(quick\)/);
    expect(bench.stdout).not.toMatch(/suite (family|task-list)/);
    const data = JSON.parse(readFileSync(json, 'utf8')) as {
      suite: string;
      meta: { quick: boolean; node: string; cpuModel: string; availableParallelism: number; failures: number; loadDuringRun?: { otherCpu: number | null; intervals: number } };
      scenarios: { definition: { name: string }; processes: { ok: boolean; label: string }[] }[];
    };
    expect(data.suite).toBe('locks');
    expect(data.meta.quick).toBe(true);
    expect(data.meta.failures).toBe(0);
    // Load measured during the run: at least the start-to-stop interval; the CPU share on Linux.
    expect(data.meta.loadDuringRun?.intervals).toBeGreaterThanOrEqual(1);
    if (process.platform === 'linux') expect(data.meta.loadDuringRun?.otherCpu).toEqual(expect.any(Number));
    expect(bench.stdout).toMatch(/load during the run: /);
    expect(data.scenarios.map((s) => s.definition.name)).toEqual(['lock/uncontended/floor']);
    const procs = data.scenarios[0].processes;
    expect(procs.filter((p) => p.ok)).toHaveLength(6);
    expect(new Set(procs.map((p) => p.label))).toEqual(new Set(['parklot', 'floor']));

    const out = path.join(dir, 'REPORT.md');
    const rep = await run(process.execPath, [CLI, 'report', '--no-run', '--data', path.join(dir, 'data'), '--out', out], { cwd: ROOT, timeout: 60_000 });
    expect(rep.stdout).toMatch(/wrote .*REPORT\.md/);
    const md = readFileSync(out, 'utf8');
    expect(md).toContain('`locks-e2e.json`');
    expect(md).toMatch(/\*\*Provisional data\.\*\*/);
    expect(md).toMatch(/^\| C1 \|.*not measured/m);
    expect(md).toMatch(/^\| C13 \|.*n\/a/m);
  }, 90_000);

  it('bench async (one scenario, two variants, one process each), then report its Async locking section', async () => {
    const json = path.join(dir, 'async-data', 'async-locks-e2e.json');
    const bench = await run(
      process.execPath,
      [CLI, 'bench', 'async', '--quick', '--reps', '1', '--filter', 'threads:2', '--variants', 'parklot,multithreading', '--out', json],
      { cwd: ROOT, timeout: 60_000 },
    );
    expect(bench.stdout).toMatch(/suite async \(quick\)/);
    const data = JSON.parse(readFileSync(json, 'utf8')) as {
      suite: string;
      meta: { quick: boolean; failures: number; loadDuringRun?: unknown };
      scenarios: { definition: { name: string }; processes: { ok: boolean; label: string }[] }[];
    };
    expect(data.suite).toBe('async-locks');
    expect(data.meta.failures).toBe(0);
    expect(data.meta.loadDuringRun).toBeDefined();
    expect(data.scenarios.map((s) => s.definition.name)).toEqual(['lock/async/threads:2']);
    expect(data.scenarios[0].processes.map((p) => `${p.label}:${p.ok}`).sort()).toEqual(['multithreading:true', 'parklot:true']);

    const out = path.join(dir, 'REPORT-async.md');
    await run(process.execPath, [CLI, 'report', '--no-run', '--data', path.dirname(json), '--out', out], { cwd: ROOT, timeout: 60_000 });
    const md = readFileSync(out, 'utf8');
    expect(md).toContain('## 3. Async locking');
    expect(md).toContain('### lock/async/threads:2');
    expect(md).toMatch(/^\| parklot vs multithreading \| [\d.]+ \[/m);
    expect(md).toContain('](charts/async-locks-ops.svg)');
    expect(md).not.toMatch(/unknown suite/);
  }, 90_000);

  it('rejects an unknown suite and a filter that matches nothing', async () => {
    await expect(run(process.execPath, [CLI, 'bench', 'nosuch'], { cwd: ROOT })).rejects.toThrow(/unknown suite nosuch/);
    await expect(run(process.execPath, [CLI, 'bench', '--filter', 'no-such-scenario-xyz'], { cwd: ROOT })).rejects.toThrow(/matches --filter/);
    await expect(run(process.execPath, [CLI, 'bench', 'async', '--filter', 'no-such-scenario-xyz'], { cwd: ROOT })).rejects.toThrow(/no async scenario matches/);
  });

  it('names the async suite in the help and plans it for the report\'s quick path', async () => {
    const help = await run(process.execPath, [CLI, 'bench', '--help'], { cwd: ROOT }).catch((e: { stderr: string }) => e);
    expect(help.stderr).toMatch(/suites: locks, async, family, task-list, pool/);
    const { QUICK_REPORT_PLAN, suitesWithoutData } = await import('../../bench/cli.ts');
    expect(QUICK_REPORT_PLAN.async).toEqual([['async']]);
    // async-locks-*.json files count as the async suite's data.
    const d = path.join(dir, 'async-data');
    expect(suitesWithoutData(d, '0.1.0', ['locks', 'async'])).toEqual(['locks']);
  });
});
