/**
 * Apache Cassandra 5.0, three JVMs on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (the seed first), RF=3 with
 * NetworkTopologyStrategy, QUORUM reads and writes through prepared statements and token-aware routing
 * (cassandra-driver). The server is `org.apache.cassandra:cassandra-all` and its runtime dependencies from Maven
 * Central, fetched once by `mvn dependency:copy-dependencies` into ~/.cache/dynamo-peers (DYNAMO_PEERS_CACHE
 * overrides it) and run on the machine's Java 17 with the flags Cassandra's own start script would give it.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import cassandra from "cassandra-driver";
import { freePortBlock } from "../../../lib/local-cluster.js";
import { genericErrorKind, RecordMissingError, snakeCase, type KvTarget } from "../../ycsb/target.js";
import { ManagedProcess, sleep, waitForPort } from "../processes.js";
import {
  CASSANDRA_DATACENTER,
  CASSANDRA_KEYSPACE,
  CASSANDRA_TABLE,
  CASSANDRA_VERSION,
  cassandraJvmArgs,
  cassandraLogback,
  cassandraPom,
  cassandraSchema,
  cassandraYaml,
} from "./cassandra-config.js";
import { REQUEST_TIMEOUT_MS, START_TIMEOUT_MS, type PeerSystem, type RunningSystem, type StartContext } from "./system.js";

const run = promisify(execFile);
const ADDRESSES = ["127.0.0.1", "127.0.0.2", "127.0.0.3"] as const;
const JAVA_MAJOR_MIN = 17;
const STAMP = ".complete";

export function peersCacheRoot(): string {
  return process.env.DYNAMO_PEERS_CACHE ?? join(os.homedir(), ".cache", "dynamo-peers");
}

/** `java -version` prints `openjdk version "17.0.15" 2025-04-15` (or `"1.8.0_392"` for Java 8) on stderr. */
export function parseJavaMajor(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

/**
 * The jars of cassandra-all and its runtime dependencies, fetched with Maven into the cache on first use. They are
 * copied into a temporary directory and renamed into place with a stamp only when Maven succeeded, so an interrupted
 * fetch never looks complete.
 */
async function cassandraLib(log: (line: string) => void): Promise<string> {
  const home = join(peersCacheRoot(), `cassandra-${CASSANDRA_VERSION}`);
  const lib = join(home, "lib");
  if (existsSync(join(home, STAMP))) return lib;
  try {
    await run("mvn", ["-v"]);
  } catch {
    throw new Error("Maven (mvn) is needed to fetch Cassandra from Maven Central; install it (apt-get install maven)");
  }
  log(`cassandra: fetching cassandra-all ${CASSANDRA_VERSION} and its dependencies from Maven Central into ${home}`);
  mkdirSync(peersCacheRoot(), { recursive: true });
  const work = mkdtempSync(join(peersCacheRoot(), `.cassandra-${CASSANDRA_VERSION}-`));
  try {
    writeFileSync(join(work, "pom.xml"), cassandraPom());
    const args = ["-B", "-q", "-f", join(work, "pom.xml"), "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${join(work, "lib")}`];
    await run("nice", ["-n", "19", "mvn", ...args], { maxBuffer: 64 * 1024 * 1024 });
    writeFileSync(join(work, STAMP), `cassandra-all=${CASSANDRA_VERSION}\n`);
    rmSync(home, { recursive: true, force: true });
    renameSync(work, home);
  } catch (error) {
    rmSync(work, { recursive: true, force: true });
    const output = (error as { stdout?: string }).stdout ?? "";
    throw new Error(`fetching Cassandra with Maven failed: ${(error as Error).message}\n${output.slice(-2_000)}`);
  }
  return lib;
}

const ERROR_CODE_NAMES = new Map<number, string>(
  Object.entries(cassandra.types.responseErrorCodes)
    .filter((entry): entry is [string, number] => typeof entry[1] === "number")
    .map(([name, code]) => [code, snakeCase(name)]),
);

/** Server errors by their protocol code's name (`unavailable_exception`, `write_timeout`, ...); driver errors by class. */
export function cassandraErrorKind(error: unknown): string {
  if (error instanceof cassandra.errors.ResponseError) return ERROR_CODE_NAMES.get(error.code) ?? `response_${error.code}`;
  return genericErrorKind(error);
}

const READ = `SELECT field0 FROM ${CASSANDRA_KEYSPACE}.${CASSANDRA_TABLE} WHERE y_id = ?`;
const INSERT = `INSERT INTO ${CASSANDRA_KEYSPACE}.${CASSANDRA_TABLE} (y_id, field0) VALUES (?, ?)`;
const UPDATE = `UPDATE ${CASSANDRA_KEYSPACE}.${CASSANDRA_TABLE} SET field0 = ? WHERE y_id = ?`;

function cassandraTarget(client: cassandra.Client): KvTarget {
  return {
    async read(key) {
      if ((await client.execute(READ, [key])).rowLength === 0) throw new RecordMissingError(key);
    },
    async insert(key, value) {
      await client.execute(INSERT, [key, value]);
    },
    async update(key, value) {
      await client.execute(UPDATE, [value, key]);
    },
    errorKind: cassandraErrorKind,
  };
}

function newClient(nativePort: number): cassandra.Client {
  const { DCAwareRoundRobinPolicy, TokenAwarePolicy } = cassandra.policies.loadBalancing;
  return new cassandra.Client({
    contactPoints: [...ADDRESSES],
    localDataCenter: CASSANDRA_DATACENTER,
    protocolOptions: { port: nativePort },
    policies: { loadBalancing: new TokenAwarePolicy(new DCAwareRoundRobinPolicy(CASSANDRA_DATACENTER)) },
    queryOptions: { consistency: cassandra.types.consistencies.quorum, prepare: true },
    socketOptions: { readTimeout: REQUEST_TIMEOUT_MS, connectTimeout: REQUEST_TIMEOUT_MS },
  });
}

/** Resolves once the driver sees every node up. */
async function waitForNodes(client: cassandra.Client, count: number, deadline: number): Promise<void> {
  for (;;) {
    const up = client.hosts.values().filter((host) => host.isUp()).length;
    if (up >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${up} of ${count} Cassandra nodes are up`);
    await sleep(500);
  }
}

async function startCassandra(lib: string, context: StartContext): Promise<RunningSystem> {
  const jars = readdirSync(lib).filter((name) => name.endsWith(".jar")).sort();
  const basePort = await freePortBlock(2, ADDRESSES);
  const ports = { storage: basePort, native: basePort + 1 };
  const processes: ManagedProcess[] = [];
  let client: cassandra.Client | undefined;
  const stop = async (): Promise<void> => {
    await client?.shutdown();
    await Promise.all(processes.map((p) => p.stop(20_000)));
  };
  const startNode = async (index: number): Promise<ManagedProcess> => {
    const address = ADDRESSES[index]!;
    const dir = join(context.workDir, `node${index + 1}`);
    for (const sub of ["data", "commitlog", "saved_caches", "hints", "cdc_raw", "logs", "triggers"]) mkdirSync(join(dir, sub), { recursive: true });
    const yamlPath = join(dir, "cassandra.yaml");
    const logbackPath = join(dir, "logback.xml");
    writeFileSync(
      yamlPath,
      cassandraYaml({ clusterName: "dynamo-bench", address, seed: ADDRESSES[0], storagePort: ports.storage, nativePort: ports.native, dir, durable: context.durable }),
    );
    writeFileSync(logbackPath, cassandraLogback(join(dir, "logs", "system.log")));
    const managed = await ManagedProcess.spawn({
      name: `cassandra-${index + 1}`,
      command: "java",
      args: [...cassandraJvmArgs({ libDir: lib, jars, yamlPath, logbackPath, dir }), `-Dcassandra.triggers_dir=${dir}/triggers`],
      logFile: join(dir, "logs", "stdout.log"),
      // As Cassandra's start script does: fewer glibc malloc arenas keep the native footprint of many threads small.
      env: { ...process.env, MALLOC_ARENA_MAX: "4" },
    });
    processes.push(managed);
    await waitForPort(managed, address, ports.native, START_TIMEOUT_MS);
    return managed;
  };
  try {
    const started = Date.now();
    // The seed first; the others join through it, one after the other, as a new cluster is meant to be started.
    for (let index = 0; index < ADDRESSES.length; index++) await startNode(index);
    client = newClient(ports.native);
    await client.connect();
    await waitForNodes(client, ADDRESSES.length, Date.now() + START_TIMEOUT_MS);
    for (const statement of cassandraSchema()) await client.execute(statement, [], { prepare: false });
    context.log(`cassandra: ${ADDRESSES.length} nodes on ${ADDRESSES.join(" ")} (CQL port ${ports.native}), up in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const target = cassandraTarget(client);
    return {
      variants: [{ label: "cassandra", target }],
      rootPids: () => processes.map((p) => p.pid),
      async stopOne() {
        await processes[ADDRESSES.length - 1]!.crash();
        // The driver notices the closed connections and routes around the node; a new client would do no better.
        return [{ label: "cassandra", target }];
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export const cassandraSystem: PeerSystem = {
  name: "cassandra",
  setup: "3 Cassandra JVMs (127.0.0.1-3), RF=3 NetworkTopologyStrategy, QUORUM reads and writes, prepared, token-aware",
  durability: (durable) =>
    durable
      ? "commit log in batch mode (fsync before each write is acknowledged); QUORUM = 2 of 3 replicas"
      : "commit log fsynced every 10 s (periodic, Cassandra's default); QUORUM = 2 of 3 replicas",
  async prepare(log) {
    let javaOutput: string;
    try {
      javaOutput = (await run("java", ["-version"])).stderr;
    } catch {
      throw new Error(`Java ${JAVA_MAJOR_MIN} is needed to run Cassandra; install it (apt-get install openjdk-17-jre-headless)`);
    }
    const major = parseJavaMajor(javaOutput);
    if (major === undefined || major < JAVA_MAJOR_MIN) throw new Error(`Cassandra ${CASSANDRA_VERSION} needs Java ${JAVA_MAJOR_MIN}; java -version says:\n${javaOutput}`);
    const lib = await cassandraLib(log);
    log(`cassandra: ${CASSANDRA_VERSION} from ${lib} on Java ${major}`);
    return { version: `Cassandra ${CASSANDRA_VERSION} (Java ${major})`, start: (context) => startCassandra(lib, context) };
  },
};
