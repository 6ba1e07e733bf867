/**
 * A latency histogram in the spirit of HdrHistogram: log-linear buckets in microseconds with 64 linear steps per
 * power of two, so every recorded value is within 1/64 (about 1.6%) of its bucket's reported value, in a fixed
 * 1,728-slot array however many samples are recorded. That keeps the benchmark's memory bounded at any run length.
 */

/** Values below this are counted exactly, one bucket per microsecond. */
const LINEAR_LIMIT = 128;
/** Linear sub-buckets per power of two above LINEAR_LIMIT; log2 of it is SUB_BUCKET_BITS. */
const SUB_BUCKETS = 64;
const SUB_BUCKET_BITS = 6;
/** Latencies are clamped here (about 35 minutes); nothing in a benchmark should come close. */
export const HISTOGRAM_VALUE_MAX_US = 2 ** 31 - 1;
const BUCKET_COUNT = LINEAR_LIMIT + (31 - SUB_BUCKET_BITS) * SUB_BUCKETS;

function bucketOf(valueUs: number): number {
  if (valueUs < LINEAR_LIMIT) return valueUs;
  const magnitude = 31 - Math.clz32(valueUs);
  const shift = magnitude - SUB_BUCKET_BITS;
  const top = valueUs >>> shift;
  return LINEAR_LIMIT + (shift - 1) * SUB_BUCKETS + (top - SUB_BUCKETS);
}

/** The highest value that falls in `bucket`, so percentiles err on the slow side, as HdrHistogram's do. */
function highestValueOf(bucket: number): number {
  if (bucket < LINEAR_LIMIT) return bucket;
  const offset = bucket - LINEAR_LIMIT;
  const shift = Math.floor(offset / SUB_BUCKETS) + 1;
  const top = (offset % SUB_BUCKETS) + SUB_BUCKETS;
  return (top + 1) * 2 ** shift - 1;
}

export interface LatencySummary {
  count: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKET_COUNT);
  #count = 0;
  #sumUs = 0;
  #maxUs = 0;

  record(valueUs: number): void {
    const clamped = Math.min(Math.max(Math.round(valueUs), 0), HISTOGRAM_VALUE_MAX_US);
    this.#counts[bucketOf(clamped)]! += 1;
    this.#count += 1;
    this.#sumUs += clamped;
    if (clamped > this.#maxUs) this.#maxUs = clamped;
  }

  get count(): number {
    return this.#count;
  }

  /** The value at or below which `percentile` percent of samples fall; 0 when empty. */
  percentile(percentile: number): number {
    if (this.#count === 0) return 0;
    const target = Math.max(1, Math.ceil((percentile / 100) * this.#count));
    let seen = 0;
    for (let bucket = 0; bucket < BUCKET_COUNT; bucket++) {
      seen += this.#counts[bucket]!;
      if (seen >= target) return Math.min(highestValueOf(bucket), this.#maxUs);
    }
    return this.#maxUs;
  }

  summary(): LatencySummary {
    return {
      count: this.#count,
      meanUs: this.#count === 0 ? 0 : this.#sumUs / this.#count,
      p50Us: this.percentile(50),
      p99Us: this.percentile(99),
      p999Us: this.percentile(99.9),
      maxUs: this.#maxUs,
    };
  }
}
