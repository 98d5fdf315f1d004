// End to end through the `parklot` CLI (bench/cli.ts): `parklot bench --quick --filter
// lock/uncontended/floor` runs the one small locks scenario (2 variants × 3 processes, a few
// seconds), writes its JSON with metadata, and `parklot report --no-run` turns that file into
// a report with the scenario's data and its quick flag.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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
      meta: { quick: boolean; node: string; cpuModel: string; availableParallelism: number; failures: number };
      scenarios: { definition: { name: string }; processes: { ok: boolean; label: string }[] }[];
    };
    expect(data.suite).toBe('locks');
    expect(data.meta.quick).toBe(true);
    expect(data.meta.failures).toBe(0);
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

  it('rejects an unknown suite and a filter that matches nothing', async () => {
    await expect(run(process.execPath, [CLI, 'bench', 'nosuch'], { cwd: ROOT })).rejects.toThrow(/unknown suite nosuch/);
    await expect(run(process.execPath, [CLI, 'bench', '--filter', 'no-such-scenario-xyz'], { cwd: ROOT })).rejects.toThrow(/matches --filter/);
  });
});
