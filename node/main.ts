/**
 * `dynamo node`: parses flags (each also DYNAMO_<FLAG>), builds a StorageNode, runs it until SIGTERM or SIGINT, and
 * then stops it cleanly so the store is closed and in-flight requests finish.
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { UsageError, parseFlags, portFlag } from "../cli/usage.js";
import { loadNodeConfig } from "./config/index.js";
import { zoneName } from "./ring/index.js";
import { readTokenFile } from "./peer/index.js";
import { TlsDir } from "./tls/index.js";
import { StorageNode, type NodeOptions } from "./node.js";

export const NODE_USAGE = `usage: dynamo node [--id ID] [--host HOST] [--port 8080] [--peer-port 8081] [--advertise ADDR]
                   [--zone ZONE] [--data-dir DIR] [--seeds URL,...] [--config FILE] [--console on|off] --token-file FILE
                   (--tls-dir DIR [--tls-name NAME] | --insecure-peer-plaintext) [--client-tls-dir DIR]
                   [--client-tokens-file FILE]
Every flag may also be given as an environment variable DYNAMO_<FLAG>, e.g. DYNAMO_PEER_PORT=8081
(DYNAMO_INSECURE_PEER_PLAINTEXT=1 for the switch).`;

export function parseNodeOptions(argv: string[]): NodeOptions {
  const { values } = parseFlags(argv, {
    id: { type: "string" },
    host: { type: "string" },
    port: { type: "string" },
    "peer-port": { type: "string" },
    advertise: { type: "string" },
    zone: { type: "string" },
    "data-dir": { type: "string" },
    seeds: { type: "string" },
    config: { type: "string" },
    "token-file": { type: "string" },
    console: { type: "string" },
    "tls-dir": { type: "string" },
    "tls-name": { type: "string" },
    "insecure-peer-plaintext": { type: "boolean" },
    "client-tokens-file": { type: "string" },
    "client-tls-dir": { type: "string" },
  });
  const id = (values.id as string | undefined) ?? hostname();
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/.test(id)) throw new UsageError(`--id '${id}' must be 1-63 letters, digits, '.', '_' or '-'`);
  const tokenFile = values["token-file"] as string | undefined;
  if (!tokenFile) throw new UsageError("--token-file is required: the peer and admin port only accept requests carrying the cluster token");
  const host = (values.host as string | undefined) ?? "127.0.0.1";
  const advertise = (values.advertise as string | undefined) ?? (host === "0.0.0.0" || host === "::" ? hostname() : host);
  const zone = (values.zone as string | undefined) || undefined;
  if (zone !== undefined && !zoneName.safeParse(zone).success) {
    throw new UsageError(`--zone '${zone}' must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`);
  }
  const seeds = ((values.seeds as string | undefined) ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return {
    id,
    host,
    port: portFlag(values.port, "port", 8080),
    peerPort: portFlag(values["peer-port"], "peer-port", 8081),
    advertise,
    ...(zone !== undefined ? { zone } : {}),
    dataDir: (values["data-dir"] as string | undefined) ?? join(".dynamo", id),
    seeds,
    config: loadNodeConfig(values.config as string | undefined),
    token: readTokenFile(tokenFile),
    tls: peerTls(
      values["tls-dir"] as string | undefined,
      values["tls-name"] as string | undefined,
      values["insecure-peer-plaintext"] === true || process.env.DYNAMO_INSECURE_PEER_PLAINTEXT === "1",
    ),
    clientSecurity: { tokensFile: values["client-tokens-file"] as string | undefined, tlsDir: values["client-tls-dir"] as string | undefined },
    faultInjection: process.env.DYNAMO_FAULT_INJECTION === "1",
    console: onOff(values.console, "console", true),
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

export async function runNode(argv: string[]): Promise<number> {
  // The data directory, like the token, is for the node's owner only: LevelDB's files are created 0600.
  process.umask(0o077);
  const node = new StorageNode(parseNodeOptions(argv));
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

function onOff(value: string | boolean | undefined, name: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === "on" || value === "true") return true;
  if (value === "off" || value === "false") return false;
  throw new UsageError(`--${name} must be on or off, got '${String(value)}'`);
}
