/**
 * A storage node: wires the store, the ring, gossip and failure detection, the peer protocol, the coordinator, hints,
 * rebuilds, anti-entropy and the HTTP servers together, and owns their lifecycle. It holds no logic of its own beyond
 * what `start` and `stop` need.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { createServer, type Server } from "node:http";
import express from "express";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import { AntiEntropy } from "./anti-entropy/index.js";
import { mergePageHandlers } from "./backup/index.js";
import { Gossiper, MemberView, PhiAccrualDetector, RingState, DEFAULT_FAILURE_DETECTOR } from "./cluster/index.js";
import { replicationWarnings, type NodeConfig } from "./config/index.js";
import { AdaptivePace, HintDelivery, HintStore, PartitionJanitor, partitionSourceHandlers, Rebuilder, TransferReceiver, type ReplicaAccess } from "./handoff/index.js";
import { createConsoleRoutes } from "./console/index.js";
import { ClientRing, ClientSecurity, KvRoutes, answerClientError, clientAuthorization, createAdminApi, createClientApi, createClientServer, withKvFastPath, type ClientSecurityOptions } from "./http/index.js";
import { Drain } from "./lifecycle/index.js";
import { createLogger, keyForLog, rateLimited, type Logger } from "./log.js";
import { NodeMetrics } from "./metrics/index.js";
import { FaultInjector, PeerClient, PeerServer, type PeerHandlers } from "./peer/index.js";
import { SCAN_PAGE_BYTES_MAX, type LocalRecord, type NodeConfigView, type NodeInfo } from "./protocol/index.js";
import { ownedPartitions, partitionOf, partitionsPerMember, preferenceList } from "./ring/index.js";
import { Coordinator, LocalReplica, replicationCeiling } from "./replication/index.js";
import { NodeStatsCollector } from "./stats/index.js";
import { Store, TombstoneReaper } from "./storage/index.js";
import type { TlsDir } from "./tls/index.js";
import { HybridClock } from "./versioning/index.js";

export interface NodeOptions {
  id: string;
  /** Interface the client and peer servers bind to. */
  host: string;
  port: number;
  peerPort: number;
  /** Host name or IP other nodes use to reach this one. */
  advertise: string;
  /** The zone this node runs in, reported through the admin API so the RingDriver records it in the ring. */
  zone?: string;
  dataDir: string;
  /** Peer URLs to ask for the ring while this node has none. */
  seeds: string[];
  config: NodeConfig;
  token: string;
  /**
   * The peer port's TLS material (mutual TLS from the cluster CA); undefined only when the operator of the node opted
   * out explicitly (`--insecure-peer-plaintext`).
   */
  tls: TlsDir | undefined;
  /** The client port's TLS directory and tokens file; each off when absent. */
  clientSecurity?: ClientSecurityOptions;
  /** Enables the admin API's network-cut endpoint; for tests only. */
  faultInjection?: boolean;
  /** Serves the read-only web console at /ui on the client port (default true). */
  console?: boolean;
  logger?: Logger;
}

export class StorageNode {
  readonly metrics = new NodeMetrics();
  readonly log: Logger;
  private readonly store: Store;
  private readonly detector: PhiAccrualDetector;
  private readonly faults: FaultInjector | undefined;
  private ringState!: RingState;
  private cluster!: MemberView;
  private hints!: HintStore;
  private rebuilder!: Rebuilder;
  private gossiper: Gossiper | undefined;
  private hintDelivery: HintDelivery | undefined;
  private antiEntropy: AntiEntropy | undefined;
  private reaper: TombstoneReaper | undefined;
  private receiver!: TransferReceiver;
  private pace!: AdaptivePace;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private stats: NodeStatsCollector | undefined;
  private janitor: PartitionJanitor | undefined;
  private replica!: LocalReplica;
  private clientServer: Server | undefined;
  private peerServer: Server | TlsServer | undefined;
  private peerProtocol: PeerServer | undefined;
  private seedClients: PeerClient[] = [];
  private clientSecurity: ClientSecurity | undefined;
  private readonly drainGate: Drain;

  constructor(readonly options: NodeOptions) {
    this.log = options.logger ?? createLogger(options.id);
    this.store = new Store(options.dataDir, {
      cacheBytesMax: options.config.tuning.recordCacheBytes,
      syncWrites: options.config.tuning.syncWrites,
    });
    const { phiThreshold, gossipIntervalMs } = options.config.tuning;
    this.detector = new PhiAccrualDetector({
      ...DEFAULT_FAILURE_DETECTOR,
      phiThreshold,
      intervalMaxMs: Math.max(DEFAULT_FAILURE_DETECTOR.intervalMaxMs, 4 * gossipIntervalMs),
    });
    this.faults = options.faultInjection ? new FaultInjector() : undefined;
    this.drainGate = new Drain(options.id);
  }

  get clientUrl(): string {
    return `${this.options.clientSecurity?.tlsDir ? "https" : "http"}://${this.options.advertise}:${this.options.port}`;
  }

  get peerUrl(): string {
    return `${this.options.tls ? "https" : "http"}://${this.options.advertise}:${this.options.peerPort}`;
  }

  /**
   * Whether this node believes a member is up: heard from recently (phi), not refusing connections, and not shutting
   * down (it said so before it stopped).
   */
  isUp(id: string): boolean {
    return this.cluster.isUp(id);
  }

  async start(): Promise<void> {
    const { options, log } = this;
    const tuning = options.config.tuning;
    const targetN = Math.max(...[...options.config.buckets.values()].map((b) => b.n));
    // Client tokens and certificates are checked first: a node that cannot load them must not start at all.
    this.clientSecurity = new ClientSecurity(options.clientSecurity ?? {}, log);
    await this.store.open();
    if (this.store.freshIncarnation) log.info(`new data directory ${options.dataDir}: incarnation ${this.store.incarnation}`);
    const tls = options.tls;
    const peerOptions = {
      token: options.token,
      timeoutMs: tuning.peerTimeoutMs,
      inFlightMax: tuning.peerInFlightMax,
      reconnectDelayMs: 250,
      faults: this.faults,
      tls: tls && (() => tls.clientOptions()),
    };
    this.ringState = new RingState(this.store, options.id, peerOptions);
    this.seedClients = options.seeds.map((url) => new PeerClient(url, { ...peerOptions, from: options.id }));

    const gossiper = new Gossiper(
      {
        self: options.id,
        ring: () => this.ringState.ring,
        ringHash: () => this.ringState.hash,
        installRing: (ring) => this.ringState.install(ring),
        peer: (id) => this.ringState.peer(id),
        seedClients: () => this.seedClients,
        detector: this.detector,
        random: Math.random,
        now: monotonicMs,
        log: (m) => log.info(m),
      },
      { intervalMs: tuning.gossipIntervalMs, fanout: tuning.gossipFanout, heartbeatMaxDelayMs: this.detector.intervalMaxMs },
    );
    this.gossiper = gossiper;
    const cluster = new MemberView(options.id, this.ringState, this.detector, gossiper, monotonicMs);
    this.cluster = cluster;

    const warnHints = rateLimited((m) => log.warn(m), 10_000);
    this.hints = new HintStore(this.store, { countMax: tuning.hintsMax, bytesMax: tuning.hintBytesMax }, {
      refused: (owner, reason) => {
        this.metrics.hintsRefused.inc();
        warnHints(`refused a hint for ${owner}: ${reason}; the write relies on the other replicas and anti-entropy`);
      },
    });
    await this.hints.load();

    const warnSiblings = rateLimited((m) => log.warn(m), 10_000);
    const limits = { siblingsWarn: tuning.siblingsWarn, siblingsMax: tuning.siblingsMax, recordBytesMax: tuning.recordBytesMax };
    this.replica = new LocalReplica(this.store, new HybridClock(), limits, {
      siblingWarning: (at, count) => {
        this.metrics.siblingWarnings.inc();
        warnSiblings(`key ${keyForLog(at.bucket, at.key)} has ${count} siblings (warning limit ${tuning.siblingsWarn})`);
      },
      siblingRefusal: (at, count) => {
        this.metrics.siblingRefusals.inc();
        warnSiblings(`refused a write to ${keyForLog(at.bucket, at.key)}: ${count} siblings would exceed ${tuning.siblingsMax}`);
      },
      recordRefusal: (at, bytes, merge) => {
        this.metrics.recordRefusals.inc({ path: merge ? "merge" : "write" });
        warnSiblings(
          merge
            ? `kept the local version of ${at.bucket}/${at.key.toString("utf8")}: merging another replica's would make it ${bytes} bytes, over the replication ceiling (2 x recordBytesMax = ${2 * tuning.recordBytesMax})`
            : `refused a write to ${at.bucket}/${at.key.toString("utf8")}: its record would be ${bytes} bytes, over recordBytesMax (${tuning.recordBytesMax})`,
        );
      },
    });
    const mergeInto = async (partition: number, bucketName: string, key: Buffer, record: Parameters<LocalReplica["merge"]>[2]) => {
      const bucket = options.config.buckets.get(bucketName);
      if (!bucket) return false;
      return (await this.replica.merge({ partition, bucket: bucketName, key }, bucket.reconciliation, record)).changed;
    };

    // One pace for all of this node's partition streaming, sent and received, handoff and rebuilds: it backs off
    // while the event loop that serves clients falls behind (node/handoff/adaptive-pace.ts).
    this.loopDelay.enable();
    this.pace = new AdaptivePace({
      ceilingBytesPerSecond: tuning.handoffBytesPerSecond,
      // The floor, an eighth of the ceiling (8 MiB/s by default, what handoff used to reach at all), keeps a node on a
      // machine that is slow for other reasons from stalling a large handoff; never below 1 MiB/s unless the ceiling is.
      floorBytesPerSecond: Math.max(Math.min(tuning.handoffBytesPerSecond, 1024 * 1024), Math.floor(tuning.handoffBytesPerSecond / 8)),
      lagTargetMs: tuning.handoffLagTargetMs,
      idleFactor: 1.5,
      windowMs: 250,
      lag: () => {
        const ms = this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e6 : 0;
        this.loopDelay.reset();
        return ms;
      },
    });
    const paced = (bytes: number) => this.pace.take(bytes);
    const replicaAccess: ReplicaAccess = {
      store: this.store,
      cluster,
      targetN,
      mergePage: async (partition, entries) => {
        // Records of buckets this node does not know are skipped, as a single merge would skip them.
        const known = entries.flatMap((e) => {
          const bucket = options.config.buckets.get(e.bucket);
          return bucket ? [{ ...e, mode: bucket.reconciliation }] : [];
        });
        await this.replica.mergeMany(partition, known);
      },
    };
    this.rebuilder = new Rebuilder({
      ...replicaAccess,
      batchMax: tuning.rebuildBatchMax,
      pace: paced,
      onProgress: (keys) => {
        this.metrics.rebuildKeys.inc(keys);
        this.metrics.rebuildPendingPartitions.set(this.rebuilder.pendingPartitions);
      },
      log: (m) => log.info(m),
    });
    await this.rebuilder.load();

    this.receiver = new TransferReceiver({
      ...replicaAccess,
      concurrencyMax: tuning.transferConcurrency,
      batchMax: tuning.handoffBatchMax,
      pace: paced,
      onBatch: (keys, bytes) => {
        this.metrics.handoffKeys.inc(keys);
        this.metrics.handoffBytes.inc(bytes);
      },
      onDone: (_p, durationMs) => this.metrics.transferDuration.observe(durationMs / 1000),
      onError: () => this.metrics.handoffErrors.inc(),
      log: (m) => log.info(m),
    });
    await this.receiver.load();
    this.janitor = new PartitionJanitor({
      store: this.store,
      hints: this.hints,
      cluster,
      targetN,
      delayMs: tuning.dropDelayMs,
      intervalMs: Math.max(1000, Math.min(tuning.dropDelayMs, 30_000)),
      onDropped: (partition) => {
        this.metrics.partitionsDropped.inc();
        this.antiEntropy?.forget(partition);
      },
      log: (m) => log.info(m),
    });

    let warned = "";
    this.ringState.onChange((ring) => {
      const warnings = this.replicationWarnings().join("; ");
      if (warnings !== warned && warnings !== "") log.warn(warnings);
      warned = warnings;
      this.metrics.ringEpoch.set(ring.epoch);
      this.metrics.ownedPartitions.set(ownedPartitions(ring, options.id).length);
      this.gossiper!.welcome(ring);
      void this.rebuilder.onRing(ring).catch((err: Error) => log.error(`cannot start the rebuild: ${err.message}`));
      this.receiver.onRing(ring);
    });
    await this.ringState.load();

    const isReplica = (partition: number) => {
      const ring = this.ringState.ring;
      if (!ring) return false;
      return preferenceList(ring, partition, targetN).includes(options.id) || ring.pending.some((t) => t.partition === partition && t.to === options.id);
    };
    const coordinator = new Coordinator({
      cluster,
      bucket: (name) => options.config.buckets.get(name),
      replica: this.replica,
      hints: this.hints,
      canVote: (partition) => this.canVote(partition),
      tuning,
      metrics: this.metrics,
      log: (m) => log.warn(m),
    });

    this.hintDelivery = new HintDelivery({
      store: this.store,
      hints: this.hints,
      cluster,
      isReplica,
      targetN,
      intervalMs: tuning.hintDeliveryIntervalMs,
      batchMax: tuning.hintBatchMax,
      concurrencyMax: 32,
      onDelivered: (count) => this.metrics.hintsDelivered.inc(count),
      onDropped: (ref, reason) => {
        this.metrics.hintsDropped.inc();
        warnHints(`gave up a hint of ${ref.bucket}/${ref.key.toString("utf8")} for ${ref.owner}: ${reason}`);
      },
      log: (m) => log.info(m),
    });

    this.antiEntropy = new AntiEntropy({
      store: this.store,
      cluster,
      targetN,
      canVote: (partition) => this.canVote(partition),
      merge: mergeInto,
      intervalMs: tuning.antiEntropyIntervalMs,
      keysPerSecond: tuning.antiEntropyKeysPerSecond,
      rebuildIntervalMs: tuning.antiEntropyRebuildIntervalMs,
      metrics: this.metrics,
      log: (m) => log.info(m),
    });
    this.replica.onWrite((at, before, after) => this.antiEntropy!.recordChange(at, before, after));

    this.reaper = new TombstoneReaper(this.store, {
      graceMs: tuning.tombstoneGraceMs,
      intervalMs: tuning.reapIntervalMs,
      batchMax: tuning.reapBatchMax,
      onReaped: (count) => this.metrics.tombstonesReaped.inc(count),
      onRemoved: (at, before) => this.antiEntropy!.recordChange(at, before, undefined),
      log: (m) => log.info(m),
    });

    const handlers: PeerHandlers = {
      ...coordinator.peerHandlers(),
      ...partitionSourceHandlers(this.store, {
        pageBytesMax: SCAN_PAGE_BYTES_MAX,
        recordBytesMax: replicationCeiling(limits),
        canVote: (partition) => this.canVote(partition),
        epoch: () => this.ringState.epoch,
        skipped: (m) => warnSiblings(m),
        pace: paced,
      }),
      ...mergePageHandlers({
        epoch: () => this.ringState.epoch,
        replicates: isReplica,
        reconciliation: (name) => options.config.buckets.get(name)?.reconciliation,
        mergeMany: (partition, entries) => this.replica.mergeMany(partition, entries),
      }),
      ...this.gossiper.peerHandlers(),
      ...this.antiEntropy.peerHandlers(),
    };
    this.peerProtocol = new PeerServer(
      { token: options.token, inFlightMax: tuning.peerInFlightMax, log: (m) => log.warn(m), faults: this.faults },
      this.drainGate.peerGate(handlers),
    );

    const contextSecret = createHash("sha256").update("dynamo-context\u0000").update(options.token).digest();
    this.stats = new NodeStatsCollector({
      metrics: this.metrics,
      dataDir: options.dataDir,
      identity: () => ({ id: options.id, incarnation: this.store.incarnation, epoch: this.ringState.epoch, ready: this.readiness().ready }),
      hints: () => this.hints.stats(),
      transfers: () => this.receiver.list(),
      rebuildingPartitions: () => this.rebuilder.pendingPartitions,
      log: (m) => log.warn(m),
    });
    const consoleRoutes = createConsoleRoutes({
      enabled: options.console ?? true,
      cluster,
      token: options.token,
      tls: peerOptions.tls,
      stats: () => this.stats!.view(),
      phiThreshold: tuning.phiThreshold,
      log: (m) => log.warn(m),
    });
    const apiDeps = {
      coordinator,
      buckets: options.config.buckets,
      tuning,
      metrics: this.metrics,
      contextSecret,
      cluster: () => this.clusterView(),
      ready: () => this.readiness(),
      log: (m: string) => log.error(m),
    };
    const kvRoutes = new KvRoutes(apiDeps);
    const kvApp = createClientApi(apiDeps, kvRoutes);
    const clientApp = express();
    clientApp.disable("x-powered-by");
    const tokens = this.clientSecurity.tokens;
    if (tokens) clientApp.use(clientAuthorization(tokens));
    // The ring view for clients that send each request to a replica of its key (docs/client-routing.md).
    const clientRing = new ClientRing({ self: options.id, ring: () => this.ringState.ring, buckets: options.config.buckets, metrics: this.metrics });
    clientApp.get("/v1/ring", clientRing.route);
    clientApp.use(consoleRoutes, kvApp);
    const adminApp = createAdminApi({
      token: options.token,
      node: () => this.nodeView(),
      ring: () => this.ringState.ring,
      installRing: (ring) => this.ringState.install(ring, "commit"),
      localRecord: (bucket, key) => this.localRecord(bucket, key),
      transfers: () => ({ epoch: this.ringState.epoch, transfers: this.receiver.list() }),
      stats: () => this.stats!.view(),
      config: () => this.configView(),
      setCut: this.faults ? (ids) => this.faults!.setCut(ids) : undefined,
      log: (m) => log.info(m),
    });

    this.peerServer = this.createPeerServer(adminApp);
    this.peerProtocol.attach(this.peerServer);
    this.clientServer = createClientServer(
      this.drainGate.clientGate(clientRing.withHints(withKvFastPath(kvRoutes, tokens, clientApp))),
      {
        connectionsMax: tuning.clientConnectionsMax,
        headersTimeoutMs: tuning.clientHeadersTimeoutMs,
        bodyTimeoutMs: tuning.clientBodyTimeoutMs,
        requestTimeoutMs: tuning.requestTimeoutMs,
      },
      this.clientSecurity.tlsOptions(),
    );
    this.clientSecurity.watchCertificates(this.clientServer);
    this.peerServer.on("clientError", answerClientError);
    await listen(this.peerServer, options.peerPort, options.host);
    await listen(this.clientServer, options.port, options.host);

    this.gossiper.start();
    this.hintDelivery.start();
    this.antiEntropy.start();
    this.reaper.start();
    this.janitor.start();
    this.rebuilder.kick();
    this.stats.start();
    setInterval(() => this.refreshGauges(), 1000).unref();
    log.info(`serving clients on ${options.host}:${options.port} and peers on ${options.host}:${options.peerPort} (ring epoch ${this.ringState.epoch}, incarnation ${this.store.incarnation})`);
  }

  /**
   * The first half of a planned stop (SIGTERM): readiness turns false and new client requests are refused with a
   * retryable 503, every other member hears that this node is leaving (so their coordinators stop sending it work
   * now rather than after the failure detector's window), and the requests already in flight get up to
   * `drainTimeoutMs` to finish. `stop` then closes the ports and flushes the store.
   */
  async drain(): Promise<void> {
    const started = performance.now();
    this.drainGate.begin();
    const { told, members } = (await this.gossiper?.announceLeave(LEAVE_NOTICE_TIMEOUT_MS)) ?? { told: 0, members: 0 };
    const idle = await this.drainGate.whenIdle(this.options.config.tuning.drainTimeoutMs);
    const { client, peer } = this.drainGate.inFlight;
    const elapsed = Math.round(performance.now() - started);
    this.log.info(
      idle
        ? `drained in ${elapsed} ms: ${told} of ${members} members told that this node is leaving, no request left in flight`
        : `drain timed out after ${elapsed} ms with ${client} client and ${peer} peer requests still in flight; closing anyway (${told} of ${members} members told)`,
    );
  }

  async stop(): Promise<void> {
    this.stats?.stop();
    this.loopDelay.disable();
    await Promise.all([
      this.gossiper?.stop(),
      this.hintDelivery?.stop(),
      this.antiEntropy?.stop(),
      this.reaper?.stop(),
      this.rebuilder?.stop(),
      this.receiver?.stop(),
      this.janitor?.stop(),
    ]);
    this.options.tls?.close();
    this.peerProtocol?.closeAll();
    this.ringState?.closeAll();
    for (const client of this.seedClients) client.close();
    this.clientSecurity?.close();
    await Promise.all([closeServer(this.clientServer), closeServer(this.peerServer)]);
    await this.store.close();
    this.log.info("stopped");
  }

  /**
   * The peer port's server: HTTPS requiring a client certificate from the cluster CA, whose certificates are reloaded
   * when the TLS directory changes (new connections use them; open ones keep theirs), or, when the node was told to
   * run without TLS, plain HTTP and a warning that says so at start.
   */
  private createPeerServer(app: ReturnType<typeof createAdminApi>): Server | TlsServer {
    const { tls } = this.options;
    if (!tls) {
      this.log.warn(
        "PEER TLS IS OFF (--insecure-peer-plaintext): replication, gossip, handoff and the admin API travel unencrypted and the cluster token crosses the network in the clear; use this for local tests only",
      );
      return createServer(app);
    }
    const server = createTlsServer(tls.serverOptions(), app);
    const warnHandshake = rateLimited((m) => this.log.warn(m), 10_000);
    server.on("tlsClientError", (err, socket) => warnHandshake(`refused a TLS connection on the peer port from ${socket.remoteAddress ?? "?"}: ${err.message}`));
    tls.watch(
      TLS_RELOAD_INTERVAL_MS,
      (material) => {
        server.setSecureContext(material);
        this.log.info(`reloaded the peer port's TLS certificates from ${tls.dir}`);
      },
      (problem) => this.log.warn(`not reloading TLS certificates yet: ${problem}`),
    );
    return server;
  }

  /**
   * Whether this node's copy of a partition may answer reads: not while it is being rebuilt after a lost disk, and
   * not while it is still receiving a rebuild transfer for it.
   */
  private canVote(partition: number): boolean {
    const ring = this.ringState.ring;
    if (!ring || this.rebuilder.isRebuilding(partition)) return false;
    return !ring.pending.some((t) => t.partition === partition && t.to === this.options.id && t.kind === "rebuild");
  }

  private refreshGauges(): void {
    const cache = this.store.cacheStats();
    this.metrics.cacheHits.set(cache.hits);
    this.metrics.cacheMisses.set(cache.misses);
    this.metrics.cacheBytes.set(cache.bytes);
    this.metrics.transfersActive.set(this.receiver.activeCount);
    this.metrics.handoffPace.set(this.pace.state.bytesPerSecond);
    const stats = this.hints.stats();
    this.metrics.hints.set(stats.count);
    this.metrics.hintBytes.set(stats.bytes);
    this.metrics.rebuildPendingPartitions.set(this.rebuilder.pendingPartitions);
    const ring = this.ringState.ring;
    if (ring) this.metrics.membersDown.set(Object.keys(ring.members).filter((id) => !this.isUp(id)).length);
  }

  private readiness(): { ready: boolean; reason?: string; warnings?: string[] } {
    if (this.drainGate.isDraining) return { ready: false, reason: "shutting down" };
    const ring = this.ringState.ring;
    if (!ring) return { ready: false, reason: "no ring installed yet" };
    if (!ring.members[this.options.id]) return { ready: false, reason: `this node (${this.options.id}) is not a member of ring epoch ${ring.epoch}` };
    const warnings = this.replicationWarnings();
    return warnings.length > 0 ? { ready: true, warnings } : { ready: true };
  }

  /** Buckets whose n the current ring cannot give (empty while there is no ring). */
  private replicationWarnings(): string[] {
    const ring = this.ringState.ring;
    return ring ? replicationWarnings(this.options.config.buckets.values(), new Set(ring.owners).size) : [];
  }

  private async localRecord(bucket: string, key: Buffer): Promise<LocalRecord> {
    const ring = this.ringState.ring;
    if (!ring) return { found: false, reason: "no ring" };
    const partition = partitionOf(bucket, key, ring.partitions);
    const record = await this.replica.read({ partition, bucket, key });
    if (!record) return { partition, found: false };
    return {
      partition,
      found: true,
      clock: record.clock,
      siblings: record.siblings.map((s) => ({
        dot: s.dot,
        deleted: s.value === null,
        value: s.value?.toString("base64") ?? null,
        contentType: s.contentType,
        timestamp: s.timestamp,
      })),
    };
  }

  private configView(): NodeConfigView {
    const { buckets, tuning } = this.options.config;
    return { buckets: [...buckets.values()], tombstoneGraceMs: tuning.tombstoneGraceMs, recordBytesMax: tuning.recordBytesMax };
  }

  private nodeView(): NodeInfo {
    return {
      id: this.options.id,
      pid: process.pid,
      incarnation: this.store.incarnation,
      ...(this.options.zone !== undefined ? { zone: this.options.zone } : {}),
      actor: this.store.actor,
      epoch: this.ringState.epoch,
      clientUrl: this.clientUrl,
      peerUrl: this.peerUrl,
      ready: this.readiness().ready,
      uptimeMs: Math.round(process.uptime() * 1000),
      hints: this.hints.stats(),
      rebuildingPartitions: this.rebuilder.pendingPartitions,
      rebuild: this.rebuilder.status(),
      transfers: this.receiver.list(),
      faults: this.faults ? { cut: this.faults.cutMembers } : undefined,
      tls: { peer: this.options.tls?.fingerprints(), client: this.clientSecurity?.fingerprints() },
      draining: this.drainGate.isDraining,
      down: this.membersDown(),
    };
  }

  /** Ring members this node counts as down (failure detector, refused connections, or a leave announced). */
  private membersDown(): string[] {
    const ring = this.ringState.ring;
    return ring ? Object.keys(ring.members).filter((id) => !this.isUp(id)).sort() : [];
  }

  private clusterView(): Record<string, unknown> {
    const ring = this.ringState.ring;
    if (!ring) return { node: this.options.id, epoch: 0, partitions: 0, members: [], pending: [], transfers: { pending: 0, active: 0 } };
    const counts = partitionsPerMember(ring.owners);
    const now = monotonicMs();
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
          liveness: m.id === this.options.id ? "self" : this.isUp(m.id) ? "up" : "down",
          phi: m.id === this.options.id ? 0 : round(this.detector.phi(m.id, now)),
          incarnation: m.incarnation,
          ...(m.zone !== undefined ? { zone: m.zone } : {}),
          clientUrl: m.clientUrl,
          peerUrl: m.peerUrl,
          partitions: counts[m.id] ?? 0,
        })),
      pending: ring.pending,
      owners: ring.owners,
      ...(ring.nextOwners ? { nextOwners: ring.nextOwners } : {}),
      transfers: { pending: ring.pending.length, active: this.receiver.activeCount, receiving: this.receiver.list() },
      hints: this.hints.stats(),
      rebuildingPartitions: this.rebuilder.pendingPartitions,
      warnings: this.replicationWarnings(),
    };
  }
}

/** How long one member may take to acknowledge that this node is leaving; a silent one learns it from its detector. */
const LEAVE_NOTICE_TIMEOUT_MS = 1000;

/** How often the TLS directory is checked for rotated certificates. */
const TLS_RELOAD_INTERVAL_MS = 5000;

/**
 * The clock failure detection measures with. Never the wall clock: an NTP step (or any skew correction) would
 * make the time since a member's last heartbeat negative — a dead member looks alive for as long as the step — or
 * enter the history as one huge interval that slows every later detection.
 */
function monotonicMs(): number {
  return performance.now();
}

function round(n: number): number | string {
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : "Infinity";
}

async function listen(server: Server | TlsServer, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, "listening");
}

async function closeServer(server: Server | TlsServer | undefined): Promise<void> {
  if (!server || !server.listening) return;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
