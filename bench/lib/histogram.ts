// A small log-linear histogram of non-negative integer nanoseconds, cheap enough to record
// every lock acquisition in a bench worker (a clz32, two shifts and one array increment).
//
// Buckets: values 0–31 ns are exact; above that each power of two [2^e, 2^(e+1)) is split into
// 32 equal sub-buckets, so a bucket's width is at most 1/32 ≈ 3.1 % of its values (HDR-style,
// two significant binary digits plus five). Values are clamped to 2^31 − 1 ns (≈ 2.1 s) for
// bucketing; the exact maximum is tracked separately. Quantiles report a bucket's midpoint
// (exact below 32 ns), so they carry at most ±1.6 % error. Not shared between threads: each
// worker owns one and posts its counts back; the main thread merges them.

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32 sub-buckets per octave
const MAX_VALUE = 0x7fffffff;
/** 0–31 exact, then octaves e = 5 … 30 with 32 sub-buckets each. */
export const BUCKETS = SUB + (31 - SUB_BITS) * SUB;

/** Bucket index of a value (integer ns ≥ 0). */
export function bucketOf(v: number): number {
  if (v < SUB) return v < 0 ? 0 : v;
  const x = v > MAX_VALUE ? MAX_VALUE : v;
  const e = 31 - Math.clz32(x); // floor(log2 x) ≥ 5
  return (e - SUB_BITS + 1) * SUB + ((x >>> (e - SUB_BITS)) & (SUB - 1));
}

/** Lowest value that lands in bucket `i`, and the bucket's width. */
export function bucketRange(i: number): { low: number; width: number } {
  if (i < SUB) return { low: i, width: 1 };
  const e = Math.floor(i / SUB) - 1 + SUB_BITS;
  const sub = i % SUB;
  const width = 2 ** (e - SUB_BITS);
  return { low: 2 ** e + sub * width, width };
}

/** Serializable form: sparse `[bucket, count]` pairs plus exact count/max/sum. */
export interface HistogramData {
  counts: [number, number][];
  count: number;
  maxNs: number;
  sumNs: number;
}

export class LogHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  maxNs = 0;
  sumNs = 0;

  /** Records one value in nanoseconds (rounded down, negatives as 0). */
  record(ns: number): void {
    const v = ns > 0 ? Math.floor(ns) : 0;
    this.counts[bucketOf(v)]++;
    this.count++;
    this.sumNs += v;
    if (v > this.maxNs) this.maxNs = v;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.maxNs = 0;
    this.sumNs = 0;
  }

  /** Adds another histogram's counts into this one. */
  merge(other: HistogramData | LogHistogram): this {
    const pairs = other instanceof LogHistogram ? other.toJSON().counts : other.counts;
    for (const [i, c] of pairs) this.counts[i] += c;
    this.count += other.count;
    this.sumNs += other.sumNs;
    if (other.maxNs > this.maxNs) this.maxNs = other.maxNs;
    return this;
  }

  /**
   * Value at quantile q ∈ [0, 1]: the midpoint of the bucket holding the ⌈q·count⌉-th
   * smallest value (nearest-rank), capped at the exact max; q = 1 is the exact max. 0 for an
   * empty histogram.
   */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    if (q >= 1) return this.maxNs;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) {
        const { low, width } = bucketRange(i);
        return Math.min(this.maxNs, width === 1 ? low : low + width / 2);
      }
    }
    return this.maxNs;
  }

  meanNs(): number {
    return this.count === 0 ? 0 : this.sumNs / this.count;
  }

  toJSON(): HistogramData {
    const counts: [number, number][] = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] !== 0) counts.push([i, this.counts[i]]);
    return { counts, count: this.count, maxNs: this.maxNs, sumNs: this.sumNs };
  }

  static from(data: HistogramData): LogHistogram {
    return new LogHistogram().merge(data);
  }
}
