/**
 * The run of `npm run bench:peers`: prepare every system (install, fetch, find binaries) before measuring anything,
 * then for each round start each system in turn on loopback, load the records, run every workload against each of
 * its rows, optionally again with one node killed, and stop it completely before the next one starts. Rounds
 * interleave the systems, so slow drift on a shared machine shows as a difference between rounds rather than as a
 * difference between systems. Every system of a round gets the same seeds, hence the same key and operation
 * sequence per client loop.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { hostRuntime, type ServerRuntime } from "../runtime.js";
import { randomValues, timestamp } from "../ycsb/benchmark.js";
import { seededRandom } from "../../lib/random.js";
import { stopAllDevClusters } from "../ycsb/store.js";
import { loadRecords, runWorkload, type RunOptions } from "../ycsb/runner.js";
import { cpuMsPerOperation, CpuWindow } from "./cpu.js";
import { DEFAULT_PEERS_OPTIONS, type PeersOptions } from "./options.js";
import { sleep, stopAllProcesses } from "./processes.js";
import { markdownReport, measurementLine, warmupLine, type Measurement, type PeersReport, type Phase, type SystemInfo, type Warmup } from "./report.js";
import { cassandraSystem } from "./systems/cassandra.js";
import { etcd } from "./systems/etcd.js";
import { redis } from "./systems/redis.js";
import { store, storePlain, storeRmw } from "./systems/store.js";
import type { PeerSystem, PreparedSystem, RunningSystem, SystemName, Variant } from "./systems/system.js";
import { warmUp } from "./warmup.js";

export const SYSTEMS: Record<SystemName, PeerSystem> = {
  store,
  "store-plain": storePlain,
  "store-rmw": storeRmw,
  cassandra: cassandraSystem,
  etcd,
  redis,
};

/** After a node is killed: time for failure detectors and clients to notice, so the phase measures steady state. */
const DOWN_SETTLE_MS = 10_000;

/** The system running (or starting) right now and its directory, so an interrupt can stop and remove them. */
const current: { running: RunningSystem | undefined; workDir: string | undefined } = { running: undefined, workDir: undefined };

/** Stops whatever is running and removes its directory; for SIGINT and SIGTERM handlers. */
export async function stopEverything(): Promise<void> {
  const { running, workDir } = current;
  current.running = undefined;
  current.workDir = undefined;
  await Promise.allSettled([running?.stop(), stopAllProcesses(), stopAllDevClusters()]);
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

interface Seeds {
  load: number;
  warmup: number;
  workloads: number[];
}

export async function runPeers(
  options: PeersOptions,
  command: string,
  log: (line: string) => void,
  /** The Node.js the store's processes run (`--runtime`, resolved by bench/runtime.ts). */
  runtime: ServerRuntime = hostRuntime(),
): Promise<{ report: PeersReport; jsonPath: string; markdownPath: string; failures: number }> {
  const startedAt = new Date();
  const loadAverage = os.loadavg();
  log(`seed ${options.seed} (replay with --seed ${options.seed}); ${os.cpus().length} CPUs, load average ${loadAverage.map((l) => l.toFixed(2)).join(" ")}`);

  const systems = options.systems.map((name) => SYSTEMS[name]);
  const prepared = new Map<SystemName, PreparedSystem>();
  for (const system of systems) prepared.set(system.name, await system.prepare(log, runtime));
  const info: SystemInfo[] = systems.map((s) => ({
    name: s.name,
    version: prepared.get(s.name)!.version,
    setup: s.setup,
    durability: s.durability(options.durable),
  }));

  const root = seededRandom(options.seed);
  const values = randomValues(DEFAULT_PEERS_OPTIONS.valuePoolSize, options.valueBytes, root.fork());
  const rounds: Seeds[] = Array.from({ length: options.rounds }, () => ({
    load: root.int(2 ** 32),
    warmup: root.int(2 ** 32),
    workloads: options.workloads.map(() => root.int(2 ** 32)),
  }));
  const runOptions = (seed: number): RunOptions => ({
    clients: options.clients,
    records: options.records,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    values,
    random: seededRandom(seed),
  });

  const measurements: Measurement[] = [];
  const notes: string[] = [];
  const warmups: Warmup[] = [];
  const session: Session = {
    options,
    runOptions,
    log,
    record(m) {
      const operations = m.result.total.count;
      const measurement: Measurement = {
        ...m,
        serverCpuMsPerOp: cpuMsPerOperation(m.cpu.serverCpuSeconds, operations),
        driverCpuMsPerOp: cpuMsPerOperation(m.cpu.driverCpuSeconds, operations),
      };
      measurements.push(measurement);
      log(measurementLine(measurement));
    },
    warmedUp(warmup) {
      warmups.push(warmup);
      log(warmupLine(warmup));
    },
    note(text) {
      if (!notes.includes(text)) notes.push(text);
    },
  };

  let failures = 0;
  for (let round = 1; round <= options.rounds; round++) {
    for (const system of systems) {
      log(`round ${round}/${options.rounds}: ${system.name} (load average ${os.loadavg()[0]!.toFixed(2)})`);
      try {
        await measureSystem(session, system.name, prepared.get(system.name)!, round, rounds[round - 1]!);
      } catch (error) {
        // One system failing (a JVM that would not start) must not throw away what the others measured.
        failures += 1;
        const message = (error as Error).message.split("\n")[0];
        log(`round ${round}: ${system.name} failed: ${(error as Error).message}`);
        session.note(`Round ${round}: ${system.name} failed and is missing from that round: ${message}`);
      }
    }
  }

  const report: PeersReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: options.seed,
    command,
    options: reportedOptions(options),
    machine: { ...machine(), loadAverage },
    systems: info,
    baseline: options.systems.includes("store") ? "store" : (measurements[0]?.variant ?? options.systems[0]!),
    measurements,
    warmups,
    notes,
  };
  const { jsonPath, markdownPath } = writeReport(report, options.outDir, startedAt, log);
  return { report, jsonPath, markdownPath, failures };
}

function reportedOptions(options: PeersOptions): PeersReport["options"] {
  return {
    systems: options.systems,
    workloads: options.workloads.map((w) => w.name),
    rounds: options.rounds,
    clients: options.clients,
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    systemWarmupSeconds: options.systemWarmupSeconds,
    records: options.records,
    valueBytes: options.valueBytes,
    downOne: options.downOne,
    durable: options.durable,
    runtime: options.runtime,
  };
}

function machine(): Omit<PeersReport["machine"], "loadAverage"> {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/** Writes `peers-<timestamp>.md` and `.json` under `outDir` and prints the Markdown. */
function writeReport(report: PeersReport, outDir: string, startedAt: Date, log: (line: string) => void): { jsonPath: string; markdownPath: string } {
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `peers-${timestamp(startedAt)}`);
  const markdown = markdownReport(report);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown);
  log("");
  log(markdown);
  return { jsonPath: `${base}.json`, markdownPath: `${base}.md` };
}

/** What measuring one system needs from the run around it. */
interface Session {
  options: PeersOptions;
  runOptions(seed: number): RunOptions;
  log(line: string): void;
  record(m: Omit<Measurement, "serverCpuMsPerOp" | "driverCpuMsPerOp">): void;
  warmedUp(warmup: Warmup): void;
  note(text: string): void;
}

/** Starts one system, loads it, measures every workload of every row (and with one node down), and stops it. */
async function measureSystem(session: Session, name: SystemName, prepared: PreparedSystem, round: number, seeds: Seeds): Promise<void> {
  const { options } = session;
  const workDir = mkdtempSync(join(os.tmpdir(), `dynamo-peers-${name}-`));
  current.workDir = workDir;
  try {
    const running = await prepared.start({ durable: options.durable, clients: options.clients, workDir, log: session.log });
    current.running = running;
    try {
      const base = { round, system: name };
      const loader = running.variants[0]!;
      const window = new CpuWindow(() => running.rootPids());
      const loadAverage = os.loadavg()[0]!;
      window.start();
      const loaded = await loadRecords(loader.target, session.runOptions(seeds.load));
      window.end();
      // The rows of a system share its one load; it is shown once, under the system's first row.
      session.record({ ...base, variant: loader.label, phase: "healthy", workload: "load", loadAverage, result: loaded, cpu: window.result });
      if (options.systemWarmupSeconds > 0) {
        const { random, ...rest } = session.runOptions(seeds.warmup);
        const slices = await warmUp(loader.target, () => running.rootPids(), rest, random, options.systemWarmupSeconds);
        session.warmedUp({ round, system: name, slices });
      }
      await measureWorkloads(session, running, running.variants, { ...base, phase: "healthy" }, seeds);
      if (!options.downOne) return;
      if (!running.stopOne) {
        session.note(`${name} is one process: it has no node to lose, so it is not measured with one node down.`);
        return;
      }
      const survivors = await running.stopOne();
      session.log(`${name}: one node killed; waiting ${DOWN_SETTLE_MS / 1000} s for the others to notice`);
      await sleep(DOWN_SETTLE_MS);
      await measureWorkloads(session, running, survivors, { ...base, phase: "one-down" }, seeds);
    } finally {
      current.running = undefined;
      await running.stop();
    }
  } finally {
    current.workDir = undefined;
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Every workload against every row, each with the round's seed for that workload and its own CPU window. */
async function measureWorkloads(
  session: Session,
  running: RunningSystem,
  variants: readonly Variant[],
  base: { round: number; system: SystemName; phase: Phase },
  seeds: Seeds,
): Promise<void> {
  for (const [index, workload] of session.options.workloads.entries()) {
    for (const variant of variants) {
      const cpu = new CpuWindow(() => running.rootPids());
      const loadAverage = os.loadavg()[0]!;
      const run: RunOptions = { ...session.runOptions(seeds.workloads[index]!), window: { onStart: () => cpu.start(), onEnd: () => cpu.end() } };
      const result = await runWorkload(variant.target, workload, run);
      session.record({ ...base, variant: variant.label, workload: workload.name, loadAverage, result, cpu: cpu.result });
    }
  }
}
