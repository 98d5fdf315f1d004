/**
 * The platform seam: everything the core (parking, locks, queues) takes from the host runtime.
 * Nothing outside this folder and `src/pool/` touches a runtime-specific API.
 */
export { CORES, CAN_BLOCK, hostThreadId, pause, assertCanBlock } from './host.ts';
export { nowMs, nowUs, diffUs } from './clock.ts';
