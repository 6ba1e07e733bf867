/**
 * How far a ring change has come, computed from the ring's pending transfers and what the receiving nodes report
 * about each of them (keys, bytes, start and finish times). Pure and stateless like the rest of the driver: the plan
 * lives in the ring and the progress on the receivers, so any party that reads both (the operator, `dynamo dev`, the
 * kubectl plugin) computes the same numbers, and a restarted driver loses nothing.
 *
 * The total number of bytes a plan moves is not known in advance (a receiver learns a partition's size only by
 * streaming it), so it is estimated from the partitions already moved: keys hash uniformly over partitions, so a
 * partition not yet moved is taken to be as large as the average moved one, or as large as what it has streamed so far
 * when that is more.
 */
import type { Ring, Transfer } from "./types.js";

/** One transfer as a receiving node reports it in `GET /v1/admin/transfers`. */
export interface TransferReportEntry {
  partition: number;
  to: string;
  state: string;
  keys?: number;
  bytes?: number;
  startedAt?: number;
  finishedAt?: number;
}

export interface RebalanceProgress {
  /** Epoch of the ring whose plan this measures. */
  epoch: number;
  /** Partition copies the plan streams to new replicas (one per transfer), and how many of them are done. */
  partitionsTotal: number;
  partitionsMoved: number;
  /** Transfers streaming right now. */
  partitionsActive: number;
  keysMoved: number;
  /** Bytes streamed so far, including the part of transfers still running. */
  bytesMoved: number;
  /** Estimated bytes the whole plan streams; undefined until a first partition is done. */
  bytesTotalEstimate: number | undefined;
  /** When the first transfer of the plan started (ms since the epoch, the receivers' clocks); undefined before. */
  startedAtMs: number | undefined;
  bytesPerSecond: number | undefined;
  /** Seconds left at the rate so far; undefined until there is a rate to extrapolate. */
  etaSeconds: number | undefined;
  /** Members receiving partitions. */
  receivers: string[];
}

export function transferKey(t: { partition: number; to: string }): string {
  return `${t.partition}->${t.to}`;
}

/** The progress of `ring`'s pending plan, given every receiver's transfer reports (missing ones count as not started). */
export function rebalanceProgress(ring: Pick<Ring, "epoch" | "pending">, reports: Iterable<TransferReportEntry>, nowMs: number): RebalanceProgress {
  const byKey = new Map<string, TransferReportEntry>();
  for (const r of reports) byKey.set(transferKey(r), r);
  let moved = 0;
  let active = 0;
  let keysMoved = 0;
  let bytesMoved = 0;
  let bytesOfDone = 0;
  let startedAtMs: number | undefined;
  let finishedAtMs: number | undefined;
  const partial: number[] = [];
  for (const t of ring.pending as Transfer[]) {
    const r = byKey.get(transferKey(t));
    const bytes = r?.bytes ?? 0;
    keysMoved += r?.keys ?? 0;
    bytesMoved += bytes;
    if (r?.startedAt !== undefined) startedAtMs = Math.min(startedAtMs ?? r.startedAt, r.startedAt);
    if (r?.state === "done") {
      if (r.finishedAt !== undefined) finishedAtMs = Math.max(finishedAtMs ?? r.finishedAt, r.finishedAt);
      moved += 1;
      bytesOfDone += bytes;
    } else {
      if (r?.state === "active") active += 1;
      partial.push(bytes);
    }
  }
  const total = ring.pending.length;
  const bytesTotalEstimate = moved > 0 ? bytesOfDone + partial.reduce((sum, b) => sum + Math.max(b, bytesOfDone / moved), 0) : undefined;
  // Once every transfer is done the rate is the streaming's own, up to the last one's end, not up to whenever a driver
  // next looked (on a plan that streams for a second or two, a driver's poll would halve it).
  const endMs = moved === total && finishedAtMs !== undefined ? finishedAtMs : nowMs;
  const elapsedS = startedAtMs !== undefined ? Math.max(0.001, (endMs - startedAtMs) / 1000) : undefined;
  const bytesPerSecond = elapsedS !== undefined && bytesMoved > 0 ? bytesMoved / elapsedS : undefined;
  let etaSeconds: number | undefined;
  if (moved === total) etaSeconds = total > 0 ? 0 : undefined;
  else if (bytesPerSecond !== undefined && bytesTotalEstimate !== undefined && bytesTotalEstimate > 0) etaSeconds = Math.max(0, (bytesTotalEstimate - bytesMoved) / bytesPerSecond);
  else if (elapsedS !== undefined && moved > 0) etaSeconds = ((total - moved) * elapsedS) / moved;
  return {
    epoch: ring.epoch,
    partitionsTotal: total,
    partitionsMoved: moved,
    partitionsActive: active,
    keysMoved,
    bytesMoved,
    bytesTotalEstimate: bytesTotalEstimate === undefined ? undefined : Math.round(bytesTotalEstimate),
    startedAtMs,
    bytesPerSecond: bytesPerSecond === undefined ? undefined : Math.round(bytesPerSecond),
    etaSeconds: etaSeconds === undefined ? undefined : Math.ceil(etaSeconds),
    receivers: [...new Set(ring.pending.map((t) => t.to))].sort(),
  };
}

/** What a ring change looks like to people: the progress of the plan in flight, or of the last one, finished. */
export interface RebalanceSummary {
  epoch: number;
  partitionsTotal: number;
  partitionsMoved: number;
  bytesMoved: number;
  bytesTotalEstimate?: number;
  bytesPerSecond?: number;
  etaSeconds?: number;
  /** RFC 3339, to the second. */
  startTime?: string;
  finishTime?: string;
  /** "37%". */
  progress: string;
}

const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * The summary `.status.rebalance` and `dynamo dev status` show: the plan in flight as the last step measured it, or
 * the last one finished. Only a RingDriver step measures progress (it reads the receivers' transfer reports), so
 * without a new measurement the previous summary stands; a plan that ended without its last step being seen here
 * (another driver finalized it) is marked finished once the ring shows nothing pending.
 */
export function rebalanceStatus(previous: RebalanceSummary | undefined, progress: RebalanceProgress | undefined, ring: Pick<Ring, "pending"> | undefined, nowMs: number): RebalanceSummary | undefined {
  const inFlight = previous !== undefined && previous.finishTime === undefined;
  if (progress) {
    const startTime = progress.startedAtMs !== undefined ? isoSeconds(progress.startedAtMs) : inFlight ? previous.startTime : isoSeconds(nowMs);
    const finished = progress.partitionsMoved === progress.partitionsTotal && (ring?.pending.length ?? 0) === 0;
    const status: RebalanceSummary = {
      epoch: progress.epoch,
      partitionsTotal: progress.partitionsTotal,
      partitionsMoved: progress.partitionsMoved,
      bytesMoved: progress.bytesMoved,
      progress: `${percentMoved(progress)}%`,
    };
    if (progress.bytesTotalEstimate !== undefined) status.bytesTotalEstimate = finished ? progress.bytesMoved : progress.bytesTotalEstimate;
    if (progress.bytesPerSecond !== undefined) status.bytesPerSecond = progress.bytesPerSecond;
    if (progress.etaSeconds !== undefined) status.etaSeconds = progress.etaSeconds;
    if (startTime !== undefined) status.startTime = startTime;
    if (finished) status.finishTime = isoSeconds(nowMs);
    return status;
  }
  if (inFlight && ring && ring.pending.length === 0) {
    return { ...previous, partitionsMoved: previous.partitionsTotal, progress: "100%", etaSeconds: 0, finishTime: isoSeconds(nowMs) };
  }
  return previous;
}

/** Seconds between a rebalance's start and finish, when both are known. */
export function rebalanceSeconds(r: RebalanceSummary): number | undefined {
  if (!r.startTime || !r.finishTime) return undefined;
  return Math.max(0, (Date.parse(r.finishTime) - Date.parse(r.startTime)) / 1000);
}

/** Whole percent of the plan's partitions moved, never 100 before the last one is. */
export function percentMoved(p: Pick<RebalanceProgress, "partitionsMoved" | "partitionsTotal">): number {
  if (p.partitionsTotal === 0) return 100;
  const percent = Math.floor((100 * p.partitionsMoved) / p.partitionsTotal);
  return p.partitionsMoved < p.partitionsTotal ? Math.min(99, percent) : 100;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** 75 → "1m15s", 3725 → "1h2m". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ""}`;
}

/** One line for people: "moved 12/32 partitions, 4.1 MiB at 1.2 MiB/s, ETA 20s". */
export function describeProgress(p: RebalanceProgress): string {
  const parts = [`moved ${p.partitionsMoved}/${p.partitionsTotal} partitions`];
  const bytes = p.bytesTotalEstimate !== undefined && p.partitionsMoved < p.partitionsTotal ? `${formatBytes(p.bytesMoved)} of ~${formatBytes(p.bytesTotalEstimate)}` : formatBytes(p.bytesMoved);
  parts.push(p.bytesPerSecond !== undefined ? `${bytes} at ${formatBytes(p.bytesPerSecond)}/s` : bytes);
  if (p.partitionsMoved < p.partitionsTotal) parts.push(p.etaSeconds !== undefined ? `ETA ${formatDuration(p.etaSeconds)}` : "ETA unknown");
  return parts.join(", ");
}
