/**
 * Claim L5 micro-bench worker: alloc+free pairs on a shared FuturePool for a fixed time, with the
 * pool's per-thread caches ('thread') or straight on the central free lists ('shared').
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FuturePool, type FuturePoolCache, type FuturePoolHandle } from '../../src/pool/future-pool.ts';

const d = workerData as { handle: FuturePoolHandle; cache: FuturePoolCache; ms: number; go: Int32Array };
const fp = FuturePool.from(d.handle, { cache: d.cache });
const held = new Int32Array(8);
Atomics.wait(d.go, 0, 0);
const end = performance.now() + d.ms;
let pairs = 0;
let misses = 0;
while (performance.now() < end) {
  for (let k = 0; k < 64; k++) {
    // Hold a few slots at once (as a worker with several results in flight would), then free them.
    for (let j = 0; j < 8; j++) {
      held[j] = fp.alloc(j & 1 ? 16 : 900);
      if (held[j] < 0) misses++;
    }
    for (let j = 0; j < 8; j++) if (held[j] >= 0) fp.free(held[j]);
    pairs += 8;
  }
}
fp.flush();
parentPort!.postMessage({ pairs, misses, ms: d.ms });
