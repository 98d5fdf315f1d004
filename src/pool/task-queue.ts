/**
 * The main thread's queue of tasks not yet handed to a worker: FIFO per priority level, with aging.
 *
 * Algorithm: one growable ring-buffer FIFO per distinct priority value. `shift(now)` returns the
 * head of the level with the highest *effective* priority, `priority + waited / agingMs` (ties go
 * to the task queued first). Within a level the head has waited longest, so it has the highest
 * effective priority of its level: comparing heads is enough, O(levels) per shift. A task of
 * priority p waiting behind an endless stream of priority q > p is served after at most
 * (q − p) × agingMs: low priority is never starved.
 *
 * Removal (a cancelled task) is lazy: the task is marked and skipped when it reaches a head, and
 * `size` drops at once. Single-threaded (main thread only): no shared memory here.
 */

/** What the queue needs of a task. */
export interface Queueable {
  readonly priority: number;
  /** Time (ms, main-thread clock) it entered the queue. */
  enqueuedAt: number;
  /** Submission order, for ties. */
  readonly seq: number;
  /** Set by the owner when the task was cancelled while queued. */
  cancelled: boolean;
}

/** A growable ring buffer (no O(n) shift). */
export class Fifo<T> {
  private buf: (T | undefined)[];
  private head = 0;
  private n = 0;

  constructor(capacity = 16) {
    this.buf = Array.from({ length: capacity }, () => undefined);
  }

  get length(): number {
    return this.n;
  }

  push(v: T): void {
    if (this.n === this.buf.length) this.grow();
    this.buf[(this.head + this.n) & (this.buf.length - 1)] = v;
    this.n++;
  }

  unshift(v: T): void {
    if (this.n === this.buf.length) this.grow();
    this.head = (this.head - 1) & (this.buf.length - 1);
    this.buf[this.head] = v;
    this.n++;
  }

  peek(): T | undefined {
    return this.n === 0 ? undefined : this.buf[this.head];
  }

  shift(): T | undefined {
    if (this.n === 0) return undefined;
    const v = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.n--;
    return v;
  }

  /** Removes and returns every element, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let v = this.shift(); v !== undefined; v = this.shift()) out.push(v);
    return out;
  }

  private grow(): void {
    const old = this.buf;
    const next: (T | undefined)[] = Array.from({ length: old.length * 2 }, () => undefined);
    for (let i = 0; i < this.n; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.buf = next;
    this.head = 0;
  }
}

export class TaskQueue<T extends Queueable> {
  /** Levels by priority value; `order` lists the values highest first. */
  private readonly levels = new Map<number, Fifo<T>>();
  private order: number[] = [];
  /** The level every task goes to when only one priority is in use (fast path). */
  private only: Fifo<T> | undefined;
  private live = 0;
  private readonly agingMs: number;

  constructor(agingMs: number) {
    this.agingMs = agingMs;
  }

  /** Tasks waiting (cancelled ones excluded). */
  get size(): number {
    return this.live;
  }

  push(t: T): void {
    this.level(t.priority).push(t);
    this.live++;
  }

  /** Puts a task back at the front of its level (re-dispatch after a worker died). */
  unshift(t: T): void {
    this.level(t.priority).unshift(t);
    this.live++;
  }

  /** Marks a queued task removed (it is skipped when reached). */
  remove(t: T): void {
    if (t.cancelled) return;
    t.cancelled = true;
    this.live--;
  }

  /** Removes and returns the next task to run, or undefined. `now` in ms. */
  shift(now: number): T | undefined {
    if (this.live === 0) return undefined;
    const only = this.only;
    if (only !== undefined) {
      for (;;) {
        const t = only.shift();
        if (t === undefined) return undefined;
        if (!t.cancelled) {
          this.live--;
          return t;
        }
      }
    }
    let best: Fifo<T> | undefined;
    let bestEff = -Infinity;
    let bestSeq = Infinity;
    let empty = false;
    for (const p of this.order) {
      const q = this.levels.get(p)!;
      let h = q.peek();
      while (h !== undefined && h.cancelled) {
        q.shift();
        h = q.peek();
      }
      if (h === undefined) {
        empty = true;
        continue;
      }
      const eff = p + (now - h.enqueuedAt) / this.agingMs;
      if (eff > bestEff || (eff === bestEff && h.seq < bestSeq)) {
        best = q;
        bestEff = eff;
        bestSeq = h.seq;
      }
    }
    if (empty) this.prune();
    if (best === undefined) return undefined;
    this.live--;
    return best.shift();
  }

  /** Drops empty levels so a pool back to one priority takes the fast path again. */
  private prune(): void {
    const empty = this.order.filter((p) => this.levels.get(p)!.length === 0);
    for (const p of empty) {
      if (this.levels.size === 1) break;
      this.levels.delete(p);
    }
    this.order = this.order.filter((p) => this.levels.has(p));
    this.only = this.levels.size === 1 ? this.levels.get(this.order[0]) : undefined;
  }

  /** Removes and returns every live task (for destroy). */
  drainAll(): T[] {
    const out: T[] = [];
    for (const q of this.levels.values()) for (const t of q.drain()) if (!t.cancelled) out.push(t);
    this.live = 0;
    return out;
  }

  private level(p: number): Fifo<T> {
    const only = this.only;
    if (only !== undefined && this.order[0] === p) return only;
    let q = this.levels.get(p);
    if (q === undefined) {
      q = new Fifo<T>();
      this.levels.set(p, q);
      this.order.push(p);
      this.order.sort((a, b) => b - a);
    }
    this.only = this.levels.size === 1 ? q : undefined;
    return q;
  }
}
