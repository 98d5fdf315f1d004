#!/usr/bin/env node
// The `parklot` command (package.json "bin"; also `npm run bench` / `npm run report`):
//   parklot bench [suite…] [--quick|--full] [--filter name] …   runs bench suites (bench/run.ts)
//   parklot report [--no-run] [--data dir] [--out file]          writes reports/REPORT.md
// `report` first runs the quick suites that have no data for the current parklot version in
// the data directory (QUICK_REPORT_PLAN: about 8 minutes on 2 cores), unless --no-run.

import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableSuites, runSuites } from './run.ts';
import { parseCli } from './lib/args.ts';
import { generateReport } from './report/report.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * What the report's quick path runs for a suite with no data (each entry is one
 * `parklot bench … --quick` invocation). Measured on the 2-core machine at load average 2–5:
 * locks (all 12 scenarios) 189 s, async (both scenarios, 24 processes) 40 s, family (all 5
 * groups) 130 s, task-list (all 26 scenarios) 78 s. The whole pool suite takes 453 s in quick mode, too long for the 10-minute budget, so
 * the quick path runs only the pool scenarios that carry claims, without the piscina/tinypool
 * peers (those need `parklot bench pool`): burst with the batch and slot variants (C6, C9, L4),
 * skewed (C8), priority (C7), l1 (L1), l5 (L5) and l6 (L6): 53 s measured without l6. Total
 * about 8 minutes (7.5 timed end to end on a fresh clone before async was added: see the closing
 * note of issue 6; async adds its measured 40 s).
 */
export const QUICK_REPORT_PLAN: Record<string, string[][]> = {
  locks: [['locks']],
  async: [['async']],
  family: [['family']],
  'task-list': [['task-list']],
  pool: [
    ['pool', '--filter', 'burst', '--variants', 'parklot,parklot:batch=1,parklot:batch=16,parklot:batch=64,parklot:slots=single'],
    ['pool', '--filter', 'skewed', '--variants', 'parklot:nosteal,parklot:stealing'],
    ['pool', '--filter', 'priority'],
    ['pool', '--filter', 'l1'],
    ['pool', '--filter', 'l5'],
    ['pool', '--filter', 'l6'],
  ],
};

const USAGE = `usage: parklot bench [locks|async|family|task-list|pool …] [--quick|--full] [--filter name] [--reps n]
       parklot report [--no-run] [--data dir] [--out file]`;

/** File-name prefix of a suite's data files where it differs from the suite's name. */
const FILE_PREFIX: Record<string, string> = { async: 'async-locks' };

/** Suites of `wanted` that have no data file for `version` in `dataDir`. */
export function suitesWithoutData(dataDir: string, version: string, wanted: string[]): string[] {
  const have = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(dataDir).filter((n) => n.endsWith('.json'));
  } catch (e) {
    // No data directory yet means no data; any other failure (permissions, …) is an error.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    names = [];
  }
  for (const n of names) {
    // Longest prefix first, so `async-locks-…` is not taken for some other suite's `async-…`.
    const suite = [...wanted]
      .sort((a, b) => (FILE_PREFIX[b] ?? b).length - (FILE_PREFIX[a] ?? a).length)
      .find((s) => n.startsWith(`${FILE_PREFIX[s] ?? s}-`));
    if (!suite) continue;
    try {
      const meta = (JSON.parse(readFileSync(path.join(dataDir, n), 'utf8')) as { meta?: { parklotVersion?: string } }).meta ?? {};
      // Files that do not record a version (task-list) count for any version.
      if (meta.parklotVersion === undefined || meta.parklotVersion === version) have.add(suite);
    } catch {
      // unreadable file: ignored here, reported by the generator
    }
  }
  return wanted.filter((s) => !have.has(s));
}

async function report(argv: string[]): Promise<number> {
  const { values: v } = parseCli(argv, { 'no-run': { type: 'boolean' }, data: { type: 'string' }, out: { type: 'string' } }, USAGE);
  const run = v['no-run'] !== true;
  let suiteExit = 0; // a quick suite that failed makes the report command fail too, after writing
  const dataDir = v.data === undefined ? path.join(ROOT, 'reports', 'data') : path.resolve(v.data);
  const outFile = v.out === undefined ? path.join(ROOT, 'reports', 'REPORT.md') : path.resolve(v.out);
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const avail = availableSuites();
  const missing = suitesWithoutData(dataDir, version, Object.keys(QUICK_REPORT_PLAN).filter((s) => avail.includes(s)));
  if (missing.length && run) {
    if (dataDir !== path.join(ROOT, 'reports', 'data')) throw new Error(`no data for ${missing.join(', ')} in ${dataDir}; the suites write to reports/data (use --no-run)`);
    console.log(`parklot report: no data for parklot ${version} from ${missing.join(', ')}; running the quick suite(s) first (QUICK: indicative only)`);
    const t0 = performance.now();
    let code = 0;
    for (const s of missing) for (const args of QUICK_REPORT_PLAN[s]) code = Math.max(code, await runSuites([...args, '--quick']));
    console.log(`quick suites finished in ${((performance.now() - t0) / 1000).toFixed(0)} s (exit ${code})`);
    suiteExit = code;
  } else if (missing.length) {
    console.log(`parklot report: no data from ${missing.join(', ')} (--no-run): those claims will read "not measured"`);
  }
  const r = await generateReport({ dataDir, outFile });
  console.log(`wrote ${path.relative(process.cwd(), outFile)} and ${r.charts.length} charts (${r.data.files.length} data files)`);
  for (const c of r.claims) {
    const v = c.status === 'measured' ? `${c.verdict}${c.quick ? ' (quick)' : ''}` : c.status;
    console.log(`  ${c.def.id.padEnd(4)} ${v}`);
  }
  if (suiteExit !== 0) console.error(`parklot report: a quick suite failed (exit ${suiteExit}); the report above lacks its data`);
  return suiteExit;
}

export async function cli(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'bench') return runSuites(rest);
  if (cmd === 'report') return report(rest);
  throw new Error(USAGE);
}

// Run when executed directly, also through the `parklot` bin symlink (hence realpath).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(path.resolve(process.argv[1]))) {
  cli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(2);
    },
  );
}
