/**
 * Starts a real local cluster for integration tests: `dynamo dev` from the compiled build, in a fresh temporary data
 * directory, on a free block of loopback ports. Tests act on it the way a person would, through the CLI's control
 * API and the nodes' HTTP ports.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { Agent as HttpsAgent } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { devClientTls } from "../../dev/pki.js";
import { callControl } from "../../dev/state.js";
import { AdminClient } from "../../driver/index.js";
import { DynamoError } from "../../node/errors/index.js";
import { freePortBlock, runDynamo, startDevSupervisor, stopDevSupervisor, type DevStartOptions } from "../../lib/local-cluster.js";
import type { LocalRecord, NodeInfo } from "../../node/protocol/index.js";
import type { Ring } from "../../node/ring/index.js";
import type { ClientTlsOptions } from "../../node/tls/index.js";
import { http } from "./http.js";
import { eventually } from "./replicas.js";

export { DYNAMO_CLI as CLI, REPO_ROOT, freePortBlock, runDynamo as runCli } from "../../lib/local-cluster.js";

export interface DevNodeInfo {
  id: string;
  pid: number | null;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

/** What `dynamo dev status` prints, as far as tests read it. */
export interface DevStatus {
  epoch: number;
  nodes: { id: string; state: string; partitions: number; pid: number | null }[];
  transfers: { pending: number; active: number };
  settled: boolean;
}

export interface StartOptions {
  nodes?: number;
  config?: string;
  partitions?: number;
  dataDir?: string;
  basePort?: number;
  /** Extra environment for the supervisor and its nodes, e.g. DYNAMO_FAULT_INJECTION=1. */
  env?: Record<string, string>;
  /** Mutual TLS on the peer ports (the default); false only where TLS is not what a test is about. */
  peerTls?: boolean;
  /** HTTPS on the client ports (`dynamo dev --client-tls`); off by default, as in `dynamo dev`. */
  clientTls?: boolean;
  /** `dynamo dev --zones`: zones given to the nodes round-robin. */
  zones?: string[];
}

export class TestCluster {
  /** Connections kept open for localRecord, made at its first call. */
  private keepAlive: HttpsAgent | undefined;

  private constructor(
    readonly dataDir: string,
    readonly basePort: number,
    private child: ChildProcess,
    private output: () => string,
    private readonly options: StartOptions,
  ) {}

  static async start(options: StartOptions = {}): Promise<TestCluster> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "dynamo-test-"));
    for (let attempt = 1; ; attempt++) {
      const basePort = options.basePort ?? (await freePortBlock(2 * (options.nodes ?? 3) + 8));
      try {
        const { child, output } = await startDevSupervisor(devOptions(dataDir, basePort, options));
        return new TestCluster(dataDir, basePort, child, output, options);
      } catch (err) {
        // Another process may take a port between the check and the bind; a fresh block is tried, twice at most.
        if (options.basePort !== undefined || attempt >= 3 || !/EADDRINUSE/.test((err as Error).message + readLogs(dataDir))) throw err;
      }
    }
  }

  get token(): string {
    return readFileSync(join(this.dataDir, "token"), "utf8").trim();
  }

  /** The client certificate and CA for this cluster's peer ports (undefined when they run in plaintext). */
  get peerTls(): ClientTlsOptions | undefined {
    return devClientTls(this.dataDir);
  }

  nodes(): DevNodeInfo[] {
    return (JSON.parse(readFileSync(join(this.dataDir, "dev.json"), "utf8")) as { nodes: DevNodeInfo[] }).nodes;
  }

  clientUrls(): string[] {
    return this.nodes().map((n) => n.clientUrl);
  }

  /** Runs `dynamo dev <args>` against this cluster and returns its exit code and output. */
  async dev(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return runDynamo(["dev", ...args, "--data-dir", this.dataDir]);
  }

  async kill(index: number): Promise<void> {
    const r = await this.dev("kill", String(index));
    if (r.code !== 0) throw new Error(`dev kill ${index} failed: ${r.stderr}`);
  }

  async restart(index: number): Promise<void> {
    const r = await this.dev("restart", String(index));
    if (r.code !== 0) throw new Error(`dev restart ${index} failed: ${r.stderr}`);
  }

  /** `dynamo dev restart --rolling`: every node in turn, each once the cluster is healthy; returns the CLI's JSON. */
  async rollingRestart(): Promise<{ restarted: string[]; durationMs: number; caughtUpMs: Record<string, number> }> {
    const r = await this.dev("restart", "--rolling");
    if (r.code !== 0) throw new Error(`dev restart --rolling failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as { restarted: string[]; durationMs: number; caughtUpMs: Record<string, number> };
  }

  /**
   * What `dynamo dev status` prints, asked of the supervisor's control API from this process: a CLI process per look
   * took a second or more to start on a busy machine, so a test polling every 100 ms looked far less often than that,
   * and could miss transfers in flight for only a couple of seconds (test/integration/dev-cli.test.ts runs the CLI).
   */
  async status(): Promise<DevStatus> {
    return (await callControl(this.dataDir, "GET", "/status")) as DevStatus;
  }

  /** Waits until the cluster has exactly `n` members, all valid, with nothing pending; returns the time it took. */
  async settled(n: number, timeoutMs = 90_000): Promise<number> {
    const started = Date.now();
    const problems = await eventually(async () => {
      const s = await this.status();
      const members = s.nodes.filter((node) => node.state === "valid");
      return s.settled && s.transfers.pending === 0 && members.length === n && s.nodes.length === n ? [] : [`not settled: ${JSON.stringify(s)}`];
    }, timeoutMs, 250);
    assert.deepEqual(problems, []);
    return Date.now() - started;
  }

  /** Calls a node's admin API on its peer port with the cluster token (and, with TLS, the cluster's client certificate). */
  async admin(index: number, method: string, path: string, body?: unknown): Promise<unknown> {
    const node = this.nodes()[index]!;
    const reply = await http(method, node.peerUrl + path, {
      headers: { Authorization: `Bearer ${this.token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      tls: this.peerTls,
    });
    if (reply.status < 200 || reply.status >= 300) throw new Error(`${method} ${path} on node ${index}: ${reply.status} ${reply.text()}`);
    return reply.json();
  }

  /**
   * The admin API as the RingDriver and the operator call it: every answer parsed with the schema the node builds it
   * from (node/protocol), so a test that reads one also checks that the node's answer fits the wire contract.
   */
  adminClient(): AdminClient {
    const tls = this.peerTls;
    return new AdminClient(this.token, 10_000, tls && (() => tls));
  }

  /** Node `index`'s account of itself (`GET /v1/admin/node`). */
  async nodeInfo(index: number): Promise<NodeInfo> {
    return this.adminClient().node(this.nodes()[index]!.peerUrl);
  }

  /** The ring node `index` runs. */
  async ring(index: number): Promise<Ring> {
    const ring = await this.adminClient().ring(this.nodes()[index]!.peerUrl);
    if (!ring) throw new Error(`node ${index} has no ring yet`);
    return ring;
  }

  /** Cuts the peer network between node `index` and every other node, in both directions (fault injection). */
  async isolate(index: number): Promise<void> {
    const nodes = this.nodes();
    const admin = this.adminClient();
    await admin.setFaults(nodes[index]!.peerUrl, { cut: nodes.filter((_, i) => i !== index).map((n) => n.id) });
    for (let i = 0; i < nodes.length; i++) if (i !== index) await admin.setFaults(nodes[i]!.peerUrl, { cut: [nodes[index]!.id] });
  }

  async heal(): Promise<void> {
    const admin = this.adminClient();
    for (const node of this.nodes()) await admin.setFaults(node.peerUrl, { cut: [] });
  }

  /** This node's own copy of a key, as the admin API reports it. */
  async localRecord(index: number, bucket: string, key: string): Promise<LocalRecord> {
    const peerUrl = this.nodes()[index]!.peerUrl;
    // Tests read thousands of these per check; a mutual-TLS handshake for each one made such a check take a minute.
    // (Plain http goes through Node's global agent, which keeps connections already.)
    this.keepAlive ??= new HttpsAgent({ keepAlive: true, maxSockets: 8 });
    const tls = this.peerTls;
    const admin = new AdminClient(this.token, 10_000, tls && (() => tls), peerUrl.startsWith("https:") ? this.keepAlive : undefined);
    try {
      return await admin.localRecord(peerUrl, bucket, key);
    } catch (err) {
      // A kept connection the node closed (it restarted, or its idle timeout fell due) as the request went out.
      if (!(err instanceof DynamoError) || err.code !== "unavailable") throw err;
      return admin.localRecord(peerUrl, bucket, key);
    }
  }

  /** Sends a signal to a node's process (SIGSTOP / SIGCONT to freeze and thaw it). */
  signal(index: number, signal: NodeJS.Signals): void {
    const pid = this.nodes()[index]!.pid;
    if (!pid) throw new Error(`node ${index} is not running`);
    process.kill(pid, signal);
  }

  /** Stops the whole cluster with SIGINT, as Ctrl-C would. */
  async stop(): Promise<void> {
    await stopDevSupervisor(this.child, { graceMs: 20_000 });
  }

  /** SIGKILLs the supervisor alone (its nodes keep running) and starts a new one over the same directory and ports. */
  async crashSupervisor(): Promise<void> {
    await this.crashSupervisorOnly();
    await this.startSupervisor();
  }

  /** SIGKILLs the supervisor alone; its nodes keep running. */
  async crashSupervisorOnly(): Promise<void> {
    await stopDevSupervisor(this.child, { crash: true });
  }

  /** Starts a supervisor over this cluster's directory and ports (after `crashSupervisorOnly`). */
  async startSupervisor(): Promise<void> {
    const { child, output } = await startDevSupervisor(devOptions(this.dataDir, this.basePort, { ...this.options, nodes: undefined }));
    this.child = child;
    this.output = output;
  }

  /** Stops and starts the whole cluster over the same data directory and ports. */
  async restartAll(): Promise<void> {
    await this.stop();
    await this.startSupervisor();
  }

  /** Stops the cluster and removes its data, unless DYNAMO_TEST_KEEP=1 asks to keep it for a post-mortem. */
  async destroy(): Promise<void> {
    this.keepAlive?.destroy();
    await this.stop();
    if (process.env.DYNAMO_TEST_KEEP === "1") {
      console.log(`    kept cluster data in ${this.dataDir}`);
      return;
    }
    if (!this.options.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  log(): string {
    return this.output();
  }

  /** The log file of node `index`. */
  nodeLog(index: number): string {
    try {
      return readFileSync(join(this.dataDir, `node-${index}.log`), "utf8");
    } catch {
      return "";
    }
  }

  /**
   * The logs of the nodes `indexes`, joined, once they match `pattern`; they are returned as they stand after
   * `timeoutMs` otherwise, for the caller's assertion to show. A node's lines reach its file through the supervisor's
   * pipe and write stream, so a line the node has written may not be on disk yet when the request that caused it
   * returns: a test that reads the file at once fails whenever the machine is busy.
   */
  async logsMatching(pattern: RegExp, indexes: number[], timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const logs = indexes.map((i) => this.nodeLog(i)).join("");
      if (pattern.test(logs) || Date.now() > deadline) return logs;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function readLogs(dataDir: string): string {
  try {
    return readdirSync(dataDir)
      .filter((f) => f.endsWith(".log"))
      .map((f) => readFileSync(join(dataDir, f), "utf8"))
      .join("\n");
  } catch {
    return "";
  }
}

function devOptions(dataDir: string, basePort: number, options: StartOptions): DevStartOptions {
  const { nodes, config, partitions, peerTls, clientTls, zones, env } = options;
  return { dataDir, basePort, nodes, config, partitions, peerTls, clientTls, zones, env };
}
