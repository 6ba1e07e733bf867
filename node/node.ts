/**
 * A storage node: wires the store, the ring, the peer protocol, the coordinator and the HTTP servers together, and
 * owns their lifecycle. It holds no logic of its own beyond what `start` and `stop` need.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { once } from "node:events";
import type { NodeConfig } from "./config/index.js";
import { RingState } from "./cluster/index.js";
import { createAdminApi, createClientApi } from "./http/index.js";
import { createLogger, rateLimited, type Logger } from "./log.js";
import { NodeMetrics } from "./metrics/index.js";
import { PeerServer } from "./peer/index.js";
import { ownedPartitions, partitionsPerMember } from "./ring/index.js";
import { Coordinator, LocalReplica } from "./replication/index.js";
import { Store, TombstoneReaper } from "./storage/index.js";
import { HybridClock } from "./versioning/index.js";

export interface NodeOptions {
  id: string;
  /** Interface the client and peer servers bind to. */
  host: string;
  port: number;
  peerPort: number;
  /** Host name or IP other nodes use to reach this one. */
  advertise: string;
  dataDir: string;
  seeds: string[];
  config: NodeConfig;
  token: string;
  logger?: Logger;
}

export class StorageNode {
  readonly metrics = new NodeMetrics();
  readonly log: Logger;
  private readonly store: Store;
  private ringState!: RingState;
  private clientServer: Server | undefined;
  private peerServer: Server | undefined;
  private peerProtocol: PeerServer | undefined;
  private reaper: TombstoneReaper | undefined;
  private readonly startedAt = Date.now();

  constructor(readonly options: NodeOptions) {
    this.log = options.logger ?? createLogger(options.id);
    this.store = new Store(options.dataDir);
  }

  get clientUrl(): string {
    return `http://${this.options.advertise}:${this.options.port}`;
  }

  get peerUrl(): string {
    return `http://${this.options.advertise}:${this.options.peerPort}`;
  }

  async start(): Promise<void> {
    const { options, log } = this;
    await this.store.open();
    if (this.store.freshIncarnation) log.info(`new data directory ${options.dataDir}: incarnation ${this.store.incarnation}`);
    const tuning = options.config.tuning;
    this.ringState = new RingState(this.store, options.id, {
      token: options.token,
      timeoutMs: tuning.peerTimeoutMs,
      inFlightMax: tuning.peerInFlightMax,
      reconnectDelayMs: 250,
    });
    this.ringState.onChange((ring) => {
      this.metrics.ringEpoch.set(ring.epoch);
      this.metrics.ownedPartitions.set(ownedPartitions(ring, options.id).length);
    });
    await this.ringState.load();

    const warnSiblings = rateLimited((m) => log.warn(m), 10_000);
    const replica = new LocalReplica(this.store, new HybridClock(), { warn: tuning.siblingsWarn, max: tuning.siblingsMax }, {
      siblingWarning: (at, count) => {
        this.metrics.siblingWarnings.inc();
        warnSiblings(`key ${at.bucket}/${at.key.toString("utf8")} has ${count} siblings (warning limit ${tuning.siblingsWarn})`);
      },
      siblingRefusal: (at, count) => {
        this.metrics.siblingRefusals.inc();
        warnSiblings(`refused a write to ${at.bucket}/${at.key.toString("utf8")}: ${count} siblings would exceed ${tuning.siblingsMax}`);
      },
    });
    const coordinator = new Coordinator({
      self: options.id,
      ring: () => this.ringState.ring,
      bucket: (name) => options.config.buckets.get(name),
      replica,
      peer: (id) => this.ringState.peer(id),
      isUp: (id) => this.ringState.isReachable(id),
      tuning,
      metrics: this.metrics,
      log: (m) => log.warn(m),
    });

    this.peerProtocol = new PeerServer({ token: options.token, inFlightMax: tuning.peerInFlightMax, log: (m) => log.warn(m) });
    for (const [op, handler] of Object.entries(coordinator.peerHandlers())) this.peerProtocol.handle(op, handler);

    const contextSecret = createHash("sha256").update("dynamo-context\u0000").update(options.token).digest();
    const clientApp = createClientApi({
      coordinator,
      buckets: options.config.buckets,
      tuning,
      metrics: this.metrics,
      contextSecret,
      cluster: () => this.clusterView(),
      ready: () => this.readiness(),
      log: (m) => log.error(m),
    });
    const adminApp = createAdminApi({
      token: options.token,
      node: () => this.nodeView(),
      ring: () => this.ringState.ring,
      installRing: (ring) => this.ringState.install(ring),
      log: (m) => log.info(m),
    });

    this.reaper = new TombstoneReaper(this.store, {
      graceMs: tuning.tombstoneGraceMs,
      intervalMs: tuning.reapIntervalMs,
      batchMax: tuning.reapBatchMax,
      onReaped: (count) => this.metrics.tombstonesReaped.inc(count),
      log: (m) => log.info(m),
    });
    this.reaper.start();

    this.peerServer = createServer(adminApp);
    this.peerProtocol.attach(this.peerServer);
    this.clientServer = createServer(clientApp);
    // Keep-alive sockets must outlive a load balancer's idle timeout, or clients see resets on reuse.
    this.clientServer.keepAliveTimeout = 65_000;
    await listen(this.peerServer, options.peerPort, options.host);
    await listen(this.clientServer, options.port, options.host);
    log.info(`serving clients on ${options.host}:${options.port} and peers on ${options.host}:${options.peerPort} (ring epoch ${this.ringState.epoch})`);
  }

  async stop(): Promise<void> {
    await this.reaper?.stop();
    this.peerProtocol?.closeAll();
    this.ringState?.closeAll();
    await Promise.all([closeServer(this.clientServer), closeServer(this.peerServer)]);
    await this.store.close();
    this.log.info("stopped");
  }

  private readiness(): { ready: boolean; reason?: string } {
    const ring = this.ringState.ring;
    if (!ring) return { ready: false, reason: "no ring installed yet" };
    if (!ring.members[this.options.id]) return { ready: false, reason: `this node (${this.options.id}) is not a member of ring epoch ${ring.epoch}` };
    return { ready: true };
  }

  private nodeView(): Record<string, unknown> {
    return {
      id: this.options.id,
      incarnation: this.store.incarnation,
      actor: this.store.actor,
      epoch: this.ringState.epoch,
      clientUrl: this.clientUrl,
      peerUrl: this.peerUrl,
      ready: this.readiness().ready,
      uptimeMs: Date.now() - this.startedAt,
    };
  }

  private clusterView(): Record<string, unknown> {
    const ring = this.ringState.ring;
    if (!ring) return { node: this.options.id, epoch: 0, partitions: 0, members: [], pending: [], transfers: { pending: 0, active: 0 } };
    const counts = partitionsPerMember(ring.owners);
    return {
      node: this.options.id,
      incarnation: this.store.incarnation,
      epoch: ring.epoch,
      partitions: ring.partitions,
      members: Object.values(ring.members)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((m) => ({
          id: m.id,
          state: m.state,
          liveness: m.id === this.options.id ? "self" : this.ringState.isReachable(m.id) ? "up" : "down",
          incarnation: m.incarnation,
          clientUrl: m.clientUrl,
          peerUrl: m.peerUrl,
          partitions: counts[m.id] ?? 0,
        })),
      pending: ring.pending,
      transfers: { pending: ring.pending.length, active: 0 },
    };
  }
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, "listening");
}

async function closeServer(server: Server | undefined): Promise<void> {
  if (!server || !server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
