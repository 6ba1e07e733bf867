/**
 * `npm run bench:profile`: the store's CPU per operation by process, and with `--cpu-prof DIR` the nodes' CPU profiles
 * cut to each measured window, as flame graphs and tables of microseconds per operation (see docs/performance.md).
 * Exit codes: 0 ok, 1 the run failed, 2 bad usage.
 */
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";
import { runProfile, type ProfileOptions } from "./profile/run.js";
import { resolveRuntimeFlag, RUNTIME_USAGE } from "./runtime.js";
import { numberFlag } from "./ycsb/options.js";
import { stopAllDevClusters } from "./ycsb/store.js";
import { parseWorkloads } from "./ycsb/workloads.js";

const USAGE = `usage: npm run bench:profile -- [options]
  --workloads A,C       YCSB workloads to run, in order                          [A,C]
  --bucket lww|siblings lww: blind updates on an lww bucket (bench:peers' store);
                        siblings: the default bucket, read-modify-write updates  [lww]
  --clients N           closed-loop clients                                      [16]
  --seconds S           measured seconds per workload                            [20]
  --warmup-seconds S    unmeasured seconds before each workload                  [10]
  --records N           records loaded first                                     [10000]
  --value-bytes N       bytes per value                                          [1024]
  --seed N              seed of keys, operations and values                      [random]
  --cpu-prof DIR        profile the nodes; write flame graphs and tables to DIR
  --rss-every S         sample each process's resident memory every S seconds
  --peer-tls on|off     mutual TLS on the peer ports                             [on]
  --node-arg FLAG       a Node.js flag for the cluster's processes (repeatable)
  --runtime R           Node.js of the cluster's processes: ${RUNTIME_USAGE}  [host]
  --tuning JSON         tuning keys for the nodes, e.g. '{"readRepairChance":0}', to measure what a feature costs
  --r N                 the lww bucket's read quorum (1 reads one replica: no peer hop)       [2]`;

function parse(argv: string[]): ProfileOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      workloads: { type: "string", default: "A,C" },
      bucket: { type: "string", default: "lww" },
      clients: { type: "string" },
      seconds: { type: "string" },
      "warmup-seconds": { type: "string" },
      records: { type: "string" },
      "value-bytes": { type: "string" },
      seed: { type: "string" },
      "cpu-prof": { type: "string" },
      "rss-every": { type: "string" },
      "peer-tls": { type: "string", default: "on" },
      "node-arg": { type: "string", multiple: true },
      runtime: { type: "string", default: "host" },
      tuning: { type: "string", default: "{}" },
      r: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return undefined;
  if (values.bucket !== "lww" && values.bucket !== "siblings") throw new Error(`--bucket must be lww or siblings, got '${values.bucket}'`);
  if (values["peer-tls"] !== "on" && values["peer-tls"] !== "off") throw new Error(`--peer-tls must be on or off`);
  let tuning: unknown;
  try {
    tuning = JSON.parse(values.tuning);
  } catch (error) {
    throw new Error(`--tuning must be a JSON object: ${(error as Error).message}`);
  }
  if (typeof tuning !== "object" || tuning === null || Array.isArray(tuning)) throw new Error(`--tuning must be a JSON object, got '${values.tuning}'`);
  if (values.r !== undefined && values.bucket !== "lww") throw new Error("--r sets the lww bucket's quorum; it needs --bucket lww");
  return {
    workloads: parseWorkloads(values.workloads),
    bucket: values.bucket,
    clients: numberFlag(values.clients, "clients", 16, 1),
    seconds: numberFlag(values.seconds, "seconds", 20, 1),
    warmupSeconds: numberFlag(values["warmup-seconds"], "warmup-seconds", 10, 0),
    records: numberFlag(values.records, "records", 10_000, 1),
    valueBytes: numberFlag(values["value-bytes"], "value-bytes", 1024, 0),
    seed: numberFlag(values.seed, "seed", randomInt(2 ** 31), 0),
    profileDir: values["cpu-prof"],
    rssEverySeconds: values["rss-every"] === undefined ? undefined : numberFlag(values["rss-every"], "rss-every", 10, 1),
    peerTls: values["peer-tls"] === "on",
    nodeArgs: values["node-arg"] ?? [],
    runtime: values.runtime,
    tuning: tuning as Record<string, unknown>,
    r: values.r === undefined ? undefined : numberFlag(values.r, "r", 2, 1),
  };
}

async function main(argv: string[]): Promise<number> {
  let options: ProfileOptions | undefined;
  try {
    options = parse(argv);
  } catch (error) {
    process.stderr.write(`bench:profile: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const runtime = await resolveRuntimeFlag(options.runtime, "bench:profile", (line) => process.stdout.write(`${line}\n`));
  if (runtime === undefined) return 2;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void stopAllDevClusters().finally(() => process.exit(130)));
  }
  const changed = [...(Object.keys(options.tuning).length > 0 ? [`tuning ${JSON.stringify(options.tuning)}`] : []), ...(options.r !== undefined ? [`r=${options.r}`] : [])];
  process.stdout.write(`seed ${options.seed}; load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")}${changed.length > 0 ? `; ${changed.join(", ")}` : ""}\n`);
  try {
    await runProfile(options, (line) => process.stdout.write(`${line}\n`), runtime);
    return 0;
  } catch (error) {
    process.stderr.write(`bench:profile: ${(error as Error).stack ?? String(error)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
