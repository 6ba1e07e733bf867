/**
 * The local cluster behind `dynamo dev`: starts node processes on loopback, gives them a ring, keeps dev.json
 * current, and stops them cleanly. Node i serves clients on base+2i and peers on base+2i+1 and keeps its data in
 * <data-dir>/node-i, so a second `dynamo dev` over the same directory finds its data and its ring again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, createWriteStream, mkdirSync, readFileSync, rmSync, type WriteStream } from "node:fs";
import { join, resolve } from "node:path";
import { once } from "node:events";
import { get as httpGet, type Agent } from "node:http";
import { get as httpsGet } from "node:https";
import { AdminClient, DEFAULT_ROLL, keptAliveAgent, RingDriver, describeProgress, observeRoll, planStillWanted, rollGate, formatBytes, formatDuration, rebalanceSeconds, rebalanceStatus, type RebalanceSummary, type StepResult } from "../driver/index.js";
import { DynamoError } from "../node/errors/index.js";
import { rateLimited } from "../node/log.js";
import { newestRing, partitionsPerMember } from "../node/ring/index.js";
import type { Ring } from "../node/ring/types.js";
import { CLIENT_PORT_TLS_NAME, DevPki } from "./pki.js";
import { ensureToken, processAlive, writeDevState, type DevState } from "./state.js";

export interface DevOptions {
  nodes: number;
  basePort: number;
  dataDir: string;
  configPath?: string;
  host: string;
  /** Replicas per partition that the claim keeps on distinct nodes (the largest bucket n). */
  targetN: number;
  partitions: number;
  log: (message: string) => void;
  /** Told the new size whenever the cluster is scaled, so a restart brings back the same number of nodes. */
  onScale?: (nodes: number) => void;
  /** Mutual TLS on the peer ports from a CA in <data-dir>/tls; false runs them in plaintext (tests and benchmarks). */
  peerTls: boolean;
  /** HTTPS on the client ports from a separate CA in <data-dir>/client-tls (off by default: the quick start is plain curl). */
  clientTls?: boolean;
  /** Zones given to nodes round-robin (node i runs in zones[i mod length], also after a scale); none when empty. */
  zones?: readonly string[];
}

interface DevNode {
  index: number;
  id: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** The zone the node is started in (`--zone`), from `--zones` round-robin. */
  zone: string | undefined;
  child: ChildProcess | undefined;
  /** A node process left running by an earlier supervisor (killed without stopping its nodes), taken over as it is. */
  adoptedPid: number | undefined;
  /** Set while the supervisor itself is stopping the node, so its exit is not reported as a crash. */
  stopping: boolean;
  logStream: WriteStream | undefined;
}

export class DevCluster {
  readonly admin: AdminClient;
  private readonly adminAgent: Agent;
  readonly token: string;
  readonly tokenPath: string;
  private readonly nodes: DevNode[] = [];
  private readonly driver: RingDriver;
  private desiredCount: number;
  private controlUrl = "";
  private lastStep: StepResult | undefined;
  /** The last step that committed a plan: its ring's epoch and what it said (see `planInFlight`). */
  private lastPlan: { epoch: number; action: string } | undefined;
  /** The ring change in flight, or the last one finished, as `status` reports it. */
  private rebalance: RebalanceSummary | undefined;
  private driving: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private stepping: Promise<unknown> = Promise.resolve();

  private rolling = false;
  private pki: DevPki | undefined;
  private clientPki: DevPki | undefined;

  constructor(readonly options: DevOptions) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(options.dataDir, 0o700);
    const { path, token } = ensureToken(options.dataDir);
    this.token = token;
    this.tokenPath = path;
    this.adminAgent = keptAliveAgent(options.peerTls);
    this.admin = this.adminClient(5000, this.adminAgent);
    this.desiredCount = options.nodes;
    this.driver = new RingDriver({ admin: this.admin, partitions: options.partitions, targetN: options.targetN, log: (m) => options.log(m) });
  }

  setControlUrl(url: string): void {
    this.controlUrl = url;
    this.saveState();
  }

  get size(): number {
    return this.nodes.length;
  }

  node(index: number): DevNode {
    const node = this.nodes[index];
    if (!node) throw new DynamoError("invalid_request", `there is no node ${index}; nodes are 0..${this.nodes.length - 1}`);
    return node;
  }

  clientUrl(node: DevNode): string {
    return `${this.options.clientTls ? "https" : "http"}://${this.options.host}:${node.clientPort}`;
  }

  /** The CA certificate clients must trust for the https client ports, when they are https. */
  get clientCaPath(): string | undefined {
    return this.clientPki?.caPath;
  }

  peerUrl(node: DevNode): string {
    return `${this.options.peerTls ? "https" : "http"}://${this.options.host}:${node.peerPort}`;
  }

  /** Starts every node, waits until each answers, then drives the ring until it names all of them. */
  async start(): Promise<Ring> {
    if (this.options.peerTls) this.pki = await DevPki.open(this.options.dataDir);
    if (this.options.clientTls) this.clientPki = await DevPki.openClientPort(this.options.dataDir);
    for (let i = 0; i < this.options.nodes; i++) this.nodes.push(this.describe(i));
    await Promise.all(this.nodes.map((node) => this.startNode(node)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      // Stopped while starting (Ctrl-C, SIGTERM): the stop has ended every node it found, so waiting for a ring
      // would only keep the process alive for the deadline.
      if (this.stopping) throw new DynamoError("unavailable", "the local cluster was stopped while it started");
      const result = await this.stepOnce();
      if (result.done && result.ring) break;
      if (Date.now() > deadline) throw new DynamoError("unavailable", "the ring did not settle within 60 s; see the node logs");
      await new Promise((r) => setTimeout(r, Math.min(result.retryAfterMs, 500)));
    }
    await this.waitForMutualUp(deadline);
    this.driving = this.driveLoop();
    return this.lastStep!.ring!;
  }

  /**
   * Waits until every node counts every other as up. A node counts a peer it has not heard from since it started as
   * down, so a cluster started over a ring it already had (a restart) is settled at once while its nodes still wait
   * for each other's first gossip: a read at r=3 in that window failed with "read quorum not reached" on a loaded
   * machine. `start` returns only once the cluster can serve every quorum it could before.
   */
  private async waitForMutualUp(deadline: number): Promise<void> {
    const members = this.nodes.slice(0, this.desiredCount).map((n) => ({ id: n.id, peerUrl: this.peerUrl(n) }));
    const ids = new Set(members.map((m) => m.id));
    for (;;) {
      if (this.stopping) throw new DynamoError("unavailable", "the local cluster was stopped while it started");
      const reports = await observeRoll(this.admin, members);
      const waiting = reports.flatMap((r) => {
        if (!r.info) return [`${r.id} does not answer (${r.error ?? "no report"})`];
        const down = (r.info.down ?? []).filter((id) => ids.has(id));
        return down.length > 0 ? [`${r.id} counts ${down.join(", ")} as down`] : [];
      });
      if (waiting.length === 0) return;
      if (Date.now() > deadline) throw new DynamoError("unavailable", `the nodes did not all see each other up within 60 s: ${waiting.join("; ")}; see the node logs`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Changes the number of nodes: starts the new ones, then returns once the RingDriver has committed the ring that
   * plans for them; transfers go on in the background, and nodes that are scaled away stop once they hold nothing.
   */
  async scale(count: number): Promise<Record<string, unknown>> {
    if (count < this.options.targetN) {
      throw new DynamoError("invalid_request", `cannot scale to ${count} nodes: the largest bucket keeps n=${this.options.targetN} replicas on distinct nodes`);
    }
    if (count > 64) throw new DynamoError("invalid_request", "a local cluster has at most 64 nodes");
    for (let i = this.nodes.length; i < count; i++) this.nodes.push(this.describe(i));
    // The new count holds before the new nodes start. The background loop steps meanwhile (every fraction of a second
    // after a scale-down), and under the old count a step forgot a node that had no process yet, or stopped one that
    // answered as a node the cluster did not want: the scale then found nothing to change, and the node ran untracked.
    const before = this.desiredCount;
    this.desiredCount = count;
    try {
      await Promise.all(this.nodes.slice(0, count).map((node) => this.startNode(node)));
    } catch (err) {
      // A node that did start is stopped by the next step, as one past the count.
      this.desiredCount = before;
      throw err;
    }
    this.options.onScale?.(count);
    let result = await this.stepOnce();
    // A step plans nothing while a new node has not answered its observation yet (on a busy machine its first answer
    // can miss the admin client's timeout), and the background loop would plan a second later: the answer would say
    // "nothing to change" for a scale that does change the ring. Step again, briefly, until the ring heads for
    // `count` members, so the answer names the plan. A step that is "done" does not end the wait: without the new
    // node's answer the driver is done with the members it can see.
    const deadline = Date.now() + SCALE_PLAN_WAIT_MS;
    while (!result.action && !this.headsFor(result.ring) && !this.holdsExactly(result.ring) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(result.retryAfterMs, 250)));
      result = await this.stepOnce();
    }
    this.wake?.();
    return { nodes: count, epoch: result.ring?.epoch ?? 0, action: result.action ?? this.planInFlight(result.ring, count) ?? "nothing to change", transfers: result.transfers };
  }

  /** Wipes node I's data and starts it again as a new incarnation, which rebuilds its partitions from the others. */
  async replace(index: number): Promise<Record<string, unknown>> {
    const node = this.node(index);
    await this.stopNode(node);
    rmSync(node.dataDir, { recursive: true, force: true });
    await this.startNode(node);
    const info = await this.admin.node(this.peerUrl(node));
    this.wake?.();
    return { replaced: node.id, incarnation: info.incarnation };
  }

  /** Stops a node with the drain a SIGTERM gives it, starts it again and hands it the newest ring at once. */
  async restartNode(node: DevNode): Promise<void> {
    await this.stopNode(node);
    await this.startNode(node);
    // Hand the restarted node the newest ring at once rather than waiting for gossip.
    const ring = await this.newestRing();
    if (ring) await this.pushRing(ring);
    await this.waitUntilSeenUp(node);
  }

  /**
   * Waits until every other running member counts `node` as up again, so a restart returns with the node serving as
   * a replica: until a member hears the new process's first heartbeat it still counts the node down (after a crash, or
   * the leave notice of a clean stop), and a read at r=n through that member fails. Gives up after
   * RESTART_SEEN_UP_TIMEOUT_MS and says so; the members notice the node with their next heartbeat anyway.
   */
  private async waitUntilSeenUp(node: DevNode): Promise<void> {
    const others = this.nodes.filter((n) => n !== node && this.running(n));
    const deadline = Date.now() + RESTART_SEEN_UP_TIMEOUT_MS;
    for (;;) {
      const views = await Promise.all(others.map((n) => this.admin.node(this.peerUrl(n)).catch(() => undefined)));
      const doubting = others.filter((_, i) => views[i]?.down?.includes(node.id) ?? false);
      if (doubting.length === 0) return;
      if (Date.now() > deadline) {
        this.options.log(`${node.id} restarted, but ${doubting.map((n) => n.id).join(", ")} still count it as down after ${RESTART_SEEN_UP_TIMEOUT_MS / 1000} s`);
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Restarts every node in turn (`dynamo dev restart --rolling`): each one only once the cluster could lose it
   * without failing a request (the rolling gate, driver/roll.ts), and returns once the last is back and the cluster
   * has caught up (its hints delivered).
   */
  async restartRolling(): Promise<Record<string, unknown>> {
    if (this.rolling) throw new DynamoError("invalid_request", "a rolling restart is already running");
    this.rolling = true;
    try {
      const started = Date.now();
      const nodes = this.nodes.slice(0, this.desiredCount);
      const waits: Record<string, number> = {};
      await this.waitForRollGate("before the first node");
      for (const [i, node] of nodes.entries()) {
        this.options.log(`rolling restart: ${node.id} (${i + 1} of ${nodes.length})`);
        await this.restartNode(node);
        const waitStarted = Date.now();
        await this.waitForRollGate(`after restarting ${node.id}`);
        waits[node.id] = Date.now() - waitStarted;
      }
      this.options.log(`rolling restart: all ${nodes.length} nodes restarted in ${formatDuration((Date.now() - started) / 1000)}`);
      return { restarted: nodes.map((n) => n.id), durationMs: Date.now() - started, caughtUpMs: waits };
    } finally {
      this.rolling = false;
    }
  }

  /** Waits until the rolling gate opens, polling every node's admin API; gives up after ROLL_GATE_TIMEOUT_MS. */
  private async waitForRollGate(when: string): Promise<void> {
    const deadline = Date.now() + ROLL_GATE_TIMEOUT_MS;
    const members = this.nodes.slice(0, this.desiredCount).map((n) => ({ id: n.id, peerUrl: this.peerUrl(n) }));
    const say = rateLimited((m) => this.options.log(m), 5000);
    for (;;) {
      const verdict = rollGate(await observeRoll(this.admin, members), DEFAULT_ROLL);
      if (verdict.healthy) return;
      if (Date.now() > deadline) {
        throw new DynamoError("unavailable", `rolling restart stopped ${when}: the cluster did not become healthy within ${ROLL_GATE_TIMEOUT_MS / 1000} s (${verdict.reason})`);
      }
      say(`rolling restart: waiting ${when}: ${verdict.reason}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * What the plan `ring` carries out was, when the background loop made it between a scale's new count and the scale's
   * own step (the loop steps every fraction of a second after a scale-down): a scale's answer names that plan rather
   * than "nothing to change". In the loop's own words when the ring is the one it committed.
   */
  private planInFlight(ring: Ring | undefined, count: number): string | undefined {
    if (!this.headsFor(ring)) return undefined;
    if (this.lastPlan?.epoch === ring.epoch) return this.lastPlan.action;
    return `rebalancing towards ${count} members (${ring.pending.length} transfers pending)`;
  }

  /** The ring's plan in flight already leads to the desired members. */
  private headsFor(ring: Ring | undefined): ring is Ring {
    return ring !== undefined && ring.pending.length > 0 && planStillWanted(ring, this.desiredIds(), this.options.targetN);
  }

  /** Whether the ring already is what the scale asks for: exactly the desired members, nothing left to move. */
  private holdsExactly(ring: Ring | undefined): boolean {
    if (ring === undefined || ring.pending.length > 0) return false;
    const desired = this.desiredIds();
    const members = Object.keys(ring.members);
    return members.length === desired.length && desired.every((id) => ring.members[id] !== undefined);
  }

  private desiredIds(): string[] {
    return this.nodes.slice(0, this.desiredCount).map((n) => n.id);
  }

  /** Steps run one at a time: `scale` and the background loop would otherwise race to commit the same epoch. */
  private stepOnce(): Promise<StepResult> {
    const next = this.stepping.then(() => this.stepNow());
    this.stepping = next.catch(() => undefined);
    return next;
  }

  private async stepNow(): Promise<StepResult> {
    const running = this.nodes.filter((n) => this.running(n));
    const result = await this.driver.step(
      running.map((n) => ({ id: n.id, peerUrl: this.peerUrl(n), clientUrl: this.clientUrl(n) })),
      this.desiredIds(),
    );
    this.lastStep = result;
    if (result.action && result.ring && result.ring.pending.length > 0) this.lastPlan = { epoch: result.ring.epoch, action: result.action };
    this.noteRebalance(result);
    for (const id of result.removable) {
      const node = this.nodes.find((n) => n.id === id);
      if (!node || node.index < this.desiredCount) continue;
      this.options.log(`${id} holds no partitions any more; stopping it`);
      await this.stopNode(node);
    }
    // Forget stopped nodes past the desired count, so dev.json and status show the cluster as it is.
    while (this.nodes.length > this.desiredCount && !this.running(this.nodes[this.nodes.length - 1]!)) this.nodes.pop();
    this.saveState();
    return result;
  }

  private noteRebalance(result: StepResult): void {
    const before = this.rebalance;
    this.rebalance = rebalanceStatus(before, result.rebalance, result.ring, Date.now());
    const after = this.rebalance;
    if (!after || after.finishTime === undefined || before?.finishTime !== undefined) return;
    const seconds = rebalanceSeconds(after);
    this.options.log(`rebalance finished: moved ${after.partitionsTotal} partitions (${formatBytes(after.bytesMoved)})${seconds !== undefined ? ` in ${formatDuration(seconds)}` : ""}`);
  }

  private async driveLoop(): Promise<void> {
    const warn = rateLimited((m) => this.options.log(m), 10_000);
    while (!this.stopping) {
      let delay = 1000;
      try {
        delay = (await this.stepOnce()).retryAfterMs;
      } catch (err) {
        warn(`ring driver: ${(err as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async startNode(node: DevNode): Promise<void> {
    if (this.running(node)) return;
    const orphan = await this.findOrphan(node);
    if (orphan !== undefined) {
      node.adoptedPid = orphan;
      this.options.log(`${node.id} is still running from an earlier supervisor (pid ${orphan}); taking it over`);
      this.saveState();
      return;
    }
    mkdirSync(node.dataDir, { recursive: true, mode: 0o700 });
    node.logStream ??= createWriteStream(join(this.options.dataDir, `${node.id}.log`), { flags: "a", mode: 0o600 });
    const tlsArgs = this.pki ? ["--tls-dir", await this.pki.ensure(node.id, [this.options.host])] : ["--insecure-peer-plaintext"];
    if (this.clientPki) tlsArgs.push("--client-tls-dir", await this.clientPki.ensure(CLIENT_PORT_TLS_NAME, [this.options.host]));
    const args = [
      ...process.execArgv,
      ...compilerFlags(process.execArgv),
      resolve(process.argv[1]!),
      "node",
      "--id", node.id,
      "--host", this.options.host,
      "--port", String(node.clientPort),
      "--peer-port", String(node.peerPort),
      "--data-dir", node.dataDir,
      "--token-file", this.tokenPath,
      ...(node.zone !== undefined ? ["--zone", node.zone] : []),
      ...tlsArgs,
      ...(this.options.configPath ? ["--config", this.options.configPath] : []),
    ];
    // A stop that began while this node's certificates were being made has passed it by already (it had no process
    // to stop), and the supervisor exits once its stop is done: a process started now would run on with nobody to stop
    // it, holding its ports and data directory. A test whose cluster start timed out left such a node behind.
    if (this.stopping) throw new DynamoError("unavailable", `not starting ${node.id}: the local cluster is stopping`);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: nodeRuntimeEnv(process.env) });
    child.stdout!.pipe(node.logStream, { end: false });
    child.stderr!.pipe(node.logStream, { end: false });
    node.child = child;
    node.stopping = false;
    child.on("exit", (code, signal) => {
      if (!node.stopping) this.options.log(`${node.id} exited unexpectedly (${signal ?? `code ${code}`}); see ${join(this.options.dataDir, node.id + ".log")}`);
      this.saveState();
    });
    this.saveState();
    await this.waitHealthy(node);
  }

  /** Stops a node: SIGTERM and a grace period, or SIGKILL at once when `crash` is set. */
  async stopNode(node: DevNode, options: { crash?: boolean; graceMs?: number } = {}): Promise<void> {
    if (node.adoptedPid !== undefined) {
      const pid = node.adoptedPid;
      node.adoptedPid = undefined;
      if (await this.stillTheNode(node, pid)) await stopAdopted(pid, options.crash ?? false, options.graceMs ?? 10_000);
      else this.options.log(`${node.id}: pid ${pid} is no longer that node's process; not signalling it`);
      this.saveState();
      return;
    }
    const child = node.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    node.stopping = true;
    const exited = once(child, "exit");
    child.kill(options.crash ? "SIGKILL" : "SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), options.graceMs ?? 10_000);
    await exited;
    clearTimeout(timer);
    this.saveState();
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.driving;
    await Promise.all(this.nodes.map((node) => this.stopNode(node)));
    this.adminAgent.destroy();
    for (const node of this.nodes) node.logStream?.end();
    rmSync(join(this.options.dataDir, "dev.json"), { force: true });
  }

  /** The newest ring any node holds, or undefined when none has one. */
  async newestRing(): Promise<Ring | undefined> {
    const rings = await Promise.all(this.nodes.filter((n) => this.running(n)).map((n) => this.admin.ring(this.peerUrl(n)).catch(() => undefined)));
    return newestRing(rings);
  }

  async pushRing(ring: Ring): Promise<void> {
    await Promise.all(this.nodes.filter((n) => this.running(n)).map((n) => this.admin.installRing(this.peerUrl(n), ring)));
  }

  running(node: DevNode): boolean {
    if (node.adoptedPid !== undefined) return processAlive(node.adoptedPid);
    return node.child !== undefined && node.child.exitCode === null && node.child.signalCode === null;
  }

  async status(): Promise<Record<string, unknown>> {
    const ring = await this.newestRing();
    const counts = ring ? partitionsPerMember(ring.owners) : {};
    return {
      epoch: ring?.epoch ?? 0,
      partitions: ring?.partitions ?? 0,
      nodes: this.nodes.map((node) => ({
        id: node.id,
        ...(node.zone !== undefined ? { zone: node.zone } : {}),
        state: !this.running(node) ? "stopped" : (ring?.members[node.id]?.state ?? "not-a-member"),
        partitions: counts[node.id] ?? 0,
        pid: this.running(node) ? (node.adoptedPid ?? node.child!.pid) : null,
        clientUrl: this.clientUrl(node),
        peerUrl: this.peerUrl(node),
      })),
      transfers: { pending: this.lastStep?.transfers.pending ?? ring?.pending.length ?? 0, active: this.lastStep?.transfers.active ?? 0 },
      settled: this.lastStep?.done ?? false,
      ...(this.rebalance ? { rebalance: { ...this.rebalance, ...(this.lastStep?.rebalance && !this.rebalance.finishTime ? { summary: describeProgress(this.lastStep.rebalance) } : {}) } } : {}),
    };
  }

  private describe(index: number): DevNode {
    const id = `node-${index}`;
    return {
      index,
      id,
      dataDir: join(this.options.dataDir, id),
      clientPort: this.options.basePort + 2 * index,
      peerPort: this.options.basePort + 2 * index + 1,
      zone: this.options.zones?.length ? this.options.zones[index % this.options.zones.length] : undefined,
      child: undefined,
      adoptedPid: undefined,
      stopping: false,
      logStream: undefined,
    };
  }

  /**
   * The pid of this node's process if one is already serving its peer port as this node. With TLS, only a process
   * holding a certificate from this cluster's CA gets past the handshake, before the token is sent; the pid it names
   * must then also be running this node's data directory, so a signal can only ever reach the node itself.
   */
  private async findOrphan(node: DevNode): Promise<number | undefined> {
    try {
      const info = await this.adminClient(1000).node(this.peerUrl(node));
      return info.id === node.id && processAlive(info.pid) && runsDataDir(info.pid, node.dataDir) ? info.pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Whether `pid`, a process this supervisor did not start, is still the node it adopted. */
  private async stillTheNode(node: DevNode, pid: number): Promise<boolean> {
    if (!processAlive(pid) || !runsDataDir(pid, node.dataDir)) return false;
    try {
      const info = await this.adminClient(1000).node(this.peerUrl(node));
      return info.id === node.id && info.pid === pid;
    } catch {
      // A frozen or dying node cannot answer; its command line already names this node's data directory.
      return true;
    }
  }

  private adminClient(timeoutMs: number, agent?: Agent): AdminClient {
    return new AdminClient(this.token, timeoutMs, this.options.peerTls ? () => this.requirePki().clientTls() : undefined, agent);
  }

  private requirePki(): DevPki {
    if (!this.pki) throw new DynamoError("unavailable", "the local cluster's certificates are not loaded yet");
    return this.pki;
  }

  private async waitHealthy(node: DevNode): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (!this.running(node)) throw new DynamoError("unavailable", `${node.id} exited during start-up; see ${join(this.options.dataDir, node.id + ".log")}`);
      if (await answersHealthz(`${this.clientUrl(node)}/healthz`, this.clientPki && readFileSync(this.clientPki.caPath))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new DynamoError("unavailable", `${node.id} did not answer /healthz within 30 s; see ${join(this.options.dataDir, node.id + ".log")}`);
  }

  private saveState(): void {
    if (!this.controlUrl) return;
    const state: DevState = {
      control: this.controlUrl,
      pid: process.pid,
      ...(this.clientPki && { clientCa: this.clientPki.caPath }),
      nodes: this.nodes.map((node) => ({
        id: node.id,
        pid: this.running(node) ? (node.adoptedPid ?? node.child!.pid!) : null,
        clientUrl: this.clientUrl(node),
        peerUrl: this.peerUrl(node),
        dataDir: node.dataDir,
      })),
    };
    writeDevState(this.options.dataDir, state);
  }
}

/**
 * The runtime settings of the image (see the Dockerfile). The allocator's: memory of large request bodies goes back to
 * the system once freed instead of staying with glibc; values already in the environment win. V8's young generation
 * of 16 MiB semi-spaces: with 2 MiB ones the buffers of requests and streamed pages in flight outlived scavenges and
 * were promoted, costing more CPU per request and a higher client p99 during a handoff (docs/performance.md, round
 * 17); flags already in NODE_OPTIONS come after it, so theirs win.
 */
function nodeRuntimeEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    MALLOC_ARENA_MAX: "2",
    MALLOC_MMAP_THRESHOLD_: "131072",
    ...env,
    NODE_OPTIONS: [YOUNG_GENERATION_FLAG, env.NODE_OPTIONS].filter(Boolean).join(" "),
  };
}

export const YOUNG_GENERATION_FLAG = "--max-semi-space-size=16";

/**
 * V8's middle tier, Maglev, is left out of a storage node (the Dockerfile's entrypoint does the same): a function goes
 * from the interpreter and Sparkplug straight to TurboFan. Under YCSB-A on the image's Node.js 24 the nodes spent
 * 6-8.5% less CPU per operation in the steady state without it, with YCSB-C the same (docs/performance.md, round 34);
 * Node.js 20 does not run Maglev by default. It goes on the command line: NODE_OPTIONS refuses the flag, and set from inside the node at start
 * it did not help. A supervisor started with its own `--maglev` or `--no-maglev` passes that on instead.
 */
export const COMPILER_FLAG = "--no-maglev";

export function compilerFlags(execArgv: readonly string[]): string[] {
  return execArgv.some((flag) => /^--(no-)?maglev$/.test(flag)) ? [] : [COMPILER_FLAG];
}

/** How long a rolling restart waits for the cluster to be healthy before and after each node. */
const ROLL_GATE_TIMEOUT_MS = 5 * 60_000;
/** How long a restart waits for the other members to count the restarted node as up (a few heartbeats). */
const RESTART_SEEN_UP_TIMEOUT_MS = 15_000;

/** How long `scale` keeps stepping for a plan towards the new count before it answers with what it has. */
const SCALE_PLAN_WAIT_MS = 15_000;

/** Whether a node's client port answers /healthz within a second (over https, trusting `ca`, when it has one). */
function answersHealthz(url: string, ca: Buffer | undefined): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const get = url.startsWith("https:") ? httpsGet : httpGet;
    const req = get(url, { timeout: 1000, ...(ca && { ca }) }, (res) => {
      res.resume();
      resolveProbe(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolveProbe(false));
  });
}

/**
 * Whether process `pid` runs a storage node over `dataDir` (its command line names it), read from /proc. Where /proc
 * is missing nothing can be confirmed, and the answer is no.
 */
function runsDataDir(pid: number, dataDir: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const at = args.indexOf("--data-dir");
    return args.includes("node") && at >= 0 && resolve(args[at + 1] ?? "") === resolve(dataDir);
  } catch {
    return false;
  }
}

/** Stops a process this supervisor did not start: a signal, then polling until it is gone. */
async function stopAdopted(pid: number, crash: boolean, graceMs: number): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  };
  signal(crash ? "SIGKILL" : "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (processAlive(pid)) {
    if (Date.now() > deadline) signal("SIGKILL");
    await new Promise((r) => setTimeout(r, 50));
  }
}