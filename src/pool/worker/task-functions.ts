/**
 * A pool worker's view of the task file: its task functions by export name, whether a function
 * takes the `{ signal }` context, and the `{ signal }` contexts themselves (one AbortController per
 * task that asks for it, aborted when the main thread sends 'abort' for the task).
 *
 * Loading the file (`TaskFunctions.load`) is asynchronous and done once by the worker's bootstrap
 * (worker-runtime.ts); everything after is synchronous. A test can build one from a plain object
 * with `TaskFunctions.fromModule`.
 */

export type TaskFn = (arg: unknown, ctx?: TaskContext) => unknown;

export function isThenable(r: unknown): r is PromiseLike<unknown> {
  return r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as { then?: unknown }).then === 'function';
}

function abortError(): DOMException {
  return new DOMException('The task was aborted', 'AbortError');
}

/**
 * The abort signals of the tasks a worker runs, by task id (the entry on the sab transport, the
 * message id on the message transport). A signal is made only when a task reads `ctx.signal`; an
 * 'abort' that arrives for a running async task before it did is remembered until it does.
 */
export class TaskSignals {
  readonly #controllers = new Map<number, AbortController>();
  /** Async tasks in flight (an abort for one of them is kept until its signal is made). */
  readonly #liveAsync = new Set<number>();
  readonly #abortedEarly = new Set<number>();

  signalFor(id: number): AbortSignal {
    let c = this.#controllers.get(id);
    if (c === undefined) {
      c = new AbortController();
      this.#controllers.set(id, c);
      if (this.#abortedEarly.delete(id)) c.abort(abortError());
    }
    return c.signal;
  }

  /** The main thread sent 'abort' for task `id`. */
  onAbortMessage(id: number): void {
    const c = this.#controllers.get(id);
    if (c !== undefined) c.abort(abortError());
    else if (this.#liveAsync.has(id)) this.#abortedEarly.add(id);
  }

  /** Task `id` returned a promise that has not settled yet. */
  asyncStarted(id: number): void {
    this.#liveAsync.add(id);
  }

  /** Task `id` finished: drop its signal (async or not). */
  finished(id: number): void {
    this.#liveAsync.delete(id);
    this.#controllers.delete(id);
    this.#abortedEarly.delete(id);
  }
}

/** The context object a two-parameter task function receives. */
export class TaskContext {
  readonly #id: number;
  readonly #signals: TaskSignals;
  constructor(id: number, signals: TaskSignals) {
    this.#id = id;
    this.#signals = signals;
  }
  /** Aborts when the task is cancelled through the `signal` passed to `run`. */
  get signal(): AbortSignal {
    return this.#signals.signalFor(this.#id);
  }
}

export class TaskFunctions {
  readonly #mod: Record<string, unknown>;
  readonly #filename: string;
  readonly #defaultFn: TaskFn | undefined;
  readonly #fnByName = new Map<string, TaskFn>();
  /**
   * Whether a task function takes the `{ signal }` context: cached per function (the last one
   * checked, then a WeakMap).
   */
  readonly #ctxCache = new WeakMap<TaskFn, boolean>();
  #lastFn: TaskFn | undefined;
  #lastWants = false;

  /** Imports the task file (a URL string) and resolves its default export. */
  static async load(filename: string): Promise<TaskFunctions> {
    return TaskFunctions.fromModule((await import(filename)) as Record<string, unknown>, filename);
  }

  /** From a module namespace (or any object of exports); a thenable default export is awaited. */
  static async fromModule(mod: Record<string, unknown>, filename: string): Promise<TaskFunctions> {
    let d: unknown = mod.default;
    if (d !== null && typeof d === 'object' && typeof (d as { then?: unknown }).then === 'function') d = await d;
    let defaultFn: TaskFn | undefined;
    if (typeof d === 'function') defaultFn = d as TaskFn;
    else if (d !== null && typeof d === 'object' && typeof (d as { default?: unknown }).default === 'function') defaultFn = (d as { default: TaskFn }).default;
    return new TaskFunctions(mod, filename, defaultFn);
  }

  private constructor(mod: Record<string, unknown>, filename: string, defaultFn: TaskFn | undefined) {
    this.#mod = mod;
    this.#filename = filename;
    this.#defaultFn = defaultFn;
  }

  #describeExports(): string {
    const keys = Object.keys(this.#mod);
    return keys.length === 0 ? 'nothing' : keys.join(', ');
  }

  /** The function for export `name` ('' = the default export); throws a TypeError naming what the file exports. */
  fnFor(name: string): TaskFn {
    if (name === '') {
      if (this.#defaultFn !== undefined) return this.#defaultFn;
      throw new TypeError(`task file ${this.#filename} has no default export function (it exports: ${this.#describeExports()}); pass { name } to run a named export`);
    }
    let f = this.#fnByName.get(name);
    if (f !== undefined) return f;
    const cand = this.#mod[name] ?? (this.#mod.default as Record<string, unknown> | undefined)?.[name];
    if (typeof cand !== 'function') {
      throw new TypeError(`task file ${this.#filename} has no export named '${name}' that is a function (it exports: ${this.#describeExports()})`);
    }
    f = cand as TaskFn;
    this.#fnByName.set(name, f);
    return f;
  }

  /**
   * Whether a task function takes the `{ signal }` context: it declares a second parameter. `length`
   * misses `(arg, { signal } = {})` and `(...args)`, so those are found in the source: a top-level
   * comma or a rest parameter in the parameter list. A false positive only costs one small object per
   * task.
   */
  wantsContext(fn: TaskFn): boolean {
    if (fn === this.#lastFn) return this.#lastWants;
    let w = this.#ctxCache.get(fn);
    if (w === undefined) {
      w = fn.length >= 2 || paramsHaveSecond(Function.prototype.toString.call(fn));
      this.#ctxCache.set(fn, w);
    }
    this.#lastFn = fn;
    this.#lastWants = w;
    return w;
  }
}

function paramsHaveSecond(src: string): boolean {
  const open = src.indexOf('(');
  if (open < 0) return false;
  const arrow = src.indexOf('=>');
  if (arrow >= 0 && arrow < open) return false; // `x => …`: one parameter
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const ch = src[i];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') {
      if (--depth === 0) return false;
    } else if (depth === 1 && (ch === ',' || src.startsWith('...', i))) return true;
  }
  return false;
}
