// Scenario definitions of the task-list bench (claims C5, L7, L2, and SpscQueue vs MpmcQueue).
//
// | group | scenario                                  | metric                       | baseline          |
// |-------|-------------------------------------------|------------------------------|-------------------|
// | C5    | tasklist/<impl>/workers:<n>               | insert+remove pairs/s (all workers) | tasklist/locked at the same n |
// | L7    | mpmc/st/cap:<c>                           | ns per message, one thread (push then pop, bursts of min(c, 64)) | cap 1 |
// | L7    | mpmc/pc/cap:<c>                           | ns per message, 1 producer + 1 consumer worker, blocking | cap 1 |
// | L2    | l2/<try-then-park|always-park>/<consumer> | ns per message, producer worker ahead of the consumer | always-park |
// | SPSC  | spsc-vs-mpmc/<queue>/pc                   | ns per message, 1 producer + 1 consumer worker, cap 1024 | mpmc |
//
// Every sample is one fresh process; within it a warm-up run precedes three measured runs whose
// median is the sample.

export type Spec =
  | { kind: 'tasklist'; impl: 'locked' | 'lockfree' | 'sharded'; workers: number; batch: number; runMs: number }
  | { kind: 'queue-st'; queue: 'mpmc' | 'spsc'; capacity: number; runMs: number }
  | { kind: 'queue-pc'; queue: 'mpmc' | 'spsc'; capacity: number; messages: number }
  | { kind: 'queue-l2'; fastPath: boolean; consumer: 'async-main' | 'sync-worker'; messages: number };

export interface Scenario {
  id: string;
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
      group: 'L7',
      set: 'mpmc/st',
      baseline: 'mpmc/st/cap:1',
      unit: 'ns/msg',
      direction: 'lower-is-better',
      spec: { kind: 'queue-st', queue: 'mpmc', capacity, runMs },
    });
    out.push({
      id: `mpmc/pc/cap:${capacity}`,
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
        id: `l2/${fastPath ? 'try-then-park' : 'always-park'}/${consumer}`,
        group: 'L2',
        set: `l2/${consumer}`,
        baseline: `l2/always-park/${consumer}`,
        unit: 'ns/msg',
        direction: 'lower-is-better',
        spec: { kind: 'queue-l2', fastPath, consumer, messages: quick ? 50_000 : 200_000 },
      });
    }
  }
  for (const queue of ['mpmc', 'spsc'] as const) {
    out.push({
      id: `spsc-vs-mpmc/${queue}/pc`,
      group: 'SPSC',
      set: 'spsc-vs-mpmc/pc',
      baseline: 'spsc-vs-mpmc/mpmc/pc',
      unit: 'ns/msg',
      direction: 'lower-is-better',
      spec: { kind: 'queue-pc', queue, capacity: 1024, messages: quick ? 50_000 : 200_000 },
    });
    out.push({
      id: `spsc-vs-mpmc/${queue}/st`,
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
