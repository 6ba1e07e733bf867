/**
 * A node's recent history, kept in memory for the console and the kubectl plugin: snapshots of its request,
 * anti-entropy and handoff counters taken every few seconds, from which it derives rates and latency quantiles over
 * the last minutes and totals over the last hour. Pure: the caller takes the snapshots (with their timestamps) and the
 * history only keeps and subtracts them, within fixed bounds of memory.
 */

import { LATENCY_BUCKETS_S } from "../metrics/index.js";

export const OPS = ["get", "put", "delete"] as const;
export type Op = (typeof OPS)[number];

export interface CounterSnapshot {
  /** When it was taken, ms since the epoch. */
  t: number;
  /** Client requests answered, by operation. */
  requests: Record<Op, number>;
  /** Of those, answered with a 5xx status (503 when no quorum answered in time). */
  errors: Record<Op, number>;
  /** Cumulative latency histogram counts by operation, one per bound of the latency histogram and a last one for +Inf. */
  buckets: Record<Op, number[]>;
  antiEntropy: { exchanges: number; repaired: number; failed: number; keysRepaired: number };
  handoffBytes: number;
}

/** One step of the recent history: rates per second and latency quantiles (ms) over the step. */
export interface HistoryPoint {
  t: number;
  opsPerSecond: Record<Op, number>;
  errorsPerSecond: number;
  /** Latency over all operations; undefined in a step without requests. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  handoffBytesPerSecond: number;
}

export interface Totals {
  windowSeconds: number;
  requests: Record<Op, number>;
  errors: number;
  antiEntropy: CounterSnapshot["antiEntropy"];
  handoffBytes: number;
  latencyMs: Record<Op, { p50: number | undefined; p99: number | undefined }>;
}

export const DEFAULT_HISTORY = {
  /** Snapshots kept for rates and the console's charts: one every 5 s for 15 minutes. */
  fineIntervalMs: 5_000,
  fineSpanMs: 15 * 60_000,
  /** Snapshots kept for hourly totals: one a minute for an hour. */
  coarseIntervalMs: 60_000,
  coarseSpanMs: 60 * 60_000,
};

export class NodeHistory {
  private readonly fine: CounterSnapshot[] = [];
  private readonly coarse: CounterSnapshot[] = [];

  constructor(private readonly options = DEFAULT_HISTORY) {}

  add(snapshot: CounterSnapshot): void {
    keep(this.fine, snapshot, this.options.fineIntervalMs, this.options.fineSpanMs);
    keep(this.coarse, snapshot, this.options.coarseIntervalMs, this.options.coarseSpanMs);
  }

  get latest(): CounterSnapshot | undefined {
    return this.fine.at(-1);
  }

  /** The points of the last minutes, oldest first; one fewer than the snapshots kept. */
  points(): HistoryPoint[] {
    const out: HistoryPoint[] = [];
    for (let i = 1; i < this.fine.length; i++) out.push(point(this.fine[i - 1]!, this.fine[i]!));
    return out;
  }

  /**
   * What happened over about the last `windowMs`: the difference between the newest snapshot and the oldest one kept
   * within that window (the window is shorter while the node is younger than it).
   */
  totals(windowMs: number): Totals | undefined {
    const newest = this.fine.at(-1);
    if (!newest) return undefined;
    const pool = windowMs <= this.options.fineSpanMs ? this.fine : [...this.coarse, newest];
    const oldest = pool.find((s) => newest.t - s.t <= windowMs) ?? newest;
    return totalsBetween(oldest, newest);
  }
}

function keep(list: CounterSnapshot[], snapshot: CounterSnapshot, intervalMs: number, spanMs: number): void {
  const last = list.at(-1);
  if (last && snapshot.t - last.t < intervalMs * 0.9) return;
  list.push(snapshot);
  // The count bound holds even if the clock jumps.
  const countMax = Math.ceil(spanMs / (intervalMs * 0.9)) + 1;
  while (list.length > 1 && (snapshot.t - list[0]!.t > spanMs || list.length > countMax)) list.shift();
}

const diff = (a: number, b: number) => Math.max(0, b - a);

function point(a: CounterSnapshot, b: CounterSnapshot): HistoryPoint {
  const seconds = Math.max(0.001, (b.t - a.t) / 1000);
  const opsPerSecond = Object.fromEntries(OPS.map((op) => [op, round(diff(a.requests[op], b.requests[op]) / seconds)])) as Record<Op, number>;
  const errors = OPS.reduce((sum, op) => sum + diff(a.errors[op], b.errors[op]), 0);
  const all = LATENCY_BUCKETS_S.map((_, i) => OPS.reduce((sum, op) => sum + diff(a.buckets[op][i] ?? 0, b.buckets[op][i] ?? 0), 0));
  const count = OPS.reduce((sum, op) => sum + diff(a.buckets[op].at(-1) ?? 0, b.buckets[op].at(-1) ?? 0), 0);
  return {
    t: b.t,
    opsPerSecond,
    errorsPerSecond: round(errors / seconds),
    p50Ms: quantileMs(all, count, 0.5),
    p99Ms: quantileMs(all, count, 0.99),
    handoffBytesPerSecond: Math.round(diff(a.handoffBytes, b.handoffBytes) / seconds),
  };
}

function totalsBetween(a: CounterSnapshot, b: CounterSnapshot): Totals {
  const latencyMs = Object.fromEntries(
    OPS.map((op) => {
      const bounded = LATENCY_BUCKETS_S.map((_, i) => diff(a.buckets[op][i] ?? 0, b.buckets[op][i] ?? 0));
      const count = diff(a.buckets[op].at(-1) ?? 0, b.buckets[op].at(-1) ?? 0);
      return [op, { p50: quantileMs(bounded, count, 0.5), p99: quantileMs(bounded, count, 0.99) }];
    }),
  ) as Totals["latencyMs"];
  return {
    windowSeconds: Math.round((b.t - a.t) / 1000),
    requests: Object.fromEntries(OPS.map((op) => [op, diff(a.requests[op], b.requests[op])])) as Record<Op, number>,
    errors: OPS.reduce((sum, op) => sum + diff(a.errors[op], b.errors[op]), 0),
    antiEntropy: {
      exchanges: diff(a.antiEntropy.exchanges, b.antiEntropy.exchanges),
      repaired: diff(a.antiEntropy.repaired, b.antiEntropy.repaired),
      failed: diff(a.antiEntropy.failed, b.antiEntropy.failed),
      keysRepaired: diff(a.antiEntropy.keysRepaired, b.antiEntropy.keysRepaired),
    },
    handoffBytes: diff(a.handoffBytes, b.handoffBytes),
    latencyMs,
  };
}

/**
 * The q-quantile (ms) of observations counted in cumulative buckets, interpolating linearly inside the bucket that
 * holds it, as Prometheus's histogram_quantile does; observations past the last bound count as at that bound.
 */
export function quantileMs(cumulative: readonly number[], count: number, q: number): number | undefined {
  if (count <= 0) return undefined;
  const rank = q * count;
  for (let i = 0; i < LATENCY_BUCKETS_S.length; i++) {
    const upTo = cumulative[i] ?? 0;
    if (upTo >= rank) {
      const below = i === 0 ? 0 : (cumulative[i - 1] ?? 0);
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_S[i - 1]!;
      const upper = LATENCY_BUCKETS_S[i]!;
      const inBucket = upTo - below;
      const at = inBucket > 0 ? lower + ((upper - lower) * (rank - below)) / inBucket : upper;
      return round(at * 1000);
    }
  }
  return round(LATENCY_BUCKETS_S.at(-1)! * 1000);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
