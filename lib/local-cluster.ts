/**
 * Starting a real local cluster from another program (the integration tests, the fault lab, the benchmarks): `dynamo
 * dev` from the compiled build, in a data directory of the caller's choosing, on a block of loopback ports that was
 * free a moment ago. A supervisor started here is stopped with SIGTERM when this process exits, so an aborted run
 * leaves no nodes behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository this file lives in (from lib/ under tsx, or from dist/lib/ when compiled). */
export const REPO_ROOT = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
/** The compiled `dynamo` binary. */
export const DYNAMO_CLI = join(REPO_ROOT, "dist", "cli", "main.js");

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && !dir.endsWith("/dist")) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Random blocks tried before giving up; loopback ports are rarely that crowded. */
const PORT_ATTEMPTS = 50;

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** The lowest port of the blocks handed out. */
const PORT_BASE_MIN = 10_000;

/**
 * The lowest port the kernel picks as an outgoing connection's source port (Linux's ip_local_port_range). Blocks are
 * taken below it: a port in that range that is free when checked can be taken by any connection the tests open
 * before a node binds it (a node started later by a scale exited with EADDRINUSE that way).
 */
function ephemeralPortLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux, or no /proc: the range Linux and most systems use by default.
  }
  return 32_768;
}

/**
 * An even base port whose next `count` ports are free now on every one of `hosts`, below the ephemeral port range
 * where there is room for it. Another process may still take one before the caller binds it, so callers retry on
 * EADDRINUSE.
 */
export async function freePortBlock(count: number, hosts: readonly string[] = ["127.0.0.1"]): Promise<number> {
  const below = ephemeralPortLow() - count - PORT_BASE_MIN;
  // Where the ephemeral range starts too low to leave room, blocks come from anywhere up to 50 000 as before.
  const span = below >= 2_000 ? below : 40_000 - count;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const base = PORT_BASE_MIN + 2 * Math.floor((Math.random() * span) / 2);
    let free = true;
    for (let port = base; port < base + count && free; port++) {
      for (const host of hosts) free = free && (await portFree(port, host));
    }
    if (free) return base;
  }
  throw new Error(`found no ${count} consecutive free ports on ${hosts.join(", ")} in ${PORT_ATTEMPTS} tries`);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `dynamo ARGS` to its end, with `input` on stdin. */
export async function runDynamo(args: readonly string[], input?: string, env?: Record<string, string>): Promise<CommandResult> {
  // Without input the command reads end-of-file from /dev/null: nothing is written to it, so nothing can fail to be.
  const child = spawn(process.execPath, [DYNAMO_CLI, ...args], { stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  if (input !== undefined) {
    // A command that exits without reading all of its input closes the pipe (EPIPE here); its exit code and output
    // say what happened, which is what the caller asserts on.
    child.stdin!.on("error", () => undefined);
    child.stdin!.end(input);
  }
  const [code] = (await once(child, "exit")) as [number | null];
  return { code: code ?? 1, stdout, stderr };
}

export interface DevStartOptions {
  dataDir: string;
  basePort: number;
  /** Left out to start what the data directory holds (after a restart). */
  nodes?: number;
  /** A node configuration file (buckets, tuning) passed to every node with `--config`. */
  config?: string;
  partitions?: number;
  /** False runs the peer ports without TLS (`--insecure-peer-plaintext`). */
  peerTls?: boolean;
  /** HTTPS on the client ports (`--client-tls`). */
  clientTls?: boolean;
  /** Zones to start the nodes in, round-robin (`--zones`). */
  zones?: string[];
  /** Extra environment for the supervisor and its nodes, e.g. DYNAMO_FAULT_INJECTION=1. */
  env?: Record<string, string>;
  /** Options for the supervisor's own Node.js process (e.g. `--cpu-prof`), placed before the script. */
  nodeArgs?: string[];
  /** The `node` binary for the supervisor, which starts its nodes with the same one; this process's by default. */
  runtime?: string;
  startTimeoutMs?: number;
}

export interface DevSupervisor {
  child: ChildProcess;
  /** Everything the supervisor printed, stdout and stderr interleaved; only the newest 1 MiB is kept. */
  output(): string;
}

const OUTPUT_BYTES_MAX = 1024 * 1024;

/**
 * Starts `dynamo dev` and resolves once it has printed its welcome and written dev.json, which it does after the
 * first ring is committed; rejects, with what it printed, if it exits or takes longer than the timeout.
 */
export async function startDevSupervisor(options: DevStartOptions): Promise<DevSupervisor> {
  if (!existsSync(DYNAMO_CLI)) throw new Error(`${DYNAMO_CLI} is missing; run 'npm run build' first`);
  const args = [...(options.nodeArgs ?? []), DYNAMO_CLI, "dev", "--data-dir", options.dataDir, "--base-port", String(options.basePort)];
  if (options.nodes !== undefined) args.push("--nodes", String(options.nodes));
  if (options.config) args.push("--config", options.config);
  if (options.partitions) args.push("--partitions", String(options.partitions));
  if (options.peerTls === false) args.push("--insecure-peer-plaintext");
  if (options.clientTls) args.push("--client-tls");
  if (options.zones) args.push("--zones", options.zones.join(","));
  const child = spawn(options.runtime ?? process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...options.env } });
  track(child);
  let text = "";
  const append = (d: Buffer) => (text = (text + d.toString()).slice(-OUTPUT_BYTES_MAX));
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const supervisor = { child, output: () => text };
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dynamo dev exited with ${child.exitCode}:\n${text}`);
    if (text.includes("Ctrl-C stops every node") && existsSync(join(options.dataDir, "dev.json"))) return supervisor;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill("SIGKILL");
  throw new Error(`dynamo dev did not start within ${timeoutMs / 1000} s:\n${text}`);
}

/**
 * Stops a supervisor as Ctrl-C would (it stops its nodes cleanly), or with SIGKILL after `graceMs`; `crash` kills it
 * at once, leaving its nodes running.
 */
export async function stopDevSupervisor(child: ChildProcess, { crash = false, graceMs = 30_000 } = {}): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(crash ? "SIGKILL" : "SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Supervisors started and not yet exited. */
const supervisors = new Set<ChildProcess>();

function track(child: ChildProcess): void {
  if (!process.listeners("exit").includes(stopSupervisorsOnExit)) process.on("exit", stopSupervisorsOnExit);
  supervisors.add(child);
  child.once("exit", () => supervisors.delete(child));
}

/** SIGTERM makes a supervisor stop its nodes cleanly even after this process is gone. */
function stopSupervisorsOnExit(): void {
  for (const child of supervisors) child.kill("SIGTERM");
}

/** Every supervisor this process started that still runs, including one still starting. */
export function runningDevSupervisors(): ChildProcess[] {
  return [...supervisors];
}
