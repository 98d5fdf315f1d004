// Deliberately broken variants of parklot algorithms, used only to prove that the
// linearizability tests catch real bugs (mutation testing of the harness). They operate on
// the real data structures' memory layouts.
import { R_CELLS, R_DEQ } from '../../src/task-list/ring.ts';
import { HEADER_WORDS } from '../../src/task-list/ticket.ts';

/**
 * Vyukov dequeue that claims its position with a load and a store instead of a CAS: two
 * consumers can claim the same cell, so a value is delivered twice (and deqPos can move
 * backwards). Bounded so a corrupted ring reports "empty" instead of spinning forever.
 */
export function buggyTryPop(i32: Int32Array, base: number, mask: number): number | undefined {
  for (let tries = 0; tries < 1000; tries++) {
    const pos = Atomics.load(i32, base + R_DEQ);
    const cell = base + R_CELLS + ((pos & mask) << 1);
    const seq = Atomics.load(i32, cell);
    const dif = (seq - ((pos << 1) | 1)) | 0;
    if (dif === 0) {
      // BUG: not atomic with the load above.
      Atomics.store(i32, base + R_DEQ, (pos + 1) | 0);
      const v = i32[cell + 1]!;
      Atomics.store(i32, cell, (pos + mask + 1) << 1);
      return v;
    }
    if (dif < 0) return undefined;
  }
  return undefined;
}

/**
 * Insert into the lock-free slot table (lockfree-list.ts layout) that claims a FREE slot with a
 * load and a store instead of a CAS on the state word, and probes from slot 0 like a naive
 * table: two inserts can take the same slot and hand out the same ticket.
 */
export function buggyLockfreeInsert(i32: Int32Array, base: number, capacity: number, tag: number, value: number): number | 'full' {
  const F_COUNT = HEADER_WORDS;
  const F_SLOTS = 2 * HEADER_WORDS;
  // Reservation as in the real table (CAS, never past capacity): only the claim is broken.
  for (let c = Atomics.load(i32, base + F_COUNT); ; ) {
    if (c >= capacity) return 'full';
    const seen = Atomics.compareExchange(i32, base + F_COUNT, c, c + 1);
    if (seen === c) break;
    c = seen;
  }
  for (let i = 0; ; i = i + 1 === capacity ? 0 : i + 1) {
    const at = base + F_SLOTS + 2 * i;
    const s = Atomics.load(i32, at);
    if ((s & 3) !== 0) continue;
    // BUG: another insert may claim the same FREE slot between the load and this store.
    Atomics.store(i32, at, s | 1);
    i32[at + 1] = value;
    Atomics.store(i32, at, (s & ~3) | 2);
    return (tag * 2 ** 16 + ((s >>> 2) & 0xffff)) * 2 ** 21 + i;
  }
}
