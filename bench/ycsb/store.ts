/**
 * The store under test: either nodes the user already runs (`--url`), or a 3-node `dynamo dev` cluster the benchmark
 * starts in a temporary data directory on free loopback ports and removes afterwards. `dev(...)` runs
 * `dynamo dev <args>` against a self-started cluster, which is how phases that need a node down or back reach it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const DYNAMO_MAIN = join(REPO_ROOT, "dist", "cli", "main.js");
const HOST = "127.0.0.1";
const START_TIMEOUT_MS = 120_000;
/** Random port ranges tried before giving up; loopback ports are rarely that crowded. */
const PORT_ATTEMPTS = 20;

export interface DevCommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StoreCluster {
  /** Client URLs the benchmark spreads its requests over. */
  urls: string[];
  /** The `dynamo dev` supervisor's process id (its nodes are its children); undefined for an external cluster. */
  pid: number | undefined;
  /** The data directory of a self-started cluster; undefined for an external one. */
  dataDir: string | undefined;
  /** Runs `dynamo dev ARGS --data-dir DIR` against a self-started cluster. */
  dev(args: string[]): Promise<DevCommandResult>;
  stop(): Promise<void>;
}

export function externalStore(urls: string[]): StoreCluster {
  return {
    urls,
    pid: undefined,
    dataDir: undefined,
    dev: () => Promise.reject(new Error("this phase needs a self-started cluster; run without --url")),
    stop: () => Promise.resolve(),
  };
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A base port whose next `count` ports are free now on every one of `hosts`; another process may still take one, so
 * callers retry.
 */
export async function freePortRange(count: number, hosts: readonly string[] = [HOST]): Promise<number> {
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * 15_000);
    let free = true;
    for (let port = base; port < base + count && free; port++) {
      for (const host of hosts) free = free && (await portFree(port, host));
    }
    if (free) return base;
  }
  throw new Error(`found no ${count} consecutive free ports on ${hosts.join(", ")} in ${PORT_ATTEMPTS} tries`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function ready(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

interface DevJson {
  nodes?: Array<{ clientUrl?: string }>;
}

function readDevUrls(dataDir: string, nodes: number): string[] | undefined {
  const path = join(dataDir, "dev.json");
  if (!existsSync(path)) return undefined;
  try {
    const urls = ((JSON.parse(readFileSync(path, "utf8")) as DevJson).nodes ?? []).map((n) => n.clientUrl ?? "");
    return urls.length === nodes && urls.every((u) => u !== "") ? urls : undefined;
  } catch {
    // dev.json may be read while it is being rewritten; the next poll sees it whole.
    return undefined;
  }
}

/** Resolves with the nodes' client URLs once every node is ready, or rejects if the supervisor exits first. */
async function waitUntilReady(child: ChildProcess, dataDir: string, nodes: number): Promise<string[]> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dynamo dev exited with code ${child.exitCode}`);
    const urls = readDevUrls(dataDir, nodes);
    if (urls && (await Promise.all(urls.map(ready))).every(Boolean)) return urls;
    await sleep(200);
  }
  throw new Error(`the local cluster was not ready within ${START_TIMEOUT_MS / 1000} s`);
}

function runDev(args: string[]): Promise<DevCommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DYNAMO_MAIN, "dev", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Supervisors started and not yet exited, with their data directories; stopped when this process exits. */
const supervisors = new Map<ChildProcess, string>();

function track(child: ChildProcess, dataDir: string): void {
  if (!process.listeners("exit").includes(stopSupervisorsOnExit)) process.on("exit", stopSupervisorsOnExit);
  supervisors.set(child, dataDir);
  child.once("exit", () => supervisors.delete(child));
}

/** SIGTERM makes a supervisor stop its nodes cleanly even after this process is gone. */
function stopSupervisorsOnExit(): void {
  for (const child of supervisors.keys()) child.kill("SIGTERM");
}

/**
 * Stops every cluster this process started that is still running, including one still starting, and removes its
 * data directory; for signal handlers.
 */
export async function stopAllDevClusters(): Promise<void> {
  await Promise.all(
    [...supervisors].map(async ([child, dataDir]) => {
      await stopSupervisor(child);
      rmSync(dataDir, { recursive: true, force: true });
    }),
  );
}

async function stopSupervisor(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGINT");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

export interface DevClusterOptions {
  nodes: number;
  log: (line: string) => void;
  /** A node configuration file (buckets, tuning) passed to every node with `--config`. */
  config?: string;
  /** False runs the peer ports without TLS (`--insecure-peer-plaintext`), to measure what TLS costs. */
  peerTls?: boolean;
  /** Node.js flags for the supervisor, which passes them on to every node it starts (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
}

export async function startDevCluster(options: DevClusterOptions): Promise<StoreCluster> {
  if (!existsSync(DYNAMO_MAIN)) throw new Error(`${DYNAMO_MAIN} is missing; run 'npm run build' first`);
  for (let attempt = 1; ; attempt++) {
    const dataDir = mkdtempSync(join(tmpdir(), "dynamo-bench-"));
    const basePort = await freePortRange(2 * options.nodes);
    const args = ["--nodes", String(options.nodes), "--base-port", String(basePort), "--data-dir", dataDir];
    if (options.config !== undefined) args.push("--config", options.config);
    if (options.peerTls === false) args.push("--insecure-peer-plaintext");
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), DYNAMO_MAIN, "dev", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    track(child, dataDir);
    let stderr = "";
    // Only the tail is kept: it is what explains a failed start, and the log must not grow without bound.
    child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
    try {
      const urls = await waitUntilReady(child, dataDir, options.nodes);
      options.log(`store: ${options.nodes}-node dynamo dev cluster on ports ${basePort}..${basePort + 2 * options.nodes - 1}, data in ${dataDir}`);
      return {
        urls,
        pid: child.pid,
        dataDir,
        dev: (devArgs) => runDev([...devArgs, "--data-dir", dataDir]),
        stop: async () => {
          await stopSupervisor(child);
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      await stopSupervisor(child);
      rmSync(dataDir, { recursive: true, force: true });
      // A port taken between the check and the bind is the likely cause of an early exit; another range may work.
      if (attempt >= 3) throw new Error(`${(error as Error).message}\n${stderr.trim()}`);
      options.log(`store: start attempt ${attempt} failed (${(error as Error).message}); retrying on other ports`);
    }
  }
}
