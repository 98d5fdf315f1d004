/**
 * Registers every lock kind's per-thread hooks at once: the owner-death handlers and owner checks
 * the region runs when a watched thread dies (Mutex, RwLock, Once, Semaphore) and the deadlock
 * detector's holder lookups (Mutex, RwLock). Each kind registers its own from its constructor, so
 * a thread that creates or attaches a lock has that kind's hooks; this is for a thread that runs
 * the death handlers (it calls `SharedRegion.watch` / `markThreadDead`) or walks the wait-for
 * graph for locks it never created or attached itself. Idempotent; importing registers nothing.
 */

import { ensureMutexRegistered } from './mutex-word.ts';
import { ensureOnceRegistered } from './once.ts';
import { ensureRwLockRegistered } from './rwlock-robust.ts';
import { ensureSemaphoreRegistered } from './semaphore.ts';

export function registerLockHandlers(): void {
  ensureMutexRegistered();
  ensureRwLockRegistered();
  ensureOnceRegistered();
  ensureSemaphoreRegistered();
}
