// Reads reports/data/*.json and turns each suite's own schema into the report's model
// (model.ts): locks-*.json (bench/run.ts), async-locks-*.json (bench/locks/async-run.ts),
// family-*.json (bench/family/run.ts), task-list-*.json (bench/task-list/run.ts) and, when
// present, pool-*.json. Then keeps, for
// every (suite, scenario unit), the newest file that measured it, so a later filtered run
// replaces only the scenarios it re-ran.
//
// Invariant: samples are the suites' per-process values, never recomputed or filtered here;
// a file whose schema is not recognised is reported as such (skipped list), never guessed at.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadDuringRun, Spread } from '../lib/load-monitor.ts';
import type { Direction } from '../lib/stats.ts';
import { canonicalId } from '../task-list/scenarios.ts';
import { scenarioName as familyScenarioName } from '../family/suite.ts';
import type { Point as FamilyPoint } from '../family/protocol.ts';
import { directionOf, type Comparison, type FileMeta, type LoadedFile, type SuiteName, type VariantPoint } from './model.ts';

type Json = Record<string, unknown>;
const obj = (x: unknown): Json => (x !== null && typeof x === 'object' ? (x as Json) : {});
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);

/** `threads:1 readPct:90` from a point object (stable key order as written). */
export function pointLabel(p: Json): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}:${String(v)}`)
    .join(' ');
}

function spreadOf(x: unknown): Spread | null {
  const o = obj(x);
  const min = num(o.min);
  const median = num(o.median);
  const max = num(o.max);
  return min !== undefined && median !== undefined && max !== undefined ? { min, median, max } : null;
}

/** meta.loadDuringRun (bench/lib/load-monitor.ts), or undefined when absent or malformed. */
function loadDuringRunOf(x: unknown): LoadDuringRun | undefined {
  if (x === null || typeof x !== 'object') return undefined;
  const o = obj(x);
  const loadAvg1 = spreadOf(o.loadAvg1);
  if (loadAvg1 === null) return undefined;
  return {
    method: str(o.method) ?? '',
    intervalMs: num(o.intervalMs) ?? 0,
    intervals: num(o.intervals) ?? 0,
    otherCpu: num(o.otherCpu) ?? null,
    otherCpuIntervals: spreadOf(o.otherCpuIntervals),
    benchCpu: num(o.benchCpu) ?? null,
    loadAvg1,
  };
}

function baseMeta(suite: SuiteName, file: string, m: Json): FileMeta {
  const git = obj(m.git);
  const mode = str(m.mode);
  const loadDuringRun = loadDuringRunOf(m.loadDuringRun);
  return {
    suite,
    file,
    date: str(m.date) ?? '',
    quick: m.quick === true || mode === 'quick',
    reps: num(m.reps),
    parklotVersion: str(m.parklotVersion),
    commit: str(git.commit),
    dirty: typeof git.dirty === 'boolean' ? git.dirty : undefined,
    node: str(m.node),
    v8: str(m.v8),
    cpuModel: str(m.cpuModel),
    cores: num(m.availableParallelism),
    loadAvgAtStart: arr(m.loadAvgAtStart).filter((x): x is number => typeof x === 'number'),
    ...(loadDuringRun ? { loadDuringRun } : {}),
    platform: str(m.platform),
    durationMs: num(m.durationMs),
    method: str(m.method) ?? str(m.timing),
    argv: arr(m.argv).filter((x): x is string => typeof x === 'string'),
  };
}

/** Peers of parklot's Mutex in the locks suite (its `peer` comparisons). */
export const LOCK_PEERS = ['futex3', 'always-notify', 'spin', 'v8', 'multithreading'];
/** Peers of parklot's lockAsync in the async-locks suite (its `async-peer` comparisons). */
export const ASYNC_PEERS = ['multithreading', 'weblocks'];

function loadLocks(file: string, d: Json): LoadedFile {
  const meta = baseMeta('locks', file, obj(d.meta));
  meta.reps = num(obj(d.config).reps) ?? meta.reps;
  const sampleEvery = num(obj(obj(d.config).contended).sampleEvery);
  if (sampleEvery !== undefined) meta.sampleEvery = sampleEvery;
  const out: LoadedFile = { meta, units: [], comparisons: [], variantPoints: [], failures: [] };
  for (const sRaw of arr(d.scenarios)) {
    const s = obj(sRaw);
    const def = obj(s.definition);
    const sum = obj(s.summary);
    const name = str(def.name) ?? 'unknown';
    out.units.push(name);
    const threads = num(def.threads) ?? (def.kind === 'uncontended' ? 1 : undefined);
    const params: Record<string, number | string> = { kind: str(def.kind) ?? '' };
    if (threads !== undefined) params.threads = threads;
    if (num(def.workInside) !== undefined) params.inside = num(def.workInside)!;
    if (num(def.workBetween) !== undefined) params.between = num(def.workBetween)!;
    const values = new Map<string, Json[]>();
    for (const vRaw of arr(sum.variants)) {
      const v = obj(vRaw);
      const label = str(v.label) ?? '?';
      const vals = arr(v.values).map(obj);
      values.set(label, vals);
      for (const f of arr(v.failures)) out.failures.push(`${name} ${label}: ${String(f)}`);
      const med = obj(v.median);
      out.variantPoints.push({
        suite: 'locks',
        file,
        scenario: name,
        threads,
        variant: label,
        processes: num(v.processes) ?? vals.length,
        failures: arr(v.failures).length,
        opsPerSec: num(med.opsPerSec),
        waitP50Ns: num(med.waitP50Ns),
        waitP99Ns: num(med.waitP99Ns),
        waitMaxNs: num(med.waitMaxNs),
        worstWaitMaxNs: num(v.worstWaitMaxNs),
        minMaxRatio: num(med.minMaxRatio),
        samplingCost: num(med.samplingCost),
        warnings: arr(v.warnings).map(String),
      });
    }
    const pointText = Object.entries(params)
      .filter(([k]) => k !== 'kind')
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    for (const cRaw of arr(sum.comparisons)) {
      const c = obj(cRaw);
      const candidate = str(c.candidate) ?? '?';
      const baseline = str(c.baseline) ?? '?';
      const metric = str(c.metric) ?? 'opsPerSec';
      const claimId = str(obj(c.claim).id);
      const isPeer =
        candidate === 'parklot' && LOCK_PEERS.includes(baseline) && metric === 'opsPerSec' &&
        (name === 'lock/uncontended' || name.startsWith('lock/contended/'));
      const pick = (label: string): number[] =>
        (values.get(label) ?? []).map((v) => num(v[metric])).filter((x): x is number => x !== undefined);
      out.comparisons.push({
        suite: 'locks',
        file,
        unit: name,
        point: pointText || name,
        params,
        tag: claimId ?? (isPeer ? 'peer' : 'locks'),
        candidate,
        baseline,
        metric,
        direction: directionOf(metric),
        note: str(obj(c.claim).text) ?? str(def.what) ?? '',
        candidateSamples: pick(candidate),
        baselineSamples: pick(baseline),
      });
    }
  }
  return out;
}

/**
 * bench/locks/async-run.ts: `scenarios[]` of { definition (name, what, threads, comparisons with
 * targets), processes[], summary (per variant: processes, failures, values[].opsPerSec, median) }.
 * Every comparison of the definition becomes one, also when a side has no successful process
 * (then it has no samples on that side and the report says why). parklot against an async peer
 * is tagged `async-peer`, other comparisons (parklot:mixed vs parklot) `async`.
 */
function loadAsyncLocks(file: string, d: Json): LoadedFile {
  const meta = baseMeta('async-locks', file, obj(d.meta));
  meta.reps = num(obj(d.config).reps) ?? meta.reps;
  const out: LoadedFile = { meta, units: [], comparisons: [], variantPoints: [], failures: [], descriptions: {} };
  for (const sRaw of arr(d.scenarios)) {
    const s = obj(sRaw);
    const def = obj(s.definition);
    const sum = obj(s.summary);
    const name = str(def.name) ?? 'unknown';
    const threads = num(def.threads);
    out.units.push(name);
    const what = str(def.what);
    if (what !== undefined) out.descriptions![name] = what;
    const samples = new Map<string, number[]>();
    for (const vRaw of arr(sum.variants)) {
      const v = obj(vRaw);
      const label = str(v.label) ?? '?';
      const ops = arr(v.values)
        .map((x) => num(obj(x).opsPerSec))
        .filter((x): x is number => x !== undefined);
      samples.set(label, ops);
      const failureTexts = arr(v.failures).map(String);
      for (const f of failureTexts) out.failures.push(`${name} ${label}: ${f}`);
      const med = obj(v.median);
      out.variantPoints.push({
        suite: 'async-locks',
        file,
        scenario: name,
        threads,
        variant: label,
        processes: num(v.processes) ?? ops.length + failureTexts.length,
        failures: failureTexts.length,
        opsPerSec: num(med.opsPerSec),
        minMaxRatio: num(med.minMaxRatio),
        samples: ops,
        failureTexts,
        lostUpdates: failureTexts.filter((f) => /LostUpdateError/.test(f)).length,
        warnings: arr(v.warnings).map(String),
      });
    }
    for (const cRaw of arr(def.comparisons)) {
      const c = obj(cRaw);
      const candidate = str(c.candidate);
      const baseline = str(c.baseline);
      // A variant left out of the run (--variants) has no summary entry: nothing to compare.
      if (candidate === undefined || baseline === undefined || !samples.has(candidate) || !samples.has(baseline)) continue;
      const t = obj(c.target);
      const atLeast = num(t.atLeast);
      out.comparisons.push({
        suite: 'async-locks',
        file,
        unit: name,
        point: name,
        params: threads === undefined ? {} : { threads },
        tag: candidate === 'parklot' && ASYNC_PEERS.includes(baseline) ? 'async-peer' : 'async',
        candidate,
        baseline,
        metric: 'opsPerSec',
        direction: 'higher-is-better',
        note: what ?? '',
        candidateSamples: samples.get(candidate)!,
        baselineSamples: samples.get(baseline)!,
        ...(atLeast !== undefined ? { target: { atLeast, text: str(t.text) ?? `≥ ${atLeast}×` } } : {}),
      });
    }
  }
  return out;
}

function loadFamily(file: string, d: Json): LoadedFile {
  const meta = baseMeta('family', file, obj(d.meta));
  const out: LoadedFile = { meta, units: [], comparisons: [], variantPoints: [], failures: arr(obj(d.meta).failures).map((f) => JSON.stringify(f)) };
  // samples[group|variant|point][metric] = per-process values, in repetition order.
  const samples = new Map<string, Map<string, number[]>>();
  for (const rRaw of arr(d.raw)) {
    const o = obj(obj(rRaw).output);
    for (const pRaw of arr(o.points)) {
      const p = obj(pRaw);
      const key = `${String(o.group)}|${String(o.variant)}|${pointLabel(obj(p.point))}`;
      const m = samples.get(key) ?? new Map<string, number[]>();
      for (const [metric, v] of Object.entries(obj(p.metrics))) {
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        const a = m.get(metric) ?? [];
        a.push(v);
        m.set(metric, a);
      }
      samples.set(key, m);
    }
  }
  // Units are the scenario names of the points the file measured (bench/family/suite.ts), so a
  // filtered run replaces only the scenarios it re-ran; older files get the names from the points.
  for (const gRaw of arr(d.suite)) {
    const g = obj(gRaw);
    for (const p of arr(g.points)) {
      const name = familyScenarioName(String(g.group), obj(p) as unknown as FamilyPoint);
      if (!out.units.includes(name)) out.units.push(name);
    }
  }
  for (const cRaw of arr(d.comparisons)) {
    const c = obj(cRaw);
    const group = str(c.group) ?? '?';
    const point = obj(c.point);
    const pl = pointLabel(point);
    const candidate = str(c.candidate) ?? '?';
    const baseline = str(c.baseline) ?? '?';
    const metric = str(c.metric) ?? '?';
    const get = (v: string): number[] => samples.get(`${group}|${v}|${pl}`)?.get(metric) ?? [];
    const params: Record<string, number | string> = {};
    for (const [k, v] of Object.entries(point)) if (typeof v === 'number' || typeof v === 'string') params[k] = v;
    const scenario = familyScenarioName(group, point as unknown as FamilyPoint);
    out.comparisons.push({
      suite: 'family',
      file,
      unit: scenario,
      point: scenario,
      params,
      tag: str(c.id) ?? 'family',
      candidate,
      baseline,
      metric,
      direction: directionOf(metric),
      note: str(c.note) ?? '',
      candidateSamples: get(candidate),
      baselineSamples: get(baseline),
    });
  }
  return out;
}

function loadTaskList(file: string, d: Json): LoadedFile {
  const meta = baseMeta('task-list', file, obj(d.meta));
  const out: LoadedFile = { meta, units: [], comparisons: [], variantPoints: [], failures: arr(obj(d.meta).failures).map((f) => JSON.stringify(f)) };
  // Ids, sets and baselines of older files are mapped to today's names (canonicalId).
  const canon = (x: unknown): string | undefined => (typeof x === 'string' ? canonicalId(x) : undefined);
  const sums = arr(d.summaries).map(obj);
  const byId = new Map(sums.map((s) => [canon(s.id) ?? '', s]));
  const specs = new Map(arr(d.scenarios).map(obj).map((s) => [canon(s.id) ?? '', obj(s.spec)]));
  const units = new Set<string>();
  for (const s of sums) {
    const id = canon(s.id) ?? '?';
    const set = canon(s.set) ?? id;
    const group = str(s.group) ?? '?';
    units.add(`task-list/${set}`);
    const spec = specs.get(id) ?? {};
    const samples = arr(s.samples).filter((x): x is number => typeof x === 'number');
    const unitName = str(s.unit) ?? '';
    const metric = unitName === 'pairs/s' ? 'pairsPerSec' : unitName === 'ns/msg' ? 'nsPerMsg' : unitName;
    const direction = (str(s.direction) as Direction | undefined) ?? directionOf(metric);
    if (spec.kind === 'tasklist') {
      out.variantPoints.push({
        suite: 'task-list',
        file,
        scenario: 'tasklist',
        threads: num(spec.workers),
        variant: String(spec.impl),
        processes: samples.length,
        failures: 0,
        opsPerSec: num(s.median),
        warnings: arr(s.warnings).map(String),
      });
    }
    const baseId = canon(s.baseline);
    if (!baseId || baseId === id) continue;
    const base = byId.get(baseId);
    let tag = group;
    if (group === 'L7' && !id.endsWith('cap:1024')) tag = `L7-${id.split('/').pop() ?? ''}`;
    if (group === 'L7' && id.endsWith('cap:1024')) tag = 'L7';
    const params: Record<string, number | string | boolean> = {};
    for (const [k, v] of Object.entries(spec)) {
      if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') params[k] = v;
    }
    out.comparisons.push({
      suite: 'task-list',
      file,
      unit: `task-list/${set}`,
      point: id,
      params,
      tag,
      candidate: id,
      baseline: baseId,
      metric,
      direction,
      note: str(obj(s.claim).text) ?? '',
      candidateSamples: samples,
      baselineSamples: base ? arr(base.samples).filter((x): x is number => typeof x === 'number') : [],
    });
  }
  out.units.push(...units);
  return out;
}

/**
 * bench/pool/run.ts: `runs[]` (scenario, variant, rep, ok, value, unit: one per process) and
 * `verdicts[]` (id, scenario, candidate, baseline, claim text). A verdict id like `C9 (vs single)`
 * belongs to claim C9; entries of one claim whose claim text differs from that claim's first
 * entry (e.g. `C9 (vs none)`) are tagged `C9-…` (secondary). Entries against piscina/tinypool
 * without a claim are tagged `pool-peer`.
 */
function loadPool(file: string, d: Json): LoadedFile {
  const m = obj(d.meta);
  const meta = baseMeta('pool', file, m);
  meta.cpuModel = meta.cpuModel ?? str(m.cpu);
  if (!meta.loadAvgAtStart?.length) meta.loadAvgAtStart = arr(m.loadavgStart).filter((x): x is number => typeof x === 'number');
  const out: LoadedFile = { meta, units: [], comparisons: [], variantPoints: [], failures: [] };
  const samples = new Map<string, number[]>();
  const units = new Map<string, string>();
  for (const rRaw of arr(d.runs)) {
    const r = obj(rRaw);
    const key = `${String(r.scenario)}|${String(r.variant)}`;
    if (r.ok !== true) {
      out.failures.push(`${key} rep ${String(r.rep)}: ${str(r.error) ?? 'failed'}`);
      continue;
    }
    const v = num(r.value);
    if (v === undefined) continue;
    samples.set(key, [...(samples.get(key) ?? []), v]);
    units.set(String(r.scenario), str(r.unit) ?? '');
    const u = `pool/${String(r.scenario)}`;
    if (!out.units.includes(u)) out.units.push(u);
  }
  const firstText = new Map<string, string>();
  for (const vRaw of arr(d.verdicts)) {
    const v = obj(vRaw);
    const id = str(v.id) ?? '';
    const scenario = str(v.scenario);
    const candidate = str(v.candidate);
    const baseline = str(v.baseline);
    if (!scenario || !candidate || !baseline) continue;
    const claimText = str(v.claim);
    const base = id.split(' ')[0];
    let tag: string;
    if (claimText !== undefined && /^[CL]\d+$/.test(base)) {
      if (!firstText.has(base)) firstText.set(base, claimText);
      const paren = /\((.*)\)/.exec(id)?.[1] ?? '';
      tag = firstText.get(base) === claimText ? base : `${base}-${paren}`;
    } else {
      tag = /piscina|tinypool/.test(baseline) ? 'pool-peer' : 'pool';
    }
    const unit = units.get(scenario) ?? '';
    const metric = unit === 'tasks/s' ? 'tasksPerSec' : unit === 'µs' ? 'latencyUs' : unit.startsWith('ns/') ? `nsPer${unit.slice(3)}` : unit;
    out.comparisons.push({
      suite: 'pool',
      file,
      unit: `pool/${scenario}`,
      point: scenario,
      params: {},
      tag,
      candidate,
      baseline,
      metric,
      direction: unit.endsWith('/s') ? 'higher-is-better' : 'lower-is-better',
      note: claimText ?? id,
      candidateSamples: samples.get(`${scenario}|${candidate}`) ?? [],
      baselineSamples: samples.get(`${scenario}|${baseline}`) ?? [],
    });
  }
  return out;
}

/** Recognises a data file's suite from its content (file name as a fallback). */
export function suiteOf(fileName: string, d: Json): SuiteName | undefined {
  if (d.suite === 'locks') return 'locks';
  if (d.suite === 'async-locks') return 'async-locks';
  if (d.suite === 'task-list') return 'task-list';
  if (obj(d.meta).bench === 'family' || (Array.isArray(d.suite) && Array.isArray(d.comparisons) && Array.isArray(d.raw))) return 'family';
  if (d.suite === 'pool' || obj(d.meta).bench === 'pool' || obj(d.meta).suite === 'pool' || fileName.startsWith('pool-')) return 'pool';
  return undefined;
}

export function loadFile(file: string, text: string): LoadedFile | { skipped: string } {
  let d: Json;
  try {
    d = obj(JSON.parse(text));
  } catch (e) {
    return { skipped: `${file}: not JSON (${(e as Error).message})` };
  }
  const suite = suiteOf(path.basename(file), d);
  switch (suite) {
    case 'locks':
      return loadLocks(file, d);
    case 'async-locks':
      return loadAsyncLocks(file, d);
    case 'family':
      return loadFamily(file, d);
    case 'task-list':
      return loadTaskList(file, d);
    case 'pool': {
      const l = loadPool(file, d);
      return l.units.length ? l : { skipped: `${file}: pool data without a recognised runs[] array` };
    }
    default:
      return { skipped: `${file}: unknown suite` };
  }
}

/** The data the report is built from: newest file per (suite, unit), plus what was skipped. */
export interface DataSet {
  files: LoadedFile[];
  comparisons: Comparison[];
  variantPoints: VariantPoint[];
  skipped: string[];
  /** One-line description of a unit (`${suite}|${unit}`), from the file chosen for it. */
  descriptions: Map<string, string>;
}

/** Reads every `*.json` in `dir` and selects the newest measurement of each scenario unit. */
export function loadDataDir(dir: string): DataSet {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch (e) {
    // No data directory yet means no data; any other failure (permissions, …) is an error.
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    names = [];
  }
  const loaded: LoadedFile[] = [];
  const skipped: string[] = [];
  for (const n of names) {
    const r = loadFile(n, readFileSync(path.join(dir, n), 'utf8'));
    if ('skipped' in r) skipped.push(r.skipped);
    else loaded.push(r);
  }
  return selectNewest(loaded, skipped);
}

export function selectNewest(loaded: LoadedFile[], skipped: string[] = []): DataSet {
  const newest = new Map<string, LoadedFile>(); // `${suite}|${unit}` → file
  for (const f of loaded) {
    for (const u of f.units) {
      const k = `${f.meta.suite}|${u}`;
      const cur = newest.get(k);
      if (!cur || f.meta.date > cur.meta.date || (f.meta.date === cur.meta.date && f.meta.file > cur.meta.file)) newest.set(k, f);
    }
  }
  const chosen = (suite: SuiteName, unit: string, file: string): boolean => newest.get(`${suite}|${unit}`)?.meta.file === file;
  const comparisons = loaded.flatMap((f) => f.comparisons.filter((c) => chosen(c.suite, c.unit, f.meta.file)));
  const unitOfVp = (v: VariantPoint): string =>
    v.suite === 'task-list' ? `task-list/tasklist/workers:${String(v.threads)}` : v.scenario;
  const variantPoints = loaded.flatMap((f) => f.variantPoints.filter((v) => chosen(v.suite, unitOfVp(v), f.meta.file)));
  const used = new Set(newest.values());
  for (const f of loaded) if (!used.has(f)) skipped.push(`${f.meta.file}: every scenario it holds was measured again in a newer file`);
  const files = loaded.filter((f) => used.has(f));
  const descriptions = new Map<string, string>();
  for (const f of files) {
    for (const [u, text] of Object.entries(f.descriptions ?? {})) if (chosen(f.meta.suite, u, f.meta.file)) descriptions.set(`${f.meta.suite}|${u}`, text);
  }
  return { files, comparisons, variantPoints, skipped, descriptions };
}
