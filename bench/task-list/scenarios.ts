// Scenario definitions of the task-list bench (claims C5, L7, L2, and SpscQueue vs MpmcQueue).
//
// | group | scenario                                  | metric                       | baseline          |
// |-------|-------------------------------------------|------------------------------|-------------------|
// | C5    | tasklist/<impl>/workers:<n>               | insert+remove pairs/s (all workers) | tasklist/locked at the same n |
// | L7    | mpmc/st/cap:<c>                           | ns per message, one thread (push then pop, bursts of min(c, 64)) | cap 1 |
// | L7    | mpmc/pc/cap:<c>                           | ns per message, 1 producer + 1 consumer worker, blocking | cap 1 |
// | L2    | l2/<try-then-park|always-park>/consumer:<c> | ns per message, producer worker ahead of the consumer | always-park |
// | SPSC  | spsc-vs-mpmc/<queue>/pc                   | ns per message, 1 producer + 1 consumer worker, cap 1024 | mpmc |
//
// Names follow the bench's scheme `<subject>/<kind>/<param>:<value>` (bench/README.md lists them
// all; test/bench/readme.test.ts checks the list). Data written before the L2 names gained their
// `consumer:` key is read through `canonicalId` (the report generator does).
//
// Every sample is one fresh process; within it a warm-up run precedes three measured runs whose
// median is the sample.

export type Spec =
  | { kind: 'tasklist'; impl: 'locked' | 'lockfree' | 'sharded'; workers: number; batch: number; runMs: number }
  | { kind: 'queue-st'; queue: 'mpmc' | 'spsc'; capacity: number; runMs: number }
  | { kind: 'queue-pc'; queue: 'mpmc' | 'spsc'; capacity: number; messages: number }
  | { kind: 'queue-l2'; fastPath: boolean; consumer: 'async-main' | 'sync-worker'; messages: number };

export interface Scenario {
  /** The scenario's name (scenario + variant: every id is one measured configuration). */
  id: string;
  /** The variant part of the id (impl, capacity, fast path or queue), for progress lines. */
  variant: string;
  group: 'C5' | 'L7' | 'L2' | 'SPSC';
  /** Comparison set within the group (ratios are computed against `baseline` in the same set). */
  set: string;
  baseline: string;
  unit: 'pairs/s' | 'ns/msg';
  direction: 'higher-is-better' | 'lower-is-better';
  spec: Spec;
}

export function scenarios(quick: boolean): Scenario[] {
  const out: Scenario[] = [];
  const runMs = quick ? 150 : 400;
  for (const workers of [1, 2, 4, 8]) {
    for (const impl of ['locked', 'lockfree', 'sharded'] as const) {
      out.push({
        id: `tasklist/${impl}/workers:${workers}`,
        variant: impl,
        group: 'C5',
        set: `tasklist/workers:${workers}`,
        baseline: `tasklist/locked/workers:${workers}`,
        unit: 'pairs/s',
        direction: 'higher-is-better',
        spec: { kind: 'tasklist', impl, workers, batch: 16, runMs },
      });
    }
  }
  for (const capacity of [1, 64, 1024]) {
    out.push({
      id: `mpmc/st/cap:${capacity}`,
      variant: `cap:${capacity}`,
      group: 'L7',
      set: 'mpmc/st',
      baseline: 'mpmc/st/cap:1',
      unit: 'ns/msg',
      direction: 'lower-is-better',
      spec: { kind: 'queue-st', queue: 'mpmc', capacity, runMs },
    });
    out.push({
      id: `mpmc/pc/cap:${capacity}`,
      variant: `cap:${capacity}`,
      group: 'L7',
      set: 'mpmc/pc',
      baseline: 'mpmc/pc/cap:1',
      unit: 'ns/msg',
      direction: 'lower-is-better',
      spec: { kind: 'queue-pc', queue: 'mpmc', capacity, messages: (capacity === 1 ? 20_000 : 200_000) / (quick ? 4 : 1) },
    });
  }
  for (const consumer of ['async-main', 'sync-worker'] as const) {
    for (const fastPath of [true, false]) {
      out.push({
        id: `l2/${fastPath ? 'try-then-park' : 'always-park'}/consumer:${consumer}`,
        variant: fastPath ? 'try-then-park' : 'always-park',
        group: 'L2',
        set: `l2/consumer:${consumer}`,
        baseline: `l2/always-park/consumer:${consumer}`,
        unit: 'ns/msg',
        direction: 'lower-is-better',
        spec: { kind: 'queue-l2', fastPath, consumer, messages: quick ? 50_000 : 200_000 },
      });
    }
  }
  for (const queue of ['mpmc', 'spsc'] as const) {
    out.push({
      id: `spsc-vs-mpmc/${queue}/pc`,
      variant: queue,
      group: 'SPSC',
      set: 'spsc-vs-mpmc/pc',
      baseline: 'spsc-vs-mpmc/mpmc/pc',
      unit: 'ns/msg',
      direction: 'lower-is-better',
      spec: { kind: 'queue-pc', queue, capacity: 1024, messages: quick ? 50_000 : 200_000 },
    });
    out.push({
      id: `spsc-vs-mpmc/${queue}/st`,
      variant: queue,
      group: 'SPSC',
      set: 'spsc-vs-mpmc/st',
      baseline: 'spsc-vs-mpmc/mpmc/st',
      unit: 'ns/msg',
      direction: 'lower-is-better',
      spec: { kind: 'queue-st', queue, capacity: 1024, runMs },
    });
  }
  return out;
}

/**
 * Today's name for a scenario id (or set) of older data files: the L2 consumer gained its
 * `consumer:` key (`l2/try-then-park/async-main` → `l2/try-then-park/consumer:async-main`,
 * set `l2/async-main` → `l2/consumer:async-main`). Current names map to themselves.
 */
export function canonicalId(id: string): string {
  return id.replace(/^l2\/(?:(try-then-park|always-park)\/)?(async-main|sync-worker)$/, (_m, mode: string | undefined, c: string) =>
    mode === undefined ? `l2/consumer:${c}` : `l2/${mode}/consumer:${c}`,
  );
}
