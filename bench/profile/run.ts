/**
 * `npm run bench:profile`: where a request's CPU goes. Starts a 3-node `dynamo dev` cluster (optionally under
 * `node --cpu-prof`), loads records, runs YCSB workloads with the benchmark's closed-loop clients, and reports for each
 * workload the throughput, latency and CPU per operation of every process (from /proc, robust to machine load), and
 * with `--cpu-prof` the nodes' profiles cut to the measured window: self time per module and per function in
 * microseconds per operation, and a flame graph per workload. `--rss-every S` samples each node's resident memory
 * every S seconds through the run, for memory growth over long runs.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { STORE_LWW_BUCKET, storeConfig } from "../peers/systems/store.js";
import { randomValues } from "../ycsb/benchmark.js";
import { seededRandom } from "../../lib/random.js";
import { loadRecords, runWorkload, type RunResult } from "../ycsb/runner.js";
import { startDevCluster } from "../ycsb/store.js";
import { dynamoTarget } from "../ycsb/target.js";
import type { Workload } from "../ycsb/workloads.js";
import { mergeSamples, samplesBetween, type CpuProfile, type StackSamples } from "./cpu-profile.js";
import { flameGraphSvg } from "./flame-graph.js";
import { clusterProcesses, cpuSecondsOf, rssBytesOf, type ClusterProcess } from "./processes.js";
import { describeRuntime, hostRuntime, type ServerRuntime } from "../runtime.js";

export interface ProfileOptions {
  workloads: Workload[];
  clients: number;
  seconds: number;
  warmupSeconds: number;
  records: number;
  valueBytes: number;
  /** `lww`: the bench_lww bucket with blind updates (as bench:peers' `store`); `siblings`: `default` with read-modify-write. */
  bucket: "lww" | "siblings";
  seed: number;
  /** Write CPU profiles of the nodes and flame graphs here; undefined for no profiling. */
  profileDir: string | undefined;
  rssEverySeconds: number | undefined;
  peerTls: boolean;
  /** Extra Node.js flags for the cluster's processes (e.g. `--max-old-space-size=256`). */
  nodeArgs: string[];
  /** The Node.js the cluster's processes run (`--runtime`, resolved by bench/runtime.ts). */
  runtime: string;
  /** Tuning keys for the nodes' configuration (e.g. readRepairChance: 0), to measure what a feature costs. */
  tuning: Record<string, unknown>;
  /** The lww bucket's read quorum, when not its 2. */
  r: number | undefined;
}

interface WorkloadReport {
  workload: string;
  /** Seconds the measured window lasted, for subtracting the cluster's idle CPU. */
  windowSeconds: number;
  result: RunResult;
  loadAverage: number;
  /** Monotonic microseconds, the clock of CPU profiles. */
  windowUs: [number, number];
  cpuSecondsByRole: Record<string, number>;
  driverCpuSeconds: number;
}

interface RssSample {
  atSeconds: number;
  bytesByRole: Record<string, number>;
}

function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

const PROFILE_FILE = /^CPU\.\d+\.\d+\.(\d+)\.\d+\.\d+\.cpuprofile$/;

/** `runtime` is the Node.js the cluster's processes run (`--runtime`, resolved by bench/runtime.ts). */
export async function runProfile(options: ProfileOptions, log: (line: string) => void, runtime: ServerRuntime = hostRuntime()): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), "dynamo-profile-"));
  const rawProfiles = join(workDir, "cpuprofiles");
  const configPath = join(workDir, "dynamo.json");
  const config = storeConfig(false);
  config.tuning = { ...config.tuning, ...options.tuning };
  if (options.r !== undefined) config.buckets = config.buckets.map((b) => ({ ...b, r: options.r }));
  writeFileSync(configPath, JSON.stringify(config));
  const nodeArgs = [...options.nodeArgs];
  if (options.profileDir !== undefined) nodeArgs.push("--cpu-prof", "--cpu-prof-dir", rawProfiles);
  if (runtime.source !== "host") log(describeRuntime(runtime));
  const cluster = await startDevCluster({ nodes: 3, log, config: configPath, peerTls: options.peerTls, nodeArgs, runtime: runtime.path }).catch((error: unknown) => {
    // A cluster that never started (a bad --tuning key, say) leaves nothing worth keeping.
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  });
  const processes = clusterProcesses(cluster.pid!);
  log(`processes: ${processes.map((p) => `${p.role} ${p.pid}`).join(", ")}`);
  const client = new DynamoClient(cluster.urls, { maxSockets: options.clients, timeoutMs: 10_000 });
  const bucket = options.bucket === "lww" ? STORE_LWW_BUCKET : "default";
  const target = dynamoTarget(client, bucket, options.bucket === "lww" ? "blind" : "read-modify-write");
  const random = seededRandom(options.seed);
  const values = randomValues(16, options.valueBytes, random.fork());
  const runOptions = { clients: options.clients, records: options.records, seconds: options.seconds, warmupSeconds: options.warmupSeconds, values };
  const reports: WorkloadReport[] = [];
  let idle: Record<string, number> = {};
  const rss: RssSample[] = [];
  const started = performance.now();
  const sampleRss = () => rss.push({ atSeconds: Math.round((performance.now() - started) / 1000), bytesByRole: rssByRole(processes) });
  const rssTimer = options.rssEverySeconds === undefined ? undefined : setInterval(sampleRss, options.rssEverySeconds * 1000);
  try {
    const load = await loadRecords(target, { ...runOptions, random: random.fork() });
    log(`load: ${load.total.opsPerSec.toFixed(0)} inserts/s, errors ${JSON.stringify(load.total.errors)}`);
    if (rssTimer) sampleRss();
    idle = await idleCpu(processes, IDLE_SECONDS);
    log(`idle: ${idleLine(idle)}`);
    for (const workload of options.workloads) {
      let before: Record<string, number> = {};
      let driverBefore = process.cpuUsage();
      const report: Partial<WorkloadReport> = { workload: workload.name };
      const window = {
        onStart: () => {
          report.loadAverage = loadavg()[0];
          report.windowUs = [nowUs(), 0];
          before = cpuByRole(processes);
          driverBefore = process.cpuUsage();
        },
        onEnd: () => {
          report.windowUs![1] = nowUs();
          report.windowSeconds = (report.windowUs![1] - report.windowUs![0]) / 1e6;
          const after = cpuByRole(processes);
          report.cpuSecondsByRole = Object.fromEntries(Object.entries(after).map(([role, s]) => [role, s - (before[role] ?? 0)]));
          const driver = process.cpuUsage(driverBefore);
          report.driverCpuSeconds = (driver.user + driver.system) / 1e6;
        },
      };
      report.result = await runWorkload(target, workload, { ...runOptions, random: random.fork(), window });
      reports.push(report as WorkloadReport);
      log(workloadLine(report as WorkloadReport, idle));
    }
  } finally {
    if (rssTimer) {
      clearInterval(rssTimer);
      sampleRss();
    }
    client.close();
    await cluster.stop();
  }
  if (rss.length > 0) log(rssTable(rss, processes));
  if (options.profileDir !== undefined) writeProfiles(options, reports, rawProfiles, processes, log);
  rmSync(workDir, { recursive: true, force: true });
}

function cpuByRole(processes: readonly ClusterProcess[]): Record<string, number> {
  return Object.fromEntries(processes.map((p) => [p.role, cpuSecondsOf(p.pid)]));
}

function rssByRole(processes: readonly ClusterProcess[]): Record<string, number> {
  return Object.fromEntries(processes.flatMap((p) => {
    const bytes = rssBytesOf(p.pid);
    return bytes === undefined ? [] : [[p.role, bytes]];
  }));
}

function operationsOf(report: WorkloadReport): number {
  return report.result.total.count;
}

/** Seconds the cluster is watched doing nothing, to learn what its timers (gossip, stats, anti-entropy) cost. */
const IDLE_SECONDS = 5;

/** CPU seconds per second of each process while no client sends anything. */
async function idleCpu(processes: readonly ClusterProcess[], seconds: number): Promise<Record<string, number>> {
  const before = cpuByRole(processes);
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = cpuByRole(processes);
  const elapsed = (performance.now() - started) / 1000;
  return Object.fromEntries(Object.entries(after).map(([role, s]) => [role, (s - (before[role] ?? 0)) / elapsed]));
}

function idleLine(idle: Record<string, number>): string {
  const total = Object.values(idle).reduce((a, b) => a + b, 0);
  return `${(total * 1000).toFixed(0)} ms of CPU per second (${Object.entries(idle).map(([role, s]) => `${role} ${(s * 1000).toFixed(0)}`).join(", ")})`;
}

function workloadLine(report: WorkloadReport, idle: Record<string, number>): string {
  const ops = operationsOf(report);
  const { total } = report.result;
  const perOp = (seconds: number) => ((seconds * 1000) / Math.max(1, ops)).toFixed(3);
  const server = Object.values(report.cpuSecondsByRole).reduce((a, b) => a + b, 0);
  // What the cluster spends with no clients at all is charged to time, not to operations: on a loaded machine
  // throughput swings, and a fixed cost per second would swing the CPU per operation with it.
  const idleServer = Object.values(idle).reduce((a, b) => a + b, 0) * report.windowSeconds;
  const roles = Object.entries(report.cpuSecondsByRole)
    .map(([role, s]) => `${role} ${perOp(s)}`)
    .join(", ");
  const errors = Object.keys(total.errors).length > 0 ? ` errors ${JSON.stringify(total.errors)}` : "";
  const ops2 = report.result.operations.map((o) => `${o.operation} p50 ${ms(o.latency.p50Us)} p99 ${ms(o.latency.p99Us)}`).join("; ");
  return (
    `${report.workload}: ${total.opsPerSec.toFixed(0)} ops/s (${ops2}) | server CPU ${perOp(server)} ms/op, ${perOp(Math.max(0, server - idleServer))} beyond idle (${roles}) | ` +
    `driver ${perOp(report.driverCpuSeconds)} ms/op | load ${report.loadAverage.toFixed(1)}${errors}`
  );
}

function ms(us: number): string {
  return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
}

function rssTable(samples: readonly RssSample[], processes: readonly ClusterProcess[]): string {
  const roles = processes.map((p) => p.role);
  const lines = [`RSS (MiB) every sample: seconds | ${roles.join(" | ")}`];
  for (const sample of samples) {
    lines.push(`${sample.atSeconds} | ${roles.map((r) => (sample.bytesByRole[r] === undefined ? "-" : (sample.bytesByRole[r]! / 2 ** 20).toFixed(0))).join(" | ")}`);
  }
  return lines.join("\n");
}

/** Cuts each node's profile to each workload's window and writes flame graphs and per-operation tables. */
function writeProfiles(options: ProfileOptions, reports: readonly WorkloadReport[], rawDir: string, processes: readonly ClusterProcess[], log: (line: string) => void): void {
  const outDir = options.profileDir!;
  mkdirSync(outDir, { recursive: true });
  const roleByPid = new Map(processes.map((p) => [p.pid, p.role]));
  const profiles: { role: string; profile: CpuProfile }[] = [];
  for (const file of readdirSync(rawDir)) {
    const pid = Number(PROFILE_FILE.exec(file)?.[1]);
    const role = roleByPid.get(pid);
    if (role === undefined || role === "supervisor") continue;
    profiles.push({ role, profile: JSON.parse(readFileSync(join(rawDir, file), "utf8")) as CpuProfile });
  }
  if (profiles.length === 0) {
    log(`no node profiles were written to ${rawDir}`);
    return;
  }
  for (const report of reports) {
    const samples = mergeSamples(profiles.map(({ profile }) => samplesBetween(profile, report.windowUs[0], report.windowUs[1])));
    const ops = operationsOf(report);
    const name = `${options.bucket}-${report.workload}`;
    const svg = flameGraphSvg(samples.stacks, {
      title: `YCSB-${report.workload} (${options.bucket} bucket), ${profiles.length} nodes together`,
      subtitle: `${ops} operations in ${report.result.seconds} s, ${options.clients} clients, load average ${report.loadAverage.toFixed(1)}; idle time left out`,
      operations: ops,
    });
    writeFileSync(join(outDir, `flame-${name}.svg`), svg);
    writeFileSync(join(outDir, `self-${name}.md`), selfTables(samples, ops, report));
    log(`wrote ${join(outDir, `flame-${name}.svg`)} and self-${name}.md`);
    log(selfTables(samples, ops, report, 12));
  }
}

/** Tables of self time per operation: by module, then the heaviest functions. */
function selfTables(samples: StackSamples, operations: number, report: WorkloadReport, rows = 40): string {
  const busyUs = samples.totalUs - samples.idleUs;
  const perOp = (us: number) => (us / Math.max(1, operations)).toFixed(1);
  const share = (us: number) => ((100 * us) / Math.max(1, busyUs)).toFixed(1);
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  const lines = [
    `YCSB-${report.workload}: ${operations} operations; profiled on-CPU time of the nodes ${perOp(busyUs)} µs per operation (load average ${report.loadAverage.toFixed(1)})`,
    "",
    "| module | µs/op | share |",
    "| --- | ---: | ---: |",
    ...sorted(samples.selfByModule)
      .slice(0, rows)
      .map(([name, us]) => `| ${name} | ${perOp(us)} | ${share(us)}% |`),
    "",
    "| function (self time) | µs/op | share |",
    "| --- | ---: | ---: |",
    ...sorted(samples.selfByFunction)
      .slice(0, rows)
      .map(([name, us]) => `| \`${name.replace(/\|/g, "\\|")}\` | ${perOp(us)} | ${share(us)}% |`),
    "",
  ];
  return lines.join("\n");
}
