/**
 * The 99th percentile of the node's client request latencies over a short window, for the streaming pace: what the
 * clients of this node feel, which is what handoff must not make worse. Recording is a few arithmetic operations per
 * request into a fixed array of logarithmic buckets (four per doubling, so a percentile is within 19% of the truth),
 * with no allocation and no bound to reach however many requests a window holds.
 */

/** The first bucket's upper bound, in milliseconds: anything faster counts as this fast. */
const BASE_MS = 0.1;
const BUCKETS_PER_DOUBLING = 4;
/** 0.1 ms · 2^20 ≈ 105 s: slower requests fall into the last bucket. */
const BUCKETS = 20 * BUCKETS_PER_DOUBLING + 1;

export class LatencyWindow {
  private readonly counts = new Uint32Array(BUCKETS);
  private total = 0;

  /** @param minSamples fewer requests than this in a window say nothing (undefined), rather than a noisy percentile. */
  constructor(private readonly minSamples = 20) {}

  record(ms: number): void {
    const index = ms <= BASE_MS ? 0 : Math.min(BUCKETS - 1, Math.ceil(Math.log2(ms / BASE_MS) * BUCKETS_PER_DOUBLING));
    this.counts[index]! += 1;
    this.total += 1;
  }

  /** The 99th percentile (the upper bound of its bucket, ms) of what was recorded since the last call, and a new window. */
  takeP99(): number | undefined {
    const total = this.total;
    let result: number | undefined;
    if (total >= this.minSamples) {
      // The smallest bucket bound with at most 1% of the requests above it.
      let above = 0;
      const allowed = Math.floor(total / 100);
      for (let i = BUCKETS - 1; i >= 0; i--) {
        above += this.counts[i]!;
        if (above > allowed) {
          result = BASE_MS * 2 ** (i / BUCKETS_PER_DOUBLING);
          break;
        }
      }
    }
    this.counts.fill(0);
    this.total = 0;
    return result;
  }
}
