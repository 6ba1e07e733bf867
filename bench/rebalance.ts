/**
 * `npm run bench:rebalance`: how a ring change behaves with data in it and clients on it. Loads K keys of V bytes
 * (default 100 000 of 1 KiB) into a local 3-node cluster, runs a YCSB-A load (50% reads, 50% read-modify-write updates,
 * scrambled zipfian keys) throughout, then scales 3 → 4 and 4 → 3. For each step it prints the time to settle, the
 * keys and bytes handed off against the theoretical minimum (the share of the data the new balance must move), the
 * handoff throughput, the nodes' CPU per MB handed off, and the clients' p99 during the step relative to the p99 just
 * before it.
 * Flags: --keys K --value-bytes V --clients C --before-seconds S --seed N --config FILE --node-arg FLAG (repeatable, e.g.
 * `--node-arg=--cpu-prof --node-arg=--cpu-prof-dir=/tmp/prof` to profile every node, the one that joins included)
 * --timeline (a line per look during each step: the clients' p99 and errors since the last look, and each node's
 * handoff MB/s, pace, transfers in flight and CPU, to see when in a step the clients' latency rises)
 * --cycles N (scale 3 → 4 → 3 N times on the same data and clients, and report each direction's medians: the p99 ratio
 * of one step scatters by half its value from run to run on two shared cores)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { DynamoClient } from "../client/index.js";
import { callControl } from "../dev/state.js";
import { seededRandom } from "../lib/random.js";
import { BenchCommandLine } from "./flags.js";
import { median } from "./stats.js";
import { ClosedLoad } from "./ycsb/closed-load.js";
import { formatMs } from "./ycsb/report.js";
import { startDevCluster, type StoreCluster } from "./ycsb/store.js";

const USAGE = `usage: npm run bench:rebalance -- [flags]
  --keys K              keys loaded before the first step                              [100000]
  --value-bytes V       bytes per value                                                [1024]
  --clients C           YCSB-A clients throughout (0: the handoff alone)               [8]
  --before-seconds S    seconds of load alone before each step                         [10]
  --seed N              seed of keys and operations                                    [random]
  --config FILE         node configuration (buckets, tuning) for every node; unless it sets
                        tuning.dropDelayMs, the bench sets 2 s and waits for the drops between steps
  --node-arg FLAG       a Node.js flag for every node (repeatable)
  --timeline            a line per look during each step
  --cycles N            scale 3 -> 4 -> 3 N times; with N > 1, also each direction's medians   [1]`;

const commandLine = new BenchCommandLine("bench:rebalance", USAGE, {
  keys: { type: "string" },
  "value-bytes": { type: "string" },
  clients: { type: "string" },
  "before-seconds": { type: "string" },
  seed: { type: "string" },
  config: { type: "string" },
  "node-arg": { type: "string", multiple: true },
  timeline: { type: "boolean", default: false },
  cycles: { type: "string" },
});
const flags = commandLine.values;
const KEYS = commandLine.number(flags.keys, "keys", 100_000, 1);
const VALUE_BYTES = commandLine.number(flags["value-bytes"], "value-bytes", 1024, 0);
const CLIENTS = commandLine.number(flags.clients, "clients", 8, 0);
const BEFORE_S = commandLine.number(flags["before-seconds"], "before-seconds", 10, 1);
const SEED = commandLine.number(flags.seed, "seed", Math.floor(Math.random() * 2 ** 31), 0);
const CYCLES = commandLine.number(flags.cycles, "cycles", 1, 1);
const N = 3;
const log = (line: string) => process.stdout.write(line + "\n");

/**
 * The nodes' delay before they drop a partition they no longer replicate (`tuning.dropDelayMs`, unless the --config
 * file sets it). With the default of 10 s the drops of a step's moved partitions (LevelDB deleting the ranges on its
 * threads) landed 10-20 s after it: in the next step's quiet window, whose CPU is subtracted from the step's, or in
 * the next step itself, and a scale-in's receivers sometimes still held what they were sent. Two seconds makes the
 * drops happen, and the bench waits DROP_SETTLE_S for them, before the next quiet window starts.
 */
const DROP_DELAY_MS = 2000;
/**
 * The janitor sweeps every `dropDelayMs` and drops a partition at the first sweep at least that long after it saw it
 * unowned: 2-6 s after the ring settles, and deleting a quarter of the data takes a second or two more.
 */
const DROP_SETTLE_S = 4 * (DROP_DELAY_MS / 1000);

/**
 * The node configuration file for the cluster, in a new directory the caller removes: the --config file (JSON or
 * YAML), with the bench's drop delay unless it sets one. `waitForDrops` says whether the bench's delay is in force.
 */
function clusterConfig(): { dir: string; path: string; waitForDrops: boolean } {
  let document: { tuning?: Record<string, unknown> } | null = {};
  if (flags.config) {
    try {
      document = parseYaml(readFileSync(flags.config, "utf8")) as typeof document;
    } catch (error) {
      throw new Error(`--config ${flags.config}: ${(error as Error).message}`);
    }
  }
  const config = document ?? {};
  const waitForDrops = config.tuning?.dropDelayMs === undefined;
  const dir = mkdtempSync(join(tmpdir(), "dynamo-rebalance-"));
  const path = join(dir, "dynamo.json");
  writeFileSync(path, JSON.stringify({ ...config, tuning: { dropDelayMs: DROP_DELAY_MS, ...config.tuning } }));
  return { dir, path, waitForDrops };
}

interface NodeCounters {
  keys: number;
  bytes: number;
  /** CPU seconds the node process has used (user and system). */
  cpu: number;
  /** The node's handoff pace (bytes per second) and the partitions it was receiving, when last read. */
  pace?: number;
  receiving?: number;
}

/**
 * Handoff counters (and CPU) per node process, as last seen. A node scaled away stops once it holds nothing and its
 * counters go with it, so each node's last reading is kept rather than summing whatever answers at the end. Readings are
 * kept by process (the URL and the process's start time), not by URL: a later scale-up starts a node at the URL of one
 * that stopped, with its counters from zero.
 */
/** One node process's counters, with the client URL it answered at. */
type ProcessCounters = NodeCounters & { url: string };

class HandoffCounters {
  /** By process: its URL and start time. */
  readonly lastSeen = new Map<string, ProcessCounters>();
  /** The processes that answered the last read. */
  answered = new Set<string>();

  async read(urls: string[]): Promise<void> {
    const answered = new Set<string>();
    await Promise.all(
      urls.map(async (url) => {
        for (let attempt = 1; attempt <= 3; attempt++) {
          try {
            const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
            const keys = Number(/^dynamo_handoff_keys_total (\S+)$/m.exec(text)?.[1] ?? 0);
            const bytes = Number(/^dynamo_handoff_bytes_total (\S+)$/m.exec(text)?.[1] ?? 0);
            const cpu = Number(/^dynamo_process_process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? 0);
            const pace = Number(/^dynamo_handoff_pace_bytes_per_second (\S+)$/m.exec(text)?.[1] ?? NaN);
            const receiving = Number(/^dynamo_transfers_active (\S+)$/m.exec(text)?.[1] ?? NaN);
            const started = /^dynamo_process_process_start_time_seconds (\S+)$/m.exec(text)?.[1] ?? "";
            this.lastSeen.set(`${url} ${started}`, { url, keys, bytes, cpu, pace, receiving });
            answered.add(`${url} ${started}`);
            return;
          } catch {
            // A slow node is asked again; one that has stopped keeps its last reading.
          }
        }
      }),
    );
    this.answered = answered;
  }

  snapshot(): Map<string, ProcessCounters> {
    return new Map(this.lastSeen);
  }

  /** What every node received, and the CPU all of them used, since `before`. */
  since(before: Map<string, NodeCounters>): NodeCounters {
    let keys = 0;
    let bytes = 0;
    let cpu = 0;
    for (const [node, now] of this.lastSeen) {
      const then = before.get(node) ?? { keys: 0, bytes: 0, cpu: 0 };
      keys += now.keys - then.keys;
      bytes += now.bytes - then.bytes;
      cpu += now.cpu - then.cpu;
    }
    return { keys, bytes, cpu };
  }
}

interface DevStatus {
  nodes: { id: string; clientUrl: string; state: string }[];
  settled: boolean;
  transfers: { pending: number };
  /** The plan in flight or the last one finished, as the RingDriver measured it (see node/ring/progress.ts). */
  rebalance?: { epoch: number; bytesPerSecond?: number; finishTime?: string };
}

/**
 * Asks the supervisor's control API from this process, as `dynamo dev status` and `dynamo dev scale` do. Running the
 * CLI instead started a Node.js process for each call on the two cores the client load already fills: for the looks
 * at a step, every second or two, that took CPU from the nodes in the step's window and not in the quiet one before
 * it; for the scale itself, a core for about a third of a second at the step's first moment, which halved the
 * clients' throughput while it ran. Neither is a cost of the rebalance the step measures.
 */
async function control(store: StoreCluster, method: string, path: string, body?: unknown): Promise<unknown> {
  if (store.dataDir === undefined) throw new Error("bench:rebalance needs the cluster it started itself");
  return callControl(store.dataDir, method, path, body);
}

/** The cluster's status, as `dynamo dev status` prints it. */
async function devStatus(store: StoreCluster): Promise<DevStatus> {
  return (await control(store, "GET", "/status")) as DevStatus;
}

/**
 * Each direction's medians over the cycles (3 -> 4 and 4 -> 3 apart: a scale-in streams from one node, a scale-out to
 * one), with every step's value kept beside them.
 */
function stepMedians(rows: { step: string; seconds: number; streamMBps: number; p99Ratio: number }[]) {
  const steps = [...new Set(rows.map((r) => r.step))];
  return steps.map((step) => {
    const of = rows.filter((r) => r.step === step);
    const runs = { seconds: of.map((r) => r.seconds), streamMBps: of.map((r) => r.streamMBps), p99Ratio: of.map((r) => r.p99Ratio) };
    return { step, steps: of.length, seconds: median(runs.seconds), streamMBps: median(runs.streamMBps), p99Ratio: median(runs.p99Ratio), runs };
  });
}

/**
 * One scaling step. The CPU the nodes use per second of client load alone is measured over the quiet window before
 * the step (`--before-seconds`), so the CPU of the step beyond that rate is what the handoff cost.
 */
async function step(store: StoreCluster, load: ClosedLoad, counters: HandoffCounters, from: number, to: number) {
  const urls = (await devStatus(store)).nodes.map((n) => n.clientUrl);
  load.cut();
  await counters.read(urls);
  const quietStart = counters.snapshot();
  const quietStarted = Date.now();
  // The quiet window is looked at as often as the step is (below), so that both carry the same cost of looking.
  while (Date.now() - quietStarted < BEFORE_S * 1000) {
    await new Promise((res) => setTimeout(res, 1000));
    await devStatus(store);
    await counters.read(urls);
  }
  const before = load.cut();
  await counters.read(urls);
  const countersBefore = counters.snapshot();
  const quietCpuPerS = counters.since(quietStart).cpu / ((Date.now() - quietStarted) / 1000);
  const loadBefore = loadavg()[0]!;
  const started = Date.now();
  load.tick();
  await control(store, "POST", "/scale", { nodes: to });
  let status = await devStatus(store);
  // The first look covers the scale request too: a new node's start, the plan.
  let previous = countersBefore;
  let previousAt = started;
  while (!(status.settled && status.transfers.pending === 0 && status.nodes.length === to)) {
    await counters.read(status.nodes.map((n) => n.clientUrl));
    if (flags.timeline) {
      const now = counters.snapshot();
      const seconds = (Date.now() - previousAt) / 1000;
      const tick = load.tick();
      const nodes = [...now].filter(([node]) => counters.answered.has(node)).map(([node, c]) => {
        const then = previous.get(node) ?? { keys: 0, bytes: 0, cpu: 0 };
        const port = new URL(c.url).port;
        return `${port} ${((c.bytes - then.bytes) / 1e6 / seconds).toFixed(1)} MB/s pace ${((c.pace ?? NaN) / 2 ** 20).toFixed(0)} MiB/s recv ${c.receiving ?? "?"} cpu ${((c.cpu - then.cpu) / seconds).toFixed(2)}`;
      });
      log(
        `    t=${((Date.now() - started) / 1000).toFixed(1)} s p99 ${formatMs(tick.latency.summary().p99Us)} ms (${tick.latency.count} ops, ${tick.errors} errors); ` +
          `pending ${status.transfers.pending}, settled ${status.settled}; ${nodes.join("; ")}`,
      );
      previous = now;
      previousAt = Date.now();
    }
    await new Promise((res) => setTimeout(res, 1000));
    status = await devStatus(store);
  }
  const ms = Date.now() - started;
  const loadAfter = loadavg()[0]!;
  const during = load.cut();
  await counters.read(status.nodes.map((n) => n.clientUrl));
  const moved = counters.since(countersBefore);
  // The member that joins (or leaves) must end up with (or give away) n/S of all replicas: no plan can move less.
  const minimumKeys = Math.round((KEYS * N) / Math.max(from, to));
  const bytesPerKey = moved.keys > 0 ? moved.bytes / moved.keys : 0;
  const beforeP99 = before.summary().p99Us;
  const duringP99 = during.summary().p99Us;
  return {
    step: `${from} -> ${to}`,
    seconds: ms / 1000,
    keysMoved: moved.keys,
    keysMinimum: minimumKeys,
    bytesMoved: moved.bytes,
    bytesMinimum: Math.round(minimumKeys * bytesPerKey),
    handoffMBps: moved.bytes / 1e6 / (ms / 1000),
    /**
     * The rate of the streaming itself, from the first transfer's start to when the driver saw the last one done: the
     * step's time less the new node's start, the planning and the finalizing.
     */
    streamMBps: (status.rebalance?.bytesPerSecond ?? NaN) / 1e6,
    cpuSeconds: moved.cpu,
    quietCpuPerSecond: quietCpuPerS,
    /** CPU seconds of all nodes per MB handed off, beyond what the client load used per second before the step. */
    handoffCpuMsPerMB: moved.bytes > 0 ? ((moved.cpu - quietCpuPerS * (ms / 1000)) * 1000) / (moved.bytes / 1e6) : NaN,
    loadAverage: [loadBefore, loadAfter],
    p99BeforeMs: beforeP99 / 1000,
    p99DuringMs: duringP99 / 1000,
    p99Ratio: beforeP99 > 0 ? duringP99 / beforeP99 : NaN,
  };
}

/** Loading on a loaded machine may time out now and then; a key is retried a few times before the run gives up. */
async function putRetrying(client: DynamoClient, key: string, value: Buffer): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.put("default", key, value);
      return;
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((res) => setTimeout(res, 200 * attempt));
    }
  }
}

async function main(): Promise<void> {
  log(`bench:rebalance: ${KEYS} keys of ${VALUE_BYTES} bytes, ${CLIENTS} YCSB-A clients, seed ${SEED}`);
  const config = clusterConfig();
  const store = await startDevCluster({ nodes: 3, log, config: config.path, nodeArgs: flags["node-arg"] ?? [] }).catch((error: unknown) => {
    rmSync(config.dir, { recursive: true, force: true });
    throw error;
  });
  const client = new DynamoClient(store.urls, { maxSockets: 64, timeoutMs: 30_000 });
  try {
    const loadStarted = Date.now();
    const value = Buffer.alloc(VALUE_BYTES, 97);
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < KEYS) await putRetrying(client, `user${next++}`, value);
      }),
    );
    log(`loaded ${KEYS} keys in ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`);
    const load = new ClosedLoad(client, seededRandom(SEED), KEYS, CLIENTS);
    load.start();
    const rows = [];
    const counters = new HandoffCounters();
    const plan = Array.from({ length: CYCLES }, () => [[3, 4] as const, [4, 3] as const]).flat();
    for (const [from, to] of plan) {
      if (rows.length > 0 && config.waitForDrops) {
        log(`waiting ${DROP_SETTLE_S} s for the nodes to drop what the last step moved away from them...`);
        await new Promise((resolve) => setTimeout(resolve, DROP_SETTLE_S * 1000));
      }
      log(`scaling ${from} -> ${to} after ${BEFORE_S} s of load alone...`);
      const row = await step(store, load, counters, from, to);
      rows.push(row);
      log(
        `  ${row.step}: ${row.seconds.toFixed(1)} s; moved ${row.keysMoved} keys (minimum ${row.keysMinimum}, ${(row.keysMoved / row.keysMinimum).toFixed(2)}x), ` +
          `${(row.bytesMoved / 1e6).toFixed(1)} MB (minimum ${(row.bytesMinimum / 1e6).toFixed(1)} MB); handoff ${row.handoffMBps.toFixed(1)} MB/s over the step, ${row.streamMBps.toFixed(1)} MB/s while streaming; ` +
          `nodes' CPU ${row.cpuSeconds.toFixed(1)} s (${row.handoffCpuMsPerMB.toFixed(0)} ms per MB beyond the client load's ${row.quietCpuPerSecond.toFixed(2)} CPU-s/s); ` +
          (CLIENTS === 0
            ? "no clients; "
            : `client p99 ${formatMs(row.p99DuringMs * 1000)} ms during vs ${formatMs(row.p99BeforeMs * 1000)} ms before (${row.p99Ratio.toFixed(2)}x); `) +
          `load average ${row.loadAverage.map((l) => l.toFixed(1)).join(" -> ")}`,
      );
    }
    await load.stop();
    log(`client errors during the run: ${load.errors}`);
    const medians = CYCLES > 1 ? stepMedians(rows) : undefined;
    for (const m of medians ?? []) {
      const runs = (values: number[], digits: number) => `(${values.map((v) => v.toFixed(digits)).join(", ")})`;
      log(
        `  ${m.step}, median of ${m.steps}: ${m.seconds.toFixed(1)} s ${runs(m.runs.seconds, 1)}; ${m.streamMBps.toFixed(1)} MB/s while streaming ${runs(m.runs.streamMBps, 1)}` +
          (CLIENTS === 0 ? "" : `; client p99 ${m.p99Ratio.toFixed(2)}x of before ${runs(m.runs.p99Ratio, 2)}`),
      );
    }
    process.stdout.write(JSON.stringify({ keys: KEYS, valueBytes: VALUE_BYTES, clients: CLIENTS, seed: SEED, steps: rows, ...(medians ? { medians } : {}) }, null, 2) + "\n");
  } finally {
    client.close();
    await store.stop();
    rmSync(config.dir, { recursive: true, force: true });
  }
}

await main();
