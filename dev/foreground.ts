/**
 * `dynamo dev` in the foreground: starts the local cluster's nodes under a supervisor, serves its control API, and
 * stops everything on Ctrl-C.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { UsageError } from "../lib/command-line.js";
import { loadNodeConfig } from "../node/config/index.js";
import { DynamoError } from "../node/errors/index.js";
import { DEFAULT_PARTITIONS, isPowerOfTwo, zoneName } from "../node/ring/index.js";
import { startControlServer } from "./control.js";
import type { DevFlags } from "./main.js";
import { processAlive, readDevState } from "./state.js";
import { DevCluster } from "./supervisor.js";

const HOST = "127.0.0.1";

export async function runForeground(dataDir: string, flags: DevFlags): Promise<number> {
  // Everything the cluster writes (data, logs, token, certificates, dev.json) is for its owner's eyes only.
  process.umask(0o077);
  const running = readDevState(dataDir);
  if (running && processAlive(running.pid)) {
    throw new DynamoError("invalid_request", `a local cluster is already running from ${dataDir} (pid ${running.pid}); stop it with Ctrl-C or use 'dynamo dev status'`);
  }
  const configPath = flags.config;
  const config = loadNodeConfig(configPath);
  const remembered = readClusterFile(dataDir);
  const requested = flags.nodes ?? remembered?.nodes ?? 3;
  const nodes = remembered && flags.nodes !== undefined && requested !== remembered.nodes ? remembered.nodes : requested;
  if (nodes !== requested) {
    process.stderr.write(`dev: ${dataDir} holds a ${remembered!.nodes}-node cluster; starting it as it is (change its size with 'dynamo dev scale N')\n`);
  }
  const partitions = flags.partitions ?? remembered?.partitions ?? DEFAULT_PARTITIONS;
  if (!isPowerOfTwo(partitions)) throw new UsageError(`--partitions must be a power of two, got ${partitions}`);
  const basePort = flags.basePort;
  if (basePort + 2 * nodes - 1 > 65535) throw new UsageError(`--base-port ${basePort} leaves no room for ${nodes} nodes`);
  const targetN = Math.max(...[...config.buckets.values()].map((b) => b.n));
  const zones = zonesFlag(flags.zones, remembered?.zones);

  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} dev ${message}\n`);
  const cluster = new DevCluster({
    nodes,
    basePort,
    dataDir,
    configPath: configPath && resolve(configPath),
    host: HOST,
    targetN,
    partitions,
    log,
    onScale: (count) => writeClusterFile(dataDir, { nodes: count, partitions, ...(zones.length ? { zones } : {}) }),
    zones,
    peerTls: flags.insecurePeerPlaintext !== true,
    clientTls: flags.clientTls === true,
  });
  const { server, url } = await startControlServer(cluster, HOST, log);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log("stopping all nodes...");
      await cluster.stopAll();
      server.close();
      log("stopped");
    })();
    return stopping;
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
  process.once("SIGHUP", () => void stop());
  try {
    const ring = await cluster.start();
    cluster.setControlUrl(url);
    writeClusterFile(dataDir, { nodes, partitions, ...(zones.length ? { zones } : {}) });
    printWelcome(cluster, ring.epoch, dataDir);
  } catch (err) {
    // A start that failed because Ctrl-C or SIGTERM stopped it is a stop like any other, not an error to report.
    const stoppedBySignal = stopping !== undefined;
    await stop();
    if (stoppedBySignal) return 0;
    throw err;
  }
  await new Promise<void>((resolveWait) => {
    const poll = setInterval(() => {
      if (stopping) {
        clearInterval(poll);
        void stopping.then(resolveWait);
      }
    }, 100);
  });
  return 0;
}

function printWelcome(cluster: DevCluster, epoch: number, dataDir: string): void {
  const first = cluster.clientUrl(cluster.node(0));
  const ca = cluster.clientCaPath;
  const curl = ca ? `curl --cacert ${ca}` : "curl";
  const lines = [
    `Local Dynamo cluster: ${cluster.size} nodes, ring epoch ${epoch}, data in ${dataDir}`,
    ...Array.from({ length: cluster.size }, (_, i) => {
      const zone = cluster.node(i).zone;
      return `  node-${i}  clients ${cluster.clientUrl(cluster.node(i))}  peers ${cluster.peerUrl(cluster.node(i))}${zone !== undefined ? `  zone ${zone}` : ""}`;
    }),
    "",
    "Try it:",
    `  ${curl} -i -X PUT --data-binary 'hello' -H 'Content-Type: text/plain' ${first}/v1/kv/default/greeting`,
    `  ${curl} -i ${first}/v1/kv/default/greeting`,
    `  ${curl} -s ${first}/v1/cluster`,
    `  npx dynamo get default greeting        # or put / delete${ca ? " (the CLI finds the CA through dev.json)" : ""}`,
    "  npx dynamo dev status                  # or: scale N, kill I, restart I, restart --rolling, replace I",
    "",
    "Ctrl-C stops every node; run it again and your data is still there.",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

interface ClusterFile {
  nodes: number;
  partitions: number;
  /** The zones of `--zones`, remembered so a restart and `dynamo dev scale` keep assigning them round-robin. */
  zones?: string[];
}

/**
 * `--zones a,b,c`: the zones nodes are started in, round-robin by node index. Without the flag, the zones the data
 * directory's cluster was started with; `--zones ''` starts nodes without a zone (the ring keeps the zones it recorded).
 */
function zonesFlag(value: string | undefined, remembered: string[] | undefined): string[] {
  if (value === undefined) return remembered ?? [];
  const zones = value.split(",").map((z) => z.trim()).filter(Boolean);
  for (const zone of zones) {
    if (!zoneName.safeParse(zone).success) throw new UsageError(`--zones: '${zone}' is not a zone name (1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit)`);
  }
  if (new Set(zones).size !== zones.length) throw new UsageError(`--zones names a zone twice: ${value}`);
  return zones;
}

function readClusterFile(dataDir: string): ClusterFile | undefined {
  const path = join(dataDir, "cluster.json");
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as ClusterFile;
}

function writeClusterFile(dataDir: string, file: ClusterFile): void {
  writeFileSync(join(dataDir, "cluster.json"), JSON.stringify(file, null, 2) + "\n");
}
