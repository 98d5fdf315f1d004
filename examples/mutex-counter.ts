// A Mutex shared between the main thread and four workers, guarding a plain (non-atomic) counter.
// Run: npm run build && node examples/mutex-counter.ts
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { Mutex, SharedRegion } from 'parklot';

if (isMainThread) {
  const region = SharedRegion.create({ bytes: 4096 });
  const mutex = new Mutex({ region });
  const counter = region.alloc('Raw', 4); // a word for our own data
  const workers = Array.from({ length: 4 }, () =>
    new Worker(new URL(import.meta.url), { workerData: { mutex: mutex.handle, counter } }));
  await mutex.withLockAsync(() => { region.i32[counter >> 2] += 1000; }); // the event loop never blocks
  await Promise.all(workers.map((w) => new Promise((resolve) => w.on('exit', resolve))));
  console.log('counter =', region.i32[counter >> 2]); // counter = 101000
} else {
  const mutex = Mutex.from(workerData.mutex);
  const words = mutex.region.i32;
  const c = workerData.counter >> 2;
  for (let i = 0; i < 25_000; i++) {
    using _guard = mutex.acquire(); // unlocked at the end of each iteration
    words[c] = words[c] + 1;
  }
}
