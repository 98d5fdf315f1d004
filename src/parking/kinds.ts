/** The kinds of primitive a region can hold, and their one-byte tags in the region's kind map. */

export const KINDS = [
  'Mutex',
  'RwLock',
  'Condvar',
  'Semaphore',
  'Barrier',
  'Once',
  'WaitGroup',
  'TaskList',
  'MpmcQueue',
  'SpscQueue',
  'FuturePool',
  'WorkerPool',
  'Raw',
] as const;

/** The primitive kinds a region can hold (each block's kind tag). */
export type KindName =
  | 'Mutex'
  | 'RwLock'
  | 'Condvar'
  | 'Semaphore'
  | 'Barrier'
  | 'Once'
  | 'WaitGroup'
  | 'TaskList'
  | 'MpmcQueue'
  | 'SpscQueue'
  | 'FuturePool'
  | 'WorkerPool'
  | 'Raw';

/** Tag byte for a kind: its index + 1 (0 means "nothing starts here"). */
export function kindTag(kind: KindName): number {
  const i = KINDS.indexOf(kind);
  if (i < 0) throw new TypeError(`unknown primitive kind ${JSON.stringify(kind)}`);
  return i + 1;
}

export function kindOfTag(tag: number): KindName | undefined {
  return KINDS[tag - 1];
}

export function isKindName(v: unknown): v is KindName {
  return typeof v === 'string' && (KINDS as readonly string[]).includes(v);
}
