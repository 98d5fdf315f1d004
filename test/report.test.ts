// Tests of the report generator (bench/report): verdict rows on synthetic data (a clear win,
// a clear loss, noise, a smaller-than-claimed win, and an unsized claim), the pooled geometric
// mean, newest-file selection, and a full report from the small fixture data set in
// test/fixtures/report/ (every section present, every claim has a row, every chart is
// well-formed SVG with its Vega-Lite spec beside it).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeClaim, pooledGeomean, compare } from '../bench/report/analyze.ts';
import { CLAIMS, type ClaimDef } from '../bench/report/claims.ts';
import { selectNewest } from '../bench/report/load.ts';
import type { Comparison, LoadedFile } from '../bench/report/model.ts';
import { generateReport, type ReportResult } from '../bench/report/report.ts';
import { mulberry32 } from '../bench/lib/stats.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, 'fixtures', 'report');

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
    for (const h of ['## 1. Summary', '## 2. Peers', '## 3. Claims', '## 4. Scaling', '## 5. Fairness', '## 6. Environment and data']) {
      expect(md).toContain(h);
    }
    expect(md).toMatch(/Generated by `npm run report`/);
    expect(md).toMatch(/\*\*Provisional data\.\*\*.*QUICK/);
    expect(md).toMatch(/geometric mean/);
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
