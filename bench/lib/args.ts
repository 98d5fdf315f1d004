// Command-line parsing for the bench runners, the soak scripts and the model-check runner:
// node:util's parseArgs in strict mode. A command line it rejects ends the process with exit code 2
// after one line naming the bad argument (for an unknown flag, also every valid one) and the
// script's usage text, rather than a stack trace. Also the flags and value checks the bench
// runners share.
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** What parseArgs returns for `options` (strict, with tokens). */
export type ParsedCli<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true; tokens: true }>
>;

/**
 * Parses `argv` against `options`. An unknown flag, a missing value or, unless `positionals`, a
 * bare argument prints the reason and `usage` on stderr and exits with code 2.
 */
export function parseCli<const O extends ParseArgsOptionsConfig>(argv: readonly string[], options: O, usage: string, positionals = false): ParsedCli<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: positionals, tokens: true }) as ParsedCli<O>;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err.code === undefined || !err.code.startsWith('ERR_PARSE_ARGS_')) throw e;
    const reason = err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? unknownOption(argv, options) : err.message;
    process.stderr.write(`${reason}\n${usage}\n`);
    process.exit(2);
  }
}

/** "unknown option --x; valid options: …", the flag found by a lenient second parse. */
function unknownOption(argv: readonly string[], options: ParseArgsOptionsConfig): string {
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, tokens: true });
  const bad = tokens.find((t) => t.kind === 'option' && !Object.hasOwn(options, t.name));
  const valid = Object.entries(options).map(([name, o]) => `--${name}${o.short ? `|-${o.short}` : ''}${o.type === 'string' ? ' <value>' : ''}`);
  return `unknown option ${bad?.kind === 'option' ? bad.rawName : '?'}; ${valid.length ? `valid options: ${valid.join(', ')}` : 'this command takes no options'}`;
}

/** The flags every bench runner takes: --quick|--full, --filter s, --reps n, --out file. */
export const RUN_OPTIONS = {
  quick: { type: 'boolean' },
  full: { type: 'boolean' },
  filter: { type: 'string' },
  reps: { type: 'string' },
  out: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** 'quick' or 'full', whichever of --quick and --full came last; `fallback` when neither did. */
export function runMode(parsed: { tokens: readonly { kind: string; name?: string }[] }, fallback: 'quick' | 'full'): 'quick' | 'full' {
  let mode = fallback;
  for (const t of parsed.tokens) if (t.kind === 'option' && (t.name === 'quick' || t.name === 'full')) mode = t.name;
  return mode;
}

/** --reps: undefined when not given, else a positive integer (anything else is an error). */
export function repsValue(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(Number.isInteger(n) && n >= 1)) throw new Error('--reps must be a positive integer');
  return n;
}

/** A comma-separated list (--variants a,b), empty items dropped. */
export function listValue(v: string | undefined): string[] | undefined {
  return v?.split(',').filter(Boolean);
}

/** Flags of the locks and async runners: RUN_OPTIONS plus --variants a,b, --seed n, --list, --help. */
export const LOCK_RUN_OPTIONS = {
  ...RUN_OPTIONS,
  variants: { type: 'string' },
  seed: { type: 'string' },
  list: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsOptionsConfig;

export interface LockRunArgs {
  mode: 'quick' | 'full';
  filter?: string;
  variants?: string[];
  reps?: number;
  out?: string;
  /** Bootstrap seed. */
  seed: number;
  list: boolean;
  positionals: string[];
}

/** Parses the locks or async runner's flags (default: quick, seed 20250101); --help throws `usage`. */
export function parseLockRunArgs(argv: readonly string[], usage: string, positionals = false): LockRunArgs {
  const p = parseCli(argv, LOCK_RUN_OPTIONS, usage, positionals);
  const v = p.values;
  if (v.help) throw new Error(usage);
  return {
    mode: runMode(p, 'quick'),
    filter: v.filter,
    variants: listValue(v.variants),
    reps: repsValue(v.reps),
    out: v.out,
    seed: v.seed === undefined ? 20250101 : Number(v.seed),
    list: v.list === true,
    positionals: p.positionals,
  };
}
