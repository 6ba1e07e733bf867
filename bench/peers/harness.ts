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
import { randomValues } from "../ycsb/benchmark.js";
import { seededRandom } from "../ycsb/random.js";
import { loadRecords, runWorkload, type RunOptions, type RunResult } from "../ycsb/runner.js";
import { cpuMsPerOperation, CpuWindow } from "./cpu.js";
import { DEFAULT_PEERS_OPTIONS, type PeersOptions } from "./options.js";
import { sleep, stopAllProcesses } from "./processes.js";
import { markdownReport, measurementLine, type Measurement, type PeersReport, type Phase, type SystemInfo } from "./report.js";
import { cassandraSystem } from "./systems/cassandra.js";
import { etcd } from "./systems/etcd.js";
import { redis } from "./systems/redis.js";
import { store, storeRmw } from "./systems/store.js";
import type { PeerSystem, PreparedSystem, RunningSystem, SystemName, Variant } from "./systems/system.js";

export const SYSTEMS: Record<SystemName, PeerSystem> = {
  store,
  "store-rmw": storeRmw,
  cassandra: cassandraSystem,
  etcd,
  redis,
};

/** After a node is killed: time for failure detectors and clients to notice, so the phase measures steady state. */
const DOWN_SETTLE_MS = 10_000;

function timestamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, "-");
}

/** The system running right now, so an interrupt can stop it before the harness exits. */
let current: RunningSystem | undefined;

/** Stops whatever is running; for SIGINT and SIGTERM handlers. */
export async function stopEverything(): Promise<void> {
  const running = current;
  current = undefined;
  await Promise.allSettled([running?.stop(), stopAllProcesses()]);
}

interface Seeds {
  load: number;
  workloads: number[];
}

export async function runPeers(
  options: PeersOptions,
  command: string,
  log: (line: string) => void,
): Promise<{ report: PeersReport; jsonPath: string; markdownPath: string }> {
  const startedAt = new Date();
  const loadAverage = os.loadavg();
  log(`seed ${options.seed} (replay with --seed ${options.seed}); ${os.cpus().length} CPUs, load average ${loadAverage.map((l) => l.toFixed(2)).join(" ")}`);

  const systems = options.systems.map((name) => SYSTEMS[name]);
  const prepared = new Map<SystemName, PreparedSystem>();
  for (const system of systems) prepared.set(system.name, await system.prepare(log));
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
  const notes = new Set<string>();
  const record = (m: Omit<Measurement, "serverCpuMsPerOp" | "driverCpuMsPerOp">): void => {
    const operations = m.result.total.count;
    const measurement: Measurement = {
      ...m,
      serverCpuMsPerOp: cpuMsPerOperation(m.cpu.serverCpuSeconds, operations),
      driverCpuMsPerOp: cpuMsPerOperation(m.cpu.driverCpuSeconds, operations),
    };
    measurements.push(measurement);
    log(measurementLine(measurement));
  };

  for (let round = 1; round <= options.rounds; round++) {
    const seeds = rounds[round - 1]!;
    for (const system of systems) {
      log(`round ${round}/${options.rounds}: ${system.name} (load average ${os.loadavg()[0]!.toFixed(2)})`);
      const workDir = mkdtempSync(join(os.tmpdir(), `dynamo-peers-${system.name}-`));
      try {
        const running = await prepared.get(system.name)!.start({ durable: options.durable, clients: options.clients, workDir, log });
        current = running;
        const measureAll = async (phase: Phase, variants: Variant[]): Promise<void> => {
          for (const [index, workload] of options.workloads.entries()) {
            for (const variant of variants) {
              const window = new CpuWindow(() => running.rootPids());
              const loadAverage1m = os.loadavg()[0]!;
              const run: RunOptions = { ...runOptions(seeds.workloads[index]!), window: { onStart: () => window.start(), onEnd: () => window.end() } };
              const result = await runWorkload(variant.target, workload, run);
              record({ round, variant: variant.label, system: system.name, phase, workload: workload.name, loadAverage: loadAverage1m, result, cpu: window.result });
            }
          }
        };
        try {
          const loader = running.variants[0]!;
          const window = new CpuWindow(() => running.rootPids());
          const loadAverage1m = os.loadavg()[0]!;
          window.start();
          const loaded: RunResult = await loadRecords(loader.target, runOptions(seeds.load));
          window.end();
          // Every row of a system shares its one load; it is shown once, under the system's first row.
          record({ round, variant: loader.label, system: system.name, phase: "healthy", workload: "load", loadAverage: loadAverage1m, result: loaded, cpu: window.result });
          await measureAll("healthy", running.variants);
          if (options.downOne) {
            if (running.stopOne) {
              const survivors = await running.stopOne();
              log(`${system.name}: one node killed; waiting ${DOWN_SETTLE_MS / 1000} s for the others to notice`);
              await sleep(DOWN_SETTLE_MS);
              await measureAll("one-down", survivors);
            } else {
              notes.add(`${system.name} is one process: it has no node to lose, so it is not measured with one node down.`);
            }
          }
        } finally {
          current = undefined;
          await running.stop();
        }
      } finally {
        rmSync(workDir, { recursive: true, force: true });
      }
    }
  }

  const report: PeersReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    seed: options.seed,
    command,
    options: {
      systems: options.systems,
      workloads: options.workloads.map((w) => w.name),
      rounds: options.rounds,
      clients: options.clients,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      records: options.records,
      valueBytes: options.valueBytes,
      downOne: options.downOne,
      durable: options.durable,
    },
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      loadAverage,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    systems: info,
    baseline: options.systems.includes("store") ? "store" : (measurements[0]?.variant ?? options.systems[0]!),
    measurements,
    notes: [...notes],
  };
  const dir = resolve(options.outDir);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `peers-${timestamp(startedAt)}`);
  const markdown = markdownReport(report);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown);
  log("");
  log(markdown);
  return { report, jsonPath: `${base}.json`, markdownPath: `${base}.md` };
}
