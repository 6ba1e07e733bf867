/**
 * What a node reports about itself and the cluster: the JSON of `GET /v1/cluster` on the client port, the admin API's
 * node info, config and local records, and the readiness behind `/readyz`. These are read-only views over the
 * running components, built here so the node's wiring only connects them and the answers' shapes live in one place.
 */
import { replicationWarnings, type NodeConfig } from "../config/index.js";
import type { ClusterView } from "../cluster/index.js";
import { membersDown } from "../cluster/index.js";
import type { HintStore, Rebuilder, TransferReceiver } from "../handoff/index.js";
import type { Drain } from "../lifecycle/index.js";
import type { FaultInjector } from "../peer/index.js";
import type { LocalRecord, NodeConfigView, NodeInfo, TlsInUse, TransferProgress } from "../protocol/index.js";
import { partitionOf, partitionsPerMember, type Transfer } from "../ring/index.js";
import type { LocalReplica } from "../replication/index.js";
import type { Store } from "../storage/index.js";

export interface NodeStatusDeps {
  cluster: ClusterView;
  config: NodeConfig;
  /** The zone the node was started in, when it was told one. */
  zone: string | undefined;
  clientUrl: string;
  peerUrl: string;
  store: Store;
  replica: LocalReplica;
  hints: HintStore;
  rebuilder: Rebuilder;
  receiver: TransferReceiver;
  drain: Drain;
  /** Present only when the node runs with fault injection enabled. */
  faults: FaultInjector | undefined;
  /** The certificates the peer port (absent in plaintext) and the client port (absent without TLS) use now. */
  tls: () => { peer?: TlsInUse; client?: TlsInUse };
}

export interface Readiness {
  ready: boolean;
  reason?: string;
  warnings?: string[];
}

/** One member as `GET /v1/cluster` shows it. */
export interface ClusterMemberReport {
  id: string;
  state: string;
  liveness: "self" | "up" | "down";
  /** The failure detector's suspicion, rounded; "Infinity" for a member never heard from. */
  phi: number | string;
  incarnation: string;
  zone?: string;
  clientUrl: string;
  peerUrl: string;
  partitions: number;
}

/** `GET /v1/cluster`: the coordinator's view of the cluster (DESIGN.md leaves its exact fields open). */
export type ClusterReport =
  | { node: string; epoch: 0; partitions: 0; members: []; pending: []; transfers: { pending: 0; active: 0 } }
  | {
      node: string;
      incarnation: string;
      epoch: number;
      partitions: number;
      members: ClusterMemberReport[];
      pending: Transfer[];
      owners: string[];
      nextOwners?: string[];
      transfers: { pending: number; active: number; receiving: TransferProgress[] };
      hints: ReturnType<HintStore["stats"]>;
      rebuildingPartitions: number;
      warnings: string[];
    };

export class NodeStatus {
  constructor(private readonly deps: NodeStatusDeps) {}

  /** Whether the node should get client traffic: not while draining, not without a ring that names it. */
  readiness(): Readiness {
    const { drain, cluster } = this.deps;
    if (drain.isDraining) return { ready: false, reason: "shutting down" };
    const ring = cluster.ring();
    if (!ring) return { ready: false, reason: "no ring installed yet" };
    if (!ring.members[cluster.self]) return { ready: false, reason: `this node (${cluster.self}) is not a member of ring epoch ${ring.epoch}` };
    const warnings = this.replicationWarnings();
    return warnings.length > 0 ? { ready: true, warnings } : { ready: true };
  }

  /** Buckets whose n the current ring cannot give (empty while there is no ring). */
  replicationWarnings(): string[] {
    const ring = this.deps.cluster.ring();
    return ring ? replicationWarnings(this.deps.config.buckets.values(), new Set(ring.owners).size) : [];
  }

  /** `GET /v1/admin/node`. */
  node(): NodeInfo {
    const { deps } = this;
    return {
      id: deps.cluster.self,
      pid: process.pid,
      incarnation: deps.store.incarnation,
      ...(deps.zone !== undefined ? { zone: deps.zone } : {}),
      actor: deps.store.actor,
      epoch: deps.cluster.ring()?.epoch ?? 0,
      clientUrl: deps.clientUrl,
      peerUrl: deps.peerUrl,
      ready: this.readiness().ready,
      uptimeMs: Math.round(process.uptime() * 1000),
      hints: deps.hints.stats(),
      rebuildingPartitions: deps.rebuilder.pendingPartitions,
      rebuild: deps.rebuilder.status(),
      transfers: deps.receiver.list(),
      faults: deps.faults ? { cut: deps.faults.cutMembers } : undefined,
      tls: deps.tls(),
      draining: deps.drain.isDraining,
      down: membersDown(deps.cluster),
    };
  }

  /** `GET /v1/admin/config`. */
  config(): NodeConfigView {
    const { buckets, tuning } = this.deps.config;
    return { buckets: [...buckets.values()], tombstoneGraceMs: tuning.tombstoneGraceMs, recordBytesMax: tuning.recordBytesMax };
  }

  /** `GET /v1/admin/local/{bucket}/{key}`: this node's own copy of a key, without asking any other replica. */
  async localRecord(bucket: string, key: Buffer): Promise<LocalRecord> {
    const ring = this.deps.cluster.ring();
    if (!ring) return { found: false, reason: "no ring" };
    const partition = partitionOf(bucket, key, ring.partitions);
    const record = await this.deps.replica.read({ partition, bucket, key });
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

  /** `GET /v1/cluster`. */
  cluster(): ClusterReport {
    const { cluster, store, receiver, hints, rebuilder } = this.deps;
    const ring = cluster.ring();
    if (!ring) return { node: cluster.self, epoch: 0, partitions: 0, members: [], pending: [], transfers: { pending: 0, active: 0 } };
    const counts = partitionsPerMember(ring.owners);
    return {
      node: cluster.self,
      incarnation: store.incarnation,
      epoch: ring.epoch,
      partitions: ring.partitions,
      members: Object.values(ring.members)
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((m) => ({
          id: m.id,
          state: m.state,
          liveness: m.id === cluster.self ? "self" : cluster.isUp(m.id) ? "up" : "down",
          phi: round(cluster.phi(m.id)),
          incarnation: m.incarnation,
          ...(m.zone !== undefined ? { zone: m.zone } : {}),
          clientUrl: m.clientUrl,
          peerUrl: m.peerUrl,
          partitions: counts[m.id] ?? 0,
        })),
      pending: ring.pending,
      owners: ring.owners,
      ...(ring.nextOwners ? { nextOwners: ring.nextOwners } : {}),
      transfers: { pending: ring.pending.length, active: receiver.activeCount, receiving: receiver.list() },
      hints: hints.stats(),
      rebuildingPartitions: rebuilder.pendingPartitions,
      warnings: this.replicationWarnings(),
    };
  }
}

/** Two decimals; JSON has no Infinity, so a member never heard from reads "Infinity". */
function round(n: number): number | string {
  return Number.isFinite(n) ? Math.round(n * 100) / 100 : "Infinity";
}
