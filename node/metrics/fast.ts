/**
 * A counter and a histogram for what every client request records, kept as plain numbers. prom-client's labelled
 * children validate and hash their labels on every `inc` and `observe` (about 1 µs per request for the three a read
 * records, docs/performance.md round 37); these record into fields and arrays and build their samples only when
 * scraped. They register with a prom-client registry like its own metrics and expose exactly what prom-client's
 * counter and histogram would: the same names, types, label order and cumulative buckets.
 */
import type { Metric, Registry } from "prom-client";

type Labels = Record<string, string>;

/** One labelled series of a `FastCounter`. */
export interface CounterChild {
  inc(): void;
}

/** One labelled series of a `FastHistogram`. */
export interface HistogramChild {
  observe(value: number): void;
}

interface CounterSeries extends CounterChild {
  readonly labels: Labels;
  value: number;
  /** False after a reset until the next increment: prom-client then shows no such series. */
  shown: boolean;
}

interface HistogramSeries extends HistogramChild {
  readonly labels: Labels;
  /** Per bucket, not cumulative; the last is +Inf. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
  /** False after a reset until the next observation: prom-client then shows no such series. */
  shown: boolean;
}

/** A sample as prom-client's `get()` gives it: a histogram's `le` label is the bound's number, or "+Inf". */
export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** What `get()` resolves with, as for prom-client's own metrics. */
export interface Samples {
  name: string;
  help: string;
  type: string;
  aggregator: "sum";
  values: Sample[];
}

/** What the registry reads of a metric; the rest of prom-client's Metric type it never touches. */
interface Registered {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: "sum";
  get(): Promise<Samples>;
  reset(): void;
}

function register(registry: Registry, metric: Registered): void {
  registry.registerMetric(metric as unknown as Metric);
}

/**
 * The series of `labels` in `table`, made with `make` the first time. Keyed by the label values in the order callers
 * give them, which is the metric's label order.
 */
function seriesOf<S>(table: Map<string, S>, labels: Labels, make: () => S): S {
  const key = Object.values(labels).join("\u0000");
  let series = table.get(key);
  if (series === undefined) table.set(key, (series = make()));
  return series;
}

export class FastCounter implements Registered {
  readonly type = "counter";
  readonly aggregator = "sum";
  readonly #series = new Map<string, CounterSeries>();

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
  ) {
    register(registry, this);
  }

  /** The series for `labels` (given in the same order every time); look it up once and keep it. */
  labels(labels: Labels): CounterChild {
    return seriesOf(this.#series, labels, () => ({
      labels: { ...labels },
      value: 0,
      shown: true,
      inc() {
        this.value += 1;
        this.shown = true;
      },
    }));
  }

  get(): Promise<Samples> {
    const values = [...this.#series.values()].filter((s) => s.shown).map((s) => ({ labels: s.labels, value: s.value, metricName: this.name }));
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /**
   * Zeroes every series and hides it until it counts again, which is what prom-client's reset shows; the series stay,
   * so children kept by callers go on counting.
   */
  reset(): void {
    for (const series of this.#series.values()) {
      series.value = 0;
      series.shown = false;
    }
  }
}

export class FastHistogram implements Registered {
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #series = new Map<string, HistogramSeries>();
  readonly #bounds: readonly number[];
  /** The one series of an unlabelled histogram, kept so that `observe` looks nothing up. */
  readonly #unlabelled: HistogramChild | undefined;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
    { labelled }: { labelled: boolean },
  ) {
    this.#bounds = [...bounds].sort((a, b) => a - b);
    // As prom-client does, an unlabelled histogram shows its one series, empty, before anything is observed.
    this.#unlabelled = labelled ? undefined : this.labels();
    register(registry, this);
  }

  /** The series for `labels` (given in the same order every time; none for an unlabelled histogram). */
  labels(labels: Labels = {}): HistogramChild {
    const bounds = this.#bounds;
    return seriesOf(this.#series, labels, () => ({
      labels: { ...labels },
      counts: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
      shown: true,
      observe(value: number) {
        // prom-client refuses a value that is not finite; a duration or a count never is one.
        if (!Number.isFinite(value)) return;
        let bucket = 0;
        while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
        this.counts[bucket]! += 1;
        this.sum += value;
        this.count += 1;
        this.shown = true;
      },
    }));
  }

  /** Records into the unlabelled series (an unlabelled histogram's only one). */
  observe(value: number): void {
    if (this.#unlabelled === undefined) throw new Error(`invariant violated: ${this.name} is labelled; observe through labels()`);
    this.#unlabelled.observe(value);
  }

  get(): Promise<Samples> {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const series of this.#series.values()) {
      if (!series.shown) continue;
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le: bound, ...series.labels }, value: cumulative, metricName: bucketName });
      });
      values.push({ labels: { le: "+Inf", ...series.labels }, value: series.count, metricName: bucketName });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  /** As `FastCounter.reset`: an unlabelled histogram's series is hidden too, until its next observation. */
  reset(): void {
    for (const series of this.#series.values()) {
      series.counts.fill(0);
      series.sum = 0;
      series.count = 0;
      series.shown = false;
    }
  }
}
