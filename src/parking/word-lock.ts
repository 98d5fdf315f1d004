/**
 * A word lock for the parking lot's own short critical sections (bucket queues, the waiter free
 * list): Drepper's futex mutex "take 3" with a short `Atomics.pause` spin first.
 *
 * | value | meaning                              |
 * |-------|--------------------------------------|
 * | 0     | free                                 |
 * | 1     | locked, nobody sleeps on the word    |
 * | 2     | locked, someone may sleep on the word|
 *
 * Critical sections under it are a few dozen instructions and never call user code that could
 * block, so sleeping is rare; when it happens it is on the word itself (these are the only
 * `Atomics.wait`s on a shared word outside waiter records). A thread that may not block (a
 * browser's main thread) never sleeps here: it keeps spinning until the holder, which is inside a
 * few dozen instructions, lets go.
 */

import { CAN_BLOCK, pause } from '../platform/host.ts';

const SPINS = 40;

export function wordLock(h: Int32Array, i: number): void {
  // Acquire edge: the CAS reads the previous holder's unlock store, so its writes are visible.
  if (Atomics.compareExchange(h, i, 0, 1) === 0) return;
  for (let n = 0; n < SPINS; n++) {
    pause(n);
    if (Atomics.load(h, i) === 0 && Atomics.compareExchange(h, i, 0, 1) === 0) return;
  }
  if (!CAN_BLOCK) {
    // Still marks the word contended, so the holder's unlock notifies any blocking sleeper.
    for (let n = 0; Atomics.exchange(h, i, 2) !== 0; n++) pause(n & 63);
    return;
  }
  // Mark contended and sleep until an unlock wakes us.
  while (Atomics.exchange(h, i, 2) !== 0) Atomics.wait(h, i, 2);
}

export function wordUnlock(h: Int32Array, i: number): void {
  // Release edge: publishes every write made under the lock to the next holder.
  if (Atomics.exchange(h, i, 0) === 2) Atomics.notify(h, i, 1);
}
