// Baselines for the lock-family bench, written for this bench from the published algorithms
// (not copied). Each lives in a few Int32 words of a SharedArrayBuffer (or of a parklot region,
// when it parks on parklot's ParkingLot) and exposes the interface the bench workers drive.
//
// Memory ordering: JS Atomics are sequentially consistent; each acquiring RMW reads the releasing
// RMW/store of the previous holder (named in the comments), and protected data is touched with
// plain accesses only between them.

import type { SharedRegion } from '../../src/parking/region.ts';
import type { Mutex } from '../../src/lock/mutex.ts';

const hasPause = typeof (Atomics as { pause?: unknown }).pause === 'function';

/** What the RW bench drives. */
export interface BenchRwLock {
  read(): void;
  readUnlock(): void;
  write(): void;
  writeUnlock(): void;
}

// ----------------------------------------------------------------------------- futex RwLock

const READ_LOCKED = 1;
const MASK = (1 << 30) - 1;
const WRITE_LOCKED = MASK;
const MAX_READERS = MASK - 1;
const READERS_WAITING = 1 << 30;
const WRITERS_WAITING = (1 << 31) | 0;

/**
 * Rust std's futex RwLock (rust-lang/rust `library/std/src/sys/sync/rwlock/futex.rs`), the
 * "plain futex RW lock" of claim L3. State word: bits 0..29 reader count (MASK = write-locked),
 * bit 30 readers waiting (they futex-wait on the state word), bit 31 writers waiting (they wait
 * on the separate `writer_notify` counter word). Readers block while anyone waits (writers get
 * priority); unlock wakes one writer, else all readers. Spins 100 rounds before waiting.
 * Words: `index` = state, `index + 32` = writer_notify (its own 128-byte line).
 */
export class FutexRwLock implements BenchRwLock {
  readonly #a: Int32Array;
  readonly #s: number;
  readonly #n: number;
  constructor(words: Int32Array, index: number) {
    this.#a = words;
    this.#s = index;
    this.#n = index + 32;
  }
  static readonly WORDS = 64;

  static #lockable(s: number): boolean {
    return (s & MASK) < MAX_READERS && (s & (READERS_WAITING | WRITERS_WAITING)) === 0;
  }

  read(): void {
    const s = Atomics.load(this.#a, this.#s);
    // Acquire edge: reads the last unlock's sub.
    if (!FutexRwLock.#lockable(s) || Atomics.compareExchange(this.#a, this.#s, s, s + READ_LOCKED) !== s) this.#readContended();
  }

  readUnlock(): void {
    // Release edge for the next writer.
    const s = (Atomics.sub(this.#a, this.#s, READ_LOCKED) - READ_LOCKED) | 0;
    if ((s & MASK) === 0 && (s & WRITERS_WAITING) !== 0) this.#wake(s);
  }

  #spin(f: (s: number) => boolean): number {
    for (let spin = 100; ; spin--) {
      const s = Atomics.load(this.#a, this.#s);
      if (f(s) || spin === 0) return s;
      if (hasPause) Atomics.pause();
    }
  }

  #readContended(): void {
    const a = this.#a;
    const i = this.#s;
    const spinRead = (s: number): boolean => (s & MASK) !== WRITE_LOCKED || (s & (READERS_WAITING | WRITERS_WAITING)) !== 0;
    let s = this.#spin(spinRead);
    for (;;) {
      if (FutexRwLock.#lockable(s)) {
        const seen = Atomics.compareExchange(a, i, s, s + READ_LOCKED);
        if (seen === s) return;
        s = seen;
        continue;
      }
      if ((s & MASK) === MAX_READERS) throw new Error('too many readers');
      if ((s & READERS_WAITING) === 0) {
        const seen = Atomics.compareExchange(a, i, s, s | READERS_WAITING);
        if (seen !== s) {
          s = seen;
          continue;
        }
      }
      Atomics.wait(a, i, s | READERS_WAITING);
      s = this.#spin(spinRead);
    }
  }

  write(): void {
    if (Atomics.compareExchange(this.#a, this.#s, 0, WRITE_LOCKED) !== 0) this.#writeContended();
  }

  writeUnlock(): void {
    const s = (Atomics.sub(this.#a, this.#s, WRITE_LOCKED) - WRITE_LOCKED) | 0;
    if ((s & (READERS_WAITING | WRITERS_WAITING)) !== 0) this.#wake(s);
  }

  #writeContended(): void {
    const a = this.#a;
    const i = this.#s;
    const spinWrite = (s: number): boolean => (s & MASK) === 0 || (s & WRITERS_WAITING) !== 0;
    let s = this.#spin(spinWrite);
    let other = 0;
    for (;;) {
      if ((s & MASK) === 0) {
        const seen = Atomics.compareExchange(a, i, s, s | WRITE_LOCKED | other);
        if (seen === s) return;
        s = seen;
        continue;
      }
      if ((s & WRITERS_WAITING) === 0) {
        const seen = Atomics.compareExchange(a, i, s, s | WRITERS_WAITING);
        if (seen !== s) {
          s = seen;
          continue;
        }
      }
      other = WRITERS_WAITING;
      const seq = Atomics.load(a, this.#n);
      s = Atomics.load(a, i);
      if ((s & MASK) === 0 || (s & WRITERS_WAITING) === 0) continue;
      Atomics.wait(a, this.#n, seq);
      s = this.#spin(spinWrite);
    }
  }

  #wakeWriter(): boolean {
    Atomics.add(this.#a, this.#n, 1);
    return Atomics.notify(this.#a, this.#n, 1) > 0;
  }

  #wake(s0: number): void {
    const a = this.#a;
    const i = this.#s;
    let s = s0;
    if (s === WRITERS_WAITING) {
      const seen = Atomics.compareExchange(a, i, s, 0);
      if (seen === s) {
        this.#wakeWriter();
        return;
      }
      s = seen;
    }
    if (s === (READERS_WAITING | WRITERS_WAITING)) {
      if (Atomics.compareExchange(a, i, s, READERS_WAITING) !== s) return;
      if (this.#wakeWriter()) return;
      s = READERS_WAITING;
    }
    if (s === READERS_WAITING && Atomics.compareExchange(a, i, s, 0) === s) Atomics.notify(a, i);
  }
}

// ----------------------------------------------------------------------------- CPython _PyRWMutex

const PY_WRITE_LOCKED = 1;
const PY_HAS_PARKED = 2;
const PY_ONE_READER = 4;

/**
 * CPython's `_PyRWMutex` (python/cpython `Python/lock.c`), the C4 baseline: write-preferring
 * (a reader parks if anyone is parked), and every unlock that sees HAS_PARKED wakes *all*
 * parked threads (`_PyParkingLot_UnparkAll`), readers and writers alike, which then re-contend.
 * Parks on parklot's ParkingLot with CPython's validate (the whole word still equals what the
 * thread saw). Word: bit 0 WRITE_LOCKED, bit 1 HAS_PARKED, bits 2.. reader count.
 */
export class CPythonRwMutex implements BenchRwLock {
  readonly #a: Int32Array;
  readonly #i: number;
  readonly #region: SharedRegion;
  readonly #key: number;
  constructor(region: SharedRegion, offset: number) {
    this.#region = region;
    this.#a = region.i32;
    this.#i = offset >> 2;
    this.#key = offset;
  }

  #setParkedAndWait(s0: number): number {
    let s = s0;
    if ((s & PY_HAS_PARKED) === 0) {
      const seen = Atomics.compareExchange(this.#a, this.#i, s, s | PY_HAS_PARKED);
      if (seen !== s) return seen;
      s |= PY_HAS_PARKED;
    }
    const expect = s;
    this.#region.lot.park(this.#key, () => Atomics.load(this.#a, this.#i) === expect);
    return Atomics.load(this.#a, this.#i);
  }

  read(): void {
    let s = Atomics.load(this.#a, this.#i);
    for (;;) {
      if ((s & (PY_WRITE_LOCKED | PY_HAS_PARKED)) !== 0) {
        s = this.#setParkedAndWait(s);
        continue;
      }
      const seen = Atomics.compareExchange(this.#a, this.#i, s, s + PY_ONE_READER);
      if (seen === s) return;
      s = seen;
    }
  }

  readUnlock(): void {
    const s = Atomics.sub(this.#a, this.#i, PY_ONE_READER) - PY_ONE_READER;
    if (s >>> 2 === 0 && (s & PY_HAS_PARKED) !== 0) this.#region.lot.unparkAll(this.#key);
  }

  write(): void {
    let s = Atomics.load(this.#a, this.#i);
    for (;;) {
      if ((s & ~PY_HAS_PARKED) === 0) {
        const seen = Atomics.compareExchange(this.#a, this.#i, s, s | PY_WRITE_LOCKED);
        if (seen === s) return;
        s = seen;
        continue;
      }
      s = this.#setParkedAndWait(s);
    }
  }

  writeUnlock(): void {
    const old = Atomics.exchange(this.#a, this.#i, 0);
    if ((old & PY_HAS_PARKED) !== 0) this.#region.lot.unparkAll(this.#key);
  }
}

/** parklot's Mutex used as a reader-writer lock (everyone exclusive). */
export class MutexAsRw implements BenchRwLock {
  readonly #m: Mutex;
  constructor(m: Mutex) {
    this.#m = m;
  }
  read(): void {
    this.#m.lock();
  }
  readUnlock(): void {
    this.#m.unlock();
  }
  write(): void {
    this.#m.lock();
  }
  writeUnlock(): void {
    this.#m.unlock();
  }
}

// ----------------------------------------------------------------------------- wake-all condvar

/** What the condvar bench drives (parklot's Condvar has this shape too). */
export interface BenchCondvar {
  waitFor(m: Mutex, ms: number): boolean;
  notifyAll(): number;
}

/**
 * The C3 baseline: a sequence-numbered condvar whose notifyAll wakes every waiter
 * (`unparkAll`) and lets them all re-contend for the mutex (WebKit's Condition and parlib's
 * Cond do this). Same parking lot, same seq/waiter-count fast path as parklot's Condvar; the only
 * difference is wake-all instead of requeue. Words: SEQ, WAITERS.
 */
export class WakeAllCondvar implements BenchCondvar {
  readonly #region: SharedRegion;
  readonly #a: Int32Array;
  readonly #seq: number;
  readonly #w: number;
  readonly #key: number;
  constructor(region: SharedRegion, offset: number) {
    this.#region = region;
    this.#a = region.i32;
    this.#seq = offset >> 2;
    this.#w = this.#seq + 1;
    this.#key = offset;
  }

  waitFor(m: Mutex, ms: number): boolean {
    const a = this.#a;
    Atomics.add(a, this.#w, 1);
    const seq = Atomics.load(a, this.#seq);
    let slept = false;
    const r = this.#region.lot.park(this.#key, () => Atomics.load(a, this.#seq) === seq, {
      timeoutMs: ms,
      beforeSleep: () => {
        slept = true;
        m.unlock();
      },
    });
    Atomics.sub(a, this.#w, 1);
    if (slept) m.lock();
    return r.result !== 'timedOut';
  }

  notifyAll(): number {
    if (Atomics.load(this.#a, this.#w) === 0) return 0;
    Atomics.add(this.#a, this.#seq, 1);
    return this.#region.lot.unparkAll(this.#key);
  }
}

// ----------------------------------------------------------------------------- futex barrier

/**
 * Textbook futex barrier: an arrival counter and a generation word; the last arrival resets the
 * counter, bumps the generation and wakes every sleeper with one `Atomics.notify(gen, Infinity)`
 * (one V8 call for all); others (optionally spin, then) `Atomics.wait` on the generation.
 * Words: `index` = count, `index + 32` = generation (own line).
 */
export class FutexBarrier {
  readonly #a: Int32Array;
  readonly #c: number;
  readonly #g: number;
  readonly #parties: number;
  readonly #spin: number;
  constructor(words: Int32Array, index: number, parties: number, spin: number) {
    this.#a = words;
    this.#c = index;
    this.#g = index + 32;
    this.#parties = parties;
    this.#spin = spin;
  }
  static readonly WORDS = 64;

  wait(): boolean {
    const a = this.#a;
    const g = Atomics.load(a, this.#g);
    if (Atomics.add(a, this.#c, 1) + 1 === this.#parties) {
      Atomics.store(a, this.#c, 0);
      // Release edge: waiters' loads of the new generation read this add.
      Atomics.add(a, this.#g, 1);
      Atomics.notify(a, this.#g);
      return true;
    }
    for (let i = 0; i < this.#spin; i++) {
      if (Atomics.load(a, this.#g) !== g) return false;
      if (hasPause) Atomics.pause(i);
    }
    while (Atomics.load(a, this.#g) === g) Atomics.wait(a, this.#g, g);
    return false;
  }
}
