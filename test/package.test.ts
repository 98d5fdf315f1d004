/**
 * The published package: after `npm run build`, every file that package.json points at (each
 * entry's `types` and `default`, `main`, `types`) is in the list `npm pack` would publish, and
 * each entry loads by its package name with the names it promises (the pool only from
 * `parklot/pool`).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Pkg {
  main?: string;
  types?: string;
  bin?: unknown;
  exports: Record<string, string | Record<string, string>>;
}

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as Pkg;

/** `./dist/x.js` → `dist/x.js`, the form `npm pack --json` lists. */
const packPath = (p: string): string => p.replace(/^\.\//, '');

describe('package', () => {
  let packed: Set<string>;

  beforeAll(() => {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'pipe' });
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    const [info] = JSON.parse(out) as { files: { path: string }[] }[];
    packed = new Set(info.files.map((f) => f.path));
  }, 120_000);

  it('names types and default for every subpath, and packs both', () => {
    const missing: string[] = [];
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (subpath === './package.json') continue;
      expect(typeof target, subpath).toBe('object');
      const conditions = target as Record<string, string>;
      expect(Object.keys(conditions), subpath).toEqual(['types', 'default']);
      for (const [condition, file] of Object.entries(conditions)) {
        if (!packed.has(packPath(file))) missing.push(`${subpath} ${condition}: ${file}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('packs main, types and the docs, and has no command-line program', () => {
    for (const file of [pkg.main, pkg.types, 'package.json', 'README.md', 'docs/README.md']) {
      expect(file).toBeDefined();
      expect(packed.has(packPath(file!)), file).toBe(true);
    }
    expect(pkg.bin).toBeUndefined();
  });

  it('loads each entry by the package name', () => {
    const script = `
      const core = await import('parklot');
      const pool = await import('parklot/pool');
      const internal = await import('parklot/internal');
      console.log(JSON.stringify({ core: Object.keys(core), pool: Object.keys(pool), internal: Object.keys(internal) }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    const names = JSON.parse(out) as { core: string[]; pool: string[]; internal: string[] };
    expect(names.core).toEqual(expect.arrayContaining(['SharedRegion', 'ParkingLot', 'Mutex', 'RwLock', 'MpmcQueue', 'TaskList', 'TimeoutError', 'nowMs']));
    expect(names.core).not.toContain('WorkerPool');
    expect(names.core).not.toContain('FuturePool');
    expect(names.pool).toEqual(expect.arrayContaining(['WorkerPool', 'FuturePool', 'popReady', 'WorkerExitError', 'QueueFullError']));
    expect(names.internal).toEqual(expect.any(Array));
  });
});
