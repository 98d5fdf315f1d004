/**
 * The source tree's shape, checked statically: the core imports no runtime-specific module, the
 * layers import one way (platform → parking → lock → task-list → pool), and there is no import cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const LAYERS = ['platform', 'errors.ts', 'parking', 'lock', 'task-list', 'pool'];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** Every module a file imports or re-exports (type-only imports included: they still couple). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\b[^'"]*?from\s+'([^']+)'/gms)].map((m) => m[1]);
}

function layerOf(file: string): number {
  const rel = path.relative(SRC, file).split(path.sep)[0];
  return LAYERS.indexOf(rel);
}

const all = files(SRC);

describe('source architecture', () => {
  it('the core (platform aside) imports nothing from node: — only src/platform and src/pool may', () => {
    const bad = all
      .filter((f) => !/[\\/]src[\\/](platform|pool)[\\/]/.test(f))
      .flatMap((f) => importsOf(f).filter((m) => m.startsWith('node:') || !m.startsWith('.')).map((m) => `${path.relative(SRC, f)} imports ${m}`));
    expect(bad).toEqual([]);
  });

  it('src/platform reaches the host without a static node: import (bundlers see none)', () => {
    const bad = all.filter((f) => f.includes(`${path.sep}platform${path.sep}`)).flatMap((f) => importsOf(f).filter((m) => !m.startsWith('.')).map((m) => `${path.relative(SRC, f)} imports ${m}`));
    expect(bad).toEqual([]);
  });

  it('layers import one way: platform → errors → parking → lock → task-list → pool', () => {
    const bad: string[] = [];
    for (const f of all) {
      const from = layerOf(f);
      if (from < 0) continue; // the entry files (index.ts, internal.ts) may import every layer
      for (const m of importsOf(f).filter((x) => x.startsWith('.'))) {
        const to = layerOf(path.resolve(path.dirname(f), m));
        if (to > from) bad.push(`${path.relative(SRC, f)} (${LAYERS[from]}) imports ${m} (${LAYERS[to]})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('has no import cycle', () => {
    const graph = new Map(all.map((f) => [f, importsOf(f).filter((m) => m.startsWith('.')).map((m) => path.resolve(path.dirname(f), m))]));
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]): void => {
      if (state.get(f) === 2) return;
      if (state.get(f) === 1) {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => path.relative(SRC, x)).join(' → '));
        return;
      }
      state.set(f, 1);
      for (const g of graph.get(f) ?? []) visit(g, [...stack, f]);
      state.set(f, 2);
    };
    for (const f of all) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
