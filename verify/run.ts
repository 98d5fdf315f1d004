/**
 * Runs the SPIN models of verify/*.pml: every real model must pass, every mutant (a model built
 * with a -DMUT_... switch that plants a known bug) must fail. Prints a table; exits 1 if any
 * check does not give its expected result, 2 if spin or gcc is missing or a model name is unknown.
 *
 *   node verify/run.ts            all checks
 *   node verify/run.ts mutex ring only the checks whose model name is listed
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli } from '../bench/lib/args.ts';

type Mode = 'safety' | 'ltl';

interface Check {
  /** Model file (without .pml). */
  model: string;
  /** What is checked, for the table. */
  property: string;
  /** -D switches for spin (configuration and mutants). */
  defines: string[];
  mode: Mode;
  /** 'pass': a real model; 'fail': a mutant that spin must catch. */
  expect: 'pass' | 'fail';
  /** Bitstate (supertrace) search with a 2^n-bit hash array, for a state space too large to store. */
  bitstate?: number;
}

interface Outcome {
  errors: number;
  states: string;
  seconds: number;
  note: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const SAFETY_PROPS = 'mutual exclusion, assertions, no invalid end state';

function safety(model: string, defines: string[], property = SAFETY_PROPS): Check {
  return { model, property, defines, mode: 'safety', expect: 'pass' };
}

function mutant(model: string, defines: string[], property: string, mode: Mode = 'safety'): Check {
  return { model, property, defines, mode, expect: 'fail' };
}

const CHECKS: Check[] = [
  // Mutex: 3 threads x 1 round with timeouts (thread 0) and an async waiter that may abort
  // (thread 2); 2 threads x 3 rounds with timeouts; liveness with 2 threads looping forever.
  safety('mutex', ['N=3', 'ITERS=1']),
  safety('mutex', ['N=2', 'ITERS=3']),
  { model: 'mutex', property: 'LTL nolost: parked -> <> unparked (weak fairness)', defines: ['LIVE', 'N=2'], mode: 'ltl', expect: 'pass' },
  mutant('mutex', ['N=3', 'ITERS=1', 'MUT_NO_VALIDATE'], 'no validate re-check under the bucket lock'),
  mutant('mutex', ['N=3', 'ITERS=1', 'MUT_NO_SET_PARKED'], 'waiter forgets to set PARKED'),
  mutant('mutex', ['N=3', 'ITERS=1', 'MUT_HANDOFF_DROPS_PARKED'], 'hand-off drops PARKED with waiters left'),
  mutant('mutex', ['N=3', 'ITERS=1', 'MUT_CLEAR_EARLY'], 'unlock clears PARKED outside the bucket lock'),
  mutant('mutex', ['N=3', 'ITERS=1', 'MUT_TIMEOUT_RACE'], 'timeout ignores a concurrent unpark (lost hand-off)'),
  mutant('mutex', ['LIVE', 'N=2', 'MUT_NO_VALIDATE'], 'LTL nolost with no validate re-check', 'ltl'),
  safety('mutex', ['N=3', 'ITERS=1', 'EVERY_UNLOCK']),
  safety('mutex', ['N=3', 'ITERS=2']),
  { model: 'mutex', property: 'LTL nolost with wakes every-unlock', defines: ['LIVE', 'N=2', 'EVERY_UNLOCK'], mode: 'ltl', expect: 'pass' },
  mutant('mutex', ['N=3', 'ITERS=2', 'MUT_WOKEN_KEPT'], 'a woken waiter parks again without clearing WOKEN'),
  mutant('mutex', ['N=3', 'ITERS=1', 'MUT_NO_DROP_WOKEN'], 'an aborted woken async waiter leaves WOKEN set'),
  mutant('mutex', ['LIVE', 'N=3', 'MUT_WOKEN_KEPT'], 'LTL nolost with WOKEN never cleared on re-park', 'ltl'),
  // Condvar: 2 waiters + 1 notifier (notify inside or after the critical section).
  safety('condvar', ['N=3']),
  safety('condvar', ['N=3', 'NOTIFY_ONE'], SAFETY_PROPS + ' (notifyOne)'),
  mutant('condvar', ['N=3', 'MUT_CV_WAKE_ONE'], 'notifyAll wakes one instead of requeueing all'),
  mutant('condvar', ['N=3', 'MUT_CV_NO_PARKED'], 'requeue without setting the mutex PARKED bit'),
  mutant('condvar', ['N=3', 'MUT_CV_RELOCK_NOT_WOKEN'], 're-lock after a TOKEN_WOKEN wake leaves WOKEN set'),
  // RwLock ('fair'): 1 writer + 2 readers (1 and 2 rounds), 2 writers + 1 reader, 3 writers.
  safety('rwlock', ['N=3', 'NW=1']),
  safety('rwlock', ['N=3', 'NW=1', 'ITERS=2']),
  safety('rwlock', ['N=3', 'NW=2']),
  safety('rwlock', ['N=3', 'NW=3']),
  mutant('rwlock', ['N=3', 'NW=1', 'MUT_RW_NO_DRAIN_WAKE'], 'last reader does not wake the draining writer'),
  mutant('rwlock', ['N=3', 'NW=3', 'MUT_RW_WAKE_ALL_WRITERS'], 'unpark filter hands off to every writer'),
  mutant('rwlock', ['N=3', 'NW=2', 'MUT_RW_VALIDATE_NO_PARKED'], 'validate forgets the PARKED re-check'),
  // Robust RwLock write side: 3 writers, writer 0 may die at any step (also a woken waiter before
  // it retries); owner-word-only attribution, the death handler's wakes. The e4e5877 pending-word
  // attribution is kept as a mutant (it lets a waiter take over a live holder's lock).
  safety('rwlock-robust', ['N=3', 'ITERS=1'], SAFETY_PROPS + ', take-over only of a dead named owner'),
  safety('rwlock-robust', ['N=2', 'ITERS=3'], SAFETY_PROPS + ', take-over only of a dead named owner'),
  { ...safety('rwlock-robust', ['N=3', 'ITERS=2'], SAFETY_PROPS + ' (bitstate -w28)'), bitstate: 28 },
  mutant('rwlock-robust', ['N=3', 'ITERS=1', 'MUT_PENDING_ATTRIBUTION'], 'pending-word attribution of the window (e4e5877)'),
  mutant('rwlock-robust', ['N=3', 'ITERS=1', 'MUT_NO_DEAD_CHECK'], 'claim from any owner word, dead or not'),
  mutant('rwlock-robust', ['N=3', 'ITERS=1', 'MUT_NO_FREE_WAKE'], 'death handler does not wake a free lock\'s queue'),
  // Semaphore: acquire(2) + 2 x acquire(1) on 2 permits; thread 0 may time out.
  safety('semaphore', ['N=3', 'ITERS=1'], 'permits never over-granted, no invalid end state'),
  safety('semaphore', ['N=3', 'ITERS=2'], 'permits never over-granted, no invalid end state'),
  safety('semaphore', ['N=3', 'ITERS=2', 'INIT=3'], 'permits never over-granted, no invalid end state'),
  mutant('semaphore', ['N=3', 'MUT_SEM_VALIDATE_NO_PARKED'], 'validate sleeps without setting PARKED'),
  mutant('semaphore', ['N=3', 'MUT_SEM_RELEASE_NO_DISPATCH'], 'release does not dispatch to parked waiters'),
  // Vyukov ring: 2 producers x 2 values, 1 or 2 consumers, capacity 2 (one wrap) and 1.
  safety('ring', ['CAP=2', 'NC_CONS=1'], 'no loss, no duplication, per-producer FIFO'),
  safety('ring', ['CAP=2', 'NC_CONS=2'], 'no loss, no duplication, per-producer FIFO'),
  safety('ring', ['CAP=1', 'NC_CONS=2'], 'no loss, no duplication, per-producer FIFO'),
  mutant('ring', ['CAP=2', 'MUT_RING_NO_SEQ_CHECK'], 'pop skips the sequence check'),
  mutant('ring', ['CAP=2', 'NC_CONS=2', 'MUT_RING_NO_CAS'], 'pop claims with load + store, not CAS'),
];

function have(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function runCheck(c: Check): Outcome {
  const dir = mkdtempSync(join(tmpdir(), `verify-${c.model}-`));
  try {
    for (const f of readdirSync(HERE)) if (f.endsWith('.pml')) copyFileSync(join(HERE, f), join(dir, f));
    const defs = c.defines.map((d) => `-D${d}`);
    const t0 = performance.now();
    execFileSync('spin', ['-a', ...defs, `${c.model}.pml`], { cwd: dir, stdio: 'pipe' });
    const cflags = ['-O1', '-w', '-DVECTORSZ=4096', '-DCOLLAPSE', '-DMEMLIM=2048'];
    if (c.mode === 'safety') cflags.push('-DSAFETY');
    if (c.bitstate !== undefined) cflags.splice(cflags.indexOf('-DCOLLAPSE'), 1, '-DBITSTATE');
    execFileSync('gcc', [...cflags, '-o', 'pan', 'pan.c'], { cwd: dir, stdio: 'pipe' });
    const panArgs = c.mode === 'ltl' ? ['-a', '-f', '-m2000000'] : ['-m2000000'];
    if (c.bitstate !== undefined) panArgs.push(`-w${c.bitstate}`);
    const r = spawnSync('./pan', panArgs, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const seconds = (performance.now() - t0) / 1000;
    const m = /errors: (\d+)/.exec(out);
    const states = /([\d.e+]+) states, stored/.exec(out)?.[1] ?? '?';
    let note = '';
    const first = /pan:1: ([^\n]*)/.exec(out);
    if (first !== null) note = (first[1] ?? '').replace(/\s*\(at depth \d+\)/, '');
    if (/max search depth too small/.test(out)) note = 'search depth too small (inconclusive)';
    // Out of memory (MEMLIM) also stops the search early, with "errors: 0".
    if (/Search not completed/.test(out) && note === '') note = 'search not completed (inconclusive)';
    if (m === null) return { errors: -1, states, seconds, note: note || `pan gave no verdict (status ${r.status})` };
    // A truncated search proves nothing: count it as an error for real models and mutants alike.
    const errors = note.startsWith('search depth') || note.startsWith('search not completed') ? Math.max(1, Number(m[1])) : Number(m[1]);
    return { errors, states, seconds, note };
  } catch (e) {
    const err = e as { stderr?: Buffer; message?: string };
    return { errors: -1, states: '?', seconds: 0, note: `build failed: ${String(err.stderr ?? err.message).slice(0, 200)}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

const MODELS = [...new Set(CHECKS.map((c) => c.model))];
const USAGE = `usage: node verify/run.ts [model …]   (models: ${MODELS.join(', ')}; none named: all)`;

function main(only: string[]): number {
  for (const m of only) {
    if (!MODELS.includes(m)) {
      console.error(`verify: unknown model ${m}\n${USAGE}`);
      return 2;
    }
  }
  if (!have('spin', ['-V'])) {
    console.error('verify: `spin` not found on PATH. Install it (Debian/Ubuntu: `apt-get install spin`).');
    return 2;
  }
  if (!have('gcc', ['--version'])) {
    console.error('verify: `gcc` not found on PATH (needed to compile the pan verifiers). Install it: `apt-get install gcc`.');
    return 2;
  }
  const checks = only.length === 0 ? CHECKS : CHECKS.filter((c) => only.includes(c.model));
  const rows: string[][] = [];
  let bad = 0;
  const t0 = performance.now();
  for (const c of checks) {
    const o = runCheck(c);
    const actual = o.errors < 0 ? 'error' : o.errors === 0 ? 'pass' : 'fail';
    const ok = actual === c.expect;
    if (!ok) bad++;
    const kind = c.expect === 'pass' ? 'model' : 'mutant';
    const cfg = c.defines.join(' ');
    rows.push([
      c.model, kind, cfg, c.property, o.states, o.seconds.toFixed(1), `${c.expect}/${actual}`, ok ? 'ok' : 'WRONG',
      o.note,
    ]);
    process.stderr.write(`${ok ? '.' : 'X'}`);
  }
  process.stderr.write('\n');
  const head = ['model', 'kind', 'config (-D)', 'property / planted bug', 'states', 'time s', 'expect/actual', 'verdict', 'first error'];
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (r: string[]): string => r.map((x, i) => pad(x, widths[i] ?? 0)).join(' | ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const r of rows) console.log(line(r));
  const total = ((performance.now() - t0) / 1000).toFixed(1);
  if (bad === 0) {
    console.log(`\nverify: all ${rows.length} checks as expected (real models pass, mutants caught) in ${total} s`);
    return 0;
  }
  console.log(`\nverify: ${bad} of ${rows.length} checks NOT as expected (a real model failed or a mutant was not caught) in ${total} s`);
  return 1;
}

process.exitCode = main(parseCli(process.argv.slice(2), {}, USAGE, true).positionals);
