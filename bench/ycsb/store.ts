/**
 * The store under test: either nodes the user already runs (`--url`), or a 3-node `dynamo dev` cluster the benchmark
 * starts in a temporary data directory on free loopback ports and removes afterwards. `dev(...)` runs
 * `dynamo dev <args>` against a self-started cluster, which is how phases that need a node down or back reach it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePortBlock,
  runDynamo,
  runningDevSupervisors,
  startDevSupervisor,
  stopDevSupervisor,
  type CommandResult,
  type DevSupervisor,
} from "../../lib/local-cluster.js";

const START_TIMEOUT_MS = 120_000;

export type DevCommandResult = CommandResult;

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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A node's answer to `/readyz`: ready, or why not (its body, or why it did not answer), for a start that fails. */
async function readiness(url: string): Promise<{ ready: boolean; state: string }> {
  try {
    const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
    return { ready: response.status === 200, state: `${response.status} ${(await response.text()).slice(0, 300)}` };
  } catch (err) {
    return { ready: false, state: `no answer (${(err as Error).message})` };
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
async function waitUntilReady({ child }: DevSupervisor, dataDir: string, nodes: number): Promise<string[]> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "dev.json never named every node";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`dynamo dev exited with code ${child.exitCode}`);
    const urls = readDevUrls(dataDir, nodes);
    if (urls) {
      const answers = await Promise.all(urls.map(readiness));
      if (answers.every((a) => a.ready)) return urls;
      last = urls.map((url, i) => `${url}: ${answers[i]!.state}`).join("; ");
    }
    await sleep(200);
  }
  throw new Error(`the local cluster was not ready within ${START_TIMEOUT_MS / 1000} s (last /readyz answers: ${last})`);
}

/** Data directories of the clusters this process started, by supervisor; removed when they stop. */
const dataDirs = new Map<DevSupervisor["child"], string>();

/**
 * Stops every cluster this process started that is still running, including one still starting, and removes its
 * data directory; for signal handlers.
 */
export async function stopAllDevClusters(): Promise<void> {
  await Promise.all(
    runningDevSupervisors().map(async (child) => {
      await stopDevSupervisor(child);
      const dataDir = dataDirs.get(child);
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }),
  );
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
  /** The `node` binary the supervisor and its nodes run (bench/runtime.ts); this process's by default. */
  runtime?: string;
}

export async function startDevCluster(options: DevClusterOptions): Promise<StoreCluster> {
  for (let attempt = 1; ; attempt++) {
    const dataDir = mkdtempSync(join(tmpdir(), "dynamo-bench-"));
    const basePort = await freePortBlock(2 * options.nodes);
    let supervisor: DevSupervisor | undefined;
    const stop = async () => {
      if (supervisor) await stopDevSupervisor(supervisor.child);
      rmSync(dataDir, { recursive: true, force: true });
    };
    try {
      supervisor = await startDevSupervisor({
        dataDir,
        basePort,
        nodes: options.nodes,
        config: options.config,
        peerTls: options.peerTls,
        nodeArgs: options.nodeArgs,
        runtime: options.runtime,
        startTimeoutMs: START_TIMEOUT_MS,
      });
      dataDirs.set(supervisor.child, dataDir);
      const urls = await waitUntilReady(supervisor, dataDir, options.nodes);
      options.log(`store: ${options.nodes}-node dynamo dev cluster on ports ${basePort}..${basePort + 2 * options.nodes - 1}, data in ${dataDir}`);
      return { urls, pid: supervisor.child.pid, dataDir, dev: (devArgs) => runDynamo(["dev", ...devArgs, "--data-dir", dataDir]), stop };
    } catch (error) {
      await stop();
      // A port taken between the check and the bind is the likely cause of an early exit; another range may work.
      const output = supervisor?.output().slice(-4_000) ?? "";
      if (attempt >= 3) throw new Error(`${(error as Error).message}\n${output.trim()}`);
      // The whole story goes to the log: a start that fails once is rare, and what the nodes said is all there is to go on.
      options.log(`store: start attempt ${attempt} failed (${(error as Error).message.split("\n")[0]}); retrying on other ports`);
      for (const line of output.trim().split("\n").slice(-20)) options.log(`store:   ${line}`);
    }
  }
}
