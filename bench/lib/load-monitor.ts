// Machine load measured during a suite's own run, recorded in its JSON as `meta.loadDuringRun`
// and used by the report to decide whether the data comes from a loaded machine.
//
// Every `intervalMs` (and at start and stop) the runner's main thread takes a snapshot of
//   - the machine's CPU time from /proc/stat (first line: busy = user + nice + system + irq +
//     softirq + steal; total = busy + idle + iowait), in clock ticks over all cores, and
//   - the CPU time of the bench's own process tree: the runner process and every live
//     descendant (found through the parent pid in /proc/<pid>/stat), each counted as
//     utime + stime + cutime + cstime, so a bench process that has exited and been reaped is
//     still counted, in its parent's cutime/cstime;
// and `os.loadavg()[0]`. Between two snapshots, the other processes' CPU share is
// (Δbusy − Δtree) / Δtotal: the fraction of all cores' time that something other than the bench
// used (steal, time the hypervisor gave to other guests, counts as other). `otherCpu` is that
// share over the whole run; per interval its min / median / max show bursts. The 1-minute load
// average is recorded too, as context only: during the run it includes the bench itself.
//
// Linux only (/proc); elsewhere the CPU fields are null and the report falls back to the load
// average at start. The sampler reads a few hundred small files per snapshot (a few ms of CPU
// every 5 s, counted as the bench's own).

import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export interface LoadDuringRun {
  /** One line on how the numbers were taken (kept in the JSON, shown in the report). */
  method: string;
  intervalMs: number;
  /** Number of snapshot intervals (the last one is usually shorter). */
  intervals: number;
  /** Other processes' share of all cores' CPU time over the whole run (0–1); null without /proc. */
  otherCpu: number | null;
  /** The same share per interval (intervals shorter than a second are left out); null without /proc. */
  otherCpuIntervals: Spread | null;
  /** The bench's own process tree's share over the whole run; null without /proc. */
  benchCpu: number | null;
  /** os.loadavg()[0] at every snapshot (includes the bench itself). */
  loadAvg1: Spread;
}

export interface CpuSnapshot {
  /** performance.now() when taken, ms. */
  t: number;
  /** Machine busy / total clock ticks since boot (all cores); undefined without /proc. */
  busy?: number;
  total?: number;
  /** CPU ticks of the bench's process tree. */
  tree?: number;
  loadAvg1: number;
}

/** busy and total ticks from the first (`cpu `) line of /proc/stat. */
export function parseProcStat(text: string): { busy: number; total: number } | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** ppid and utime + stime + cutime + cstime (ticks) from the text of /proc/<pid>/stat. */
export function parsePidStat(text: string): { ppid: number; ticks: number } | undefined {
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).trim().split(/\s+/);
  // f[0] is field 3 (state); field n is f[n - 3]: ppid 4, utime 14, stime 15, cutime 16, cstime 17.
  const n = (i: number): number => Number(f[i - 3]);
  const ticks = n(14) + n(15) + n(16) + n(17);
  return Number.isFinite(ticks) && Number.isFinite(n(4)) ? { ppid: n(4), ticks } : undefined;
}

/** CPU ticks of `root` and all its live descendants; undefined without /proc. */
export function treeTicks(root: number): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return undefined;
  }
  const children = new Map<number, number[]>();
  const ticks = new Map<number, number>();
  for (const p of pids) {
    let s: ReturnType<typeof parsePidStat>;
    try {
      s = parsePidStat(readFileSync(`/proc/${p}/stat`, 'utf8'));
    } catch {
      continue; // exited while we looked
    }
    if (s === undefined) continue;
    const pid = Number(p);
    ticks.set(pid, s.ticks);
    const c = children.get(s.ppid) ?? [];
    c.push(pid);
    children.set(s.ppid, c);
  }
  if (!ticks.has(root)) return undefined;
  let sum = 0;
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    sum += ticks.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return sum;
}

export function snapshot(root = process.pid): CpuSnapshot {
  const s: CpuSnapshot = { t: performance.now(), loadAvg1: os.loadavg()[0] };
  let stat: ReturnType<typeof parseProcStat>;
  try {
    stat = parseProcStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    stat = undefined;
  }
  const tree = stat ? treeTicks(root) : undefined;
  if (stat && tree !== undefined) {
    s.busy = stat.busy;
    s.total = stat.total;
    s.tree = tree;
  }
  return s;
}

function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0], median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1] };
}

const METHOD =
  'other processes\' CPU share = (Δ busy ticks of the machine from /proc/stat − Δ CPU ticks of the bench\'s own process ' +
  'tree) / Δ total ticks, whole run and per interval; load average sampled alongside (includes the bench)';

/** Summarises snapshots taken in order (at least two). Pure: used on synthetic snapshots in tests. */
export function summarizeLoad(snaps: CpuSnapshot[], intervalMs: number): LoadDuringRun {
  if (snaps.length < 2) throw new Error('summarizeLoad needs at least two snapshots');
  const cpu = snaps.every((s) => s.busy !== undefined && s.total !== undefined && s.tree !== undefined);
  const share = (a: CpuSnapshot, b: CpuSnapshot): number | undefined => {
    const total = b.total! - a.total!;
    if (!(total > 0)) return undefined;
    return Math.min(1, Math.max(0, (b.busy! - a.busy! - (b.tree! - a.tree!)) / total));
  };
  const first = snaps[0];
  const last = snaps[snaps.length - 1];
  let otherCpu: number | null = null;
  let otherCpuIntervals: Spread | null = null;
  let benchCpu: number | null = null;
  if (cpu) {
    otherCpu = share(first, last) ?? null;
    const total = last.total! - first.total!;
    benchCpu = total > 0 ? Math.min(1, Math.max(0, (last.tree! - first.tree!) / total)) : null;
    const per: number[] = [];
    for (let i = 1; i < snaps.length; i++) {
      if (snaps[i].t - snaps[i - 1].t < 1000) continue;
      const s = share(snaps[i - 1], snaps[i]);
      if (s !== undefined) per.push(s);
    }
    otherCpuIntervals = per.length ? spread(per) : otherCpu === null ? null : { min: otherCpu, median: otherCpu, max: otherCpu };
  }
  return {
    method: METHOD,
    intervalMs,
    intervals: snaps.length - 1,
    otherCpu,
    otherCpuIntervals,
    benchCpu,
    loadAvg1: spread(snaps.map((s) => s.loadAvg1)),
  };
}

export interface LoadMonitor {
  /** Takes the last snapshot, stops sampling and returns the summary. */
  stop(): LoadDuringRun;
}

/** Starts sampling now (the runner's process is the root of the bench's tree). */
export function startLoadMonitor(intervalMs = 5000): LoadMonitor {
  const snaps: CpuSnapshot[] = [snapshot()];
  const timer = setInterval(() => snaps.push(snapshot()), intervalMs);
  timer.unref();
  return {
    stop(): LoadDuringRun {
      clearInterval(timer);
      snaps.push(snapshot());
      return summarizeLoad(snaps, intervalMs);
    },
  };
}

/** One line for a runner's output: what else used the machine while the suite ran. */
export function describeLoad(l: LoadDuringRun): string {
  const pct = (x: number): string => `${(100 * x).toFixed(0)} %`;
  const la = `load average ${l.loadAvg1.min.toFixed(2)}–${l.loadAvg1.max.toFixed(2)} (includes the bench)`;
  if (l.otherCpu === null) return `load during the run: ${la}; other processes' CPU not measured (no /proc)`;
  const iv = l.otherCpuIntervals;
  return (
    `load during the run: other processes used ${pct(l.otherCpu)} of the machine's CPU time` +
    (iv ? ` (per ${l.intervalMs / 1000} s interval ${pct(iv.min)}–${pct(iv.max)}, median ${pct(iv.median)})` : '') +
    `, the bench ${l.benchCpu === null ? '?' : pct(l.benchCpu)}; ${la}`
  );
}
