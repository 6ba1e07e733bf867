/**
 * A storage node: wires the store, the ring, gossip and failure detection, the peer protocol, the coordinator, hints,
 * rebuilds, anti-entropy and the HTTP servers together, and owns their lifecycle. `start` runs the named steps below
 * in order; each builds one group of components and returns it, so nothing is ever half set up, and the node keeps
 * what they built only once every step has succeeded. It holds no logic of its own beyond wiring, starting and
 * stopping.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createServer, type Server } from "node:http";
import express from "express";
import { createServer as createTlsServer, type Server as TlsServer } from "node:https";
import { PeriodicTask } from "../lib/periodic-task.js";
import { AntiEntropy } from "./anti-entropy/index.js";
import { mergePageHandlers } from "./backup/index.js";
import { Gossiper, MemberView, PhiAccrualDetector, RingState, DEFAULT_FAILURE_DETECTOR } from "./cluster/index.js";
import { handoffFloorBytesPerSecond, type NodeConfig, type Tuning } from "./config/index.js";
import { AdaptivePace, GcPauses, HintDelivery, LatencyWindow, HintStore, PartitionJanitor, partitionSourceHandlers, Rebuilder, TransferReceiver, type ReplicaAccess } from "./handoff/index.js";
import { createConsoleRoutes } from "./console/index.js";
import { ClientRing, ClientSecurity, KvRoutes, answerClientError, clientAuthorization, closeServer, createAdminApi, createClientApi, createClientServer, withKvFastPath, type ClientSecurityOptions } from "./http/index.js";
import { Drain } from "./lifecycle/index.js";
import { createLogger, keyForLog, rateLimited, type Logger } from "./log.js";
import { NodeMetrics } from "./metrics/index.js";
import { FaultInjector, PeerClient, PeerServer, type PeerClientOptions, type PeerHandlers } from "./peer/index.js";
import { SCAN_PAGE_BYTES_MAX, type PeerHandler, type PeerOp } from "./protocol/index.js";
import { ownedPartitions, pendingTransfers, preferenceList } from "./ring/index.js";
import { Coordinator, LocalReplica, replicationCeiling, type MergeEntry, type RecordLimits } from "./replication/index.js";
import { NodeStatsCollector } from "./stats/index.js";
import { NodeStatus } from "./status/index.js";
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
  /** What `start` built, set once all of it stands; undefined before, after a failed start, and after `stop`. */
  private running: RunningNode | undefined;

  constructor(readonly options: NodeOptions) {
    this.log = options.logger ?? createLogger(options.id);
  }

  get clientUrl(): string {
    return `${this.options.clientSecurity?.tlsDir ? "https" : "http"}://${this.options.advertise}:${this.options.port}`;
  }

  get peerUrl(): string {
    return `${this.options.tls ? "https" : "http"}://${this.options.advertise}:${this.options.peerPort}`;
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`node ${this.options.id} is already running`);
    const { options, log, metrics } = this;
    const tuning = options.config.tuning;
    const node: NodeContext = {
      options,
      tuning,
      targetN: Math.max(...[...options.config.buckets.values()].map((b) => b.n)),
      log,
      metrics,
      clientUrl: this.clientUrl,
      peerUrl: this.peerUrl,
    };
    // Client tokens and certificates are checked first: a node that cannot load them must not start at all.
    const clientSecurity = new ClientSecurity(options.clientSecurity ?? {}, log);
    const storage = await openStorage(node);
    try {
      const membership = joinCluster(node, storage.store);
      const local = buildReplica(node, storage.store);
      const transfers = await buildTransfers(node, storage.store, membership.cluster, local.replica);
      const drain = new Drain(options.id);
      const status = new NodeStatus({
        cluster: membership.cluster,
        config: options.config,
        zone: options.zone,
        clientUrl: node.clientUrl,
        peerUrl: node.peerUrl,
        store: storage.store,
        replica: local.replica,
        hints: storage.hints,
        rebuilder: transfers.rebuilder,
        receiver: transfers.receiver,
        drain,
        faults: membership.faults,
        tls: () => ({ peer: options.tls?.fingerprints(), client: clientSecurity.fingerprints() }),
      });
      await followRing(node, membership, transfers, status);
      const repairs = buildRepairs(node, storage, membership.cluster, local.replica, transfers);
      const coordinator = new Coordinator({
        cluster: membership.cluster,
        bucket: (name) => options.config.buckets.get(name),
        replica: local.replica,
        hints: storage.hints,
        canVote: transfers.canVote,
        tuning,
        metrics,
        log: (m) => log.warn(m),
      });
      const ports = await servePorts(node, { storage, membership, local, transfers, repairs, coordinator, status, drain, clientSecurity });
      const loops = [membership.gossiper, repairs.hintDelivery, repairs.antiEntropy, repairs.reaper, repairs.janitor, repairs.gauges];
      for (const loop of loops) loop.start();
      transfers.rebuilder.kick();
      ports.stats.start();
      this.running = { storage, membership, transfers, repairs, ports, drain, clientSecurity, loops };
      log.info(`serving clients on ${options.host}:${options.port} and peers on ${options.host}:${options.peerPort} (ring epoch ${membership.ringState.epoch}, incarnation ${storage.store.incarnation})`);
    } catch (err) {
      // The process exits after a failed start (node/main.ts); the store is closed first so LevelDB releases its lock
      // and flushes, and the client certificates' watch lets go of its timer.
      clientSecurity.close();
      await storage.store.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The first half of a planned stop (SIGTERM): readiness turns false and new client requests are refused with a
   * retryable 503, every other member hears that this node is leaving (so their coordinators stop sending it work
   * now rather than after the failure detector's window), and the requests already in flight get up to
   * `drainTimeoutMs` to finish. `stop` then closes the ports and flushes the store.
   */
  async drain(): Promise<void> {
    const running = this.running;
    if (!running) return;
    const started = performance.now();
    running.drain.begin();
    const { told, members } = await running.membership.gossiper.announceLeave(LEAVE_NOTICE_TIMEOUT_MS);
    const idle = await running.drain.whenIdle(this.options.config.tuning.drainTimeoutMs);
    const { client, peer } = running.drain.inFlight;
    const elapsed = Math.round(performance.now() - started);
    this.log.info(
      idle
        ? `drained in ${elapsed} ms: ${told} of ${members} members told that this node is leaving, no request left in flight`
        : `drain timed out after ${elapsed} ms with ${client} client and ${peer} peer requests still in flight; closing anyway (${told} of ${members} members told)`,
    );
  }

  async stop(): Promise<void> {
    const running = this.running;
    if (!running) return;
    this.running = undefined;
    const { storage, membership, transfers, ports } = running;
    ports.stats.stop();
    transfers.stopPaceSignals();
    // Every loop waits for its round in flight, so nothing touches the store or the network once this returns.
    await Promise.all([...running.loops.map((loop) => loop.stop()), transfers.rebuilder.stop(), transfers.receiver.stop()]);
    this.options.tls?.close();
    // Callers learn which of their requests this node never read, so they can send those elsewhere.
    await ports.peerProtocol.goAway(PEER_GOAWAY_TIMEOUT_MS);
    ports.peerProtocol.closeAll();
    membership.ringState.closeAll();
    for (const client of membership.seedClients) client.close();
    running.clientSecurity.close();
    await Promise.all([closeServer(ports.clientServer, CLIENT_CLOSE_GRACE_MS), closeServer(ports.peerServer)]);
    await storage.store.close();
    this.log.info("stopped");
  }
}

/** What every step reads: the node's options and the things shared by all of its parts. */
interface NodeContext {
  options: NodeOptions;
  tuning: Tuning;
  /** Replicas per partition to consider (the largest bucket n). */
  targetN: number;
  log: Logger;
  metrics: NodeMetrics;
  clientUrl: string;
  peerUrl: string;
}

/** A background loop of the node: gossip, hint delivery, anti-entropy, reaping, the janitor, the gauges. */
interface BackgroundLoop {
  start(): void;
  /** Resolves once the round in flight is over. */
  stop(): Promise<void>;
}

interface RunningNode {
  storage: Storage;
  membership: Membership;
  transfers: Transfers;
  repairs: Repairs;
  ports: Ports;
  drain: Drain;
  clientSecurity: ClientSecurity;
  loops: BackgroundLoop[];
}

interface Storage {
  store: Store;
  hints: HintStore;
}

/** The data directory: the store and the hints kept in it. */
async function openStorage({ options, tuning, log, metrics }: NodeContext): Promise<Storage> {
  const store = new Store(options.dataDir, {
    cacheBytesMax: tuning.recordCacheBytes,
    syncWrites: tuning.syncWrites,
    onWriteFailure: (err) => log.error(err.message),
  });
  await store.open();
  if (store.freshIncarnation) log.info(`new data directory ${options.dataDir}: incarnation ${store.incarnation}`);
  const { files, operations, discardedBytes } = store.recovery;
  if (files > 0) {
    const cut = discardedBytes > 0 ? `; ${discardedBytes} bytes after its last whole frame, a write cut short and never acknowledged, were left out` : "";
    log.info(`replayed ${operations} writes from the write log (${files} files) into the store${cut}`);
  }
  const warnHints = rateLimited((m) => log.warn(m), 10_000);
  const hints = new HintStore(store, { countMax: tuning.hintsMax, bytesMax: tuning.hintBytesMax }, {
    refused: (owner, reason) => {
      metrics.hintsRefused.inc();
      warnHints(`refused a hint for ${owner}: ${reason}; the write relies on the other replicas and anti-entropy`);
    },
  });
  try {
    await hints.load();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  return { store, hints };
}

interface Membership {
  ringState: RingState;
  detector: PhiAccrualDetector;
  gossiper: Gossiper;
  /** The one view of the cluster every other component takes. */
  cluster: MemberView;
  /** Peer clients for the seed URLs, which gossip asks for a ring while this node has none. */
  seedClients: PeerClient[];
  peerOptions: Omit<PeerClientOptions, "from">;
  /** Present only when the node runs with fault injection enabled. */
  faults: FaultInjector | undefined;
  /** What serves the requests peers send on the connections this node opened to them (set with the ports). */
  responders: { server: PeerServer | undefined };
}

/** The installed ring, the peer clients of its members, gossip and the failure detector it feeds. */
function joinCluster({ options, tuning, log }: NodeContext, store: Store): Membership {
  const faults = options.faultInjection ? new FaultInjector() : undefined;
  const tls = options.tls;
  // The peer server is made with the ports, after the clients: until then this node serves no request of a peer.
  const responders: Membership["responders"] = { server: undefined };
  const peerOptions: Omit<PeerClientOptions, "from"> = {
    token: options.token,
    timeoutMs: tuning.peerTimeoutMs,
    inFlightMax: tuning.peerInFlightMax,
    reconnectDelayMs: 250,
    faults,
    tls: tls && (() => tls.clientOptions()),
    serve: (socket, from, writer, compact) => responders.server?.serveOn(socket, from, writer, compact),
  };
  const detector = new PhiAccrualDetector({
    ...DEFAULT_FAILURE_DETECTOR,
    phiThreshold: tuning.phiThreshold,
    intervalMaxMs: Math.max(DEFAULT_FAILURE_DETECTOR.intervalMaxMs, 4 * tuning.gossipIntervalMs),
  });
  const ringState = new RingState(store, options.id, peerOptions);
  const seedClients = options.seeds.map((url) => new PeerClient(url, { ...peerOptions, from: options.id }));
  const gossiper = new Gossiper(
    {
      self: options.id,
      ring: () => ringState.ring,
      ringHash: () => ringState.hash,
      installRing: (ring) => ringState.install(ring),
      peer: (id) => ringState.peer(id),
      seedClients: () => seedClients,
      detector,
      random: Math.random,
      now: monotonicMs,
      log: (m) => log.info(m),
    },
    { intervalMs: tuning.gossipIntervalMs, fanout: tuning.gossipFanout, heartbeatMaxDelayMs: detector.intervalMaxMs },
  );
  const cluster = new MemberView(options.id, ringState, detector, gossiper, monotonicMs);
  return { ringState, detector, gossiper, cluster, seedClients, peerOptions, faults, responders };
}

interface Local {
  replica: LocalReplica;
  limits: RecordLimits;
  /** Rate-limited warnings about keys with too many siblings or records too large. */
  warnSiblings: (message: string) => void;
}

/** This node's replica of its partitions: versioning, sibling and size limits, and the warnings they raise. */
function buildReplica({ tuning, log, metrics }: NodeContext, store: Store): Local {
  const warnSiblings = rateLimited((m) => log.warn(m), 10_000);
  const limits = { siblingsWarn: tuning.siblingsWarn, siblingsMax: tuning.siblingsMax, recordBytesMax: tuning.recordBytesMax };
  const replica = new LocalReplica(store, new HybridClock(), limits, {
    siblingWarning: (at, count) => {
      metrics.siblingWarnings.inc();
      warnSiblings(`key ${keyForLog(at.bucket, at.key)} has ${count} siblings (warning limit ${tuning.siblingsWarn})`);
    },
    siblingRefusal: (at, count) => {
      metrics.siblingRefusals.inc();
      warnSiblings(`refused a write to ${keyForLog(at.bucket, at.key)}: ${count} siblings would exceed ${tuning.siblingsMax}`);
    },
    recordRefusal: (at, bytes, merge) => {
      metrics.recordRefusals.inc({ path: merge ? "merge" : "write" });
      warnSiblings(
        merge
          ? `kept the local version of ${at.bucket}/${at.key.toString("utf8")}: merging another replica's would make it ${bytes} bytes, over the replication ceiling (2 x recordBytesMax = ${2 * tuning.recordBytesMax})`
          : `refused a write to ${at.bucket}/${at.key.toString("utf8")}: its record would be ${bytes} bytes, over recordBytesMax (${tuning.recordBytesMax})`,
      );
    },
  });
  return { replica, limits, warnSiblings };
}

interface Transfers {
  /** Stops what the pace reads of the event loop: its delay monitor and its observer of collection pauses. */
  stopPaceSignals: () => void;
  /** The node's client request latencies, which the pace backs off from too (the client port records into it). */
  requestLatency: LatencyWindow;
  /** Counts a request served (a client's, or a replica operation for another node), so the pace knows a window had some. */
  noteServed: () => void;
  pace: AdaptivePace;
  rebuilder: Rebuilder;
  receiver: TransferReceiver;
  /**
   * Whether this node's copy of a partition may answer reads: not while it is being rebuilt after a lost disk, and
   * not while it is still receiving a rebuild transfer for it.
   */
  canVote: (partition: number) => boolean;
  /** Whether this node replicates a partition under its ring, or is receiving it. */
  isReplica: (partition: number) => boolean;
}

/** Partition streaming in and out: one adaptive pace, the rebuild of a lost disk, and the transfers of ring changes. */
async function buildTransfers({ options, tuning, targetN, log, metrics }: NodeContext, store: Store, cluster: MemberView, replica: LocalReplica): Promise<Transfers> {
  // One pace for all of this node's partition streaming, sent and received, handoff and rebuilds: it backs off
  // while the event loop that serves clients falls behind (node/handoff/adaptive-pace.ts).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const gcPauses = new GcPauses();
  const requestLatency = new LatencyWindow();
  let served = 0;
  const noteServed = () => {
    served += 1;
  };
  const pace = new AdaptivePace({
    ceilingBytesPerSecond: tuning.handoffBytesPerSecond,
    // The floor is where streaming goes on however much clients suffer. Under a client load that fills the cores the
    // pace sits there through a whole step (bench:rebalance --timeline), so the floor, not the pace, sets what the step
    // costs clients: 1 MiB/s raised their p99 about 1.8-fold during a step, 256 KiB/s (the default) 1.2-1.5-fold, in
    // steps three to four times as long (docs/performance.md, round 18).
    floorBytesPerSecond: handoffFloorBytesPerSecond(tuning),
    // A burst still starts at 1 MiB/s (the pace holds it under the ceiling): from the floor a node without clients
    // would take a window more to reach the ceiling, and one whose clients suffer is down at the floor two windows
    // later anyway.
    startBytesPerSecond: 1024 * 1024,
    lagTargetMs: tuning.handoffLagTargetMs,
    idleFactor: 1.5,
    windowMs: PACE_WINDOW_MS,
    // Node's readings include the 10 ms sampling interval; the target (tuning.handoffLagTargetMs) is held against
    // them as they are, which is how its default of 20 ms was measured to protect clients. The window's longest
    // collection pause is taken off (node/handoff/gc-pauses.ts).
    lag: () => {
      const ms = loopDelay.count > 0 ? loopDelay.percentile(99) / 1e6 : 0;
      loopDelay.reset();
      return Math.max(0, ms - gcPauses.take());
    },
    latency: () => requestLatency.takeP99(),
    latencyFactor: tuning.handoffLatencyFactor,
    served: () => {
      const count = served;
      served = 0;
      return count;
    },
    // In a window without requests only gossip waits with streaming for the loop; failure detection tolerates
    // seconds, and five times the target still keeps a page's merge from holding the loop long.
    quietLagTargetMs: 5 * tuning.handoffLagTargetMs,
  });
  // Every window is looked at, streaming or not, so that the levels without streaming are those of the last seconds.
  const sampler = setInterval(() => pace.sample(), PACE_WINDOW_MS).unref();
  const stopPaceSignals = () => {
    clearInterval(sampler);
    loopDelay.disable();
    gcPauses.stop();
  };
  const paced = (bytes: number) => pace.take(bytes);
  const pageBytes = () => pace.pageBytes();
  const replicaAccess: ReplicaAccess = {
    store,
    cluster,
    targetN,
    mergePage: async (partition, entries) => {
      // Records of buckets this node does not know are skipped, as a single merge would skip them. The page's entries
      // are this merge's own, so each is given its bucket's mode in place: copying every entry cost 82 ms of a joining
      // node's 3.3 CPU-seconds in a profiled scale-out.
      const known: MergeEntry[] = [];
      for (const entry of entries) {
        const bucket = options.config.buckets.get(entry.bucket);
        if (bucket) known.push(Object.assign(entry, { mode: bucket.reconciliation }));
      }
      await replica.mergeMany(partition, known);
    },
  };
  const rebuilder = new Rebuilder({
    ...replicaAccess,
    batchMax: tuning.rebuildBatchMax,
    pace: paced,
    pageBytes,
    onProgress: (keys) => {
      metrics.rebuildKeys.inc(keys);
      metrics.rebuildPendingPartitions.set(rebuilder.pendingPartitions);
    },
    log: (m) => log.info(m),
  });
  const receiver = new TransferReceiver({
    ...replicaAccess,
    concurrencyMax: tuning.transferConcurrency,
    batchMax: tuning.handoffBatchMax,
    pace: paced,
    pageBytes,
    onBatch: (keys, bytes) => {
      metrics.handoffKeys.inc(keys);
      metrics.handoffBytes.inc(bytes);
    },
    onDone: (_p, durationMs) => metrics.transferDuration.observe(durationMs / 1000),
    onError: () => metrics.handoffErrors.inc(),
    log: (m) => log.info(m),
  });
  try {
    await rebuilder.load();
    await receiver.load();
  } catch (err) {
    stopPaceSignals();
    throw err;
  }
  const canVote = (partition: number) => {
    const ring = cluster.ring();
    if (!ring || rebuilder.isRebuilding(partition)) return false;
    return !pendingTransfers(ring, partition).some((t) => t.to === options.id && t.kind === "rebuild");
  };
  const isReplica = (partition: number) => {
    const ring = cluster.ring();
    if (!ring) return false;
    return preferenceList(ring, partition, targetN).includes(options.id) || pendingTransfers(ring, partition).some((t) => t.to === options.id);
  };
  return { stopPaceSignals, requestLatency, noteServed, pace, rebuilder, receiver, canVote, isReplica };
}

/**
 * Reacts to every ring this node installs (gauges, warnings, welcoming new members, rebuilds and transfers), then
 * loads the ring kept in the data directory, which is the first such install.
 */
async function followRing({ options, log, metrics }: NodeContext, membership: Membership, transfers: Transfers, status: NodeStatus): Promise<void> {
  let warned = "";
  membership.ringState.onChange((ring) => {
    const warnings = status.replicationWarnings().join("; ");
    if (warnings !== warned && warnings !== "") log.warn(warnings);
    warned = warnings;
    metrics.ringEpoch.set(ring.epoch);
    metrics.ownedPartitions.set(ownedPartitions(ring, options.id).length);
    membership.gossiper.welcome(ring);
    void transfers.rebuilder.onRing(ring).catch((err: Error) => log.error(`cannot start the rebuild: ${err.message}`));
    transfers.receiver.onRing(ring);
  });
  await membership.ringState.load();
}

interface Repairs {
  antiEntropy: AntiEntropy;
  reaper: TombstoneReaper;
  janitor: PartitionJanitor;
  hintDelivery: HintDelivery;
  /** Refreshes the gauges that are read rather than counted. */
  gauges: PeriodicTask;
}

/** The background loops that bring replicas together and clean up after them. */
function buildRepairs(node: NodeContext, { store, hints }: Storage, cluster: MemberView, replica: LocalReplica, transfers: Transfers): Repairs {
  const { options, tuning, targetN, log, metrics } = node;
  const antiEntropy = new AntiEntropy({
    store,
    cluster,
    targetN,
    canVote: transfers.canVote,
    merge: async (partition, bucketName, key, record) => {
      const bucket = options.config.buckets.get(bucketName);
      if (!bucket) return false;
      return (await replica.merge({ partition, bucket: bucketName, key }, bucket.reconciliation, record)).changed;
    },
    intervalMs: tuning.antiEntropyIntervalMs,
    keysPerSecond: tuning.antiEntropyKeysPerSecond,
    rebuildIntervalMs: tuning.antiEntropyRebuildIntervalMs,
    metrics,
    log: (m) => log.info(m),
  });
  replica.onWrite(
    (at, before, after) => antiEntropy.recordChange(at, before, after),
    (partition) => antiEntropy.tracks(partition),
  );
  const reaper = new TombstoneReaper(store, {
    graceMs: tuning.tombstoneGraceMs,
    intervalMs: tuning.reapIntervalMs,
    batchMax: tuning.reapBatchMax,
    onReaped: (count) => metrics.tombstonesReaped.inc(count),
    onRemoved: (at, before) => antiEntropy.recordChange(at, before, undefined),
    log: (m) => log.info(m),
  });
  const janitor = new PartitionJanitor({
    store,
    hints,
    cluster,
    targetN,
    delayMs: tuning.dropDelayMs,
    intervalMs: Math.max(1000, Math.min(tuning.dropDelayMs, 30_000)),
    onDropped: (partition) => {
      metrics.partitionsDropped.inc();
      antiEntropy.forget(partition);
    },
    log: (m) => log.info(m),
  });
  const warnHints = rateLimited((m) => log.warn(m), 10_000);
  const hintDelivery = new HintDelivery({
    store,
    hints,
    cluster,
    isReplica: transfers.isReplica,
    targetN,
    intervalMs: tuning.hintDeliveryIntervalMs,
    batchMax: tuning.hintBatchMax,
    concurrencyMax: 32,
    onDelivered: (count) => metrics.hintsDelivered.inc(count),
    onDropped: (ref, reason) => {
      metrics.hintsDropped.inc();
      warnHints(`gave up a hint of ${ref.bucket}/${ref.key.toString("utf8")} for ${ref.owner}: ${reason}`);
    },
    log: (m) => log.info(m),
  });
  const gauges = new PeriodicTask({
    intervalMs: 1000,
    round: async () => refreshGauges(metrics, store, hints, cluster, transfers),
    onError: (err) => log.warn(`refreshing gauges failed: ${err.message}`),
  });
  return { antiEntropy, reaper, janitor, hintDelivery, gauges };
}

function refreshGauges(metrics: NodeMetrics, store: Store, hints: HintStore, cluster: MemberView, { receiver, pace, rebuilder }: Transfers): void {
  const cache = store.cacheStats();
  metrics.cacheHits.set(cache.hits);
  metrics.cacheMisses.set(cache.misses);
  metrics.cacheBytes.set(cache.bytes);
  const writes = store.writeStats();
  metrics.writeBatches.set(writes.batches);
  metrics.writeOperations.set(writes.operations);
  metrics.unappliedBytes.set(writes.unappliedBytes);
  metrics.writesRefused.set(writes.refused ? 1 : 0);
  metrics.transfersActive.set(receiver.activeCount);
  metrics.handoffPace.set(pace.state.bytesPerSecond);
  const stats = hints.stats();
  metrics.hints.set(stats.count);
  metrics.hintBytes.set(stats.bytes);
  metrics.rebuildPendingPartitions.set(rebuilder.pendingPartitions);
  const ring = cluster.ring();
  if (ring) metrics.membersDown.set(Object.keys(ring.members).filter((id) => !cluster.isUp(id)).length);
}

interface Ports {
  peerProtocol: PeerServer;
  peerServer: Server | TlsServer;
  clientServer: Server;
  stats: NodeStatsCollector;
}

interface Parts {
  storage: Storage;
  membership: Membership;
  local: Local;
  transfers: Transfers;
  repairs: Repairs;
  coordinator: Coordinator;
  status: NodeStatus;
  drain: Drain;
  clientSecurity: ClientSecurity;
}

/**
 * The two ports: the peer port (the peer protocol's handlers and the admin API) and the client port (the key-value
 * API, the console and the node's views), both behind the drain gate, both listening when this returns.
 */
async function servePorts(node: NodeContext, parts: Parts): Promise<Ports> {
  const { options, tuning, log, metrics } = node;
  const { storage, membership, local, transfers, repairs, coordinator, status, drain, clientSecurity } = parts;
  const { ringState, cluster, faults } = membership;
  // A replica operation served for another node's coordinator is a request the streaming pace must protect too.
  const replicaOps = coordinator.peerHandlers();
  const handlers: PeerHandlers = {
    fetch: counted(replicaOps.fetch, transfers.noteServed),
    replicate: counted(replicaOps.replicate, transfers.noteServed),
    coordinate: counted(replicaOps.coordinate, transfers.noteServed),
    ...partitionSourceHandlers(storage.store, {
      pageBytesMax: SCAN_PAGE_BYTES_MAX,
      recordBytesMax: replicationCeiling(local.limits),
      canVote: transfers.canVote,
      epoch: () => ringState.epoch,
      skipped: (m) => local.warnSiblings(m),
      pace: (bytes) => transfers.pace.take(bytes),
    }),
    ...mergePageHandlers({
      epoch: () => ringState.epoch,
      replicates: transfers.isReplica,
      reconciliation: (name) => options.config.buckets.get(name)?.reconciliation,
      mergeMany: (partition, entries) => local.replica.mergeMany(partition, entries),
    }),
    ...membership.gossiper.peerHandlers(),
    ...repairs.antiEntropy.peerHandlers(),
  };
  const peerProtocol = new PeerServer(
    {
      token: options.token,
      inFlightMax: tuning.peerInFlightMax,
      log: (m) => log.warn(m),
      faults,
      twoWay: { self: options.id, adopt: (from, { socket, writer, compact }) => membership.ringState.peer(from)?.adopt(socket, writer, compact) },
    },
    drain.peerGate(handlers),
  );
  membership.responders.server = peerProtocol;

  const stats = new NodeStatsCollector({
    metrics,
    dataDir: options.dataDir,
    identity: () => ({ id: options.id, incarnation: storage.store.incarnation, epoch: ringState.epoch, ready: status.readiness().ready }),
    hints: () => storage.hints.stats(),
    transfers: () => transfers.receiver.list(),
    rebuildingPartitions: () => transfers.rebuilder.pendingPartitions,
    log: (m) => log.warn(m),
  });
  const consoleRoutes = createConsoleRoutes({
    enabled: options.console ?? true,
    cluster,
    token: options.token,
    tls: membership.peerOptions.tls,
    stats: () => stats.view(),
    phiThreshold: tuning.phiThreshold,
    log: (m) => log.warn(m),
  });
  const apiDeps = {
    coordinator,
    buckets: options.config.buckets,
    tuning,
    metrics,
    contextSecret: createHash("sha256").update("dynamo-context\u0000").update(options.token).digest(),
    cluster: () => status.cluster(),
    ready: () => status.readiness(),
    requestLatency: {
      record: (ms: number) => {
        transfers.noteServed();
        transfers.requestLatency.record(ms);
      },
    },
    log: (m: string) => log.error(m),
  };
  const kvRoutes = new KvRoutes(apiDeps);
  const clientApp = express();
  clientApp.disable("x-powered-by");
  const tokens = clientSecurity.tokens;
  if (tokens) clientApp.use(clientAuthorization(tokens));
  // The ring view for clients that send each request to a replica of its key (docs/client-routing.md).
  const clientRing = new ClientRing({ self: cluster.self, ring: () => cluster.ring(), buckets: options.config.buckets, metrics });
  clientApp.get("/v1/ring", clientRing.route);
  clientApp.use(consoleRoutes, createClientApi(apiDeps, kvRoutes));
  const adminApp = createAdminApi({
    token: options.token,
    node: () => status.node(),
    ring: () => ringState.ring,
    installRing: (ring) => ringState.install(ring, "commit"),
    localRecord: (bucket, key) => status.localRecord(bucket, key),
    transfers: () => ({ epoch: ringState.epoch, transfers: transfers.receiver.list() }),
    stats: () => stats.view(),
    config: () => status.config(),
    setCut: faults ? (ids) => faults.setCut(ids) : undefined,
    log: (m) => log.info(m),
  });

  const peerServer = createPeerServer(node, adminApp);
  peerProtocol.attach(peerServer);
  const clientServer = createClientServer(
    drain.clientGate(clientRing.withHints(withKvFastPath(kvRoutes, tokens, clientApp))),
    {
      connectionsMax: tuning.clientConnectionsMax,
      headersTimeoutMs: tuning.clientHeadersTimeoutMs,
      bodyTimeoutMs: tuning.clientBodyTimeoutMs,
      requestTimeoutMs: tuning.requestTimeoutMs,
      valueMaxBytes: tuning.valueMaxBytes,
    },
    clientSecurity.tlsOptions(),
    metrics,
  );
  clientSecurity.watchCertificates(clientServer);
  peerServer.on("clientError", answerClientError);
  await listen(peerServer, options.peerPort, options.host);
  await listen(clientServer, options.port, options.host);
  return { peerProtocol, peerServer, clientServer, stats };
}

/**
 * The peer port's server: HTTPS requiring a client certificate from the cluster CA, whose certificates are reloaded
 * when the TLS directory changes (new connections use them; open ones keep theirs), or, when the node was told to
 * run without TLS, plain HTTP and a warning that says so at start.
 */
function createPeerServer({ options, log }: NodeContext, app: ReturnType<typeof createAdminApi>): Server | TlsServer {
  const { tls } = options;
  if (!tls) {
    log.warn(
      "PEER TLS IS OFF (--insecure-peer-plaintext): replication, gossip, handoff and the admin API travel unencrypted and the cluster token crosses the network in the clear; use this for local tests only",
    );
    return createServer(app);
  }
  const server = createTlsServer(tls.serverOptions(), app);
  const warnHandshake = rateLimited((m) => log.warn(m), 10_000);
  server.on("tlsClientError", (err, socket) => warnHandshake(`refused a TLS connection on the peer port from ${socket.remoteAddress ?? "?"}: ${err.message}`));
  tls.watch(
    TLS_RELOAD_INTERVAL_MS,
    (material) => {
      server.setSecureContext(material);
      log.info(`reloaded the peer port's TLS certificates from ${tls.dir}`);
    },
    (problem) => log.warn(`not reloading TLS certificates yet: ${problem}`),
  );
  return server;
}

/** The streaming pace's window: it reads the event loop and client latency and adjusts its rate this often. */
const PACE_WINDOW_MS = 250;

/** How long one member may take to acknowledge that this node is leaving; a silent one learns it from its detector. */
const LEAVE_NOTICE_TIMEOUT_MS = 1000;
/**
 * How long a stopping node waits for each peer stream's requests in flight to answer, and for the caller to close its
 * side, after telling it what was read; the drain before it normally leaves nothing in flight.
 */
const PEER_GOAWAY_TIMEOUT_MS = 2000;

/**
 * How long a stopping node's client port gives requests that arrived in its last moments to be answered (with the
 * drain's retryable 503) before it cuts their connections.
 */
const CLIENT_CLOSE_GRACE_MS = 500;

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

/** A peer handler that notes each request it serves (for the streaming pace) before serving it. */
function counted<O extends PeerOp>(handler: PeerHandler<O>, note: () => void): PeerHandler<O> {
  return (request, from) => {
    note();
    return handler(request, from);
  };
}

async function listen(server: Server | TlsServer, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, "listening");
}

