/** The benchmark's command line, parsed and checked once, with its defaults in one place. */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { RUNTIME_USAGE } from "../runtime.js";
import { parsePhases, type Phase } from "./phases.js";
import { parseWorkloads, type Workload } from "./workloads.js";

export const DEFAULT_BENCH_OPTIONS = {
  workloads: "A,B,C",
  phases: "healthy,one-node-down",
  clients: 16,
  seconds: 10,
  warmupSeconds: 1,
  systemWarmupSeconds: 60,
  rounds: 1,
  records: 10_000,
  valueBytes: 1024,
  bucket: "default",
  nodes: 3,
  /** Distinct random values written; enough that the store cannot benefit from repeats, small enough to keep. */
  valuePoolSize: 16,
  outDir: ".bench",
};

export interface BenchOptions {
  workloads: Workload[];
  phases: Phase[];
  clients: number;
  seconds: number;
  warmupSeconds: number;
  /**
   * At most this much unmeasured YCSB-A against each side after the load, until its CPU per operation stops falling
   * (bench/peers/warmup.ts, as `npm run bench:peers` does); 0 for none.
   */
  systemWarmupSeconds: number;
  /** Measurements of each workload in each phase, store then baseline each time; the table reports the median. */
  rounds: number;
  records: number;
  valueBytes: number;
  bucket: string;
  /** The store's client URLs; undefined to start a local cluster. */
  urls: string[] | undefined;
  seed: number;
  skipFloor: boolean;
  /**
   * What the store is measured against: the floor, or the same store with its peer ports in plaintext (to see what
   * peer TLS costs, side by side in one run).
   */
  baseline: "floor" | "plaintext-peers" | "round-robin";
  /** Nodes of the self-started store (and of the floor). */
  nodes: number;
  /** How the measured store's client picks a node for each request (client/routing.ts). */
  clientRouting: "round-robin" | "ring";
  /** Mutual TLS on the measured store's peer ports (on by default, as in every cluster). */
  peerTls: boolean;
  /** The Node.js the self-started store and the floor run (`--runtime`, resolved by bench/runtime.ts). */
  runtime: string;
  outDir: string;
}

export const BENCH_USAGE = `usage: npm run bench -- [flags]
  --workloads A,B,C     YCSB workloads to run (A 50/50 read/update, B 95/5, C read only)   [${DEFAULT_BENCH_OPTIONS.workloads}]
  --phases LIST         conditions to run them under                                        [${DEFAULT_BENCH_OPTIONS.phases}]
  --clients N           concurrent closed-loop clients                                      [${DEFAULT_BENCH_OPTIONS.clients}]
  --seconds S           measured seconds per workload, after the warm-up                    [${DEFAULT_BENCH_OPTIONS.seconds}]
  --warmup-seconds S    unmeasured seconds before each workload                             [${DEFAULT_BENCH_OPTIONS.warmupSeconds}]
  --system-warmup-seconds S  at most this much unmeasured YCSB-A against each side after the
                        load, until its CPU per operation stops falling; 0 for none          [${DEFAULT_BENCH_OPTIONS.systemWarmupSeconds}]
  --rounds N            measure each workload N times, store then baseline each time, and
                        report the round with the median ratio and every round's ratio       [${DEFAULT_BENCH_OPTIONS.rounds}]
  --records N           records loaded before the workloads                                 [${DEFAULT_BENCH_OPTIONS.records}]
  --value-bytes N       size of each value                                                  [${DEFAULT_BENCH_OPTIONS.valueBytes}]
  --bucket NAME         bucket to use                                                       [${DEFAULT_BENCH_OPTIONS.bucket}]
  --url URL[,URL...]    an already running store (default: start a ${DEFAULT_BENCH_OPTIONS.nodes}-node 'dynamo dev' cluster)
  --seed N              PRNG seed for keys, operations and values                           [random, printed]
  --skip-floor          measure the store only
  --nodes N             nodes of the self-started store and of the floor                    [${DEFAULT_BENCH_OPTIONS.nodes}]
  --client-routing R    round-robin, or ring: send each request straight to a replica        [round-robin]
  --baseline B          floor; plaintext-peers: the same store with peer TLS off; round-robin: the same
                        cluster through a round-robin client (with --client-routing ring)    [floor]
  --peer-tls on|off     mutual TLS on the measured store's peer ports                       [on]
  --runtime R           Node.js of the self-started store and the floor: ${RUNTIME_USAGE}  [host]
  --out DIR             where the JSON results go                                           [${DEFAULT_BENCH_OPTIONS.outDir}]`;

/** A numeric flag's value, or `fallback` when absent; throws a one-line message naming the flag when it is bad. */
export function numberFlag(raw: string | undefined, name: string, fallback: number, min: number, integer = true): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be ${integer ? "an integer" : "a number"} of at least ${min}, got '${raw}'`);
  }
  return value;
}

/** Parses argv; returns undefined when --help was asked for. Throws an Error with a one-line message on bad input. */
export function parseBenchOptions(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      workloads: { type: "string" },
      phases: { type: "string" },
      clients: { type: "string" },
      seconds: { type: "string" },
      "warmup-seconds": { type: "string" },
      "system-warmup-seconds": { type: "string" },
      rounds: { type: "string" },
      records: { type: "string" },
      "value-bytes": { type: "string" },
      bucket: { type: "string" },
      url: { type: "string" },
      seed: { type: "string" },
      "skip-floor": { type: "boolean" },
      baseline: { type: "string" },
      nodes: { type: "string" },
      "client-routing": { type: "string" },
      "peer-tls": { type: "string" },
      runtime: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return undefined;
  const baseline = values.baseline ?? "floor";
  if (baseline !== "floor" && baseline !== "plaintext-peers" && baseline !== "round-robin") {
    throw new Error(`--baseline must be floor, plaintext-peers or round-robin, got '${baseline}'`);
  }
  const clientRouting = values["client-routing"] ?? "round-robin";
  if (clientRouting !== "round-robin" && clientRouting !== "ring") throw new Error(`--client-routing must be round-robin or ring, got '${clientRouting}'`);
  const peerTls = values["peer-tls"] ?? "on";
  if (peerTls !== "on" && peerTls !== "off") throw new Error(`--peer-tls must be on or off, got '${peerTls}'`);
  const d = DEFAULT_BENCH_OPTIONS;
  const urls = values.url
    ?.split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "");
  return {
    workloads: parseWorkloads(values.workloads ?? d.workloads),
    phases: parsePhases(values.phases ?? d.phases),
    clients: numberFlag(values.clients, "clients", d.clients, 1),
    seconds: numberFlag(values.seconds, "seconds", d.seconds, 0.1, false),
    warmupSeconds: numberFlag(values["warmup-seconds"], "warmup-seconds", d.warmupSeconds, 0, false),
    systemWarmupSeconds: numberFlag(values["system-warmup-seconds"], "system-warmup-seconds", d.systemWarmupSeconds, 0, false),
    rounds: numberFlag(values.rounds, "rounds", d.rounds, 1),
    records: numberFlag(values.records, "records", d.records, 1),
    valueBytes: numberFlag(values["value-bytes"], "value-bytes", d.valueBytes, 0),
    bucket: values.bucket ?? d.bucket,
    urls: urls === undefined || urls.length === 0 ? undefined : urls,
    seed: numberFlag(values.seed, "seed", randomInt(0, 2 ** 32), 0),
    skipFloor: values["skip-floor"] ?? false,
    baseline,
    nodes: numberFlag(values.nodes, "nodes", d.nodes, 3),
    clientRouting,
    peerTls: peerTls === "on",
    runtime: values.runtime ?? "host",
    outDir: values.out ?? d.outDir,
  };
}
