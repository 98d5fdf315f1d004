/**
 * Linearizability checker for small concurrent histories.
 *
 * Algorithm: the Wing–Gong search as improved by Lowe ("Testing for linearizability",
 * Concurrency and Computation 2017) and popularised by Porcupine: the history is a time-ordered
 * list of call and return events; the search repeatedly picks a *minimal* pending call (one whose
 * call precedes every return still in the list), applies it to the sequential model, and
 * "lifts" it out of the list. Reaching a return event whose call has not been lifted means the
 * current prefix cannot be extended, so it backtracks. Memoization: a (set of linearized
 * operations, model state) pair is explored at most once, which turns the factorial worst case
 * into one bounded by the number of distinct configurations.
 *
 * Time stamps must come from one total order shared by all threads (parklot's tests use an
 * `Atomics.add` counter in shared memory), so `call < ret` for every operation and
 * `a.ret < b.call` means "a finished before b started" in real time.
 *
 * Pure functions only: no I/O, no shared memory. Written from the papers' descriptions; no code
 * copied.
 */

/** One completed operation of a recorded history. */
export interface Operation<I, O> {
  /** Thread (worker) that ran it; only used in reports. */
  readonly process: number;
  /** Shared-clock stamp taken just before the call. */
  readonly call: number;
  /** Shared-clock stamp taken just after the return; must be greater than `call`. */
  readonly ret: number;
  readonly input: I;
  readonly output: O;
}

/**
 * A sequential specification. `step` returns the successor state when `op` (its input and its
 * observed output) is legal in `state`, or `undefined` when it is not. It must not mutate
 * `state`. `key` returns a canonical string for memoization: equal keys mean equal states.
 */
export interface Model<S, I, O> {
  init(): S;
  step(state: S, op: Operation<I, O>, history: ReadonlyArray<Operation<I, O>>, index: number): S | undefined;
  key(state: S): string;
}

export interface CheckResult {
  /** `true`: a legal linearization exists; `false`: none does; `'unknown'`: step budget hit. */
  readonly ok: boolean | 'unknown';
  /** Distinct (linearized set, state) configurations explored. */
  readonly explored: number;
  /** Indices (into the history) of the longest legal prefix found, in linearization order. */
  readonly longestPrefix: readonly number[];
}

interface Entry {
  readonly op: number;
  readonly isCall: boolean;
  match: Entry | null; // call → its return entry
  prev: Entry | null;
  next: Entry | null;
}

/** Checks `history` against `model`. `maxSteps` bounds the search (default 2 000 000). */
export function checkLinearizable<S, I, O>(
  history: ReadonlyArray<Operation<I, O>>,
  model: Model<S, I, O>,
  maxSteps = 2_000_000,
): CheckResult {
  const n = history.length;
  for (let i = 0; i < n; i++) {
    const op = history[i]!;
    if (!(op.call < op.ret)) {
      throw new RangeError(`operation ${i} has call ${op.call} >= ret ${op.ret}`);
    }
  }
  // Build the event list sorted by time. Stamps come from one counter, so they are distinct;
  // on a tie (hand-made histories) calls sort before returns, which only widens intervals.
  const events: { t: number; entry: Entry }[] = [];
  for (let i = 0; i < n; i++) {
    const op = history[i]!;
    const ret: Entry = { op: i, isCall: false, match: null, prev: null, next: null };
    const call: Entry = { op: i, isCall: true, match: ret, prev: null, next: null };
    events.push({ t: op.call, entry: call }, { t: op.ret, entry: ret });
  }
  events.sort((a, b) => a.t - b.t || (a.entry.isCall === b.entry.isCall ? 0 : a.entry.isCall ? -1 : 1));
  const head: Entry = { op: -1, isCall: false, match: null, prev: null, next: null };
  let last = head;
  for (const { entry } of events) {
    entry.prev = last;
    last.next = entry;
    last = entry;
  }

  const lift = (call: Entry): void => {
    call.prev!.next = call.next;
    if (call.next !== null) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next !== null) ret.next.prev = ret.prev;
  };
  const unlift = (call: Entry): void => {
    // Exact inverse of lift, applied in LIFO order, so the neighbours are the ones removed.
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next !== null) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next !== null) call.next.prev = call;
  };

  const linearized = new Uint8Array(n);
  const cache = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let longest: number[] = [];
  let state = model.init();
  let entry = head.next;
  let steps = 0;

  const bitsKey = (): string => {
    let s = '';
    for (let i = 0; i < n; i += 6) {
      let v = 0;
      for (let j = 0; j < 6 && i + j < n; j++) v |= linearized[i + j]! << j;
      s += String.fromCharCode(48 + v);
    }
    return s;
  };

  while (head.next !== null) {
    if (++steps > maxSteps) return { ok: 'unknown', explored: cache.size, longestPrefix: longest };
    if (entry === null) {
      // Unreachable: the list always ends with a return entry, which stops the scan.
      throw new Error('lincheck: scanned past the end of the history');
    }
    if (entry.isCall) {
      const next = model.step(state, history[entry.op]!, history, entry.op);
      if (next !== undefined) {
        linearized[entry.op] = 1;
        const key = bitsKey() + '|' + model.key(next);
        if (!cache.has(key)) {
          cache.add(key);
          stack.push({ entry, state });
          if (stack.length > longest.length) longest = stack.map((s) => s.entry.op);
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op] = 0;
      }
      entry = entry.next;
    } else {
      // A return whose call is still in the list: the prefix cannot be extended. Backtrack.
      const top = stack.pop();
      if (top === undefined) return { ok: false, explored: cache.size, longestPrefix: longest };
      state = top.state;
      linearized[top.entry.op] = 0;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { ok: true, explored: cache.size, longestPrefix: stack.map((s) => s.entry.op) };
}

/** `true` when the real-time intervals of `a` and `b` overlap. */
export function overlaps(a: Operation<unknown, unknown>, b: Operation<unknown, unknown>): boolean {
  return a.call < b.ret && b.call < a.ret;
}

// ---------------------------------------------------------------------------------------------
// Queue specification
// ---------------------------------------------------------------------------------------------

export type QueueInput = { readonly kind: 'push'; readonly value: number } | { readonly kind: 'pop' };
/** push → `true` (stored) / `false` (full); pop → the value, or `null` (empty). */
export type QueueOutput = boolean | number | null;
export type QueueOp = Operation<QueueInput, QueueOutput>;

/**
 * Bounded FIFO queue of `capacity` items.
 *
 * `spurious: false` is the strict specification: push fails iff the queue holds `capacity`
 * items, pop fails iff it holds none.
 *
 * `spurious: true` is the documented contract of `MpmcQueue.tryPush`/`tryPop` (Vyukov's ring):
 * a failed pop is also legal when some push overlaps it in real time (that push may have
 * claimed the cell at the head and not yet published it), and a failed push is also legal when
 * some pop overlaps it (that pop may have claimed the cell the push needs and not yet released
 * it). A failure never changes the state. Successful operations are always checked strictly:
 * FIFO order, no loss, no duplication, nothing invented.
 */
export function queueModel(capacity: number, spurious: boolean): Model<readonly number[], QueueInput, QueueOutput> {
  return {
    init: () => [],
    key: (s) => s.join(','),
    step(s, op, history, index) {
      if (op.input.kind === 'push') {
        if (op.output === true) return s.length < capacity ? [...s, op.input.value] : undefined;
        if (op.output !== false) return undefined;
        if (s.length === capacity) return s;
        return spurious && hasOverlapping(history, index, 'pop') ? s : undefined;
      }
      if (op.output === null) {
        if (s.length === 0) return s;
        return spurious && hasOverlapping(history, index, 'push') ? s : undefined;
      }
      return s.length > 0 && s[0] === op.output ? s.slice(1) : undefined;
    },
  };
}

function hasOverlapping(history: ReadonlyArray<QueueOp>, index: number, kind: 'push' | 'pop'): boolean {
  const op = history[index]!;
  for (let j = 0; j < history.length; j++) {
    const other = history[j]!;
    if (j !== index && other.input.kind === kind && overlaps(op, other)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Registry (set of tickets) specification
// ---------------------------------------------------------------------------------------------

export type RegistryInput =
  | { readonly kind: 'insert'; readonly value: number }
  | { readonly kind: 'remove'; readonly ticket: number };
/** insert → the ticket, or `'full'`; remove → whether this call removed the entry. */
export type RegistryOutput = number | 'full' | boolean;
export type RegistryOp = Operation<RegistryInput, RegistryOutput>;

/**
 * A set of live tickets with capacity `capacity`: insert returns a ticket not currently live
 * (any such ticket: the choice is the implementation's) or `'full'` when `capacity` entries are
 * live; remove returns `true` iff the ticket was live, and a ticket leaves the set exactly once.
 * With `spurious: true`, `'full'` is also legal while a remove overlaps the insert (the
 * lock-free table frees its capacity count just after the removal's linearization point).
 */
export function registryModel(
  capacity: number,
  spurious = false,
): Model<ReadonlyMap<number, number>, RegistryInput, RegistryOutput> {
  return {
    init: () => new Map(),
    key: (s) =>
      [...s.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([t, v]) => `${t}:${v}`)
        .join(','),
    step(s, op, history, _index) {
      if (op.input.kind === 'insert') {
        if (op.output === 'full') {
          if (s.size >= capacity) return s;
          if (!spurious) return undefined;
          for (let j = 0; j < history.length; j++) {
            const other = history[j]!;
            if (other.input.kind === 'remove' && other.output === true && overlaps(op, other)) return s;
          }
          return undefined;
        }
        if (typeof op.output !== 'number' || s.has(op.output) || s.size >= capacity) return undefined;
        const next = new Map(s);
        next.set(op.output, op.input.value);
        return next;
      }
      const present = s.has(op.input.ticket);
      if (op.output !== present) return undefined;
      if (!present) return s;
      const next = new Map(s);
      next.delete(op.input.ticket);
      return next;
    },
  };
}

/** One-line description of a history for failure messages, sorted by call time. */
export function formatHistory<I, O>(history: ReadonlyArray<Operation<I, O>>): string {
  return [...history]
    .map((op, i) => ({ op, i }))
    .sort((a, b) => a.op.call - b.op.call)
    .map(({ op, i }) => `#${i} p${op.process} [${op.call},${op.ret}] ${JSON.stringify(op.input)} -> ${JSON.stringify(op.output)}`)
    .join('\n');
}
