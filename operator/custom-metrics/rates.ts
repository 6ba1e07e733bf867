/**
 * Per-second rates of counters from samples taken at different times, one series per key (a pod's uid, so a pod
 * that is replaced starts a new series). Pure, with the clock passed in, and bounded: a fixed number of samples per
 * series and of series.
 */

export const DEFAULT_COUNTER_RATES = {
  /** Rates span at most this much history: long enough to smooth out bursts, short enough to follow the load. */
  windowMs: 30_000,
  /** A rate needs samples at least this far apart; closer samples say more about timing noise than about load. */
  minSpanMs: 1_000,
  maxSamplesPerSeries: 32,
  maxSeries: 10_000,
};

export interface Sample {
  tMs: number;
  value: number;
}

export interface Rate {
  perSecond: number;
  /** The span the rate was computed over, in whole seconds (at least 1). */
  windowSeconds: number;
  /** The time of the newest sample. */
  atMs: number;
}

/**
 * The rate of a counter over `samples` (oldest first). A counter that went down was reset (the node restarted): its
 * increase across the reset is its new value, as Prometheus's rate() counts it.
 */
export function counterRate(samples: readonly Sample[]): Rate | undefined {
  if (samples.length < 2) return undefined;
  let increase = 0;
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!.value;
    const after = samples[i]!.value;
    increase += after >= before ? after - before : after;
  }
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const spanMs = last.tMs - first.tMs;
  if (spanMs <= 0) return undefined;
  return { perSecond: increase / (spanMs / 1000), windowSeconds: Math.max(1, Math.round(spanMs / 1000)), atMs: last.tMs };
}

export class CounterRates {
  private readonly series = new Map<string, Sample[]>();

  constructor(private readonly options = DEFAULT_COUNTER_RATES) {}

  /** Adds a sample; samples older than the window are dropped, so a series not sampled for a while starts over. */
  record(key: string, sample: Sample): void {
    let samples = this.series.get(key);
    if (!samples) {
      // The oldest series goes first when the limit is reached (a Map keeps insertion order).
      if (this.series.size >= this.options.maxSeries) this.series.delete(this.series.keys().next().value as string);
      samples = [];
      this.series.set(key, samples);
    }
    if (samples.length > 0 && sample.tMs <= samples.at(-1)!.tMs) return;
    samples.push(sample);
    const oldest = sample.tMs - this.options.windowMs;
    while (samples.length > 1 && samples[0]!.tMs < oldest) samples.shift();
    while (samples.length > this.options.maxSamplesPerSeries) samples.shift();
  }

  /** The newest sample of a series. */
  newest(key: string): Sample | undefined {
    return this.series.get(key)?.at(-1);
  }

  /**
   * The rate over the series' samples in the window ending at its newest sample, or undefined while they span less
   * than the minimum (a series seen once, or twice in quick succession).
   */
  rate(key: string): Rate | undefined {
    const samples = this.series.get(key);
    if (!samples || samples.length < 2) return undefined;
    const newest = samples.at(-1)!;
    const inWindow = samples.filter((s) => s.tMs >= newest.tMs - this.options.windowMs);
    if (inWindow.length < 2 || newest.tMs - inWindow[0]!.tMs < this.options.minSpanMs) return undefined;
    return counterRate(inWindow);
  }

  /** Drops the series of keys not in `keep` (pods that are gone). */
  retain(keep: ReadonlySet<string>): void {
    for (const key of this.series.keys()) if (!keep.has(key)) this.series.delete(key);
  }

  get size(): number {
    return this.series.size;
  }
}
