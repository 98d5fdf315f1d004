// The report generator: reads reports/data/*.json (newest measurement of every scenario),
// computes every claim's statistics (analyze.ts) and writes reports/REPORT.md plus the
// charts in reports/charts/ (spec beside SVG). `generateReport` is the entry point used by
// the CLI (`parklot report`) and by the tests on fixture data.
//
// Invariants: every number printed comes from the data files; a claim without data says
// `not measured` and why; a proposal slower than its baseline is printed as slower (and its
// verdict says so); quick-mode and loaded-machine data are flagged at the top and per claim.
// Output depends only on the data (no wall-clock date), so regenerating is reproducible.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { analyzeClaim, claimFor, pooledGeomean, seedOf, compare, type ClaimResult, type ComparisonStats } from './analyze.ts';
import { forestSpec, scalingSpec, writeChart, type ScalingRow } from './charts.ts';
import { CLAIMS, type ClaimDef } from './claims.ts';
import { fmtCI, fmtNs, fmtP, fmtRatio, fmtValue, metricName, phrase, table } from './format.ts';
import { loadDataDir, type DataSet } from './load.ts';
import type { FileMeta, VariantPoint } from './model.ts';

export interface ReportOptions {
  dataDir: string;
  /** Markdown output path (its directory receives `charts/`). */
  outFile: string;
  /** Defaults to `<dir of outFile>/charts`. */
  chartsDir?: string;
  claims?: ClaimDef[];
}

export interface ReportResult {
  markdown: string;
  charts: string[];
  claims: ClaimResult[];
  data: DataSet;
}

const anchor = (id: string): string => id.toLowerCase();
const PEERS = ['futex3', 'always-notify', 'spin', 'v8'];

function isLoaded(m: FileMeta): boolean {
  return m.loadAvgAtStart !== undefined && m.loadAvgAtStart.length > 0 && m.cores !== undefined && m.loadAvgAtStart[0] >= 0.5 * m.cores;
}

function measuredText(r: ClaimResult): string {
  if (r.status !== 'measured' || !r.pooled) return r.status === 'n/a' ? 'n/a' : 'not measured';
  const p = r.pooled;
  const metrics = [...new Set(r.primary.filter((s) => s.ok).map((s) => s.c.metric))];
  const scale = p.scale === 'benefit' ? 'benefit (> 1 = proposal better)' : metrics.length === 1 ? metricName(metrics[0]) : metrics.map(metricName).join(' / ');
  const how = p.k > 1 ? `geo-mean of ${p.k}` : '1 comparison';
  return `×${fmtRatio(p.ratio)} ${fmtCI(p.low, p.high)} ${scale}, ${how}`;
}

function verdictCell(r: ClaimResult): string {
  if (r.status === 'n/a') return '**n/a**';
  if (r.status === 'not measured') return 'not measured';
  return `**${r.verdict}**${r.quick ? ' (quick)' : ''}`;
}

function claimedRatioText(def: ClaimDef, direction: 'higher-is-better' | 'lower-is-better'): string {
  if (!def.benefit) return 'unsized (direction only)';
  const c = claimFor(direction, def.benefit);
  const [a, b] = c.ratio!;
  return a === b ? `ratio ${fmtRatio(a)}` : `ratio ${fmtRatio(a)}–${fmtRatio(b)}`;
}

function comparisonRows(stats: ComparisonStats[], withVerdict: boolean): string[][] {
  return stats.map((s) => {
    const c = s.c;
    const row = [
      c.point,
      c.candidate,
      c.baseline,
      metricName(c.metric),
      s.ok ? fmtValue(c.metric, s.baselineMedian) : '—',
      s.ok ? fmtValue(c.metric, s.candidateMedian) : '—',
      s.ok ? `${fmtRatio(s.ratio)} ${fmtCI(s.low, s.high)}` : `missing: ${s.missing ?? ''}`,
      s.ok ? phrase(c.metric, c.direction, s.ratio) : '—',
      fmtP(s.p),
      `${s.n[0]} / ${s.n[1]}`,
    ];
    if (withVerdict) row.push(s.verdict ?? '—');
    row.push(s.warnings.length ? `${s.warnings.length} ⚠` : '');
    return row;
  });
}

const HEAD = ['point', 'candidate', 'baseline', 'metric', 'baseline median', 'candidate median', 'ratio [95 % CI]', 'reads as', 'MWU p', 'n (b / c)'];

function paragraph(r: ClaimResult, data: DataSet): string {
  const def = r.def;
  if (r.status === 'n/a') return `Not applicable: ${r.why}`;
  if (r.status === 'not measured') return `Not measured: ${r.why}. No number is reported for ${def.id}.`;
  const p = r.pooled!;
  const ok = r.primary.filter((s) => s.ok);
  const metric = ok[0].c.metric;
  const direction = p.scale === 'benefit' ? 'higher-is-better' : p.scale;
  const parts: string[] = [];
  const files = r.files.map((f) => `\`${f}\``).join(', ');
  const metas = data.files.filter((f) => r.files.includes(f.meta.file)).map((f) => f.meta);
  const reps = [...new Set(ok.flatMap((s) => s.n))].sort((a, b) => a - b);
  parts.push(
    `${def.id} was measured in ${ok.length} comparison${ok.length > 1 ? 's' : ''} (${files}; ${reps.join('–')} processes per side${metas.some((m) => m.quick) ? ', quick mode' : ''}).`,
  );
  const scaleText = p.scale === 'benefit' ? 'benefit (proposal better when > 1)' : `candidate/baseline ${metricName(metric)}`;
  parts.push(
    `The ${ok.length > 1 ? 'geometric mean of the' : ''} ${scaleText} ratio${ok.length > 1 ? 's' : ''} is ${fmtRatio(p.ratio)} (95 % CI ${fmtCI(p.low, p.high)}), i.e. ${p.scale === 'benefit' ? (p.ratio >= 1 ? 'better' : 'worse') : phrase(metric, direction, p.ratio)} than the baseline at the point estimate; the claim corresponds to ${claimedRatioText(def, direction)}.`,
  );
  parts.push(`By the claims.md rules the verdict is **${r.verdict}** (${r.reason}).`);
  if (ok.length > 1) {
    const counts = new Map<string, number>();
    for (const s of ok) counts.set(s.verdict ?? '—', (counts.get(s.verdict ?? '—') ?? 0) + 1);
    const benefit = (s: ComparisonStats): number => (s.c.direction === 'higher-is-better' ? s.ratio : 1 / s.ratio);
    const best = ok.reduce((a, b) => (benefit(b) > benefit(a) ? b : a));
    const worst = ok.reduce((a, b) => (benefit(b) < benefit(a) ? b : a));
    parts.push(
      `Per comparison: ${[...counts].map(([v, n]) => `${n} ${v}`).join(', ')}; the proposal did best at ${best.c.point} (${phrase(best.c.metric, best.c.direction, best.ratio)}) and worst at ${worst.c.point} (${phrase(worst.c.metric, worst.c.direction, worst.ratio)}).`,
    );
    parts.push('Comparisons of one claim share processes in some suites, so the pooled interval is indicative, not exact.');
  }
  const sig = ok.filter((s) => s.p < 0.05).length;
  parts.push(
    sig === 0
      ? `No individual comparison reaches p < 0.05 (Mann–Whitney U)${reps[0] !== undefined && reps[0] < 9 ? `; with ${reps[0]} processes per side the test is weak by construction` : ''}.`
      : `${sig} of ${ok.length} comparison${ok.length > 1 ? 's' : ''} reach p < 0.05 (Mann–Whitney U).`,
  );
  const unstable = ok.filter((s) => s.warnings.some((w) => !/samples \(< 9\)/.test(w))).length;
  if (unstable) parts.push(`${unstable} of ${ok.length} have unstable samples by pyperf's rules (std dev ≥ 10 % of the mean or an outlier ≥ 50 % away).`);
  if (metas.some((m) => m.quick) || metas.some(isLoaded)) {
    parts.push('The data is from a quick and/or loaded-machine run: treat the verdict as provisional until a `--full` run on an idle machine.');
  }
  return parts.join(' ');
}

async function claimSection(r: ClaimResult, data: DataSet, chartsDir: string, charts: string[]): Promise<string> {
  const def = r.def;
  const out: string[] = [];
  out.push(`<a id="${anchor(def.id)}"></a>`, `### ${def.id}: ${def.proposal}`, '');
  out.push(`- **Proposal:** ${def.proposal}`);
  out.push(`- **Baseline:** ${def.baseline}`);
  out.push(`- **Claimed effect (source):** ${def.claimed}${def.interpretation ? ` — read as: ${def.interpretation}` : ''}`);
  if (def.setup) out.push(`- **Setup:** ${def.setup}`);
  if (r.files.length) {
    const metas = data.files.filter((f) => r.files.includes(f.meta.file)).map((f) => f.meta);
    for (const m of metas) {
      out.push(`- **Data:** \`${m.file}\` (${m.suite}, ${m.quick ? '**QUICK**' : 'full'} mode, ${m.reps ?? '?'} repetitions, ${m.date})`);
      if (m.method) out.push(`- **Method:** ${m.method}`);
    }
  }
  out.push('');
  out.push(`**Measured:** ${measuredText(r)}; p: ${r.pText}; verdict: ${verdictCell(r)}`, '');
  if (r.status === 'measured') {
    const ok = r.primary.filter((s) => s.ok);
    const direction = r.pooled!.scale === 'benefit' ? 'higher-is-better' : r.pooled!.scale;
    const claimed = def.benefit && r.pooled!.scale !== 'benefit' ? claimFor(direction, def.benefit).ratio : def.benefit;
    const rows = ok.map((s) => ({ label: `${s.c.point} ${s.c.candidate}/${s.c.baseline}`.slice(0, 70), ratio: s.ratio, low: s.low, high: s.high, verdict: s.verdict }));
    if (ok.length > 1) rows.push({ label: 'geometric mean', ratio: r.pooled!.ratio, low: r.pooled!.low, high: r.pooled!.high, verdict: r.verdict });
    const metric = ok[0].c.metric;
    const name = `claim-${anchor(def.id)}`;
    const file = await writeChart(
      chartsDir,
      name,
      forestSpec(`${def.id}: ${def.proposal}`.slice(0, 80), `candidate / baseline ${r.pooled!.scale === 'benefit' ? 'benefit' : metricName(metric)} (log scale)`, rows, claimed),
    );
    charts.push(file);
    out.push(`![${def.id} ratios](charts/${file})`, '');
  }
  if (r.primary.length) {
    out.push('Comparisons that decide the verdict:', '', table([...HEAD, 'verdict', 'stability'], comparisonRows(r.primary, true)), '');
  }
  if (r.secondary.length) {
    out.push('Context (not part of the verdict):', '', table([...HEAD, 'stability'], comparisonRows(r.secondary, false)), '');
  }
  const warns = [...new Set(r.primary.flatMap((s) => s.warnings))];
  if (warns.length) {
    out.push('<details><summary>Stability warnings (pyperf rules)</summary>', '', ...warns.slice(0, 30).map((w) => `- ${w}`), warns.length > 30 ? `- … and ${warns.length - 30} more` : '', '</details>', '');
  }
  out.push(paragraph(r, data), '');
  return out.join('\n');
}

async function peersSection(data: DataSet, chartsDir: string, charts: string[]): Promise<string> {
  const out: string[] = ['<a id="peers"></a>', '## 2. Peers', ''];
  const peerComps = data.comparisons.filter((c) => c.tag === 'peer');
  const poolPeers = data.comparisons.filter((c) => c.suite === 'pool' && c.tag === 'pool-peer');
  if (!peerComps.length && !poolPeers.length) {
    out.push('No peer comparisons in the data (run `parklot bench locks`).', '');
    return out.join('\n');
  }
  out.push(
    'parklot `Mutex` (default options) against each peer lock, as the ratio of median ops/s (parklot / peer; > 1 means parklot is faster) with its 95 % bootstrap CI and Mann–Whitney p. Peers: V8 `Atomics.Mutex` (`v8`), Drepper\'s 3-state futex lock (`futex3`), a lock whose unlock always notifies (`always-notify`), and a TTAS spin lock (`spin`). Cells marked *n.s.* are not significant at 0.05.',
    '',
  );
  const units = [...new Set(peerComps.map((c) => c.unit))];
  const stats = new Map(peerComps.map((c) => [`${c.unit}|${c.baseline}`, compare(c)]));
  const cell = (s: ComparisonStats | undefined): string =>
    !s || !s.ok ? '—' : `${phrase(s.c.metric, s.c.direction, s.ratio)} ${fmtCI(s.low, s.high)} p=${fmtP(s.p)}${s.p >= 0.05 ? ' *n.s.*' : ''}`;
  const rows = units.map((u) => [u, ...PEERS.map((p) => cell(stats.get(`${u}|${p}`)))]);
  const geo: { peer: string; ratio: number; low: number; high: number; k: number }[] = [];
  for (const p of PEERS) {
    const ss = units.map((u) => stats.get(`${u}|${p}`)).filter((s): s is ComparisonStats => s !== undefined && s.ok);
    const contended = ss.filter((s) => s.c.unit.startsWith('lock/contended/'));
    const g = pooledGeomean(contended, seedOf(`peers|${p}`));
    if (g) geo.push({ peer: p, ratio: g.ratio, low: g.low, high: g.high, k: g.k });
  }
  rows.push([
    '**geometric mean** over lock/contended/*',
    ...PEERS.map((p) => {
      const g = geo.find((x) => x.peer === p);
      return g ? `**×${fmtRatio(g.ratio)}** ${fmtCI(g.low, g.high)} (${g.k} scenarios)` : '—';
    }),
  ]);
  out.push(table(['scenario', ...PEERS.map((p) => `parklot vs ${p}`)], rows), '');
  if (geo.length) {
    const file = await writeChart(
      chartsDir,
      'peers-geomean',
      forestSpec('parklot Mutex vs peers: geometric mean over contended scenarios', 'parklot / peer ops/s (log scale)', geo.map((g) => ({ label: `vs ${g.peer}`, ratio: g.ratio, low: g.low, high: g.high }))),
    );
    charts.push(file);
    out.push(`![peers](charts/${file})`, '');
  }
  if (poolPeers.length) {
    const ps = poolPeers.map((c) => compare(c));
    out.push('Worker pool against piscina / tinypool (from the pool suite):', '', table([...HEAD, 'stability'], comparisonRows(ps, false)), '');
  } else {
    out.push('piscina / tinypool: not measured yet (no pool data in reports/data).', '');
  }
  return out.join('\n');
}

async function scalingSection(data: DataSet, chartsDir: string, charts: string[]): Promise<string> {
  const out: string[] = ['<a id="scaling"></a>', '## 4. Scaling', ''];
  const cores = data.files.find((f) => f.meta.cores !== undefined)?.meta.cores;
  out.push(
    `One worker is the "no parallelism" case (the GIL analogue of the CPython report); ${cores ?? '?'} is this machine's core count, so larger worker counts are oversubscribed (shaded in the charts).`,
    '',
  );
  const groups: { name: string; title: string; rows: ScalingRow[]; y: string }[] = [];
  for (const cs of ['short', 'medium']) {
    const rows = data.variantPoints
      .filter((v) => v.suite === 'locks' && new RegExp(`^lock/contended/threads:\\d+/cs:${cs}$`).test(v.scenario) && v.opsPerSec !== undefined && v.threads !== undefined)
      .map((v) => ({ threads: v.threads!, variant: v.variant, value: v.opsPerSec! }));
    if (rows.length) groups.push({ name: `scaling-lock-cs-${cs}`, title: `Mutex throughput vs workers, ${cs} critical section`, rows, y: 'lock()+unlock() per second' });
  }
  const tl = data.variantPoints
    .filter((v) => v.suite === 'task-list' && v.opsPerSec !== undefined && v.threads !== undefined)
    .map((v) => ({ threads: v.threads!, variant: v.variant, value: v.opsPerSec! }));
  if (tl.length) groups.push({ name: 'scaling-tasklist', title: 'TaskList insert+remove vs workers', rows: tl, y: 'insert+remove pairs per second' });
  if (!groups.length) out.push('No scaling data.', '');
  for (const g of groups) {
    const file = await writeChart(chartsDir, g.name, scalingSpec(g.title, g.y, g.rows, cores));
    charts.push(file);
    out.push(`![${g.title}](charts/${file})`, '');
    const variants = [...new Set(g.rows.map((r) => r.variant))];
    const threads = [...new Set(g.rows.map((r) => r.threads))].sort((a, b) => a - b);
    out.push(
      table(
        ['variant', ...threads.map((t) => `${t} worker${t > 1 ? 's' : ''}${cores !== undefined && t > cores ? ' (over)' : ''}`)],
        variants.map((v) => [v, ...threads.map((t) => fmtValue('x PerSec'.replace(' ', ''), g.rows.find((r) => r.variant === v && r.threads === t)?.value ?? Number.NaN))]),
      ),
      '',
    );
  }
  return out.join('\n');
}

function fairnessSection(data: DataSet): string {
  const out: string[] = ['<a id="fairness"></a>', '## 5. Fairness', ''];
  const vps = data.variantPoints.filter((v) => v.suite === 'locks' && v.minMaxRatio !== undefined);
  if (!vps.length) return [...out, 'No fairness data.', ''].join('\n');
  out.push(
    'Per contended lock scenario and variant (medians over processes): operations of the least-served worker divided by the most-served one (1 = perfectly even), and the wait per lock() at p50, p99 and max; "worst max" is the largest max over all processes. Waits below ~60 ns are not resolved (clock-read cost).',
    '',
  );
  const byThreads = (v: VariantPoint): number => v.threads ?? 0;
  vps.sort((a, b) => a.scenario.localeCompare(b.scenario) || byThreads(a) - byThreads(b));
  out.push(
    table(
      ['scenario', 'variant', 'least/most served', 'p50 wait', 'p99 wait', 'max wait', 'worst max', 'processes (failed)'],
      vps.map((v) => [
        v.scenario,
        v.variant,
        v.minMaxRatio!.toFixed(3),
        fmtNs(v.waitP50Ns ?? Number.NaN),
        fmtNs(v.waitP99Ns ?? Number.NaN),
        fmtNs(v.waitMaxNs ?? Number.NaN),
        fmtNs(v.worstWaitMaxNs ?? Number.NaN),
        `${v.processes}${v.failures ? ` (${v.failures} failed)` : ''}`,
      ]),
    ),
    '',
  );
  return out.join('\n');
}

function environmentSection(data: DataSet): string {
  const out: string[] = ['<a id="environment"></a>', '## 6. Environment and data', ''];
  out.push(
    table(
      ['suite', 'file', 'date', 'mode', 'reps', 'parklot', 'commit', 'Node / V8', 'CPU', 'cores', 'load avg at start', 'platform', 'duration'],
      data.files.map(({ meta: m }) => [
        m.suite,
        `\`${m.file}\``,
        m.date,
        m.quick ? '**QUICK**' : 'full',
        String(m.reps ?? '?'),
        m.parklotVersion ?? '?',
        m.commit ? `${m.commit.slice(0, 10)}${m.dirty ? ' (dirty tree)' : ''}` : '?',
        `${m.node ?? '?'} / ${m.v8 ?? '?'}`,
        m.cpuModel ?? '?',
        String(m.cores ?? '?'),
        `${(m.loadAvgAtStart ?? []).map((x) => x.toFixed(2)).join(' ')}${isLoaded(m) ? ' ⚠ loaded' : ''}`,
        m.platform ?? '?',
        m.durationMs !== undefined ? `${(m.durationMs / 1000).toFixed(0)} s` : '?',
      ]),
    ),
    '',
  );
  const failures = data.files.flatMap((f) => f.failures.map((x) => `${f.meta.file}: ${x}`));
  out.push(failures.length ? `Failed bench processes recorded in the data (${failures.length}):\n\n${failures.slice(0, 20).map((f) => `- ${f}`).join('\n')}\n` : 'No failed bench processes in the data used.', '');
  if (data.skipped.length) out.push('Data files not used:', '', ...data.skipped.map((s) => `- ${s}`), '');
  return out.join('\n');
}

export async function generateReport(opts: ReportOptions): Promise<ReportResult> {
  const data = loadDataDir(opts.dataDir);
  const chartsDir = opts.chartsDir ?? path.join(path.dirname(opts.outFile), 'charts');
  mkdirSync(chartsDir, { recursive: true });
  // Charts are regenerated every time: remove old ones so none outlives its data.
  for (const f of readdirSync(chartsDir)) if (/\.(svg|vl\.json)$/.test(f)) rmSync(path.join(chartsDir, f));
  const charts: string[] = [];
  const claims = (opts.claims ?? CLAIMS).map((d) => analyzeClaim(d, data));
  const quickFiles = data.files.filter((f) => f.meta.quick).map((f) => f.meta.file);
  const loadedFiles = data.files.filter((f) => isLoaded(f.meta)).map((f) => f.meta.file);
  const newest = data.files.map((f) => f.meta.date).sort().at(-1) ?? 'no data';

  const md: string[] = [];
  md.push('<!-- Generated by `npm run report` (bench/report/report.ts) from reports/data/*.json. Do not edit by hand. -->', '');
  md.push('# parklot research report', '');
  md.push(`Built from ${data.files.length} data file(s), newest measurement ${newest}. Claims are from \`design/claims.md\`; every number below comes from the bench data.`, '');
  if (quickFiles.length || loadedFiles.length) {
    md.push(
      `> **Provisional data.** ${quickFiles.length ? `${quickFiles.length} of ${data.files.length} data files are QUICK runs (3 repetitions, short runs: ${quickFiles.map((f) => `\`${f}\``).join(', ')}). ` : ''}${loadedFiles.length ? `${loadedFiles.length} were taken on a loaded machine (load average at start ≥ half the core count: ${loadedFiles.map((f) => `\`${f}\``).join(', ')}). ` : ''}Verdicts from such data are indicative only; a \`--full\` run (≥ 9 repetitions) on an idle machine is needed before citing them.`,
      '',
    );
  }
  md.push('Contents: [1. Summary](#summary) · [2. Peers](#peers) · [3. Claims](#claims) · [4. Scaling](#scaling) · [5. Fairness](#fairness) · [6. Environment](#environment)', '');

  md.push('<a id="summary"></a>', '## 1. Summary', '');
  md.push(
    table(
      ['id', 'proposal', 'claimed effect', 'measured effect [95 % CI]', 'p', 'verdict', 'section'],
      claims.map((r) => [
        r.def.id,
        r.def.proposal,
        r.def.claimed,
        r.status === 'measured' ? measuredText(r) : r.status === 'n/a' ? `n/a: ${r.why}` : `not measured: ${r.why}`,
        r.pText,
        verdictCell(r),
        `[${r.def.id}](#${anchor(r.def.id)})`,
      ]),
    ),
    '',
  );
  const nTests = claims.reduce((a, r) => a + r.primary.filter((s) => s.ok && Number.isFinite(s.p)).length, 0);
  md.push(
    'Measured effect: ratio candidate/baseline of the named metric (medians over processes); with several comparisons, their geometric mean with a stratified bootstrap CI. Verdicts (claims.md): `confirmed` — CI on the claimed side and reaching the claimed range; `smaller` — same side, entirely short of it; `no effect` — CI contains 1; `refuted` — CI entirely on the other side; `n/a` — cannot apply to JavaScript. "(quick)" marks a verdict from quick-mode data.',
    '',
    `${nTests} individual tests feed the verdicts; at α = 0.05 about ${(nTests * 0.05).toFixed(1)} would look significant by chance alone if nothing differed.`,
    '',
  );

  md.push(await peersSection(data, chartsDir, charts));
  md.push('<a id="claims"></a>', '## 3. Claims', '');
  for (const r of claims) md.push(await claimSection(r, data, chartsDir, charts));
  md.push(await scalingSection(data, chartsDir, charts));
  md.push(fairnessSection(data));
  md.push(environmentSection(data));

  const markdown = `${md.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
  mkdirSync(path.dirname(opts.outFile), { recursive: true });
  writeFileSync(opts.outFile, markdown);
  return { markdown, charts, claims, data };
}
