/**
 * Gathers the node's view of itself (`GET /v1/node`) and the gauges that need sampling: every few seconds it snapshots
 * the request, anti-entropy and handoff counters into the history and measures event-loop delay; less often it sizes
 * the data directory and its file system. Everything it keeps is bounded (see NodeHistory).
 */
import { readdir, stat, statfs } from "node:fs/promises";
import { join } from "node:path";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { NodeMetrics } from "../metrics/index.js";
import { DEFAULT_HISTORY, NodeHistory, OPS, type CounterSnapshot, type Op } from "./history.js";
import type { NodeStats, TransferView } from "./view.js";

export const DEFAULT_COLLECTOR = {
  sampleIntervalMs: DEFAULT_HISTORY.fineIntervalMs,
  diskIntervalMs: 15_000,
  /** Files of the data directory counted at most, so a directory gone wrong cannot make sizing it take long. */
  diskFilesMax: 100_000,
  /** The window of the rates and latency in the view. */
  ratesWindowMs: 10_000,
  antiEntropyWindowMs: 60 * 60_000,
};

/** How often the event-loop monitor samples, in ms. */
const LAG_SAMPLE_MS = 20;

/**
 * How late the event loop was, in ms, from one of Node's event-loop-delay readings (ns). Node records the whole time
 * between two of its sampling timer's ticks, the sampling interval included, so an idle loop reads the interval
 * itself (20 ms here, not 0): what a user wants to know is the part beyond it, the time ready work waited.
 */
export function lateMs(readingNs: number, sampleMs = LAG_SAMPLE_MS): number {
  return Math.max(0, Math.round(readingNs / 1e4 - sampleMs * 100) / 100);
}

export interface StatsSources {
  metrics: NodeMetrics;
  dataDir: string;
  identity: () => { id: string; incarnation: string; epoch: number; ready: boolean };
  hints: () => { count: number; bytes: number; byOwner: Record<string, { count: number; bytes: number }> };
  transfers: () => TransferView[];
  rebuildingPartitions: () => number;
  log: (message: string) => void;
}

export class NodeStatsCollector {
  private readonly history = new NodeHistory();
  private readonly lag: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_SAMPLE_MS });
  private lagMs = { p50: 0, p99: 0, max: 0 };
  private disk: NodeStats["disk"] = { dataBytes: 0 };
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();

  constructor(
    private readonly sources: StatsSources,
    private readonly options = DEFAULT_COLLECTOR,
  ) {}

  start(): void {
    this.lag.enable();
    void this.sample();
    void this.measureDisk();
    this.timers.push(setInterval(() => void this.sample(), this.options.sampleIntervalMs).unref());
    this.timers.push(setInterval(() => void this.measureDisk(), this.options.diskIntervalMs).unref());
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.lag.disable();
  }

  view(): NodeStats {
    const rates = this.history.totals(this.options.ratesWindowMs);
    const seconds = Math.max(1, rates?.windowSeconds ?? 0);
    const per = (n: number) => Math.round((n / seconds) * 100) / 100;
    const opsPerSecond = Object.fromEntries(OPS.map((op) => [op, per(rates?.requests[op] ?? 0)])) as Record<Op, number>;
    const antiEntropy = this.history.totals(this.options.antiEntropyWindowMs);
    const hints = this.sources.hints();
    const memory = process.memoryUsage();
    return {
      ...this.sources.identity(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      disk: this.disk,
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      eventLoopLagMs: this.lagMs,
      rates: {
        windowSeconds: rates?.windowSeconds ?? 0,
        opsPerSecond: { ...opsPerSecond, total: per(OPS.reduce((sum, op) => sum + (rates?.requests[op] ?? 0), 0)) },
        errorsPerSecond: per(rates?.errors ?? 0),
        latencyMs: rates?.latencyMs ?? { get: {}, put: {}, delete: {} },
      },
      hints: { count: hints.count, bytes: hints.bytes, byTarget: hints.byOwner },
      antiEntropy: { windowSeconds: antiEntropy?.windowSeconds ?? 0, ...(antiEntropy?.antiEntropy ?? { exchanges: 0, repaired: 0, failed: 0, keysRepaired: 0 }) },
      rebuildingPartitions: this.sources.rebuildingPartitions(),
      transfers: this.sources.transfers(),
      history: this.history.points(),
    };
  }

  /** Takes a snapshot of the counters now (also what a test calls instead of waiting for the timer). */
  async sample(): Promise<void> {
    try {
      this.history.add(await snapshot(this.sources.metrics, Date.now()));
    } catch (err) {
      this.sources.log(`cannot sample the node's counters: ${(err as Error).message}`);
    }
    this.lagMs = { p50: lateMs(this.lag.percentile(50)), p99: lateMs(this.lag.percentile(99)), max: lateMs(this.lag.max) };
    this.lag.reset();
    const gauge = this.sources.metrics.eventLoopLag;
    gauge.set({ quantile: "0.5" }, this.lagMs.p50 / 1000);
    gauge.set({ quantile: "0.99" }, this.lagMs.p99 / 1000);
    gauge.set({ quantile: "1" }, this.lagMs.max / 1000);
  }

  private async measureDisk(): Promise<void> {
    try {
      const dataBytes = await directoryBytes(this.sources.dataDir, this.options.diskFilesMax);
      const fs = await statfs(this.sources.dataDir).catch(() => undefined);
      this.disk = fs ? { dataBytes, freeBytes: fs.bavail * fs.bsize, capacityBytes: fs.blocks * fs.bsize } : { dataBytes };
      const { metrics } = this.sources;
      metrics.storageBytes.set(dataBytes);
      if (fs) {
        metrics.storageFreeBytes.set(fs.bavail * fs.bsize);
        metrics.storageCapacityBytes.set(fs.blocks * fs.bsize);
      }
    } catch (err) {
      this.sources.log(`cannot size the data directory: ${(err as Error).message}`);
    }
  }
}

/** Total size of the files under `dir`, counting at most `filesMax` of them. */
async function directoryBytes(dir: string, filesMax: number): Promise<number> {
  let total = 0;
  let files = 0;
  const pending = [dir];
  while (pending.length > 0 && files < filesMax) {
    const current = pending.pop()!;
    for (const entry of await readdir(current, { withFileTypes: true }).catch(() => [])) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) pending.push(path);
      else if (entry.isFile() && files++ < filesMax) total += (await stat(path).catch(() => undefined))?.size ?? 0;
    }
  }
  return total;
}

/** The counters the history needs, read from the node's metrics registry. */
export async function snapshot(metrics: NodeMetrics, t: number): Promise<CounterSnapshot> {
  const [requests, durations, exchanges, keysRepaired, handoff] = await Promise.all([
    metrics.requests.get(),
    metrics.requestDuration.get(),
    metrics.antiEntropyExchanges.get(),
    metrics.antiEntropyKeysRepaired.get(),
    metrics.handoffBytes.get(),
  ]);
  const zero = () => ({ get: 0, put: 0, delete: 0 });
  const out: CounterSnapshot = { t, requests: zero(), errors: zero(), buckets: { get: [], put: [], delete: [] }, antiEntropy: { exchanges: 0, repaired: 0, failed: 0, keysRepaired: 0 }, handoffBytes: 0 };
  for (const v of requests.values) {
    const op = v.labels.op as Op;
    if (!(op in out.requests)) continue;
    out.requests[op] += v.value;
    if (Number(v.labels.status) >= 500) out.errors[op] += v.value;
  }
  for (const v of durations.values) {
    const op = v.labels.op as Op;
    if (v.metricName?.endsWith("_bucket") && op in out.buckets) out.buckets[op].push(v.value);
  }
  for (const v of exchanges.values) {
    out.antiEntropy.exchanges += v.value;
    if (v.labels.outcome === "repaired") out.antiEntropy.repaired += v.value;
    if (v.labels.outcome === "error") out.antiEntropy.failed += v.value;
  }
  out.antiEntropy.keysRepaired = keysRepaired.values.reduce((sum, v) => sum + v.value, 0);
  out.handoffBytes = handoff.values.reduce((sum, v) => sum + v.value, 0);
  return out;
}
