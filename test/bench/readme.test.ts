// bench/README.md defines every bench scenario once, in one table per suite (## Scenarios →
// ### locks / async / family / task-list / pool). This test parses those tables and checks them against
// the scenario names the suites' code defines, both ways, so the document cannot drift.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { locksSuite } from '../../bench/locks/suite.ts';
import { asyncSuite } from '../../bench/locks/async-suite.ts';
import { scenarioNames as familyNames } from '../../bench/family/suite.ts';
import { canonicalId, scenarios as taskListScenarios } from '../../bench/task-list/scenarios.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const README = readFileSync(path.join(ROOT, 'bench', 'README.md'), 'utf8');

/** `a/{x,y}/b:{1,2}` → the four names it abbreviates. */
function expandBraces(name: string): string[] {
  const m = /\{([^{}]*)\}/.exec(name);
  if (m === null) return [name];
  const head = name.slice(0, m.index);
  const tail = name.slice(m.index + m[0].length);
  return m[1].split(',').flatMap((alt) => expandBraces(`${head}${alt}${tail}`));
}

/** The names in the first column of the first table under `### <suite>` in ## Scenarios. */
function tableNames(suite: string): string[] {
  const scen = README.slice(README.indexOf('\n## Scenarios'));
  const end = scen.indexOf('\n## ', 1);
  const section = end < 0 ? scen : scen.slice(0, end);
  const start = section.indexOf(`\n### ${suite}\n`);
  if (start < 0) throw new Error(`bench/README.md has no "### ${suite}" under ## Scenarios`);
  const rest = section.slice(start + 1);
  const next = rest.indexOf('\n### ', 1);
  const lines = (next < 0 ? rest : rest.slice(0, next)).split('\n');
  const first = lines.findIndex((l) => l.startsWith('| name |'));
  if (first < 0) throw new Error(`no scenario table under ### ${suite}`);
  const names: string[] = [];
  for (const l of lines.slice(first + 2)) {
    if (!l.startsWith('|')) break;
    const cell = l.split('|')[1] ?? '';
    for (const m of cell.matchAll(/`([^`]+)`/g)) names.push(...expandBraces(m[1]));
  }
  return names;
}

/** Pool scenario names, read from bench/pool/run.ts's SCENARIOS (the module runs on import). */
function poolNames(): string[] {
  const src = readFileSync(path.join(ROOT, 'bench', 'pool', 'run.ts'), 'utf8');
  const start = src.indexOf('const SCENARIOS');
  const body = src.slice(start, src.indexOf('\n];', start));
  return [...body.matchAll(/^ {4}name: '([^']+)'/gm)].map((m) => m[1]);
}

function sameSet(doc: string[], code: string[]): void {
  expect(new Set(doc).size, 'a name is listed twice in the table').toBe(doc.length);
  expect({ missingFromReadme: code.filter((n) => !doc.includes(n)), notInCode: doc.filter((n) => !code.includes(n)) }).toEqual({
    missingFromReadme: [],
    notInCode: [],
  });
}

describe('bench/README.md scenario tables', () => {
  it('expands braces', () => {
    expect(expandBraces('a/{x,y}/n:{1,2}')).toEqual(['a/x/n:1', 'a/x/n:2', 'a/y/n:1', 'a/y/n:2']);
    expect(expandBraces('plain')).toEqual(['plain']);
  });

  it('locks: the table names exactly the scenarios of bench/locks/suite.ts', () => {
    sameSet(tableNames('locks'), locksSuite().map((s) => s.name));
  });

  it('async: the table names exactly the scenarios of bench/locks/async-suite.ts', () => {
    sameSet(tableNames('async'), asyncSuite().map((s) => s.name));
  });

  it('family: the table names exactly the scenarios of bench/family/suite.ts', () => {
    sameSet(tableNames('family'), familyNames());
  });

  it('task-list: the table names exactly the scenarios of bench/task-list/scenarios.ts (quick and full)', () => {
    const quick = taskListScenarios(true).map((s) => s.id);
    const full = taskListScenarios(false).map((s) => s.id);
    expect(quick).toEqual(full);
    sameSet(tableNames('task-list'), full);
  });

  it('pool: the table names exactly the scenarios of bench/pool/run.ts', () => {
    const names = poolNames();
    expect(names.length).toBeGreaterThan(0);
    sameSet(tableNames('pool'), names);
  });

  it('locks, async, family and task-list names follow <subject>/<kind>/<param>:<value>', () => {
    const scheme = /^[a-z][a-z0-9-]*(\/[a-z0-9-]+(:[a-z0-9-]+)?)+$/;
    const all = [
      ...locksSuite().map((s) => s.name),
      ...asyncSuite().map((s) => s.name),
      ...familyNames(),
      ...taskListScenarios(false).map((s) => s.id),
    ];
    for (const n of all) expect(n, n).toMatch(scheme);
    // Parameters are key:value; a bare word after the first key:value would be a lost key.
    for (const n of all) {
      const parts = n.split('/');
      const firstParam = parts.findIndex((p) => p.includes(':'));
      if (firstParam >= 0) for (const p of parts.slice(firstParam)) if (!['pc', 'st'].includes(p)) expect(p, n).toContain(':');
    }
  });

  it('task-list: old L2 names map to today\'s', () => {
    expect(canonicalId('l2/try-then-park/async-main')).toBe('l2/try-then-park/consumer:async-main');
    expect(canonicalId('l2/sync-worker')).toBe('l2/consumer:sync-worker');
    expect(canonicalId('l2/always-park/consumer:sync-worker')).toBe('l2/always-park/consumer:sync-worker');
    expect(canonicalId('mpmc/st/cap:1')).toBe('mpmc/st/cap:1');
  });
});
