/** The command line of `npm run bench:peers`, parsed and checked once, with its defaults in one place. */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { RUNTIME_USAGE } from "../runtime.js";
import { numberFlag } from "../ycsb/options.js";
import { parseWorkloads, type Workload } from "../ycsb/workloads.js";
import { DEFAULT_SYSTEMS, SYSTEM_NAMES, type SystemName } from "./systems/system.js";

export const DEFAULT_PEERS_OPTIONS = {
  systems: DEFAULT_SYSTEMS.join(","),
  workloads: "A,B,C",
  rounds: 2,
  clients: 16,
  seconds: 20,
  /** Unmeasured seconds before each measurement, so every client's connections are open and busy. */
  warmupSeconds: 5,
  /**
   * After loading, each freshly started system runs YCSB-A unmeasured until its CPU per operation stops falling, at
   * most this long (see warmup.ts): the JVMs keep compiling for minutes on a busy two-core machine.
   */
  systemWarmupSeconds: 180,
  records: 10_000,
  valueBytes: 1024,
  /** Distinct random values written; enough that no system benefits from repeats. */
  valuePoolSize: 16,
  outDir: ".bench",
};

export interface PeersOptions {
  systems: SystemName[];
  workloads: Workload[];
  rounds: number;
  clients: number;
  seconds: number;
  warmupSeconds: number;
  systemWarmupSeconds: number;
  records: number;
  valueBytes: number;
  seed: number;
  /** Also measure every system with one node or member stopped. */
  downOne: boolean;
  /** Every system syncs each write to disk before acknowledging it. */
  durable: boolean;
  /** The Node.js the store's processes run (`--runtime`, resolved by bench/runtime.ts). */
  runtime: string;
  outDir: string;
}

const d = DEFAULT_PEERS_OPTIONS;

export const PEERS_USAGE = `usage: npm run bench:peers -- [flags]
  --systems LIST        systems to measure, in this order each round                 [${d.systems}]
  --workloads A,B,C     YCSB workloads (A 50/50 read/update, B 95/5, C read only)     [${d.workloads}]
  --rounds N            rounds; each starts, measures and stops every system in turn  [${d.rounds}]
  --clients N           concurrent closed-loop clients                                [${d.clients}]
  --seconds S           measured seconds per workload, after the warm-up              [${d.seconds}]
  --warmup-seconds S    unmeasured seconds before each measurement                    [${d.warmupSeconds}]
  --system-warmup-seconds S  at most this much unmeasured YCSB-A after each system's load, until its
                        CPU per operation stops falling; 0 for none                   [${d.systemWarmupSeconds}]
  --records N           records loaded before the workloads                           [${d.records}]
  --value-bytes N       size of each value                                            [${d.valueBytes}]
  --seed N              PRNG seed for keys, operations and values                     [random, printed]
  --down-one            also measure each system with one node or member killed
  --durable             make every system fsync each write before acknowledging it
  --runtime R           Node.js of the store's processes: ${RUNTIME_USAGE}  [host]
  --out DIR             where the Markdown and JSON results go                        [${d.outDir}]`;

export function parseSystems(list: string): SystemName[] {
  const names = list
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== "");
  if (names.length === 0) throw new Error("--systems is empty");
  for (const name of names) {
    if (!(SYSTEM_NAMES as readonly string[]).includes(name)) throw new Error(`unknown system '${name}': choose from ${SYSTEM_NAMES.join(", ")}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`--systems names a system twice: ${list}`);
  return names as SystemName[];
}

/** Parses argv; returns undefined when --help was asked for. Throws an Error with a one-line message on bad input. */
export function parsePeersOptions(argv: string[]): PeersOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      systems: { type: "string" },
      workloads: { type: "string" },
      rounds: { type: "string" },
      clients: { type: "string" },
      seconds: { type: "string" },
      "warmup-seconds": { type: "string" },
      "system-warmup-seconds": { type: "string" },
      records: { type: "string" },
      "value-bytes": { type: "string" },
      seed: { type: "string" },
      "down-one": { type: "boolean" },
      durable: { type: "boolean" },
      runtime: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  return {
    systems: parseSystems(values.systems ?? d.systems),
    workloads: parseWorkloads(values.workloads ?? d.workloads),
    rounds: numberFlag(values.rounds, "rounds", d.rounds, 1),
    clients: numberFlag(values.clients, "clients", d.clients, 1),
    seconds: numberFlag(values.seconds, "seconds", d.seconds, 0.1, false),
    warmupSeconds: numberFlag(values["warmup-seconds"], "warmup-seconds", d.warmupSeconds, 0, false),
    systemWarmupSeconds: numberFlag(values["system-warmup-seconds"], "system-warmup-seconds", d.systemWarmupSeconds, 0, false),
    records: numberFlag(values.records, "records", d.records, 1),
    valueBytes: numberFlag(values["value-bytes"], "value-bytes", d.valueBytes, 0),
    seed: numberFlag(values.seed, "seed", randomInt(0, 2 ** 32), 0),
    downOne: values["down-one"] ?? false,
    durable: values.durable ?? false,
    runtime: values.runtime ?? "host",
    outDir: values.out ?? d.outDir,
  };
}
