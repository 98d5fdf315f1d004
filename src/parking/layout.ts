/**
 * The memory layout of a SharedRegion, as named Int32 indices (piscina's `symbols.ts` habit).
 *
 * ```
 * byte 0     header (HDR_* words)                         ─┐ written once at creation,
 * byte 128   heap bump pointer        (own 128-byte line)  │ read-only afterwards except
 * byte 256   waiter free-stack head   (own 128-byte line) ─┘ the two hot words
 * byte 384   thread records (THREAD_WORDS each; reserved for owner-death tracking)
 * …          bucket table: `buckets` × 128 bytes (BKT_* words), one line per bucket
 * …          waiter records: `waiters` × 64 bytes (WTR_* words)
 * …          kind tags: one byte per heap word (which primitive starts there, or CONT)
 * …          heap: primitives, bump-allocated, 128-byte aligned start
 * ```
 * Shared memory cannot grow: every count is fixed at creation.
 */

export const MAGIC = 0x544c4b50; // 'PKLT' little-endian
export const LAYOUT_VERSION = 2;

// Header words (indices into the region's Int32Array).
export const HDR_MAGIC = 0;
export const HDR_VERSION = 1;
export const HDR_ID = 2;
export const HDR_TOTAL_BYTES = 3;
export const HDR_BUCKETS = 4;
export const HDR_BUCKETS_OFF = 5;
export const HDR_WAITERS = 6;
export const HDR_WAITERS_OFF = 7;
export const HDR_TAGS_OFF = 8;
export const HDR_HEAP_OFF = 9;
export const HDR_HEAP_END = 10;
export const HDR_FLAGS = 11;
export const HDR_THREADS = 12;
export const HDR_THREADS_OFF = 13;
/** How many threads were marked dead in this region (0: nobody died; liveness checks skip the table). */
export const HOT_DEATHS = 14;
/**
 * Threads registered in this region and not marked dead (claims of a record add 1, markDead
 * subtracts 1). An exited thread that nobody watched still counts: a hint, never exact.
 */
export const HOT_LIVE_THREADS = 15;
/**
 * The last thread id handed out in this region (0: none yet). A thread's first attach takes the
 * next one with an atomic add, so ids are unique in the region and never reused.
 */
export const HOT_LAST_TID = 16;
/** HDR_FLAGS bit: debug deadlock detection is on. */
export const FLAG_DEADLOCK_DETECTION = 1;
/** Byte size of the fixed header block, hot words included. */
export const HEADER_BYTES = 384;
/** Heap bump pointer (byte offset of the first free heap byte). Own cache line. */
export const HOT_BUMP = 128 >> 2;
/** Waiter free stack head: a record index, FREE_EMPTY when empty; changed only under HOT_FREE_LOCK. Own cache line. */
export const HOT_FREE_WAITERS = 256 >> 2;
/** Word lock (word-lock.ts) guarding the waiter free stack. Same line as its head. */
export const HOT_FREE_LOCK = HOT_FREE_WAITERS + 1;

// Bucket words, relative to the bucket's first word. One bucket per 128-byte line.
export const BUCKET_WORDS = 32;
/** The bucket's word lock: 0 free, 1 locked, 2 locked with sleepers. */
export const BKT_LOCK = 0;
/** Index of the first waiter record in the bucket's FIFO, or NIL. */
export const BKT_HEAD = 1;
/** Index of the last waiter record in the bucket's FIFO, or NIL. */
export const BKT_TAIL = 2;
/** nowUs() before which an unparker of this bucket is not told to be fair again (rate limit). */
export const BKT_FAIR_AT = 3;

// Waiter record words, relative to the record's first word.
export const WAITER_WORDS = 16;
/** The word the waiter sleeps on: SLOT_WAITING, SLOT_SLEEPING or SLOT_UNPARKED. */
export const WTR_SLOT = 0;
/** Next record in the bucket FIFO (or the free stack), or NIL. */
export const WTR_NEXT = 1;
/** The key the waiter is parked on. Changed only with its bucket lock(s) held (requeue). */
export const WTR_KEY = 2;
export const WTR_PARK_TOKEN = 3;
export const WTR_UNPARK_TOKEN = 4;
/** Region thread id (SharedRegion.threadId) of the parked thread. */
export const WTR_THREAD = 5;
/** nowUs() after which an unparker should be fair to this waiter. */
export const WTR_FAIR_AT = 6;
/** WSTATE_*: queued or dequeued; written under the bucket lock. */
export const WTR_STATE = 7;
/** nowUs() when the waiter started waiting (for waitedMs). */
export const WTR_SINCE = 8;
/** 1 if this waiter never wants fairness (fairAtUs = never). */
export const WTR_NEVER_FAIR = 9;

export const SLOT_WAITING = 0;
export const SLOT_UNPARKED = 1;
export const SLOT_SLEEPING = 2;

export const WSTATE_FREE = 0;
export const WSTATE_QUEUED = 1;
export const WSTATE_DEQUEUED = 2;
export const WSTATE_ALLOCATED = 3;

/** "No record" in every index-linked list. */
export const NIL = -1;
export const FREE_EMPTY = 0xffff;
export const MAX_WAITERS = 0xfffe;

/** Words reserved per thread record (used by owner-death tracking; see threads.ts). */
export const THREAD_WORDS = 8;

// Kind tags: one byte per heap word.
export const TAG_NONE = 0;
export const TAG_CONT = 255;
