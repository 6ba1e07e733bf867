/**
 * `dynamo node`: parses flags (each also DYNAMO_<FLAG>), builds a StorageNode, runs it until SIGTERM or SIGINT, and
 * then stops it cleanly so the store is closed and in-flight requests finish.
 */
import { hostname } from "node:os";
import { setFlagsFromString } from "node:v8";
import { join } from "node:path";
import { UsageError, command, onOff, port, readsEnvironment, runCommand, type Command } from "../lib/command-line.js";
import { loadNodeConfig } from "./config/index.js";
import { zoneName } from "./ring/index.js";
import { readTokenFile } from "./peer/index.js";
import { TlsDir } from "./tls/index.js";
import { StorageNode, type NodeOptions } from "./node.js";

export interface NodeFlags {
  id?: string;
  host: string;
  port: number;
  peerPort: number;
  advertise?: string;
  zone?: string;
  dataDir?: string;
  seeds?: string;
  config?: string;
  tokenFile?: string;
  console?: boolean;
  tlsDir?: string;
  tlsName?: string;
  insecurePeerPlaintext?: boolean;
  clientTokensFile?: string;
  clientTlsDir?: string;
}

export function nodeCommand(): Command {
  return readsEnvironment(
    command("node", "Runs one storage node.")
      .option("--id <id>", "member id (default: the host name)")
      .option("--host <host>", "address to listen on", "127.0.0.1")
      .option("--port <port>", "client port", port("port"), 8080)
      .option("--peer-port <port>", "peer and admin port", port("peer-port"), 8081)
      .option("--advertise <addr>", "address peers use (default: --host, or the host name when listening on every address)")
      .option("--zone <zone>", "the failure domain this node runs in (a zone, rack or host); replicas spread over zones")
      .option("--data-dir <dir>", "data directory (default: .dynamo/ID)")
      .option("--seeds <urls>", "peer URLs of members to join, comma-separated")
      .option("--config <file>", "buckets and tuning, JSON or YAML")
      .option("--token-file <file>", "the cluster token for the peer and admin port (required)")
      .option("--console <on|off>", "serve the web console on /ui (default: on)", onOff("console"))
      .option("--tls-dir <dir>", "ca.crt, tls.crt and tls.key for the peer port's mutual TLS")
      .option("--tls-name <name>", "use NAME.tls.crt and NAME.tls.key in --tls-dir (a directory with every node's certificate)")
      .option("--insecure-peer-plaintext", "run the peer port without TLS (local tests only)")
      .option("--client-tokens-file <file>", "client tokens the client port requires (see 'dynamo token')")
      .option("--client-tls-dir <dir>", "tls.crt and tls.key to serve the client port over HTTPS"),
  );
}

/** What the node runs with, from its flags; reading the token file and the configuration fails here, before start. */
export function nodeOptions(flags: NodeFlags, env: NodeJS.ProcessEnv = process.env): NodeOptions {
  const id = flags.id ?? hostname();
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/.test(id)) throw new UsageError(`--id '${id}' must be 1-63 letters, digits, '.', '_' or '-'`);
  if (!flags.tokenFile) throw new UsageError("--token-file is required: the peer and admin port only accept requests carrying the cluster token");
  const advertise = flags.advertise ?? (flags.host === "0.0.0.0" || flags.host === "::" ? hostname() : flags.host);
  const zone = flags.zone || undefined;
  if (zone !== undefined && !zoneName.safeParse(zone).success) {
    throw new UsageError(`--zone '${zone}' must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`);
  }
  return {
    id,
    host: flags.host,
    port: flags.port,
    peerPort: flags.peerPort,
    advertise,
    ...(zone !== undefined ? { zone } : {}),
    dataDir: flags.dataDir ?? join(".dynamo", id),
    seeds: (flags.seeds ?? "").split(",").map((s) => s.trim()).filter(Boolean),
    config: loadNodeConfig(flags.config),
    token: readTokenFile(flags.tokenFile),
    tls: peerTls(flags.tlsDir, flags.tlsName, flags.insecurePeerPlaintext === true),
    clientSecurity: { tokensFile: flags.clientTokensFile, tlsDir: flags.clientTlsDir },
    faultInjection: env.DYNAMO_FAULT_INJECTION === "1",
    console: flags.console ?? true,
  };
}

/**
 * The peer port runs mutual TLS from a TLS directory (ca.crt, tls.crt, tls.key; or ca.crt, NAME.tls.crt and
 * NAME.tls.key with `--tls-name NAME`, in a directory that holds the certificates of every node of a StatefulSet);
 * running it in plaintext takes an explicit, separate switch, so a missing directory is never mistaken for a wish to
 * go without.
 */
function peerTls(dir: string | undefined, name: string | undefined, plaintext: boolean): TlsDir | undefined {
  if (dir && plaintext) throw new UsageError("--tls-dir and --insecure-peer-plaintext exclude each other");
  if (name !== undefined && !dir) throw new UsageError("--tls-name names a node's files in --tls-dir, which is missing");
  if (dir) return TlsDir.load(dir, name || undefined);
  if (plaintext) return undefined;
  throw new UsageError(
    "--tls-dir is required: the peer port runs mutual TLS from a directory holding ca.crt, tls.crt and tls.key; to run it unencrypted for a local test, pass --insecure-peer-plaintext",
  );
}

export function runNode(argv: string[]): Promise<number> {
  return runCommand<NodeFlags>(nodeCommand(), argv, (flags) => serve(nodeOptions(flags)));
}

/**
 * V8's old generation, for a storage node, may grow to four times what the last full collection left. V8 chose about
 * 1.8 times for a node's small heap (some 28 MB live) and starts marking once less room is left than the young
 * generation holds, which with the image's 16 MiB semi-spaces (the Dockerfile) is at once: a node ran a full
 * collection every 250-400 ms while it streamed a handoff and every two seconds under YCSB-A, their marking about a
 * fifth of the machine's CPU during a step (docs/performance.md, round 26). The record cache keeps its bytes outside
 * the heap, so four times the live heap stays small. Set here, not in the image's NODE_OPTIONS: NODE_OPTIONS refuses
 * this V8 flag (Node.js exits with code 9), and the operator, which runs the same image in a smaller memory limit,
 * keeps V8's own. A node started with its own --heap-growing-percent (`node --heap-growing-percent=N`) keeps that.
 */
export const NODE_HEAP_GROWING_FLAG = "--heap-growing-percent=300";

export function applyNodeHeapSettings(execArgv: readonly string[] = process.execArgv): boolean {
  if (execArgv.some((flag) => /^--heap[-_]growing[-_]percent\b/.test(flag))) return false;
  // The flag is read each time a full collection sets the next limit, so setting it after start takes effect.
  setFlagsFromString(NODE_HEAP_GROWING_FLAG);
  return true;
}

async function serve(options: NodeOptions): Promise<number> {
  // The data directory, like the token, is for the node's owner only: LevelDB's files are created 0600.
  process.umask(0o077);
  applyNodeHeapSettings();
  const node = new StorageNode(options);
  await node.start();
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
    // A closed terminal sends SIGHUP; the node still shuts down cleanly rather than dying mid-write.
    process.once("SIGHUP", () => resolve());
  });
  node.log.info("shutting down: draining first");
  // A second signal during the drain (an impatient Ctrl-C) skips what is left of it.
  const impatient = new Promise<void>((resolve) => {
    process.once("SIGTERM", () => resolve());
    process.once("SIGINT", () => resolve());
  });
  await Promise.race([node.drain(), impatient]);
  await node.stop();
  return 0;
}
