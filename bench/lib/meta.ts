// Environment metadata recorded with every bench result (and the git identity of the code that
// produced it), shared by all suite runners so every JSON file describes its machine the same way.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The commit measured, and whether the work tree had uncommitted changes. */
export function gitInfo(root: string): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    // Not a git checkout (e.g. an unpacked tarball): say so rather than guess.
    return { commit: 'unknown', dirty: true };
  }
}

/** parklot version, git identity, Node/V8, CPU, cores, memory, load average at start, platform, date. */
export function envMeta(root: string): {
  parklotVersion: string; git: { commit: string; dirty: boolean }; node: string; v8: string; cpuModel: string;
  availableParallelism: number; totalMemGiB: number; loadAvgAtStart: number[]; platform: string; date: string;
} {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return {
    parklotVersion: pkg.version,
    git: gitInfo(root),
    node: process.version,
    v8: process.versions.v8,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    availableParallelism: os.availableParallelism(),
    totalMemGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    loadAvgAtStart: os.loadavg(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString(),
  };
}
