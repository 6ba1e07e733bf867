/**
 * The soak, run inside the network lab (./main.ts starts it there): YCSB load from bench/ycsb's driver, in one-minute
 * segments alternating workloads A and B, on four nodes for as long as asked, while a seeded nemesis makes a fault
 * window every minute or two (partitions, one-way and asymmetric cuts, bad links, clock skew, frozen processes) and the
 * ring changes every few minutes (a fifth node joins, later leaves and is wiped). Every node's resident memory, event-
 * loop lag, open handles, LevelDB size and hint store are sampled throughout; after a warm-up they must stay flat.
 *
 * Processes are never killed here (a restart would reset the very series being watched); the Jepsen runs kill them.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { randomValues } from "../../bench/ycsb/benchmark.js";
import { seededRandom as benchRandom } from "../../lib/random.js";
import { loadRecords, runWorkload, type RunResult } from "../../bench/ycsb/runner.js";
import { dynamoTarget } from "../../bench/ycsb/target.js";
import { WORKLOADS } from "../../bench/ycsb/workloads.js";
import { NetCluster } from "../netns/cluster.js";
import { currentLab } from "../netns/lab.js";
import { applyFaults, describeFault, healFaults, planSchedule, type FaultKind } from "../jepsen/nemesis.js";
import { renderTimeline } from "../jepsen/plot.js";
import { Sampler, type Sample } from "../jepsen/sampler.js";
import { Timeline } from "../jepsen/timeline.js";

export const SOAK_CONFIG = resolve(new URL(".", import.meta.url).pathname, "config.yaml");
const SOAK_KINDS: FaultKind[] = ["partition", "one-way", "asymmetric", "link", "skew", "pause"];
const PERMANENT = 4;

export interface SoakOptions {
  seed: number;
  durationMs: number;
  records: number;
  clients: number;
  valueBytes: number;
  /** Samples before this are warm-up and do not count towards flatness. */
  warmupMs: number;
  ringChangeEveryMs: number;
  sampleEveryMs: number;
  outDir: string;
  log: (line: string) => void;
}

/** A measure's growth after warm-up: medians of the first and last quarter of the measured samples. */
export interface Trend {
  first: number;
  last: number;
  max: number;
  /** Least-squares slope over the measured samples, per hour. */
  slopePerHour: number;
}

export interface NodeTrends {
  node: string;
  samples: number;
  rssBytes: Trend;
  heapUsedBytes: Trend;
  eventLoopLagMs: Trend;
  handles: Trend;
  openFds: Trend;
  diskBytes: Trend;
  hints: Trend;
  hintBytes: Trend;
}

export interface SoakReport {
  seed: number;
  minutes: number;
  segments: { at: number; workload: string; opsPerSec: number; p99Ms: number; errors: Record<string, number> }[];
  faults: string[];
  ringChanges: string[];
  nodes: NodeTrends[];
  violations: string[];
  plot: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { log } = options;
  const lab = currentLab();
  mkdirSync(options.outDir, { recursive: true });
  const timeline = new Timeline(join(options.outDir, "timeline.jsonl"));
  const cluster = await NetCluster.start({ lab, nodes: PERMANENT, config: SOAK_CONFIG, partitions: 64, seed: options.seed, log: (m) => timeline.note(m) });
  const sampler = new Sampler(cluster, timeline, options.sampleEveryMs);
  const urls = cluster.nodes.slice(0, PERMANENT).map((n) => n.clientUrl);
  const client = new DynamoClient(urls, { timeoutMs: 5000, maxSockets: options.clients });
  const target = dynamoTarget(client, "default", "read-modify-write");
  const random = benchRandom(options.seed);
  const values = randomValues(64, options.valueBytes, random);
  const report: SoakReport = { seed: options.seed, minutes: options.durationMs / 60_000, segments: [], faults: [], ringChanges: [], nodes: [], violations: [], plot: "" };
  const started = performance.now();
  const until = started + options.durationMs;
  let stopping = false;
  try {
    sampler.start();
    log(`loading ${options.records} records of ${options.valueBytes} bytes`);
    const load = await loadRecords(target, { clients: options.clients, records: options.records, seconds: 0, warmupSeconds: 0, values, random });
    log(`loaded in ${load.seconds.toFixed(1)} s`);

    const ring = new RingChanger(cluster, timeline, log, report.ringChanges);
    const faulting = runFaults(cluster, options, timeline, log, report.faults, () => stopping || performance.now() > until);
    const ringChanging = (async () => {
      for (let next = performance.now() + options.ringChangeEveryMs; !stopping && performance.now() < until; ) {
        if (performance.now() >= next) {
          try {
            await ring.toggle(() => stopping || performance.now() > until);
          } catch (err) {
            // A ring change that fails is a finding of the soak, not the end of it.
            const text = `ring change failed at ${(timeline.now() / 1000).toFixed(0)} s: ${(err as Error).message.split("\n")[0]}`;
            report.violations.push(text);
            timeline.anomaly("soak", text);
            log(text);
          }
          next = performance.now() + options.ringChangeEveryMs;
        }
        await sleep(1000);
      }
    })();

    for (let segment = 0; performance.now() < until; segment++) {
      const workload = segment % 2 === 0 ? WORKLOADS.A : WORKLOADS.B;
      const seconds = Math.max(1, Math.min(60, (until - performance.now()) / 1000));
      const result: RunResult = await runWorkload(target, workload, { clients: options.clients, records: options.records, seconds, warmupSeconds: 0, values, random });
      const total = result.total;
      const line = { at: Math.round(timeline.now() / 1000), workload: workload.name, opsPerSec: Math.round(total.opsPerSec), p99Ms: total.latency.p99Us / 1000, errors: total.errors };
      report.segments.push(line);
      timeline.note(`segment ${JSON.stringify(line)}`);
      log(`${line.at}s workload ${line.workload}: ${line.opsPerSec} ops/s, p99 ${line.p99Ms.toFixed(1)} ms, errors ${JSON.stringify(line.errors)}`);
    }
    stopping = true;
    await faulting;
    await ringChanging;
    await cluster.network.heal();
    // The last minute with everything healed: hints drain, and the final samples show what stays.
    await sleep(Math.min(60_000, options.durationMs / 10));
    await sampler.sampleAll();
    report.nodes = trendsOf(sampler.samples, cluster.nodes.slice(0, PERMANENT).map((n) => n.id), options.warmupMs);
    report.violations.push(...flatnessViolations(report.nodes));
    for (const node of cluster.nodes.slice(0, PERMANENT)) {
      const last = sampler.samples.filter((s) => s.node === node.id).at(-1);
      if (last && last.hints > 0) report.violations.push(`${node.id} still holds ${last.hints} hints after everything healed`);
    }
    for (const v of report.violations) timeline.anomaly("soak", v);
    return report;
  } finally {
    stopping = true;
    sampler.stop();
    client.close();
    await cluster.destroy();
    await timeline.close();
    report.plot = join(options.outDir, "timeline.html");
    writeFileSync(report.plot, renderTimeline(timeline.events, `soak, seed ${options.seed}: ${report.minutes} min`));
    writeFileSync(join(options.outDir, "soak-report.json"), JSON.stringify(report, null, 2));
  }
}

/** Fault windows from the nemesis, 10–20 s long, one every 1–2 minutes, until `done`. */
async function runFaults(cluster: NetCluster, options: SoakOptions, timeline: Timeline, log: (line: string) => void, faults: string[], done: () => boolean): Promise<void> {
  const schedule = planSchedule(options.seed, {
    durationMs: options.durationMs,
    nodes: PERMANENT,
    kinds: SOAK_KINDS,
    holdMs: [10_000, 20_000],
    gapMs: [60_000, 120_000],
    skewMsMax: 10_000,
  });
  const started = performance.now();
  let id = 0;
  for (const window of schedule) {
    while (!done() && performance.now() - started < window.startMs) await sleep(500);
    if (done()) return;
    const text = window.faults.map(describeFault).join(" & ");
    const ids = window.faults.map(() => ++id);
    window.faults.forEach((f, i) => timeline.fault("start", ids[i]!, f.kind, describeFault(f)));
    faults.push(`${(timeline.now() / 1000).toFixed(0)}s +${(window.holdMs / 1000).toFixed(0)}s: ${text}`);
    log(`${(timeline.now() / 1000).toFixed(0)}s fault: ${text}`);
    try {
      await applyFaults(cluster, window.faults);
      await sleep(window.holdMs);
    } finally {
      await healFaults(cluster, window.faults);
      window.faults.forEach((f, i) => timeline.fault("end", ids[i]!, f.kind, describeFault(f)));
    }
  }
}

/** Grows the ring to five members and shrinks it back, in turn; a node that left is stopped and wiped. */
class RingChanger {
  private grown = false;
  private id = 20_000;

  constructor(
    private readonly cluster: NetCluster,
    private readonly timeline: Timeline,
    private readonly log: (line: string) => void,
    private readonly changes: string[],
  ) {}

  async toggle(cancelled: () => boolean): Promise<void> {
    const extra = this.cluster.node(PERMANENT);
    const permanent = this.cluster.nodes.slice(0, PERMANENT).map((n) => n.id);
    const desired = this.grown ? permanent : [...permanent, extra.id];
    const what = this.grown ? `${extra.id} leaves` : `${extra.id} joins`;
    const id = ++this.id;
    this.timeline.fault("start", id, "ring", what);
    const startedAt = performance.now();
    if (!this.grown) await this.cluster.startNode(extra.index);
    const settled = await this.cluster.settle(desired, 15 * 60_000, cancelled);
    if (settled && this.grown) {
      await this.cluster.kill(extra.index);
      await this.cluster.wipeData(extra.index);
    }
    this.grown = !this.grown;
    this.timeline.fault("end", id, "ring", what);
    const text = `${(this.timeline.now() / 1000).toFixed(0)}s ${what}: ${settled ? `settled in ${((performance.now() - startedAt) / 1000).toFixed(0)} s` : "not settled"}`;
    this.changes.push(text);
    this.log(`ring: ${text}`);
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export function trend(points: { t: number; v: number }[]): Trend {
  if (points.length === 0) return { first: 0, last: 0, max: 0, slopePerHour: 0 };
  const quarter = Math.max(1, Math.floor(points.length / 4));
  const n = points.length;
  const meanT = points.reduce((s, p) => s + p.t, 0) / n;
  const meanV = points.reduce((s, p) => s + p.v, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - meanT) * (p.v - meanV), 0);
  const den = points.reduce((s, p) => s + (p.t - meanT) ** 2, 0);
  return {
    first: median(points.slice(0, quarter).map((p) => p.v)),
    last: median(points.slice(-quarter).map((p) => p.v)),
    max: Math.max(...points.map((p) => p.v)),
    slopePerHour: den > 0 ? (num / den) * 3_600_000 : 0,
  };
}

export function trendsOf(samples: Sample[], nodes: string[], warmupMs: number): NodeTrends[] {
  return nodes.map((node) => {
    const mine = samples.filter((s) => s.node === node && s.t >= warmupMs);
    const of = (f: (s: Sample) => number) => trend(mine.map((s) => ({ t: s.t, v: f(s) })));
    return {
      node,
      samples: mine.length,
      rssBytes: of((s) => s.rssBytes),
      heapUsedBytes: of((s) => s.heapUsedBytes),
      eventLoopLagMs: of((s) => s.eventLoopLagMs),
      handles: of((s) => s.handles),
      openFds: of((s) => s.openFds),
      diskBytes: of((s) => s.diskBytes),
      hints: of((s) => s.hints),
      hintBytes: of((s) => s.hintBytes),
    };
  });
}

const MIB = 1024 * 1024;

/**
 * What "flat" means, per node, comparing the last quarter of the measured samples with the first: resident memory up
 * by at most 15% + 16 MiB, the V8 heap by at most 25% + 16 MiB, open handles and file descriptors by at most 25 each, event-loop lag at most doubled + 20 ms, LevelDB at most 1.5 times
 * + 16 MiB (the data set has a fixed number of records; compaction makes its size saw-toothed), and hints back to zero
 * once the last fault has healed.
 */
export function flatnessViolations(nodes: NodeTrends[]): string[] {
  const problems: string[] = [];
  for (const n of nodes) {
    if (n.samples < 8) {
      problems.push(`${n.node}: only ${n.samples} samples after warm-up`);
      continue;
    }
    const mib = (b: number) => `${(b / MIB).toFixed(0)} MiB`;
    if (n.rssBytes.last > n.rssBytes.first * 1.15 + 16 * MIB) problems.push(`${n.node}: resident memory grew from ${mib(n.rssBytes.first)} to ${mib(n.rssBytes.last)}`);
    if (n.heapUsedBytes.last > n.heapUsedBytes.first * 1.25 + 16 * MIB) problems.push(`${n.node}: the V8 heap grew from ${mib(n.heapUsedBytes.first)} to ${mib(n.heapUsedBytes.last)}`);
    if (n.handles.last > n.handles.first + 25) problems.push(`${n.node}: open handles grew from ${n.handles.first} to ${n.handles.last}`);
    if (n.openFds.last > n.openFds.first + 25) problems.push(`${n.node}: open file descriptors grew from ${n.openFds.first} to ${n.openFds.last}`);
    if (n.eventLoopLagMs.last > n.eventLoopLagMs.first * 2 + 40) problems.push(`${n.node}: event-loop lag grew from ${n.eventLoopLagMs.first.toFixed(1)} to ${n.eventLoopLagMs.last.toFixed(1)} ms`);
    if (n.diskBytes.last > n.diskBytes.first * 1.5 + 16 * MIB) problems.push(`${n.node}: LevelDB grew from ${mib(n.diskBytes.first)} to ${mib(n.diskBytes.last)}`);
  }
  return problems;
}
