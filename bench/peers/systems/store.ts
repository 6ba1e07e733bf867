/**
 * Our store, started the way a user starts it: `dynamo dev --config FILE` (three nodes, from the compiled build, in a
 * temporary data directory on free loopback ports). Two ways to drive it:
 * - `store`: an `lww` bucket, n=3 r=2 w=2, updated with blind writes, which is what Cassandra, etcd and Redis
 *   clients do, so the comparison is like for like;
 * - `store-rmw`: the `default` siblings bucket, where an update reads the key and writes back with the returned
 *   context: the Dynamo-native update, two requests per update.
 * Both run the peer links over mutual TLS, as `dynamo dev` does by default. `store-plain` is `store` with the peer
 * links in plaintext (`--insecure-peer-plaintext`), as etcd, Cassandra and Redis run here: the difference between the
 * two rows is what the peer link's TLS costs.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DynamoClient } from "../../../client/index.js";
import { DYNAMO_CLI, REPO_ROOT } from "../../../lib/local-cluster.js";
import { runtimeName, type ServerRuntime } from "../../runtime.js";
import { startDevCluster } from "../../ycsb/store.js";
import { dynamoTarget, type DynamoUpdateMode } from "../../ycsb/target.js";
import { REQUEST_TIMEOUT_MS, type PeerSystem, type PreparedSystem, type RunningSystem, type StartContext } from "./system.js";

export const STORE_NODES = 3;
export const STORE_LWW_BUCKET = "bench_lww";

/** The `--config` file given to every node: the lww bucket, and fsync per write in durable mode. */
export function storeConfig(durable: boolean): { buckets: object[]; tuning: Record<string, unknown> } {
  return {
    buckets: [{ name: STORE_LWW_BUCKET, n: 3, r: 2, w: 2, reconciliation: "lww" }],
    tuning: { syncWrites: durable },
  };
}

function storeDurability(durable: boolean): string {
  return durable
    ? "LevelDB fsync before each write is acknowledged (tuning.syncWrites); acknowledged by w=2 of 3 replicas"
    : "LevelDB write without fsync (survives a process crash, not a power loss); acknowledged by w=2 of 3 replicas";
}

async function startStore(
  context: StartContext,
  bucket: string,
  updateMode: DynamoUpdateMode,
  label: string,
  peerTls: boolean,
  runtime: ServerRuntime,
): Promise<RunningSystem> {
  const configPath = join(context.workDir, "dynamo.json");
  writeFileSync(configPath, `${JSON.stringify(storeConfig(context.durable), null, 2)}\n`);
  const cluster = await startDevCluster({ nodes: STORE_NODES, log: context.log, config: configPath, peerTls, runtime: runtime.path });
  const clients: DynamoClient[] = [];
  const variantsFor = (urls: string[]) => {
    const client = new DynamoClient(urls, { maxSockets: context.clients, timeoutMs: REQUEST_TIMEOUT_MS });
    clients.push(client);
    return [{ label, target: dynamoTarget(client, bucket, updateMode) }];
  };
  return {
    variants: variantsFor(cluster.urls),
    rootPids: () => (cluster.pid === undefined ? [] : [cluster.pid]),
    async stopOne() {
      const result = await cluster.dev(["kill", String(STORE_NODES - 1)]);
      if (result.code !== 0) throw new Error(`dynamo dev kill ${STORE_NODES - 1} failed: ${result.stderr.trim()}`);
      return variantsFor(cluster.urls.slice(0, STORE_NODES - 1));
    },
    async stop() {
      for (const client of clients) client.close();
      await cluster.stop();
    },
  };
}

/** The package version, the commit the build came from and the Node.js it runs on, so a table says what it measured. */
function storeVersion(runtime: ServerRuntime): string {
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };
  const on = `on Node.js ${runtime.version}${runtime.source === "host" ? "" : ` (${runtimeName(runtime)})`}`;
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: REPO_ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return `store ${version} (${commit.trim()}) ${on}`;
  } catch {
    return `store ${version} ${on}`;
  }
}

function prepareStore(runtime: ServerRuntime, bucket: string, updateMode: DynamoUpdateMode, label: string, peerTls = true): Promise<PreparedSystem> {
  if (!existsSync(DYNAMO_CLI)) return Promise.reject(new Error(`${DYNAMO_CLI} is missing; run 'npm run build' first`));
  return Promise.resolve({ version: storeVersion(runtime), start: (context) => startStore(context, bucket, updateMode, label, peerTls, runtime) });
}

export const store: PeerSystem = {
  name: "store",
  setup: `${STORE_NODES}-node dynamo dev (peer port over mutual TLS), lww bucket n=3 r=2 w=2, blind updates`,
  durability: storeDurability,
  prepare: (_log, runtime) => prepareStore(runtime, STORE_LWW_BUCKET, "blind", "store"),
};

export const storeRmw: PeerSystem = {
  name: "store-rmw",
  setup: `${STORE_NODES}-node dynamo dev (peer port over mutual TLS), default (siblings) bucket n=3 r=2 w=2, update = read + write with its context`,
  durability: storeDurability,
  prepare: (_log, runtime) => prepareStore(runtime, "default", "read-modify-write", "store-rmw"),
};

export const storePlain: PeerSystem = {
  name: "store-plain",
  setup: `${STORE_NODES}-node dynamo dev with the peer ports in plaintext (--insecure-peer-plaintext), lww bucket n=3 r=2 w=2, blind updates`,
  durability: storeDurability,
  prepare: (_log, runtime) => prepareStore(runtime, STORE_LWW_BUCKET, "blind", "store-plain", false),
};
