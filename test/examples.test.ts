/** The README's examples run as written, against the built package (`import … from 'parklot'`). */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('examples', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  }, 120_000);

  it('examples/mutex-counter.ts prints the exact total', () => {
    const out = execFileSync(process.execPath, ['examples/mutex-counter.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(out.trim()).toBe('counter = 101000');
  });

  it('examples/lock-family.ts runs every primitive as the README shows it', () => {
    const out = execFileSync(process.execPath, ['examples/lock-family.ts'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual({ notified: false, more: false, leader: true, inits: 1 });
  });
});
