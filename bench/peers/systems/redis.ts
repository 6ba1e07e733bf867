/**
 * Redis 7, one process from Debian's `redis-server` package (installed with apt-get when missing; the package starts
 * no daemon on a machine without an init system, and the harness runs its own on a free port in any case). No
 * replication and, unless `--durable`, no persistence: the ceiling of one key-value hop on this machine, not a
 * like-for-like replicated store.
 * Client: ioredis, one connection, which pipelines concurrent commands.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis, ReplyError } from "ioredis";
import { freePortBlock } from "../../../lib/local-cluster.js";
import { genericErrorKind, RecordMissingError, type KvTarget } from "../../ycsb/target.js";
import { ManagedProcess, waitForPort } from "../processes.js";
import { REQUEST_TIMEOUT_MS, START_TIMEOUT_MS, type PeerSystem, type RunningSystem, type StartContext } from "./system.js";

const run = promisify(execFile);
const HOST = "127.0.0.1";
const REDIS_MAJOR_MIN = 7;
/** apt-get waits this long for another apt or dpkg run on the machine to release its lock. */
const APT_LOCK_TIMEOUT_S = 600;

/** redis.conf: loopback only, foreground, data in `dir`; memory only, or an AOF fsynced on every write. */
export function redisConfig(options: { port: number; dir: string; durable: boolean }): string {
  const persistence = options.durable ? ["appendonly yes", "appendfsync always"] : ["appendonly no"];
  return [
    `bind ${HOST}`,
    `port ${options.port}`,
    "protected-mode yes",
    "daemonize no",
    `dir ${options.dir}`,
    // No RDB snapshots in either mode: a fork every few minutes would land inside some measured windows and not others.
    'save ""',
    ...persistence,
    'logfile ""',
    "",
  ].join("\n");
}

/** The major version from `redis-server --version` ("Redis server v=7.0.15 sha=..."), or undefined. */
export function parseRedisVersion(output: string): { major: number; version: string } | undefined {
  const match = /\bv=(\d+)\.(\d+)\.(\d+)/.exec(output);
  return match ? { major: Number(match[1]), version: `${match[1]}.${match[2]}.${match[3]}` } : undefined;
}

async function redisVersion(): Promise<{ major: number; version: string } | undefined> {
  try {
    const { stdout } = await run("redis-server", ["--version"]);
    return parseRedisVersion(stdout);
  } catch {
    return undefined;
  }
}

async function aptInstall(log: (line: string) => void): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("redis-server is missing; install it (apt-get install redis-server) or run as root");
  const install = () =>
    run("apt-get", ["install", "-y", "--no-install-recommends", "-o", `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`, "redis-server"], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      maxBuffer: 16 * 1024 * 1024,
    });
  log("redis: redis-server is missing; installing it with apt-get");
  try {
    await install();
  } catch {
    // A fresh machine's package lists may be empty or stale.
    log("redis: apt-get install failed; running apt-get update and trying again");
    await run("apt-get", ["update", "-o", `DPkg::Lock::Timeout=${APT_LOCK_TIMEOUT_S}`], { maxBuffer: 16 * 1024 * 1024 });
    await install();
  }
}

export function redisErrorKind(error: unknown): string {
  if (error instanceof ReplyError) return `reply_${((error as Error).message.split(" ")[0] ?? "error").toLowerCase()}`;
  if (error instanceof Error && error.message === "Command timed out") return "timeout";
  return genericErrorKind(error);
}

function redisTarget(client: Redis): KvTarget {
  return {
    async read(key) {
      if ((await client.getBuffer(key)) === null) throw new RecordMissingError(key);
    },
    async insert(key, value) {
      await client.set(key, value);
    },
    async update(key, value) {
      await client.set(key, value);
    },
    errorKind: redisErrorKind,
  };
}

async function startRedis(context: StartContext): Promise<RunningSystem> {
  const port = await freePortBlock(1);
  const configPath = join(context.workDir, "redis.conf");
  writeFileSync(configPath, redisConfig({ port, dir: context.workDir, durable: context.durable }));
  const server = await ManagedProcess.spawn({
    name: "redis",
    command: "redis-server",
    args: [configPath],
    logFile: join(context.workDir, "redis.log"),
  });
  try {
    await waitForPort(server, HOST, port, START_TIMEOUT_MS);
    const client = new Redis({ host: HOST, port, commandTimeout: REQUEST_TIMEOUT_MS, lazyConnect: true });
    await client.connect();
    context.log(`redis: one process on ${HOST}:${port}`);
    return {
      variants: [{ label: "redis", target: redisTarget(client) }],
      rootPids: () => [server.pid],
      async stop() {
        client.disconnect();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

export const redis: PeerSystem = {
  name: "redis",
  setup: "one redis-server process (no replication), ioredis on one pipelined connection",
  durability: (durable) =>
    durable ? "AOF with appendfsync always (fsync before each reply); one copy" : "memory only (no RDB, no AOF); one copy",
  async prepare(log) {
    let version = await redisVersion();
    if (version === undefined) {
      await aptInstall(log);
      version = await redisVersion();
    }
    if (version === undefined) throw new Error("redis-server is still missing after apt-get install redis-server");
    if (version.major < REDIS_MAJOR_MIN) throw new Error(`redis-server ${version.version} is too old; Redis ${REDIS_MAJOR_MIN} or newer is needed`);
    log(`redis: redis-server ${version.version}`);
    return { version: `Redis ${version.version}`, start: startRedis };
  },
};
