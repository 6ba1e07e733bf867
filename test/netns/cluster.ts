/**
 * A cluster of storage nodes in the lab, driven from inside it (from the client namespace, where `runInLab` starts
 * scripts): node i runs in namespace n<i>, listens on and advertises 198.18.0.(10 + i) with the standard ports, runs
 * under libfaketime with a clock of its own, and keeps its data and log under the lab's directory. The peer port runs
 * mutual TLS as in production: the cluster gets a CA of its own, each node a certificate for its address, and this
 * process a client certificate. The ring is driven by the RingDriver in this process, as the operator drives it.
 * Processes are the nemesis's to kill, freeze, thaw and wipe; the network is `network`'s, the clocks `clocks`'.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AdminClient, RingDriver, type MemberAddress } from "../../driver/index.js";
import type { LocalRecord } from "../../node/protocol/index.js";
import { clientTlsOptions, writeTlsDir, type ClientTlsOptions } from "../../node/tls/index.js";
import { createCa, issueCertificate, type CertificateAndKey } from "../../node/pki/index.js";
import { LabClocks } from "./clock.js";
import type { LabDescription, LabHost } from "./lab.js";
import { LabNetwork } from "./network.js";

const REPO_ROOT = resolve(new URL("../..", import.meta.url).pathname);
const CLI = join(REPO_ROOT, "dist", "cli", "main.js");
const NODE_START_MS_MAX = 90_000;

export interface NetNode {
  index: number;
  id: string;
  host: LabHost;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | undefined;
  /** Set while the node is frozen by SIGSTOP. */
  stopped: boolean;
}

export interface NetClusterOptions {
  lab: LabDescription;
  /** Nodes started and made ring members at once (the lab may hold more, for growing the cluster). */
  nodes: number;
  /** Node configuration file (buckets and tuning). */
  config: string;
  partitions: number;
  /** Replicas per partition on distinct nodes: the largest bucket n. */
  targetN?: number;
  seed?: number;
  log?: (line: string) => void;
}

export class NetCluster {
  readonly token = `netlab-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  readonly tokenPath: string;
  readonly clocks: LabClocks;
  readonly network: LabNetwork;
  readonly admin: AdminClient;
  readonly driver: RingDriver;
  readonly nodes: NetNode[];
  private readonly log: (line: string) => void;

  private constructor(
    readonly options: NetClusterOptions,
    private readonly ca: CertificateAndKey,
    clientTls: ClientTlsOptions,
  ) {
    const { lab } = options;
    this.tokenPath = join(lab.dir, "token");
    writeFileSync(this.tokenPath, this.token, { mode: 0o600 });
    this.clocks = new LabClocks(lab.dir);
    this.network = new LabNetwork(lab, options.seed ?? 1);
    this.admin = new AdminClient(this.token, 3000, () => clientTls);
    this.log = options.log ?? (() => undefined);
    this.driver = new RingDriver({ admin: this.admin, partitions: options.partitions, targetN: options.targetN ?? 3, log: (m) => this.log(`driver: ${m}`) });
    this.nodes = lab.nodes.map((host, index) => ({
      index,
      id: `node-${index}`,
      host,
      clientUrl: `http://${host.address}:8080`,
      peerUrl: `https://${host.address}:8081`,
      dataDir: join(lab.dir, `node-${index}`),
      child: undefined,
      stopped: false,
    }));
  }

  /** Starts the first `options.nodes` nodes and gives them a settled ring. */
  static async start(options: NetClusterOptions): Promise<NetCluster> {
    if (options.nodes > options.lab.nodes.length) throw new Error(`the lab has ${options.lab.nodes.length} node namespaces, ${options.nodes} wanted`);
    const ca = await createCa({ commonName: `dynamo network lab CA (${options.lab.runId})` });
    const client = await issueCertificate(ca, { commonName: "lab-client" });
    const cluster = new NetCluster(options, ca, clientTlsOptions({ ca: ca.cert, cert: client.cert, key: client.key }));
    try {
      await Promise.all(cluster.nodes.slice(0, options.nodes).map((n) => cluster.startNode(n.index)));
      await cluster.settle(cluster.nodes.slice(0, options.nodes).map((n) => n.id), 120_000);
    } catch (err) {
      await cluster.destroy();
      throw err;
    }
    return cluster;
  }

  node(index: number): NetNode {
    const node = this.nodes[index];
    if (!node) throw new Error(`no node ${index}`);
    return node;
  }

  running(): NetNode[] {
    return this.nodes.filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);
  }

  addresses(indices?: number[]): MemberAddress[] {
    return (indices ?? this.nodes.map((n) => n.index)).map((i) => {
      const n = this.node(i);
      return { id: n.id, peerUrl: n.peerUrl, clientUrl: n.clientUrl };
    });
  }

  logPath(index: number): string {
    return join(this.options.lab.dir, `node-${index}.log`);
  }

  nodeLog(index: number): string {
    try {
      return readFileSync(this.logPath(index), "utf8");
    } catch {
      return "";
    }
  }

  /** Starts node `index` (its data directory kept) and waits until it answers /healthz. */
  async startNode(index: number): Promise<NetNode> {
    const node = this.node(index);
    if (node.child && node.child.exitCode === null && node.child.signalCode === null) return node;
    mkdirSync(node.dataDir, { recursive: true });
    const args = [CLI, "node", "--id", node.id, "--host", node.host.address, "--advertise", node.host.address];
    args.push("--data-dir", node.dataDir, "--token-file", this.tokenPath, "--config", this.options.config, "--tls-dir", await this.tlsDir(node));
    const child = spawn("ip", ["netns", "exec", node.host.ns, process.execPath, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...this.clocks.env(node.host.name) },
    });
    const log = createWriteStream(this.logPath(index), { flags: "a" });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    node.child = child;
    node.stopped = false;
    // Generous: on a machine shared by several test runs a node's start-up has been seen to take over 30 s.
    const deadline = Date.now() + NODE_START_MS_MAX;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${node.id} exited during start-up; see ${this.logPath(index)}:\n${this.nodeLog(index).slice(-2000)}`);
      try {
        if ((await fetch(`${node.clientUrl}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return node;
      } catch {
        // Not up yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${node.id} did not become healthy within ${NODE_START_MS_MAX / 1000} s; its log:\n${this.nodeLog(index).slice(-2000)}`);
  }

  /** Node's TLS directory, its certificate issued by the lab's CA for its address the first time. */
  private async tlsDir(node: NetNode): Promise<string> {
    const dir = join(this.options.lab.dir, "tls", node.id);
    if (!existsSync(join(dir, "tls.key"))) {
      const leaf = await issueCertificate(this.ca, { commonName: node.id, hosts: [node.host.address] });
      writeTlsDir(dir, { ca: this.ca.cert, cert: leaf.cert, key: leaf.key });
    }
    return dir;
  }

  /** SIGKILLs node `index` and waits for it to be gone. */
  async kill(index: number): Promise<void> {
    const node = this.node(index);
    const child = node.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    node.stopped = false;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) node `index`. */
  signal(index: number, signal: "SIGSTOP" | "SIGCONT"): void {
    const node = this.node(index);
    if (!node.child?.pid || node.child.exitCode !== null) return;
    node.child.kill(signal);
    node.stopped = signal === "SIGSTOP";
  }

  /** Kills node `index`, wipes its data directory and starts it again: it comes back as a new incarnation. */
  async wipe(index: number): Promise<void> {
    await this.kill(index);
    await this.wipeData(index);
    await this.startNode(index);
  }

  /** Removes a stopped node's data directory. */
  async wipeData(index: number): Promise<void> {
    rmSync(this.node(index).dataDir, { recursive: true, force: true });
  }

  /** Runs RingDriver steps towards `desired` member ids until the ring is settled or `timeoutMs` passes. */
  async settle(desired: string[], timeoutMs: number, isCancelled: () => boolean = () => false): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const addresses = this.addresses();
    while (Date.now() < deadline && !isCancelled()) {
      try {
        const step = await this.driver.step(addresses.filter((a) => desired.includes(a.id) || this.running().some((n) => n.id === a.id)), desired);
        if (step.done) return true;
        await new Promise((r) => setTimeout(r, Math.min(step.retryAfterMs, 300)));
      } catch (err) {
        this.log(`driver step failed: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    return false;
  }

  /** Node `index`'s own copy of a key, through its admin API. */
  localRecord(index: number, bucket: string, key: string): Promise<LocalRecord> {
    return this.admin.localRecord(this.node(index).peerUrl, bucket, key);
  }

  /** Stops every node (thawing frozen ones first), and every relay. */
  async destroy(): Promise<void> {
    for (const node of this.nodes) if (node.stopped) this.signal(node.index, "SIGCONT");
    await Promise.all(this.nodes.map((n) => this.kill(n.index)));
    await this.network.close();
  }
}
