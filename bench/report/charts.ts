// Vega-Lite chart specs for the report and their headless SVG rendering
// (vega-lite compile → vega View with the 'none' renderer → toSVG: no DOM, no canvas).
// Each chart is written as `<name>.vl.json` (the spec, data inline) beside `<name>.svg`.
//
// Charts are meant to be read without the text: every one has a title, axis titles with units,
// the "no difference" line at ratio 1 and, where the claim has a size, the claimed range shaded.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';

type Spec = vl.TopLevelSpec;

export interface ForestRow {
  label: string;
  ratio: number;
  low: number;
  high: number;
  verdict?: string;
}

/**
 * Ratios with their 95 % CIs, one row per comparison, on a log axis; a rule at 1 and the
 * claimed range (in the same ratio scale) shaded when given.
 */
export function forestSpec(title: string, xTitle: string, rows: ForestRow[], claimed?: readonly [number, number]): Spec {
  const vals = rows.filter((r) => Number.isFinite(r.ratio));
  const all = vals.flatMap((r) => [r.low, r.high, r.ratio]).filter((x) => Number.isFinite(x) && x > 0);
  if (claimed) all.push(claimed[0], claimed[1]);
  all.push(1);
  const lo = Math.min(...all) / 1.15;
  const hi = Math.max(...all) * 1.15;
  const layers: { data?: unknown; mark: unknown; encoding: Record<string, unknown> }[] = [];
  if (claimed) {
    layers.push({
      data: { values: [{ a: Math.min(...claimed) / (claimed[0] === claimed[1] ? 1.02 : 1), b: Math.max(...claimed) * (claimed[0] === claimed[1] ? 1.02 : 1), what: 'claimed' }] },
      mark: { type: 'rect', color: '#f2c14e', opacity: 0.35 },
      encoding: { x: { field: 'a', type: 'quantitative' }, x2: { field: 'b' } },
    });
  }
  layers.push({
    data: { values: [{ one: 1 }] },
    mark: { type: 'rule', color: '#555', strokeDash: [4, 3] },
    encoding: { x: { field: 'one', type: 'quantitative' } },
  });
  layers.push({
    mark: { type: 'rule', strokeWidth: 2 },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      x: { field: 'low', type: 'quantitative' },
      x2: { field: 'high' },
      color: { field: 'verdict', type: 'nominal', title: 'verdict', scale: { domain: ['confirmed', 'smaller', 'no effect', 'refuted', '—'], range: ['#2a9d4b', '#8fbf4d', '#888888', '#c0392b', '#4a6fa5'] } },
    },
  });
  layers.push({
    mark: { type: 'point', filled: true, size: 60 },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: null, title: null },
      x: { field: 'ratio', type: 'quantitative' },
      color: { field: 'verdict', type: 'nominal' },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `points: ratio of medians; bars: 95 % bootstrap CI; dashed: no difference${claimed ? '; shaded: claimed range' : ''}` },
    width: 420,
    height: { step: 22 },
    data: { values: vals.map((r) => ({ ...r, verdict: r.verdict ?? '—' })) },
    layer: layers.map((l) => ({ ...l, encoding: { ...l.encoding, x: { ...(l.encoding.x as object), scale: { type: 'log', domain: [lo, hi] }, title: xTitle } } })),
  } as Spec;
}

export interface ScalingRow {
  threads: number;
  variant: string;
  value: number;
}

/** Throughput against worker count (log2 axis), one line per variant, oversubscription shaded. */
export function scalingSpec(title: string, yTitle: string, rows: ScalingRow[], cores: number | undefined): Spec {
  const maxT = Math.max(8, ...rows.map((r) => r.threads));
  const layers: unknown[] = [];
  if (cores !== undefined && cores < maxT) {
    layers.push({
      data: { values: [{ a: cores * Math.SQRT2, b: maxT * 1.15, label: `oversubscribed (threads > ${cores} cores)` }] },
      mark: { type: 'rect', color: '#bbbbbb', opacity: 0.25 },
      encoding: { x: { field: 'a', type: 'quantitative', scale: { type: 'log', base: 2, domain: [0.87, maxT * 1.15] } }, x2: { field: 'b' } },
    });
    layers.push({
      data: { values: [{ a: cores * Math.SQRT2, label: `oversubscribed (> ${cores} cores)` }] },
      mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, color: '#555' },
      encoding: { x: { field: 'a', type: 'quantitative' }, y: { value: 0 }, text: { field: 'label' } },
    });
  }
  layers.push({
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'threads', type: 'quantitative', title: 'workers', scale: { type: 'log', base: 2, domain: [0.87, maxT * 1.15] }, axis: { values: [1, 2, 4, 8, 16].filter((t) => t <= maxT) } },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { zero: true } },
      color: { field: 'variant', type: 'nominal', title: 'variant' },
    },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'median over processes' },
    width: 420,
    height: 240,
    layer: layers,
  } as Spec;
}

export interface BarRow {
  /** Colour and sub-row within a variant's row (e.g. the scenario). */
  group: string;
  variant: string;
  value: number;
}

export interface BarNote {
  group: string;
  variant: string;
  /** Printed in the variant's row, e.g. why it has no bar. */
  note: string;
  /** Where the text starts on the value axis (default: the axis start, i.e. in place of a bar). */
  at?: number;
}

/**
 * Per-variant values on a log axis: a horizontal bar per (variant, group) for the median, a dot
 * per process, and notes (a failed variant's "FAILED: lost updates") as red text in the row, so a
 * variant without a number is still visible and says why.
 */
export function variantBarsSpec(title: string, xTitle: string, medians: BarRow[], processes: BarRow[], notes: BarNote[], order?: string[]): Spec {
  const values = [...medians, ...processes].map((r) => r.value).filter((x) => Number.isFinite(x) && x > 0);
  const lo = values.length ? 10 ** Math.floor(Math.log10(Math.min(...values))) : 1;
  const hi = values.length ? 10 ** Math.ceil(Math.log10(Math.max(...values) * 1.01)) : 10;
  const variants = [...new Set([...(order ?? []), ...[...medians, ...processes, ...notes].map((r) => r.variant)])];
  const groups = [...new Set([...medians, ...processes, ...notes].map((r) => r.group))].sort();
  const y = { field: 'variant', type: 'nominal', sort: variants, title: null };
  const yOffset = { field: 'group', type: 'nominal', sort: groups };
  const x = { type: 'quantitative', scale: { type: 'log', domain: [lo, hi] }, title: xTitle };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'bars: median over processes; dots: each process; log scale' },
    width: 420,
    height: { step: 16 * Math.max(1, groups.length) },
    layer: [
      {
        data: { values: medians.map((r) => ({ ...r, base: lo })) },
        mark: { type: 'bar', opacity: 0.85 },
        encoding: { y, yOffset, x: { ...x, field: 'base' }, x2: { field: 'value' }, color: { field: 'group', type: 'nominal', title: null, sort: groups, legend: { labelLimit: 400, orient: 'bottom', direction: 'vertical' } } },
      },
      {
        data: { values: processes },
        mark: { type: 'point', filled: true, size: 18, color: '#222222' },
        encoding: { y, yOffset, x: { ...x, field: 'value' } },
      },
      {
        data: { values: notes.map((r) => ({ ...r, base: r.at ?? lo })) },
        mark: { type: 'text', align: 'left', dx: 4, color: '#c0392b', fontWeight: 'bold' },
        encoding: { y, yOffset, x: { ...x, field: 'base' }, text: { field: 'note' } },
      },
    ],
  } as Spec;
}

/** Compiles and renders a spec to SVG text without a browser. */
export async function renderSvg(spec: Spec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes `<dir>/<name>.vl.json` and `<dir>/<name>.svg`; returns the SVG's file name. */
export async function writeChart(dir: string, name: string, spec: Spec): Promise<string> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.vl.json`), `${JSON.stringify(spec, null, 1)}\n`);
  writeFileSync(path.join(dir, `${name}.svg`), await renderSvg(spec));
  return `${name}.svg`;
}
