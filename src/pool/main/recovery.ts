/**
 * Recovery: what becomes of a dead worker's tasks. (What becomes of the worker slot itself —
 * replaced, or failed because the task file cannot load — is lifecycle.ts.)
 *
 * When a worker exits unexpectedly (crash, process.exit in a task, out of memory, terminate()), the
 * transport's `recover` looks at every task the worker held through the word a worker must claim
 * before calling a task function (the slot's state word, or the message id's claim word): finished
 * tasks settle normally, claimed ones reject with WorkerExitError (exit code, and the cause when
 * known), and those it never claimed are taken back (CAS QUEUED → FREE, so a late claim of the old
 * entry fails: nothing runs twice). Those go to the front of the queue, oldest first, and run on
 * another worker — except tasks whose argument was transferred to the dead worker: they cannot be
 * sent again and reject with WorkerExitError ("…transferred argument…").
 */

import { WorkerExitError } from '../errors.ts';
import type { Completions } from './completions.ts';
import type { PoolState } from './state.ts';
import { PHASE_QUEUED, PHASE_SETTLED, type Task, type WorkerHandle } from './task.ts';

export class Recovery {
  readonly #s: PoolState;
  readonly #c: Completions;

  constructor(s: PoolState, c: Completions) {
    this.#s = s;
    this.#c = c;
  }

  /**
   * Worker `w` exited with `code`, unexpectedly: settles its finished tasks, rejects the started
   * ones with the returned error, and returns the tasks it never started (to requeue).
   */
  collect(w: WorkerHandle, code: number): { err: WorkerExitError; redo: Task[] } {
    const cause = w.lastError;
    const why = w.killReason ?? (cause instanceof Error ? cause.message : undefined);
    const err = new WorkerExitError(
      `WorkerPool worker ${w.index} exited with code ${code} while running this task${why === undefined ? '' : ` (${why})`}`,
      code, w.index, cause,
    );
    this.#s.tick();
    const redo = this.#s.transport.recover(w, err);
    return { err, redo };
  }

  /** Puts tasks taken back from a dead worker at the front of the queue, oldest first. */
  requeue(tasks: Task[], err: Error): void {
    tasks.sort((a, b) => b.seq - a.seq);
    for (const t of tasks) {
      if (t.phase === PHASE_SETTLED) continue;
      if (t.o.transfer !== undefined && t.o.transfer.length > 0) {
        // Its argument was transferred to the dead worker and cannot be sent again.
        this.#c.settle(t, false, new WorkerExitError(`WorkerPool: the worker holding this task's transferred argument exited before starting it`, (err as WorkerExitError).exitCode ?? 1, t.worker, err));
        continue;
      }
      t.phase = PHASE_QUEUED;
      t.worker = -1;
      this.#s.queue.unshift(t);
    }
  }

  /** Rejects every waiting task (no worker can start). */
  failAll(err: Error): void {
    for (const t of this.#s.queue.drainAll()) this.#c.settle(t, false, err);
  }
}
