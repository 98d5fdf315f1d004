// The report generator: reads reports/data/*.json (newest measurement of every scenario),
// computes every claim's statistics (analyze.ts) and writes reports/REPORT.md plus the
// charts in reports/charts/ (spec beside SVG). `generateReport` is the entry point used by
// the CLI (`npm run report`, bench/cli.ts) and by the tests on fixture data.
//
// Invariants: every number printed comes from the data files; a claim without data says
// `not measured` and why; a proposal slower than its baseline is printed as slower (and its
// verdict says so); quick-mode and loaded-machine data are flagged at the top and per claim; a
// variant whose processes failed (a lost update above all) is shown as FAILED, never left out.
// Output depends only on the data (no wall-clock date), so regenerating is reproducible.
//
// Loaded machine (judgeLoad): data whose runner measured the load during its own run
// (meta.loadDuringRun, bench/lib/load-monitor.ts) is "loaded" when other processes used
// ≥ OTHER_CPU_LOADED of the machine's CPU time while the suite ran; older data without that
// measurement falls back to the old rule, load average at start ≥ half the core count, and the
// report says which files were judged that way.

import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { analyzeClaim, claimFor, pooledGeomean, seedOf, compare, type ClaimResult, type ComparisonStats } from './analyze.ts';
import { forestSpec, scalingSpec, variantBarsSpec, writeChart, type BarNote, type BarRow, type ScalingRow } from './charts.ts';
import { CLAIMS, type ClaimDef } from './claims.ts';
import { fmtCI, fmtNs, fmtP, fmtRatio, fmtValue, metricName, phrase, table } from './format.ts';
import { ASYNC_PEERS, LOCK_PEERS, loadDataDir, type DataSet } from './load.ts';
import type { Comparison, FileMeta, VariantPoint } from './model.ts';

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
const PEERS = LOCK_PEERS;
const pct = (x: number): string => `${(100 * x).toFixed(0)} %`;

/** Other processes' share of the machine's CPU time during a suite's run from which its data counts as "loaded". */
export const OTHER_CPU_LOADED = 0.25;

export interface LoadJudgement {
  loaded: boolean;
  /**
   * `during-run`: other processes' CPU share while the suite ran (meta.loadDuringRun);
   * `at-start`: data without that measurement, judged by the load average at start (old rule);
   * `unknown`: neither recorded (never flagged).
   */
  basis: 'during-run' | 'at-start' | 'unknown';
  /** What was measured, for the environment table. */
  text: string;
}

/** Whether a data file comes from a loaded machine, and on what basis. */
export function judgeLoad(m: FileMeta): LoadJudgement {
  const l = m.loadDuringRun;
  if (l !== undefined && l.otherCpu !== null) {
    const iv = l.otherCpuIntervals;
    return {
      loaded: l.otherCpu >= OTHER_CPU_LOADED,
      basis: 'during-run',
      text:
        `other processes ${pct(l.otherCpu)} of CPU during the run` +
        (iv ? ` (per interval ${pct(iv.min)}–${pct(iv.max)}, median ${pct(iv.median)})` : '') +
        `; load avg ${l.loadAvg1.min.toFixed(2)}–${l.loadAvg1.max.toFixed(2)} incl. the bench`,
    };
  }
  const la = m.loadAvgAtStart;
  if (la !== undefined && la.length > 0 && m.cores !== undefined) {
    return {
      loaded: la[0] >= 0.5 * m.cores,
      basis: 'at-start',
      text: `load avg at start ${la.map((x) => x.toFixed(2)).join(' ')} (no in-run measurement: old rule)`,
    };
  }
  return { loaded: false, basis: 'unknown', text: 'not recorded' };
}

const isLoaded = (m: FileMeta): boolean => judgeLoad(m).loaded;

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
  parts.push(`By the verdict rules of bench/claims.md the verdict is **${r.verdict}** (${r.reason}).`);
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
  const asyncPeers = data.comparisons.filter((c) => c.tag === 'async-peer');
  if (!peerComps.length && !poolPeers.length && !asyncPeers.length) {
    out.push('No peer comparisons in the data (run `npm run bench -- locks async`).', '');
    return out.join('\n');
  }
  out.push(
    'parklot `Mutex` (default options) against each peer lock, as the ratio of median ops/s (parklot / peer; > 1 means parklot is faster) with its 95 % bootstrap CI and Mann–Whitney p. Peers: V8 `Atomics.Mutex` (`v8`), Drepper\'s 3-state futex lock (`futex3`), a lock whose unlock always notifies (`always-notify`), a TTAS spin lock (`spin`), and the npm package `multithreading`\'s `Mutex` through its blocking API (`multithreading`; data files older than that peer show "—"). Cells marked *n.s.* are not significant at 0.05.',
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
  if (asyncPeers.length) {
    const aunits = [...new Set(asyncPeers.map((c) => c.unit))].sort(byThreadsInName);
    const astats = new Map(asyncPeers.map((c) => [`${c.unit}|${c.baseline}`, compare(c)]));
    out.push(
      `parklot \`lockAsync()\` against the async peers (details, per-variant numbers and targets: [3. Async locking](#async)): \`multithreading\`'s \`await mutex.lock()\` and Node's Web Locks (\`weblocks\`, \`navigator.locks.request\`). A peer marked **FAILED** had processes end in \`LostUpdateError\`: it let two holders in at once.`,
      '',
      table(
        ['scenario', ...ASYNC_PEERS.map((p) => `parklot vs ${p} (async)`)],
        aunits.map((u) => [
          u,
          ...ASYNC_PEERS.map((p) => {
            const s = astats.get(`${u}|${p}`);
            const vp = data.variantPoints.find((v) => v.suite === 'async-locks' && v.scenario === u && v.variant === p);
            const failed = vp && vp.failures > 0 ? `**FAILED${vp.lostUpdates ? ': loses updates' : ''}** (${vp.failures} of ${vp.processes} processes)${s?.ok ? '; others: ' : ''}` : '';
            return `${failed}${s?.ok || !failed ? cell(s) : ''}`;
          }),
        ]),
      ),
      '',
    );
  }
  if (poolPeers.length) {
    const ps = poolPeers.map((c) => compare(c));
    out.push('Worker pool against piscina / tinypool (from the pool suite):', '', table([...HEAD, 'stability'], comparisonRows(ps, false)), '');
  } else {
    out.push('piscina / tinypool: not measured yet (no pool data in reports/data).', '');
  }
  return out.join('\n');
}

/** Sorts unit names by their `threads:N` (then by name). */
function byThreadsInName(a: string, b: string): number {
  const t = (s: string): number => Number(/threads:(\d+)/.exec(s)?.[1] ?? 0);
  return t(a) - t(b) || a.localeCompare(b);
}

/** `v24.21.0` → `24.21`. */
function nodeShort(node: string | undefined): string {
  const m = /^v?(\d+)\.(\d+)/.exec(node ?? '');
  return m ? `${m[1]}.${m[2]}` : (node ?? '?');
}

/** How an async variant is named in prose (Web Locks with the Node version that ran them). */
function asyncVariantName(label: string, m: FileMeta | undefined): string {
  return label === 'weblocks' ? `Web Locks (Node ${nodeShort(m?.node)})` : label;
}

/** A pass/fail target against a ratio's CI, as the runners check it. */
function targetStatus(s: ComparisonStats, t: NonNullable<Comparison['target']>): string {
  return s.low >= t.atLeast ? 'met' : s.high < t.atLeast ? 'NOT met' : 'inconclusive';
}

async function asyncSection(data: DataSet, chartsDir: string, charts: string[]): Promise<string> {
  const out: string[] = ['<a id="async"></a>', '## 3. Async locking', ''];
  const vps = data.variantPoints.filter((v) => v.suite === 'async-locks');
  if (!vps.length) {
    out.push('No async-locks data in reports/data (run `npm run bench -- async`).', '');
    return out.join('\n');
  }
  out.push(
    'parklot `Mutex.lockAsync()` against async locks (`lock/async/*`, bench/locks/async-run.ts): N workers, one async task each, looping `await lock(); v = counter; await null; counter = v + 1; unlock()`. `counter` is a plain shared word checked after every run: if it advanced less than the critical sections the workers completed, the process fails with `LostUpdateError`, which means two holders were inside the lock at once; such a process is counted as **FAILED**, never dropped. ops/s is total operations over the main thread\'s wall time (no clock read in the workers\' loop), per variant the median over processes (one fresh process per repetition). `parklot:mixed` has one worker using the blocking `lock()` among async ones. Ratios are parklot / peer medians with a 95 % bootstrap CI and Mann–Whitney p; the targets (issue 13: ≥ 1.5× `multithreading`, ≥ 3× Web Locks) are met when the whole CI is at or above them, NOT met when it is entirely below, else inconclusive.',
    '',
  );
  const scenarios = [...new Set(vps.map((v) => v.scenario))].sort(byThreadsInName);
  const medians: BarRow[] = [];
  const processes: BarRow[] = [];
  const notes: BarNote[] = [];
  for (const sc of scenarios) {
    const mine = vps.filter((v) => v.scenario === sc);
    const file = data.files.find((f) => f.meta.file === mine[0].file)?.meta;
    const quick = file?.quick === true;
    out.push(`### ${sc}`, '');
    const what = data.descriptions.get(`async-locks|${sc}`);
    out.push(`${what ? `${what}. ` : ''}Data: \`${mine[0].file}\` (${quick ? '**QUICK**' : 'full'} mode, ${file?.reps ?? '?'} repetitions).`, '');
    for (const v of mine) {
      if (v.failures === 0) continue;
      const name = asyncVariantName(v.variant, file);
      const ok = v.processes - v.failures;
      const first = (v.failureTexts?.find((f) => /LostUpdateError/.test(f)) ?? v.failureTexts?.[0] ?? '').replace(/^bench process failed \([^)]*\): /, '');
      const example = first ? ` First error: \`${first.slice(0, 240)}${first.length > 240 ? '…' : ''}\`` : '';
      if (v.lostUpdates) {
        out.push(
          `> **FAILED: ${name} lost updates: two holders at once.** ${v.lostUpdates} of ${v.processes} processes failed with \`LostUpdateError\`${v.failures > v.lostUpdates ? ` (${v.failures - v.lostUpdates} more failed otherwise)` : ''}; ${ok > 0 ? `the ${ok} other process${ok > 1 ? 'es' : ''} finished and ${ok > 1 ? 'are' : 'is'} shown below, but this lock does not exclude.` : 'it has no ops/s here.'}${example}`,
          '',
        );
      } else {
        out.push(`> **FAILED: ${name}:** ${v.failures} of ${v.processes} processes failed.${example}`, '');
      }
    }
    out.push(
      table(
        ['variant', 'ops/s (median)', 'ops/s per process', 'least/most served', 'processes', 'failed'],
        mine.map((v) => [
          v.variant,
          v.opsPerSec === undefined ? `**FAILED**${v.lostUpdates ? ' (loses updates)' : ''}` : `${fmtValue('opsPerSec', v.opsPerSec)}${v.lostUpdates ? ' ⚠ loses updates' : ''}`,
          (v.samples ?? []).map((x) => fmtValue('opsPerSec', x)).join(', ') || '—',
          v.minMaxRatio === undefined ? '—' : v.minMaxRatio.toFixed(2),
          String(v.processes),
          v.failures ? `${v.failures}${v.lostUpdates ? ` (${v.lostUpdates} LostUpdateError)` : ''}` : '0',
        ]),
      ),
      '',
    );
    const comps = data.comparisons.filter((c) => c.suite === 'async-locks' && c.unit === sc);
    if (comps.length) {
      const rows = comps.map((c) => {
        const s = compare(c);
        const base = mine.find((v) => v.variant === c.baseline);
        const cand = mine.find((v) => v.variant === c.candidate);
        const lost = [cand, base].filter((v) => v?.lostUpdates).map((v) => `${v!.variant} loses updates`);
        let ratio: string;
        if (s.ok) ratio = `${fmtRatio(s.ratio)} ${fmtCI(s.low, s.high)}`;
        else {
          const side = !c.baselineSamples.length ? base : cand;
          ratio = side && side.failures > 0 && side.failures === side.processes
            ? `not computed: every ${side.variant} process failed${side.lostUpdates ? ' (lost updates)' : ''}`
            : `not computed: ${s.missing ?? ''}`;
        }
        let target = '—';
        if (c.target) {
          const few = Math.min(...s.n) < 9 ? ' (provisional: < 9 processes)' : '';
          target = s.ok ? `**${targetStatus(s, c.target)}**${few}` : 'not checked';
          if (lost.length) target += `; ${lost.join(', ')}`;
        }
        return [
          `${c.candidate} vs ${c.baseline}`,
          ratio,
          s.ok ? phrase(c.metric, c.direction, s.ratio) : '—',
          fmtP(s.p),
          `${s.n[1]} / ${s.n[0]}`,
          c.target?.text ?? '—',
          target,
        ];
      });
      out.push(table(['comparison', 'ratio of medians [95 % CI]', 'reads as', 'MWU p', 'n (cand. / base.)', 'target', 'target check'], rows), '');
    }
    // pyperf's instability warnings per variant (the "fewer than 9 samples" one is said by the target check).
    const unstable = mine.flatMap((v) => v.warnings.filter((w) => !w.startsWith('only ')).map((w) => `${v.variant}: ${w}`));
    if (unstable.length) out.push(`Unstable samples (pyperf's rules): ${unstable.join('; ')}.`, '');
    for (const v of mine) {
      if (v.opsPerSec !== undefined) medians.push({ group: sc, variant: v.variant, value: v.opsPerSec });
      for (const x of v.samples ?? []) processes.push({ group: sc, variant: v.variant, value: x });
      if (v.failures) {
        const what = v.lostUpdates ? 'lost updates' : 'failed';
        const where = sc.split('/').pop() ?? sc;
        notes.push({ group: sc, variant: v.variant, note: `FAILED at ${where}: ${what} in ${v.failures} of ${v.processes} processes`, ...(v.opsPerSec !== undefined ? { at: v.opsPerSec } : {}) });
      }
    }
  }
  const order = [...new Set(vps.map((v) => v.variant))];
  const file = await writeChart(
    chartsDir,
    'async-locks-ops',
    variantBarsSpec('Async lock/unlock throughput per variant', 'async lock()+unlock() per second (all workers)', medians, processes, notes, order),
  );
  charts.push(file);
  out.push(`![async lock throughput per variant](charts/${file})`, '');
  return out.join('\n');
}

async function scalingSection(data: DataSet, chartsDir: string, charts: string[]): Promise<string> {
  const out: string[] = ['<a id="scaling"></a>', '## 5. Scaling', ''];
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
  const out: string[] = ['<a id="fairness"></a>', '## 6. Fairness', ''];
  const vps = data.variantPoints.filter((v) => v.suite === 'locks' && v.minMaxRatio !== undefined);
  if (!vps.length) return [...out, 'No fairness data.', '', samplingCheck(data)].join('\n');
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
  out.push(samplingCheck(data));
  return out.join('\n');
}

/** Sampled-run ops/s ÷ throughput-run ops/s at which a value is flagged (this far from 1). */
const SAMPLING_TOLERANCE = 0.1;

/** The wait-sampling check of the contended lock scenarios (median samplingCost per variant). */
function samplingCheck(data: DataSet): string {
  const out: string[] = ['<a id="sampling"></a>', '### Wait sampling check', ''];
  const contended = data.variantPoints.filter((v) => v.suite === 'locks' && v.scenario !== 'lock/uncontended' && !v.scenario.startsWith('lock/uncontended/'));
  const withCost = contended.filter((v) => v.samplingCost !== undefined);
  const every = [...new Set(data.files.filter((f) => f.meta.suite === 'locks').map((f) => f.meta.sampleEvery).filter((x): x is number => x !== undefined))];
  const oneIn = every.length === 1 ? `1 acquisition in ${every[0]}` : every.length ? `1 acquisition in ${every.join(' or ')}` : 'a sample of the acquisitions';
  out.push(
    `In the contended lock scenarios the ops/s come from throughput runs that read no clock in the workers' loop; the waits (above) come from separate sampled runs of the same process that time ${oneIn} with \`performance.now()\`. The check is the sampled runs' ops/s divided by the throughput runs' ops/s, median over processes: a value near 1 shows that the sampling does not change throughput, so the waits were measured on the lock behaving as it does in the ops/s figures; ⚠ marks a value ${pct(SAMPLING_TOLERANCE)} or more away from 1.`,
    '',
  );
  if (!withCost.length) {
    const files = [...new Set(contended.map((v) => v.file))];
    out.push(
      contended.length
        ? `Not in the data used: ${files.map((f) => `\`${f}\``).join(', ')} predate${files.length > 1 ? '' : 's'} the sampled runs (every acquisition was timed in the measured runs themselves).`
        : 'No contended lock data.',
      '',
    );
    return out.join('\n');
  }
  const scenarios = [...new Set(withCost.map((v) => v.scenario))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  out.push(
    table(
      ['scenario', 'sampled ÷ throughput ops/s (median per variant)'],
      scenarios.map((sc) => [
        sc,
        withCost
          .filter((v) => v.scenario === sc)
          .map((v) => `${v.variant} ${v.samplingCost!.toFixed(3)}${Math.abs(v.samplingCost! - 1) >= SAMPLING_TOLERANCE ? ' ⚠' : ''}`)
          .join(', '),
      ]),
    ),
    '',
  );
  const missing = [...new Set(contended.filter((v) => v.samplingCost === undefined).map((v) => v.scenario))];
  if (missing.length) out.push(`No sampling check in the data for ${missing.map((s) => `\`${s}\``).join(', ')} (older files, before the sampled runs).`, '');
  return out.join('\n');
}

function environmentSection(data: DataSet): string {
  const out: string[] = ['<a id="environment"></a>', '## 7. Environment and data', ''];
  out.push(
    `"Loaded machine": the runners record the load while the suite runs (\`meta.loadDuringRun\`, bench/lib/load-monitor.ts): every 5 s the share of all cores' CPU time (from /proc/stat) used by processes outside the bench's own process tree. A file is flagged ⚠ loaded when other processes used ${pct(OTHER_CPU_LOADED)} or more of the machine's CPU time over the whole run. Files written before that measurement existed are judged by the old rule instead, the 1-minute load average at start (the minute before the suite started) ≥ half the core count, and say "old rule" below.`,
    '',
  );
  out.push(
    table(
      ['suite', 'file', 'date', 'mode', 'reps', 'parklot', 'commit', 'Node / V8', 'CPU', 'cores', 'load', 'platform', 'duration'],
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
        `${judgeLoad(m).text}${isLoaded(m) ? ' ⚠ loaded' : ''}`,
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
  const loadedDuring = data.files.filter((f) => judgeLoad(f.meta).loaded && judgeLoad(f.meta).basis === 'during-run').map((f) => `\`${f.meta.file}\``);
  const loadedAtStart = data.files.filter((f) => judgeLoad(f.meta).loaded && judgeLoad(f.meta).basis === 'at-start').map((f) => `\`${f.meta.file}\``);
  const newest = data.files.map((f) => f.meta.date).sort().at(-1) ?? 'no data';

  const md: string[] = [];
  md.push('<!-- Generated by `npm run report` (bench/report/report.ts) from reports/data/*.json. Do not edit by hand. -->', '');
  md.push('# parklot research report', '');
  md.push(`Built from ${data.files.length} data file(s), newest measurement ${newest}. Claims, targets and verdict rules are listed in \`bench/claims.md\`; every number below comes from the bench data.`, '');
  if (quickFiles.length || loadedFiles.length) {
    md.push(
      `> **Provisional data.** ${quickFiles.length ? `${quickFiles.length} of ${data.files.length} data files are QUICK runs (3 repetitions, short runs: ${quickFiles.map((f) => `\`${f}\``).join(', ')}). ` : ''}${loadedFiles.length ? `${loadedFiles.length} were taken on a loaded machine (${[loadedDuring.length ? `other processes used ≥ ${pct(OTHER_CPU_LOADED)} of the CPU time while the suite ran: ${loadedDuring.join(', ')}` : '', loadedAtStart.length ? `load average at start ≥ half the core count, the old rule for data that predates the in-run measurement: ${loadedAtStart.join(', ')}` : ''].filter(Boolean).join('; ')}). ` : ''}Verdicts from such data are indicative only; a \`--full\` run (≥ 9 repetitions) on an idle machine is needed before citing them.`,
      '',
    );
  }
  md.push('Contents: [1. Summary](#summary) · [2. Peers](#peers) · [3. Async locking](#async) · [4. Claims](#claims) · [5. Scaling](#scaling) · [6. Fairness](#fairness) · [7. Environment](#environment)', '');

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
    'Measured effect: ratio candidate/baseline of the named metric (medians over processes); with several comparisons, their geometric mean with a stratified bootstrap CI. Verdicts (`bench/claims.md`): `confirmed` — CI on the claimed side and reaching the claimed range; `smaller` — same side, entirely short of it; `no effect` — CI contains 1; `refuted` — CI entirely on the other side; `n/a` — cannot apply to JavaScript. "(quick)" marks a verdict from quick-mode data.',
    '',
    `${nTests} individual tests feed the verdicts; at α = 0.05 about ${(nTests * 0.05).toFixed(1)} would look significant by chance alone if nothing differed.`,
    '',
  );

  md.push(await peersSection(data, chartsDir, charts));
  md.push(await asyncSection(data, chartsDir, charts));
  md.push('<a id="claims"></a>', '## 4. Claims', '');
  for (const r of claims) md.push(await claimSection(r, data, chartsDir, charts));
  md.push(await scalingSection(data, chartsDir, charts));
  md.push(fairnessSection(data));
  md.push(environmentSection(data));

  const markdown = `${md.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
  mkdirSync(path.dirname(opts.outFile), { recursive: true });
  writeFileSync(opts.outFile, markdown);
  return { markdown, charts, claims, data };
}
