// The lock family in one thread: each call below is the API as the README shows it.
// Run: npm run build && node examples/lock-family.ts
import { Barrier, Condvar, Mutex, Once, RwLock, Semaphore, SharedRegion, WaitGroup } from 'parklot';

const region = SharedRegion.create({ bytes: 1 << 16 });

const rw = new RwLock({ region, prefer: 'fair' }); // or 'readers' / 'writers'
rw.read(); rw.read(); rw.readUnlock(); rw.readUnlock();   // readers share
rw.write(); rw.downgrade(); rw.readUnlock();             // write, then keep reading
{ using _w = rw.acquireWrite(); }                        // guard form

const m = new Mutex({ region });
const cv = new Condvar({ region });
m.lock();
const notified = cv.waitFor(m, 5);                       // false: nobody notified; the mutex is held again
m.unlock();

const sem = new Semaphore(4, { region });                // 4 permits
sem.acquire(3);                                          // one batched operation, not three
const more = sem.tryAcquireFor(2, 5);                    // false: only 1 left
sem.release(3);
await sem.acquireAsync(2, { timeoutMs: 100 });
sem.release(2);

const barrier = new Barrier(1, { region });              // one party: every wait completes a generation
const { leader } = barrier.wait();

let inits = 0;
const once = new Once({ region });
once.call(() => { inits++; });
once.call(() => { inits++; });                           // already run: does nothing

const wg = new WaitGroup({ region });
wg.add(2); wg.done(); wg.done();
await wg.waitAsync();

console.log(JSON.stringify({ notified, more, leader, inits }));
