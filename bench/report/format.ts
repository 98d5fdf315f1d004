// Number and phrase formatting for the report: metric values with units, ratios in pyperf's
// "1.23x faster|slower" form, CIs and p-values. Pure functions; no data-dependent wording here
// beyond what the numbers say.

import type { Direction } from '../lib/stats.ts';

export function fmtNs(ns: number): string {
  if (!Number.isFinite(ns)) return '—';
  if (ns >= 1e9) return `${(ns / 1e9).toFixed(2)} s`;
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(ns < 10 ? 1 : 0)} ns`;
}

export function fmtRate(x: number): string {
  if (!Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M/s`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k/s`;
  return `${x.toFixed(1)} /s`;
}

/** A metric value with its unit, from the metric's name. */
export function fmtValue(metric: string, v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (/Ns$|^nsPer/.test(metric)) return fmtNs(v);
  if (metric.endsWith('Us')) return fmtNs(v * 1000);
  if (metric.endsWith('PerSec')) return fmtRate(v);
  return v >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

/** Readable metric name. */
export function metricName(metric: string): string {
  const names: Record<string, string> = {
    opsPerSec: 'ops/s',
    readsPerSec: 'reads/s',
    itemsPerSec: 'items/s',
    gensPerSec: 'barrier generations/s',
    cyclesPerSec: 'acquire+release cycles/s',
    pairsPerSec: 'insert+remove pairs/s',
    nsPerMsg: 'ns per message',
    tasksPerSec: 'tasks/s',
    latencyUs: 'latency',
    nsPervalue: 'ns per value',
    nsPerpair: 'ns per alloc+free pair',
    waitMeanNs: 'mean wait',
    waitP99Ns: 'p99 wait',
    writeWaitMaxNs: 'writers\' max wait',
    acquireP99Ns: 'p99 acquire latency',
    waitsPerItem: 'wait() calls per item',
    volCtxSwitchesPerOp: 'voluntary context switches per acquisition',
    involCtxSwitchesPerOp: 'involuntary context switches per acquisition',
    parksPerOp: 'parks per acquisition',
    wakeCallsPerOp: 'wake calls per acquisition',
    wakeCallsPerItem: 'wake calls (Atomics.notify) per item',
    wokenPerItem: 'threads woken per item',
    wakeCallsPerGen: 'wake calls (Atomics.notify) per generation',
    wokenPerGen: 'threads woken per generation',
    parksPerGen: 'parks (Atomics.wait) per generation',
  };
  return names[metric] ?? metric;
}

export const fmtRatio = (r: number): string => (Number.isFinite(r) ? (r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(3)) : '—');

export function fmtCI(lo: number, hi: number): string {
  return Number.isFinite(lo) && Number.isFinite(hi) ? `[${fmtRatio(lo)}, ${fmtRatio(hi)}]` : '[—]';
}

export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return '—';
  return p < 0.001 ? '< 0.001' : p.toFixed(3);
}

/**
 * pyperf-style phrase for a ratio candidate/baseline of a metric: "1.23x faster" /
 * "1.23x slower" for rates and times, "1.23x lower|higher" for other quantities.
 */
export function phrase(metric: string, direction: Direction, ratio: number): string {
  if (!Number.isFinite(ratio)) return '—';
  const isRate = metric.endsWith('PerSec');
  const isTime = /Ns$|^nsPer|Us$/.test(metric);
  if (Math.abs(ratio - 1) < 0.0005) return 'same';
  if (isRate || isTime) {
    const better = direction === 'higher-is-better' ? ratio > 1 : ratio < 1;
    const f = ratio >= 1 ? ratio : 1 / ratio;
    return isRate ? `${f.toFixed(2)}x ${better ? 'faster' : 'slower'}` : `${f.toFixed(2)}x ${ratio < 1 ? 'shorter' : 'longer'}`;
  }
  return ratio > 1 ? `${ratio.toFixed(2)}x higher` : `${(1 / ratio).toFixed(2)}x lower`;
}

/** Markdown table from a header and rows (cells are escaped for `|`). */
export function table(header: string[], rows: string[][]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}
