// Tests of the report generator (bench/report): verdict rows on synthetic data (a clear win,
// a clear loss, noise, a smaller-than-claimed win, and an unsized claim), the pooled geometric
// mean, newest-file selection, a full report from the small fixture data set in
// test/fixtures/report/ (every section present, every claim has a row, every chart is
// well-formed SVG with its Vega-Lite spec beside it), and a report from the fixtures plus a
// synthetic async-locks file (Web Locks failing with LostUpdateError) and load measured during
// the run (the "loaded machine" rule, with the old rule for data without that measurement).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeClaim, pooledGeomean, compare } from '../../bench/report/analyze.ts';
import { CLAIMS, type ClaimDef } from '../../bench/report/claims.ts';
import { selectNewest } from '../../bench/report/load.ts';
import type { Comparison, LoadedFile } from '../../bench/report/model.ts';
import { generateReport, judgeLoad, OTHER_CPU_LOADED, type ReportResult } from '../../bench/report/report.ts';
import { mulberry32 } from '../../bench/lib/stats.ts';
import { parsePidStat, parseProcStat, summarizeLoad, type CpuSnapshot, type LoadDuringRun } from '../../bench/lib/load-monitor.ts';
import { summarizeAsync, type AsyncRawProcess } from '../../bench/locks/async-run.ts';
import { asyncSuite } from '../../bench/locks/async-suite.ts';
import type { AsyncChildResult } from '../../bench/locks/async-child.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, '..', 'fixtures', 'report');

/** n samples around `center` with ±`spread` relative uniform noise (seeded). */
function samples(center: number, n: number, spread: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => center * (1 + spread * (2 * r() - 1)));
}

function comp(tag: string, base: number[], cand: number[], extra: Partial<Comparison> = {}): Comparison {
  return {
    suite: 'locks',
    file: 'synthetic.json',
    unit: `u/${tag}`,
    point: tag,
    params: {},
    tag,
    candidate: 'new',
    baseline: 'old',
    metric: 'opsPerSec',
    direction: 'higher-is-better',
    note: '',
    candidateSamples: cand,
    baselineSamples: base,
    ...extra,
  };
}

const def = (id: string, benefit?: readonly [number, number]): ClaimDef => ({
  id,
  proposal: 'p',
  baseline: 'b',
  claimed: 'c',
  ...(benefit ? { benefit } : {}),
  suite: 'locks',
  primary: (c) => c.tag === id,
  secondary: () => false,
  setup: '',
});

const meta = { meta: { suite: 'locks', file: 'synthetic.json', quick: false } } as Pick<LoadedFile, 'meta'>;

describe('claim verdicts on synthetic data', () => {
  const base = samples(1000, 12, 0.03, 1);
  const cases: { name: string; cand: number[]; benefit?: [number, number]; expected: string }[] = [
    { name: 'clear win inside the claimed +20–30 %', cand: samples(1250, 12, 0.03, 2), benefit: [1.2, 1.3], expected: 'confirmed' },
    { name: 'clear loss against a claimed gain', cand: samples(700, 12, 0.03, 3), benefit: [1.2, 1.3], expected: 'refuted' },
    { name: 'noise (same distribution)', cand: samples(1000, 12, 0.03, 4), benefit: [1.2, 1.3], expected: 'no effect' },
    { name: 'a real but smaller win (+6 % vs +20–30 %)', cand: samples(1060, 12, 0.01, 5), benefit: [1.2, 1.3], expected: 'smaller' },
    { name: 'unsized claim, clear win', cand: samples(1300, 12, 0.03, 6), expected: 'confirmed' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = def('X', c.benefit);
      const r = analyzeClaim(d, { files: [meta], comparisons: [comp('X', base, c.cand)] });
      expect(r.status).toBe('measured');
      expect(r.verdict).toBe(c.expected);
      expect(r.primary[0].verdict).toBe(c.expected);
    });
  }

  it('applies a claim stated as "lower latency" to a lower-is-better metric', () => {
    // Mean wait 15 % lower; claim: 10–20 % lower (benefit 1.11–1.25).
    const d = def('W', [1 / 0.9, 1 / 0.8]);
    const c = comp('W', samples(1000, 12, 0.02, 7), samples(850, 12, 0.02, 8), { metric: 'waitMeanNs', direction: 'lower-is-better' });
    const r = analyzeClaim(d, { files: [meta], comparisons: [c] });
    expect(r.pooled!.ratio).toBeGreaterThan(0.8);
    expect(r.pooled!.ratio).toBeLessThan(0.9);
    expect(r.verdict).toBe('confirmed');
  });

  it('says n/a for C13 and not measured (with the reason) when a suite has no data', () => {
    const c13 = analyzeClaim(CLAIMS.find((c) => c.id === 'C13')!, { files: [], comparisons: [] });
    expect(c13.status).toBe('n/a');
    expect(c13.why).toMatch(/no GIL/);
    const c6 = analyzeClaim(CLAIMS.find((c) => c.id === 'C6')!, { files: [], comparisons: [] });
    expect(c6.status).toBe('not measured');
    expect(c6.why).toMatch(/pool/);
    expect(c6.pooled).toBeUndefined();
  });

  it('reports a missing sample group instead of inventing a ratio', () => {
    const s = compare(comp('M', [], [1, 2, 3]));
    expect(s.ok).toBe(false);
    expect(s.missing).toMatch(/no samples for old/);
  });
});

describe('pooled geometric mean', () => {
  it('is the geometric mean of the ratios, and its CI brackets it', () => {
    const a = compare(comp('A', samples(100, 9, 0.01, 9), samples(200, 9, 0.01, 10)));
    const b = compare(comp('B', samples(100, 9, 0.01, 11), samples(50, 9, 0.01, 12)));
    const p = pooledGeomean([a, b], 42)!;
    expect(p.k).toBe(2);
    expect(p.ratio).toBeCloseTo(Math.sqrt(a.ratio * b.ratio), 12);
    expect(p.ratio).toBeGreaterThan(0.95);
    expect(p.ratio).toBeLessThan(1.05);
    expect(p.low).toBeLessThanOrEqual(p.ratio);
    expect(p.high).toBeGreaterThanOrEqual(p.ratio);
    // Same seed, same interval.
    expect(pooledGeomean([a, b], 42)).toEqual(p);
  });
});

describe('newest-file selection', () => {
  it('keeps, per scenario, the newest file that measured it', () => {
    const mk = (file: string, date: string, units: string[]): LoadedFile => ({
      meta: { suite: 'locks', file, date, quick: true } as LoadedFile['meta'],
      units,
      comparisons: units.map((u) => ({ ...comp('T', [1], [1]), unit: u, file })),
      variantPoints: [],
      failures: [],
    });
    const old = mk('old.json', '2026-01-01T00:00:00Z', ['a', 'b']);
    const neu = mk('new.json', '2026-02-01T00:00:00Z', ['b']);
    const ds = selectNewest([old, neu]);
    expect(ds.comparisons.map((c) => `${c.unit}@${c.file}`).sort()).toEqual(['a@old.json', 'b@new.json']);
    const only = selectNewest([old, mk('newer.json', '2026-03-01T00:00:00Z', ['a', 'b'])]);
    expect(only.files.map((f) => f.meta.file)).toEqual(['newer.json']);
    expect(only.skipped[0]).toMatch(/old\.json/);
  });
});

/** Minimal well-formedness check: balanced tags, one root element that is <svg>. */
function checkXml(xml: string): { root: string } {
  const body = xml.replace(/<\?xml[^>]*\?>/, '').replace(/<!--[\s\S]*?-->/g, '').trim();
  const tagRe = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  const stack: string[] = [];
  let root = '';
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tagRe.exec(body)) !== null) {
    const between = body.slice(last, m.index);
    if (between.includes('<')) throw new Error(`malformed markup near: ${between.slice(0, 80)}`);
    if (stack.length === 0 && root && m[1] !== '/') throw new Error('more than one root element');
    last = tagRe.lastIndex;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else {
      if (!root) root = name;
      if (!selfClose) stack.push(name);
    }
  }
  if (body.slice(last).includes('<')) throw new Error('malformed markup at the end');
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  return { root };
}

describe('the XML checker itself', () => {
  it('accepts well-formed SVG and rejects broken markup', () => {
    expect(checkXml('<svg a="1"><g><rect/></g></svg>').root).toBe('svg');
    expect(() => checkXml('<svg><g></svg>')).toThrow();
    expect(() => checkXml('<svg><g>')).toThrow();
  });
});

describe('report from the fixture data set', () => {
  let dir: string;
  let res: ReportResult;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'parklot-report-'));
    res = await generateReport({ dataDir: FIXTURES, outFile: path.join(dir, 'REPORT.md') });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes every section', () => {
    const md = readFileSync(path.join(dir, 'REPORT.md'), 'utf8');
    expect(md).toBe(res.markdown);
    for (const h of ['## 1. Summary', '## 2. Peers', '## 3. Async locking', '## 4. Claims', '## 5. Scaling', '## 6. Fairness', '## 7. Environment and data']) {
      expect(md).toContain(h);
    }
    expect(md).toMatch(/Generated by `npm run report`/);
    expect(md).toMatch(/\*\*Provisional data\.\*\*.*QUICK/);
    expect(md).toMatch(/geometric mean/);
    // The fixtures have no async-locks file and predate the sampled runs and the in-run load.
    expect(md).toContain('No async-locks data in reports/data');
    expect(md).toMatch(/### Wait sampling check[\s\S]*Not in the data used: `locks-2026-01-01T00-00-00Z\.json` predates the sampled runs/);
    expect(md).toMatch(/load average at start ≥ half the core count, the old rule/);
  });

  it('has one summary row and one section per claim, with n/a and not-measured reasons', () => {
    const md = res.markdown;
    const summary = md.slice(md.indexOf('## 1. Summary'), md.indexOf('## 2. Peers'));
    for (const c of CLAIMS) {
      expect(summary).toMatch(new RegExp(`^\\| ${c.id} \\|`, 'm'));
      expect(md).toContain(`<a id="${c.id.toLowerCase()}"></a>`);
    }
    expect(summary).toMatch(/^\| C13 \|.*n\/a: JavaScript has no GIL/m);
    expect(summary).toMatch(/^\| C6 \|.*not measured: no pool-\*\.json/m);
    // Claims the fixtures cover get a measured verdict.
    const byId = new Map(res.claims.map((r) => [r.def.id, r]));
    for (const id of ['C1', 'C2', 'C3', 'C4', 'C5', 'C11', 'C12', 'L2', 'L3', 'L7']) {
      const r = byId.get(id)!;
      expect(r.status, id).toBe('measured');
      expect(['confirmed', 'smaller', 'no effect', 'refuted']).toContain(r.verdict);
      // Verdicts from quick files (locks, family fixtures) are marked; the task-list fixture is full.
      const mark = r.quick ? ' \\(quick\\)' : ' \\|';
      expect(summary).toMatch(new RegExp(`^\\| ${id} \\|.*\\*\\*${r.verdict}\\*\\*${mark}`, 'm'));
    }
    expect(byId.get('C1')!.quick).toBe(true);
    expect(byId.get('C5')!.quick).toBe(false);
    // C10's group (semWait) is not in the fixtures: not measured, with the reason.
    expect(byId.get('C10')!.status).toBe('not measured');
  });

  it('renders every chart as well-formed SVG with its spec beside it', () => {
    expect(res.charts.length).toBeGreaterThanOrEqual(10);
    expect(res.charts).toContain('peers-geomean.svg');
    expect(res.charts).toContain('scaling-lock-cs-short.svg');
    for (const f of res.charts) {
      const svg = readFileSync(path.join(dir, 'charts', f), 'utf8');
      expect(checkXml(svg).root, f).toBe('svg');
      expect(svg).toContain('<text'); // titles and axes are drawn
      const spec = JSON.parse(readFileSync(path.join(dir, 'charts', f.replace(/\.svg$/, '.vl.json')), 'utf8')) as { $schema: string };
      expect(spec.$schema).toMatch(/vega-lite/);
      expect(res.markdown).toContain(`](charts/${f})`);
    }
    expect(existsSync(path.join(dir, 'charts', 'claim-c13.svg'))).toBe(false);
  });

  it('prints a slower proposal as slower', () => {
    // In the fixtures parklot's RwLock is slower than one Mutex at read-mostly points (C12).
    const c12 = res.claims.find((r) => r.def.id === 'C12')!;
    const slower = c12.primary.filter((s) => s.ok && s.ratio < 1);
    expect(slower.length).toBeGreaterThan(0);
    const sec = res.markdown.slice(res.markdown.indexOf('<a id="c12">'), res.markdown.indexOf('<a id="c13">'));
    expect(sec).toMatch(/x slower/);
  });
});

describe('load during the run (bench/lib/load-monitor.ts)', () => {
  it('parses /proc/stat and /proc/<pid>/stat (a command name with spaces and parentheses)', () => {
    expect(parseProcStat('cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 2 3 4\n')).toEqual({ busy: 170, total: 990 });
    // Fields after the name: state ppid … utime(14) stime(15) cutime(16) cstime(17).
    const line = '4242 (node (x) y) S 4200 4242 1 0 -1 4194304 98 0 0 0 30 7 5 1 20 0 1 0 312101 3133440 388';
    expect(parsePidStat(line)).toEqual({ ppid: 4200, ticks: 30 + 7 + 5 + 1 });
  });

  it('is the other processes\' share of all cores\' CPU time, whole run and per interval', () => {
    // Two cores at 100 ticks/s: 200 ticks per second of wall time. The bench uses one core
    // throughout; others use nothing, then a whole core, then half a core.
    const snaps: CpuSnapshot[] = [
      { t: 0, busy: 0, total: 0, tree: 0, loadAvg1: 1 },
      { t: 5000, busy: 500, total: 1000, tree: 500, loadAvg1: 1.2 },
      { t: 10000, busy: 1500, total: 2000, tree: 1000, loadAvg1: 2.5 },
      { t: 15000, busy: 2250, total: 3000, tree: 1500, loadAvg1: 2 },
      { t: 15200, busy: 2290, total: 3040, tree: 1520, loadAvg1: 2 }, // < 1 s: only in the total
    ];
    const l = summarizeLoad(snaps, 5000);
    expect(l.otherCpu).toBeCloseTo((2290 - 1520) / 3040, 12);
    expect(l.otherCpuIntervals).toEqual({ min: 0, median: 0.25, max: 0.5 });
    expect(l.benchCpu).toBeCloseTo(1520 / 3040, 12);
    expect(l.loadAvg1).toEqual({ min: 1, median: 2, max: 2.5 });
    expect(l.intervals).toBe(4);
    // Without /proc the CPU fields are null (the report then uses the old rule).
    const none = summarizeLoad([{ t: 0, loadAvg1: 3 }, { t: 6000, loadAvg1: 4 }], 5000);
    expect(none.otherCpu).toBeNull();
    expect(none.otherCpuIntervals).toBeNull();
  });

  it('judges "loaded" by the load during the run, and by the old rule only without it', () => {
    const base = { suite: 'locks', file: 'x.json', cores: 2, loadAvgAtStart: [6, 6, 6] } as unknown as LoadedFile['meta'];
    const during = (otherCpu: number): LoadDuringRun => ({
      method: '',
      intervalMs: 5000,
      intervals: 10,
      otherCpu,
      otherCpuIntervals: { min: 0, median: otherCpu, max: otherCpu },
      benchCpu: 0.9,
      loadAvg1: { min: 2, median: 2.1, max: 2.4 },
    });
    // Load average 6 before the start, but nothing else ran during the suite: not loaded.
    expect(judgeLoad({ ...base, loadDuringRun: during(0.05) })).toMatchObject({ loaded: false, basis: 'during-run' });
    expect(judgeLoad({ ...base, loadDuringRun: during(OTHER_CPU_LOADED) })).toMatchObject({ loaded: true, basis: 'during-run' });
    // Idle before the start, busy during the run: loaded.
    expect(judgeLoad({ ...base, loadAvgAtStart: [0.1], loadDuringRun: during(0.4) }).loaded).toBe(true);
    // Old data: the load average at start decides, and the text says so.
    const old = judgeLoad(base);
    expect(old).toMatchObject({ loaded: true, basis: 'at-start' });
    expect(old.text).toMatch(/old rule/);
    expect(judgeLoad({ ...base, loadAvgAtStart: [0.5] }).loaded).toBe(false);
    // In-run data without /proc (otherCpu null) also falls back.
    expect(judgeLoad({ ...base, loadDuringRun: { ...during(0), otherCpu: null } }).basis).toBe('at-start');
    expect(judgeLoad({ suite: 'locks', file: 'y.json' } as LoadedFile['meta'])).toMatchObject({ loaded: false, basis: 'unknown' });
  });
});

type Json = Record<string, unknown>;

/** An async-locks JSON as bench/locks/async-run.ts writes it, from synthetic processes. */
function asyncLocksJson(): Json {
  const run = (opsPerWorker: number[]): AsyncChildResult => {
    const total = opsPerWorker.reduce((a, b) => a + b, 0);
    return {
      warmup: [],
      runs: [
        {
          elapsedMs: 300,
          opsPerWorker,
          totalOps: total,
          opsPerSec: (total * 1000) / 300,
          counterDelta: total,
          minMaxRatio: Math.min(...opsPerWorker) / Math.max(...opsPerWorker),
          activeMsPerWorker: opsPerWorker.map(() => 300),
        },
      ],
      processMs: 900,
    };
  };
  const lost = 'bench process failed (code 1, signal null): LostUpdateError: lost update in async variant weblocks: the protected counter advanced by 3135 but the 2 workers reported 3144 critical sections (run 1); this "lock" does not exclude';
  const perWorker: Record<string, number> = { parklot: 600_000, multithreading: 75_000, weblocks: 40, 'parklot:mixed': 900_000 };
  const scenarios = asyncSuite().map((sc) => {
    const labels = sc.variants.map((v) => v.label);
    const raw: AsyncRawProcess[] = [];
    for (let rep = 0; rep < 3; rep++) {
      for (const [k, label] of labels.entries()) {
        const spec = sc.variants.find((v) => v.label === label)!;
        const job = { lock: spec.lock, threads: sc.threads, warmupRuns: 1, warmupMs: 100, runs: 1, durationMs: 300 };
        // Web Locks: every process loses updates at 2 workers, one of three at 4.
        const fails = label === 'weblocks' && (sc.threads === 2 || rep === 1);
        const ops = Array.from({ length: sc.threads }, (_, i) => Math.round(perWorker[label] * (1 + 0.02 * rep + 0.01 * i)));
        raw.push(fails ? { label, rep, orderIndex: k, wallMs: 900, job, ok: false, error: lost } : { label, rep, orderIndex: k, wallMs: 900, job, ok: true, result: run(ops) });
      }
    }
    return { definition: sc, processes: raw, summary: summarizeAsync(sc, raw, labels, 1) };
  });
  return {
    schema: 1,
    suite: 'async-locks',
    meta: {
      parklotVersion: '0.1.0',
      git: { commit: 'abcdef0123456789', dirty: false },
      node: 'v24.21.0',
      v8: '13.6',
      cpuModel: 'test CPU',
      availableParallelism: 2,
      loadAvgAtStart: [5, 5, 5],
      loadDuringRun: {
        method: 'test',
        intervalMs: 5000,
        intervals: 8,
        otherCpu: 0.1,
        otherCpuIntervals: { min: 0.05, median: 0.1, max: 0.2 },
        benchCpu: 0.85,
        loadAvg1: { min: 2, median: 2.2, max: 2.5 },
      },
      platform: 'test',
      date: '2026-12-04T00:00:00.000Z',
      mode: 'quick',
      quick: true,
    },
    config: { mode: 'quick', reps: 3 },
    scenarios,
  };
}

describe('report with async-locks data, the sampling check and the in-run load', () => {
  let dir: string;
  let res: ReportResult;
  const read = (name: string): Json => JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Json;
  const during = (otherCpu: number): Json => ({
    method: 'test',
    intervalMs: 5000,
    intervals: 20,
    otherCpu,
    otherCpuIntervals: { min: otherCpu / 2, median: otherCpu, max: otherCpu * 1.5 },
    benchCpu: 0.9,
    loadAvg1: { min: 2, median: 2.1, max: 2.6 },
  });
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'parklot-report-async-'));
    const data = path.join(dir, 'data');
    mkdirSync(data);
    // locks: load average 6 at start, but only 5 % other CPU during the run (not loaded by the
    // new rule); sampled-run data on one contended scenario.
    const locks = read('locks-2026-01-01T00-00-00Z.json');
    (locks.meta as Json).loadDuringRun = during(0.05);
    (locks.config as Json).contended = { ...((locks.config as Json).contended as Json), sampleEvery: 64 };
    for (const s of locks.scenarios as Json[]) {
      if ((s.definition as Json).name !== 'lock/contended/threads:2/cs:short') continue;
      for (const v of (s.summary as Json).variants as Json[]) {
        (v.median as Json).samplingCost = v.label === 'futex3' ? 0.7 : 0.98;
      }
    }
    // family: 40 % other CPU during the run: loaded.
    const family = read('family-2026-01-01T00-00-00Z.json');
    (family.meta as Json).loadDuringRun = during(0.4);
    writeFileSync(path.join(data, 'locks-2026-01-01T00-00-00Z.json'), JSON.stringify(locks));
    writeFileSync(path.join(data, 'family-2026-01-01T00-00-00Z.json'), JSON.stringify(family));
    // task-list: unchanged, no in-run measurement (old rule: load average 8.89 at start on 2 cores).
    writeFileSync(path.join(data, 'task-list-2026-01-01T00-00-00-000Z.json'), readFileSync(path.join(FIXTURES, 'task-list-2026-01-01T00-00-00-000Z.json')));
    writeFileSync(path.join(data, 'async-locks-2026-12-04T00-00-00Z.json'), JSON.stringify(asyncLocksJson()));
    res = await generateReport({ dataDir: data, outFile: path.join(dir, 'REPORT.md') });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const section = (md: string, from: string, to: string): string => md.slice(md.indexOf(from), md.indexOf(to, md.indexOf(from)));

  it('loads the async-locks file (no "unknown suite")', () => {
    expect(res.data.skipped.join('\n')).not.toMatch(/unknown suite/);
    expect(res.data.files.map((f) => f.meta.suite)).toContain('async-locks');
  });

  it('shows Web Locks as FAILED, losing updates, where every process lost updates', () => {
    const a2 = section(res.markdown, '### lock/async/threads:2', '### lock/async/threads:4');
    expect(a2).toContain('**FAILED: Web Locks (Node 24.21) lost updates: two holders at once.** 3 of 3 processes failed with `LostUpdateError`');
    expect(a2).toMatch(/^\| weblocks \| \*\*FAILED\*\* \(loses updates\) \| — \| — \| 3 \| 3 \(3 LostUpdateError\) \|$/m);
    expect(a2).toMatch(/^\| parklot vs weblocks \| not computed: every weblocks process failed \(lost updates\) \|.*\| issue 13: ≥ 3× Web Locks \| not checked; weblocks loses updates \|$/m);
    // parklot against multithreading: 8× (synthetic), target ≥ 1.5× met (provisional with 3 processes).
    expect(a2).toMatch(/^\| parklot vs multithreading \| 8\.\d+ \[.*\] \| 8\.\d\dx faster \|.*\| issue 13: ≥ 1\.5× multithreading \| \*\*met\*\* \(provisional: < 9 processes\) \|$/m);
    expect(a2).toMatch(/^\| parklot \| \d+\.\d+ M\/s \|/m);
  });

  it('marks a peer that lost updates in some processes even when others finished', () => {
    const a4 = section(res.markdown, '### lock/async/threads:4', '![async lock throughput');
    expect(a4).toContain('**FAILED: Web Locks (Node 24.21) lost updates: two holders at once.** 1 of 3 processes failed with `LostUpdateError`; the 2 other processes finished');
    // Two processes' numbers are shown (the third failed); 4 workers × ~40 ops per 300 ms.
    expect(a4).toMatch(/^\| weblocks \| [\d.]+ \/s ⚠ loses updates \| [\d.]+ \/s, [\d.]+ \/s \| [\d.]+ \| 3 \| 1 \(1 LostUpdateError\) \|$/m);
    expect(a4).toMatch(/^\| parklot vs weblocks \| [\d.]+ \[.*\|.*\*\*met\*\*.*; weblocks loses updates \|$/m);
  });

  it('lists multithreading and the async peers in the peers section, and charts ops/s per variant', () => {
    const peers = section(res.markdown, '## 2. Peers', '## 3. Async locking');
    expect(peers).toContain('| parklot vs multithreading |');
    expect(peers).toMatch(/^\| lock\/async\/threads:2 \| \d+\.\d+x faster .*\| \*\*FAILED: loses updates\*\* \(3 of 3 processes\) \|$/m);
    expect(res.charts).toContain('async-locks-ops.svg');
    const svg = readFileSync(path.join(dir, 'charts', 'async-locks-ops.svg'), 'utf8');
    expect(checkXml(svg).root).toBe('svg');
    expect(svg).toContain('FAILED at threads:2: lost updates in 3 of 3 processes');
    expect(svg).toContain('lock/async/threads:4');
    expect(res.markdown).toContain('](charts/async-locks-ops.svg)');
  });

  it('shows the sampling check for the contended scenarios that have it', () => {
    const s = section(res.markdown, '### Wait sampling check', '## 7. Environment');
    expect(s).toContain('time 1 acquisition in 64');
    expect(s).toMatch(/a value near 1 shows that the sampling does not change throughput/);
    expect(s).toMatch(/^\| lock\/contended\/threads:2\/cs:short \| .*parklot 0\.980.*futex3 0\.700 ⚠/m);
    expect(s).toMatch(/No sampling check in the data for .*lock\/contended\/threads:8\/cs:short/);
  });

  it('judges "loaded" by the load during the run, and by the old rule for data without it', () => {
    const md = res.markdown;
    const banner = md.split('\n').find((l) => l.startsWith('> **Provisional data.**'))!;
    expect(banner).toMatch(/other processes used ≥ 25 % of the CPU time while the suite ran: `family-2026-01-01T00-00-00Z\.json`/);
    expect(banner).toMatch(/the old rule for data that predates the in-run measurement: `task-list-2026-01-01T00-00-00-000Z\.json`/);
    // Load average 6 at start, but 5 % other CPU during the run: not flagged any more.
    expect(banner).not.toContain('locks-2026-01-01T00-00-00Z.json`, ');
    expect(banner).not.toMatch(/loaded machine \([^)]*`locks-2026/);
    const env = section(md, '## 7. Environment and data', 'Failed bench processes');
    expect(env).toMatch(/^\| locks \| .*other processes 5 % of CPU during the run[^⚠]*\|/m);
    expect(env).toMatch(/^\| family \| .*other processes 40 % of CPU during the run.*⚠ loaded/m);
    expect(env).toMatch(/^\| task-list \| .*load avg at start 8\.89 .*old rule.*⚠ loaded/m);
    expect(env).toMatch(/^\| async-locks \| .*other processes 10 % of CPU during the run[^⚠]*\|/m);
    // The lost updates are also in the list of failed processes.
    expect(md).toMatch(/Failed bench processes recorded in the data \(4\)/);
  });
});
