/**
 * The benchmark run: start (or connect to) the store and start the floor, load the records into both, then for each
 * phase run each workload against the store and right after against the floor, so both see the machine in the same
 * state (the cores are shared, and other work on them drifts over minutes). Ends with the comparison table and a
 * JSON record of everything.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { startFloor } from "../floor/cluster.js";
import { cpuMsPerOperation, CpuWindow } from "../peers/cpu.js";
import { describeWarmup } from "../peers/report.js";
import { warmUp, type WarmupSlice } from "../peers/warmup.js";
import { describeRuntime, hostRuntime, runtimeName, type ServerRuntime } from "../runtime.js";
import { DEFAULT_BENCH_OPTIONS, type BenchOptions } from "./options.js";
import type { Targets } from "./phases.js";
import { seededRandom, type SeededRandom as Random } from "../../lib/random.js";
import { compare, compareRounds, comparisonTable, cpuLine, cpuOfRounds, cpuTable, phaseComparison, runLines, type ComparisonRow, type CpuRow } from "./report.js";
import { loadRecords, runWorkload, type RunOptions, type RunResult } from "./runner.js";
import { externalStore, startDevCluster } from "./store.js";
import { dynamoTarget, type KvTarget } from "./target.js";

/** Generous, so that a slow request shows up as a latency outlier rather than as an error. */
const REQUEST_TIMEOUT_MS = 10_000;

export interface BenchReport {
  startedAt: string;
  seed: number;
  options: Record<string, unknown>;
  machine: { cpus: number; cpuModel: string; loadAverage: number[]; node: string; platform: string };
  /** The Node.js the self-started store and the floor ran (the driver runs on `machine.node`). */
  serverRuntime: { version: string; source: string };
  store: { urls: string[]; selfStarted: boolean };
  load: { store: RunResult; floor: RunResult | undefined };
  /** The unmeasured YCSB-A slices each side ran after the load (`--system-warmup-seconds`). */
  warmup: { store: WarmupSlice[]; floor: WarmupSlice[] | undefined };
  /** Every measured run; `round` counts from 1 (`--rounds`). */
  runs: Array<{ phase: string; round: number; store: RunResult; floor: RunResult | undefined }>;
  comparison: ComparisonRow[];
  /** Server CPU per operation of each run, store and baseline (absent where the processes were not known). */
  cpu: CpuRow[];
}

/** `count` values of `bytes` random bytes each, from `random`, so a seed replays the values written too. */
export function randomValues(count: number, bytes: number, random: Random): Buffer[] {
  return Array.from({ length: count }, () => {
    const value = Buffer.allocUnsafe(bytes);
    for (let i = 0; i < bytes; i++) value[i] = random.int(256);
    return value;
  });
}

/** A date as a file-name-safe string, for result files. */
export function timestamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, "-");
}

/** `runtime` is the Node.js the self-started store and the floor run (`--runtime`, resolved by bench/runtime.ts). */
export async function runBenchmark(
  options: BenchOptions,
  log: (line: string) => void,
  runtime: ServerRuntime = hostRuntime(),
): Promise<{ report: BenchReport; path: string }> {
  const startedAt = new Date();
  const root = seededRandom(options.seed);
  const values = randomValues(DEFAULT_BENCH_OPTIONS.valuePoolSize, options.valueBytes, root.fork());
  log(`seed ${options.seed} (replay with --seed ${options.seed}); ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);

  if (runtime.source !== "host") log(describeRuntime(runtime));
  const store = options.urls
    ? externalStore(options.urls)
    : await startDevCluster({ nodes: options.nodes, log, peerTls: options.peerTls, runtime: runtime.path });
  const targets: Targets = { store, floor: undefined };
  // The processes whose CPU each side's runs are charged: a self-started cluster's supervisor tree (its nodes), the
  // floor's processes. A store given by --url is not measured.
  const storeRoots = store.pid === undefined ? [] : [store.pid];
  let floorRoots: number[] = [];
  const clients: DynamoClient[] = [];
  const stopAll = async (): Promise<void> => {
    for (const client of clients) client.close();
    await Promise.all([store.stop(), targets.floor?.stop()]);
  };
  const onSignal = (): void => {
    log("interrupted: stopping the clusters");
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    if (!options.skipFloor && options.baseline === "plaintext-peers") {
      // The "floor" columns then hold the same store with peer TLS off, measured right after the store each time.
      const plaintext = await startDevCluster({ nodes: options.nodes, log, peerTls: false, runtime: runtime.path });
      targets.floor = plaintext;
      floorRoots = plaintext.pid === undefined ? [] : [plaintext.pid];
      log(`baseline: the same store with plaintext peer ports at ${plaintext.urls.join(" ")} (the "floor" columns below)`);
    } else if (!options.skipFloor && options.baseline === "round-robin") {
      log(`baseline: the same cluster through a round-robin client (the "floor" columns below), before or after the ${options.clientRouting}-routed one in turn`);
    } else if (!options.skipFloor) {
      const floor = await startFloor({ nodes: options.nodes, valueBytes: options.valueBytes, runtime: runtime.path });
      targets.floor = floor;
      floorRoots = floor.pids;
      log(`floor: ${options.nodes} echo processes at ${floor.urls.join(" ")}`);
    }
    const sameCluster = !options.skipFloor && options.baseline === "round-robin";
    if (sameCluster) floorRoots = storeRoots;
    // The floor gets as many entry points as the store, so the client spreads its load the same way over both.
    const floorUrls = sameCluster ? store.urls : targets.floor?.urls.slice(0, Math.max(1, Math.min(store.urls.length, targets.floor.urls.length)));
    const clientOptions = { maxSockets: options.clients, timeoutMs: REQUEST_TIMEOUT_MS };
    const storeClientFor = async (urls: string[]): Promise<DynamoClient> => {
      const client = new DynamoClient(urls, { ...clientOptions, routing: options.clientRouting });
      clients.push(client);
      // A routing client learns the ring before it is measured; until then it would go round-robin.
      if (options.clientRouting === "ring") {
        await client.refreshRing();
        if (client.ringVersion === undefined) throw new Error(`could not fetch the ring from ${urls.join(", ")}`);
      }
      return client;
    };
    const storeClient = await storeClientFor(store.urls);
    const floorClient = floorUrls ? new DynamoClient(floorUrls, clientOptions) : undefined;
    if (floorClient) clients.push(floorClient);

    const runOptions = (seed: number): RunOptions => ({
      clients: options.clients,
      records: options.records,
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      values,
      random: seededRandom(seed),
    });
    // Updates read the key and write back with its context: the Dynamo-native update, on the floor as on the store.
    const target = (client: DynamoClient): KvTarget => dynamoTarget(client, options.bucket, "read-modify-write");
    // A baseline on the same cluster goes first every other time: whichever runs second meets nodes whose code the JIT
    // has compiled further and whose caches the first has filled, so a fixed order would count that for one side.
    let runsSoFar = 0;
    /** A run with the CPU its target's processes spent in the measured window, per operation completed in it. */
    const measured = async (roots: readonly number[], run: (target: KvTarget, runOpts: RunOptions) => Promise<RunResult>, client: DynamoClient, seed: number): Promise<RunResult> => {
      if (roots.length === 0) return run(target(client), runOptions(seed));
      const cpu = new CpuWindow(() => roots);
      const result = await run(target(client), { ...runOptions(seed), window: { onStart: () => cpu.start(), onEnd: () => cpu.end() } });
      const serverCpuMsPerOperation = cpuMsPerOperation(cpu.result.serverCpuSeconds, result.total.count);
      return serverCpuMsPerOperation === undefined ? result : { ...result, serverCpuMsPerOperation };
    };
    const both = async (label: string, run: (target: KvTarget, runOpts: RunOptions) => Promise<RunResult>, phaseClient = storeClient, baselineClient = floorClient) => {
      // Store and floor get the same seed, so they see the same key and operation sequence per client loop.
      const seed = root.int(2 ** 32);
      const runBaseline = async () => {
        const result = baselineClient ? await measured(floorRoots, run, baselineClient, seed) : undefined;
        if (result) [...runLines(`${label} floor`, result), ...cpuLine(`${label} floor`, result)].forEach((line) => log(line));
        return result;
      };
      const baselineFirst = sameCluster && runsSoFar++ % 2 === 1;
      let floorResult = baselineFirst ? await runBaseline() : undefined;
      const storeResult = await measured(storeRoots, run, phaseClient, seed);
      [...runLines(`${label} store`, storeResult), ...cpuLine(`${label} store`, storeResult)].forEach((line) => log(line));
      if (!baselineFirst) floorResult = await runBaseline();
      return { store: storeResult, floor: floorResult };
    };

    log(`load: ${options.records} records of ${options.valueBytes} bytes into bucket '${options.bucket}' with ${options.clients} clients`);
    const load = await both("[load]", loadRecords);
    const runs: BenchReport["runs"] = [];
    const comparison: ComparisonRow[] = [...compare("load", load.store, load.floor)];
    const cpu: CpuRow[] = [{ phase: "load", workload: "load", store: load.store.serverCpuMsPerOperation, floor: load.floor?.serverCpuMsPerOperation }];
    // Each side runs YCSB-A unmeasured until its CPU per operation stops falling, as bench:peers does: the store's nodes
    // start cold and keep compiling its read-modify-write path for tens of seconds, the floor's one small file for
    // less, so a short warm-up per workload would count the store's start-up against it in the first workload.
    const warmSide = async (side: string, client: DynamoClient | undefined, roots: readonly number[]): Promise<WarmupSlice[] | undefined> => {
      if (!client || options.systemWarmupSeconds === 0) return undefined;
      const { random, ...rest } = runOptions(root.int(2 ** 32));
      const slices = await warmUp(target(client), () => roots, rest, random, options.systemWarmupSeconds);
      log(`[warm-up] ${side}: YCSB-A unmeasured for ${describeWarmup({ round: 1, system: side, slices })} ms of server CPU per operation`);
      return slices;
    };
    const warmup = { store: (await warmSide("store", storeClient, storeRoots)) ?? [], floor: sameCluster ? undefined : await warmSide("floor", floorClient, floorRoots) };
    for (const phase of options.phases) {
      log(`phase ${phase.name}: ${phase.description}`);
      await phase.setUp(targets, log);
      // A phase that takes a node away sends the clients only to the nodes it leaves up.
      const phaseUrls = phase.storeUrls?.(targets);
      const phaseClient = phaseUrls ? await storeClientFor(phaseUrls) : storeClient;
      // A baseline on the same cluster sees the same condition: only the nodes the phase leaves up.
      const phaseBaseline = phaseUrls && sameCluster ? new DynamoClient(phaseUrls, clientOptions) : floorClient;
      if (phaseBaseline && phaseBaseline !== floorClient) clients.push(phaseBaseline);
      try {
        for (const workload of options.workloads) {
          // Rounds of one workload follow each other, store then baseline each time, so each ratio is of two windows a
          // few seconds apart; the table takes the median round.
          const results: { store: RunResult; floor: RunResult | undefined }[] = [];
          for (let round = 1; round <= options.rounds; round++) {
            const label = options.rounds > 1 ? `[${phase.name} ${round}/${options.rounds}]` : `[${phase.name}]`;
            const result = await both(label, (t, runOpts) => runWorkload(t, workload, runOpts), phaseClient, phaseBaseline);
            runs.push({ phase: phase.name, round, ...result });
            results.push(result);
          }
          comparison.push(...compareRounds(phase.name, results));
          cpu.push(cpuOfRounds(phase.name, workload.name, results));
        }
      } finally {
        await phase.tearDown(targets, log);
      }
    }

    const report: BenchReport = {
      startedAt: startedAt.toISOString(),
      seed: options.seed,
      options: {
        workloads: options.workloads.map((w) => w.name),
        phases: options.phases.map((p) => p.name),
        clients: options.clients,
        seconds: options.seconds,
        warmupSeconds: options.warmupSeconds,
        systemWarmupSeconds: options.systemWarmupSeconds,
        rounds: options.rounds,
        records: options.records,
        valueBytes: options.valueBytes,
        bucket: options.bucket,
        nodes: options.nodes,
        clientRouting: options.clientRouting,
        baseline: options.baseline,
      },
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        loadAverage: os.loadavg(),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
      },
      serverRuntime: { version: runtime.version, source: runtimeName(runtime) },
      store: { urls: store.urls, selfStarted: options.urls === undefined },
      load,
      warmup,
      runs,
      comparison,
      cpu,
    };
    log("");
    log(comparisonTable(comparison));
    const cpuBlock = cpuTable(cpu);
    if (cpuBlock) log(`\n${cpuBlock}`);
    const relative = phaseComparison(comparison);
    if (relative) log(`\n${relative}`);
    const dir = resolve(options.outDir);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `ycsb-${timestamp(startedAt)}.json`);
    writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
    return { report, path };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stopAll();
  }
}
