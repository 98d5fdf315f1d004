// Control block of the task-list bench (Int32 words of a plain SharedArrayBuffer).
/** Run generation: the child bumps it (and notifies) to start a run. */
export const C_GEN = 0;
/** Set to the run's generation to stop duration-based runs. */
export const C_STOP = 32;
/** Workers that attached and wait for the first run. */
export const C_READY = 64;
/** Workers that finished the current run. */
export const C_DONE = 96;
/** Per-worker operation counts of the last run, from this index on. */
export const C_OPS = 128;
export const CTL_WORDS = C_OPS + 64;
