/**
 * The script every WorkerPool worker runs (the pool spawns it with a WorkerInit as workerData): it
 * checks the workerData, loads the task file, attaches the pool's region, and serves tasks — with
 * a SabLoop (worker/sab-loop.ts) on the shared-memory transport, or a MessageRunner
 * (worker/message-runner.ts) on the message transport. Then it says it is ready: W_READY in its
 * worker record (the main thread reads it when the worker exits, to tell a failure to start from a
 * crash) and a 'ready' message.
 *
 * An error thrown here (no workerData, the task file's import or top level throws) reaches the
 * main thread as the worker's 'error' event before it is ready: the pool reports WorkerStartError.
 *
 * Cancellation: a task function declaring a second parameter receives `{ signal }`; the signal
 * aborts when the main thread sends 'abort' for the task (see WorkerPool.run's `signal` option).
 */

import { parentPort, workerData } from 'node:worker_threads';
import { SharedRegion } from '../parking/region.ts';
import { W_READY, workerBase } from './layout.ts';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.ts';
import { MessageRunner } from './worker/message-runner.ts';
import { SabLoop } from './worker/sab-loop.ts';
import { TaskFunctions, TaskSignals } from './worker/task-functions.ts';

const init = workerData as WorkerInit;
if (init?.$parklotPoolWorker !== 1) throw new Error('parklot worker-runtime: must be started by WorkerPool (missing workerData)');

const fns = await TaskFunctions.load(init.filename);
const signals = new TaskSignals();
const region = SharedRegion.attach(init.region);
const i32 = region.i32;
const post = (m: FromWorker): void => parentPort!.postMessage(m);
const messages = new MessageRunner({ i32, index: init.index, control: init.control, claims: init.claims, fns, signals, post });

parentPort!.on('message', (m: ToWorker) => {
  if (m.t === 'abort') signals.onAbortMessage(m.id);
  else if (m.t === 'task') messages.run(m.id, m.g, m.name, m.arg);
});

let loop: SabLoop | undefined;
if (init.transport !== 'message') {
  loop = new SabLoop({
    init, region, port: init.port, fns, signals,
    onShutdown: () => {
      parentPort!.removeAllListeners('message');
      parentPort!.unref();
    },
  });
}

// Ready: the task file loaded. The main thread reads W_READY when this worker exits, to tell a
// failure to start from a crash; nothing else is published through it.
Atomics.store(i32, workerBase(init.control >> 2, init.index) + W_READY, 1);
post({ t: 'ready' });
loop?.run();
