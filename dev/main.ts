/**
 * `dynamo dev`: runs a local cluster in the foreground, or acts on the running one (status, kill, restart, scale,
 * replace) through the control API found in <data-dir>/dev.json.
 *
 * Only what acting on a running cluster needs is imported here: an action is one control API call, and loading the
 * supervisor, its HTTP server and the node's configuration schemas (foreground.ts) cost each `dynamo dev status` or
 * `scale` about half a CPU-second on top of Node's own start, taken from the cores the cluster it asks about runs on.
 */
import { resolve } from "node:path";
import { UsageError, command, port, readsEnvironment, runCommand, wholeNumber, type Command } from "../lib/command-line.js";
import { percentMoved, type RebalanceSummary } from "../node/ring/progress.js";
import { colourWanted, percentBar, style } from "../lib/terminal.js";
import { callControl } from "./state.js";

export interface DevFlags {
  nodes?: number;
  basePort: number;
  dataDir: string;
  config?: string;
  partitions?: number;
  insecurePeerPlaintext?: boolean;
  clientTls?: boolean;
  zones?: string;
  rolling?: boolean;
}

export function devCommand(): Command {
  return readsEnvironment(
    command("dev", "Runs a local cluster in the foreground, or acts on the one running from --data-dir.")
      .argument("[action]", "status | scale N | kill I | restart I | replace I (I is a 0-based node index)")
      .argument("[arg]", "N or I")
      .option("--nodes <n>", "nodes to start (default 3, or the size the data directory holds)", wholeNumber("nodes", 1, 64))
      .option("--base-port <port>", "node i serves clients on base+2i and peers on base+2i+1", port("base-port"), 8080)
      .option("--data-dir <dir>", "where the cluster keeps its data, logs and dev.json", ".dynamo")
      .option("--config <file>", "buckets and tuning passed to every node")
      .option("--partitions <q>", "partitions of a new ring, a power of two (default 256)", wholeNumber("partitions", 1, 65536))
      .option("--insecure-peer-plaintext", "run the peer ports without TLS")
      .option("--client-tls", "serve the client ports over HTTPS from a local CA")
      .option("--zones <zones>", "zones to start nodes in, comma-separated, round-robin by node index ('' for none)")
      .option("--rolling", "with restart: restart every node in turn, each once the cluster is healthy again"),
  );
}

export function runDev(argv: string[]): Promise<number> {
  return runCommand<DevFlags>(devCommand(), argv, dev);
}

async function dev(flags: DevFlags, [action, arg]: string[]): Promise<number> {
  const dataDir = resolve(flags.dataDir);
  switch (action) {
    case undefined:
      return (await import("./foreground.js")).runForeground(dataDir, flags);
    case "status":
      return printStatus((await callControl(dataDir, "GET", "/status")) as DevStatus);
    case "restart":
      if (flags.rolling === true) {
        if (arg !== undefined) throw new UsageError("usage: dynamo dev restart --rolling   (restarts every node in turn; takes no index)");
        return printJson(await callControl(dataDir, "POST", "/restart-rolling"));
      }
      return nodeAction(dataDir, action, arg);
    case "kill":
    case "replace":
      return nodeAction(dataDir, action, arg);
    case "scale":
      if (arg === undefined || !/^[0-9]+$/.test(arg)) throw new UsageError("usage: dynamo dev scale N");
      return printJson(await callControl(dataDir, "POST", "/scale", { nodes: Number(arg) }));
    default:
      throw new UsageError(`unknown dev action '${action}': use status, scale N, kill I, restart I, restart --rolling or replace I`);
  }
}

async function nodeAction(dataDir: string, action: string, arg: string | undefined): Promise<number> {
  if (arg === undefined || !/^[0-9]+$/.test(arg)) {
    throw new UsageError(`usage: dynamo dev ${action} I   (I is the 0-based node index)${action === "restart" ? ", or dynamo dev restart --rolling" : ""}`);
  }
  return printJson(await callControl(dataDir, "POST", `/nodes/${arg}/${action}`));
}

interface DevStatus {
  rebalance?: RebalanceSummary & { summary?: string };
}

/**
 * The status as JSON (the contract, for scripts); at a terminal, followed by a progress bar of the ring change in
 * flight or a line on the last one.
 */
function printStatus(status: DevStatus): number {
  printJson(status);
  const r = status.rebalance;
  if (!process.stdout.isTTY || !r) return 0;
  const s = style(colourWanted(process.stdout));
  const line = r.finishTime === undefined ? `rebalancing ${percentBar(percentMoved(r))}  ${r.summary ?? ""}` : `last rebalance: ${r.partitionsTotal} partitions, finished ${r.finishTime}`;
  process.stdout.write((r.finishTime === undefined ? s.yellow(line) : s.dim(line)) + "\n");
  return 0;
}

function printJson(value: unknown): number {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
  return 0;
}
