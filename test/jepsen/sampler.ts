/**
 * Samples each running node's health every few seconds — resident memory, V8 heap, event-loop lag, open handles and
 * file descriptors, hints held and their bytes, hints refused, LevelDB's size on disk — into the timeline, for the bounds checks of a long
 * partition and the soak's flatness checks. Frozen nodes are skipped (they cannot answer).
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { NetCluster } from "../netns/cluster.js";
import type { Timeline } from "./timeline.js";

export interface Sample {
  t: number;
  node: string;
  rssBytes: number;
  heapUsedBytes: number;
  eventLoopLagMs: number;
  handles: number;
  openFds: number;
  hints: number;
  hintBytes: number;
  hintsRefused: number;
  diskBytes: number;
}

/** Finds a metric (without labels) by the end of its name, so the exporter's prefix does not matter. */
export function metricValue(text: string, suffix: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const name = line.slice(0, space);
    if (name === suffix || (name.endsWith(`_${suffix}`) && !name.includes("{"))) return Number(line.slice(space + 1));
  }
  return undefined;
}

export function directoryBytes(dir: string): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    try {
      total += entry.isDirectory() ? directoryBytes(path) : statSync(path).size;
    } catch {
      // Compaction removed it meanwhile.
    }
  }
  return total;
}

export class Sampler {
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly cluster: NetCluster,
    private readonly timeline: Timeline,
    private readonly intervalMs = 2000,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sampleAll(), this.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async sampleAll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await Promise.all(this.cluster.running().filter((n) => !n.stopped).map((n) => this.sample(n.index)));
    } finally {
      this.busy = false;
    }
  }

  private async sample(index: number): Promise<void> {
    const node = this.cluster.node(index);
    let text: string;
    try {
      const res = await fetch(`${node.clientUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
      text = await res.text();
    } catch {
      return;
    }
    const sample: Sample = {
      t: this.timeline.now(),
      node: node.id,
      rssBytes: metricValue(text, "resident_memory_bytes") ?? 0,
      heapUsedBytes: metricValue(text, "heap_size_used_bytes") ?? 0,
      eventLoopLagMs: (metricValue(text, "eventloop_lag_p99_seconds") ?? 0) * 1000,
      handles: metricValue(text, "active_handles_total") ?? 0,
      openFds: metricValue(text, "open_fds") ?? 0,
      hints: metricValue(text, "dynamo_hints") ?? 0,
      hintBytes: metricValue(text, "dynamo_hint_bytes") ?? 0,
      hintsRefused: metricValue(text, "dynamo_hints_refused_total") ?? 0,
      diskBytes: directoryBytes(node.dataDir),
    };
    this.samples.push(sample);
    const { t: _t, node: id, ...values } = sample;
    this.timeline.sample(id, values);
  }
}
