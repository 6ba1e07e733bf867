/**
 * Everything `status`, `ring` and `report` show, gathered once: the DynamoCluster and its status, its pods, their
 * Kubernetes nodes and zones, the last Events, and what each storage node says of itself (`GET /v1/node`) and of the
 * ring (`GET /v1/cluster`). A node that cannot be reached is shown as such, never fails the whole command.
 */
import type { Condition, DynamoCluster, RebalanceStatus } from "../operator/api/index.js";
import { memberCondition, type MemberCondition } from "../node/console/index.js";
import { nodeStatsSchema, type NodeStats } from "../node/stats/index.js";
import { eventTime, type EventItem, type PodItem, type Session } from "./session.js";

export interface MemberRow {
  id: string;
  pod: string | undefined;
  node: string | undefined;
  zone: string | undefined;
  incarnation: string | undefined;
  ringState: string;
  condition: MemberCondition | "absent";
  partitions: number;
  idealPartitions: number;
  ready: boolean;
  stats: NodeStats | undefined;
  error: string | undefined;
}

export interface ClusterRing {
  epoch: number;
  partitions: number;
  owners: string[];
  nextOwners?: string[];
  pending: { partition: number; from: string; to: string; kind: string }[];
  members: { id: string; state: string; liveness: string; phi: number | string; partitions: number }[];
}

export interface StatusModel {
  name: string;
  namespace: string;
  spec: { replicas: number; partitions: number; paused: boolean };
  phase: string | undefined;
  epoch: number | undefined;
  readyReplicas: number;
  message: string | undefined;
  conditions: Condition[];
  rebalance: RebalanceStatus | undefined;
  members: MemberRow[];
  ring: ClusterRing | undefined;
  events: EventItem[];
  observedAt: number;
}

const PHI_THRESHOLD = 8;

export async function gatherStatus(session: Session, name: string, options: { eventsMax?: number } = {}): Promise<StatusModel & { pods: PodItem[]; cluster: DynamoCluster }> {
  const cluster = await session.cluster(name);
  const [pods, events, zones] = await Promise.all([session.pods(name), session.events(name).catch(() => []), session.zones()]);
  const running = pods.filter((p) => p.status?.phase === "Running" && p.status.podIP && !p.metadata.deletionTimestamp);
  const stats = new Map<string, NodeStats | { error: string }>();
  await Promise.all(
    running.map(async (pod) => {
      try {
        const parsed = nodeStatsSchema.safeParse(await session.nodeJson(pod, "/v1/node"));
        stats.set(pod.metadata.name, parsed.success ? parsed.data : { error: "its /v1/node answer is not one this plugin understands (a different version?)" });
      } catch (err) {
        stats.set(pod.metadata.name, { error: (err as Error).message });
      }
    }),
  );
  const ring = await firstRing(session, running.filter((p) => !("error" in (stats.get(p.metadata.name) ?? { error: "" }))));
  const status = cluster.status;
  const statusMembers = status?.members ?? [];
  const active = statusMembers.filter((m) => m.state !== "absent" && m.state !== "leaving").length || cluster.spec.replicas;
  const q = status?.partitions ?? cluster.spec.partitions;
  const members = statusMembers.map((m): MemberRow => {
    const pod = pods.find((p) => p.metadata.name === m.id);
    const s = stats.get(m.id);
    const nodeStats = s && !("error" in s) ? s : undefined;
    const phi = ring?.members.find((r) => r.id === m.id)?.phi;
    const up = !!pod && pod.status?.phase === "Running" && (nodeStats !== undefined || m.reachable === true);
    const rebuilding = (nodeStats?.rebuildingPartitions ?? 0) > 0 || (ring?.pending.some((t) => t.to === m.id && t.kind === "rebuild") ?? false);
    return {
      id: m.id,
      pod: pod?.metadata.name,
      node: pod?.spec?.nodeName,
      zone: pod?.spec?.nodeName ? zones.get(pod.spec.nodeName) || undefined : undefined,
      incarnation: nodeStats?.incarnation ?? m.incarnation,
      ringState: m.state,
      condition: m.state === "absent" ? "absent" : memberCondition(m.state, { up, phi: typeof phi === "number" ? phi : up ? 0 : Infinity }, PHI_THRESHOLD, rebuilding),
      partitions: m.partitions,
      idealPartitions: m.state === "absent" || m.state === "leaving" ? 0 : Math.round((q / active) * 10) / 10,
      ready: m.ready,
      stats: nodeStats,
      error: s && "error" in s ? s.error : undefined,
    };
  });
  return {
    cluster,
    pods,
    name,
    namespace: session.namespace,
    spec: { replicas: cluster.spec.replicas, partitions: cluster.spec.partitions, paused: cluster.spec.paused },
    phase: status?.phase,
    epoch: status?.ringEpoch,
    readyReplicas: status?.readyReplicas ?? 0,
    message: status?.message,
    conditions: status?.conditions ?? [],
    rebalance: status?.rebalance,
    members,
    ring,
    events: events.slice(-(options.eventsMax ?? 10)),
    observedAt: Date.now(),
  };
}

/** The ring as the first node that answers sees it (owners, pending moves, its failure detector's view). */
async function firstRing(session: Session, pods: PodItem[]): Promise<ClusterRing | undefined> {
  for (const pod of pods) {
    try {
      const view = (await session.nodeJson(pod, "/v1/cluster")) as ClusterRing & { epoch: number };
      if (view.epoch > 0 && Array.isArray(view.owners)) return view;
    } catch {
      // Try the next node.
    }
  }
  return undefined;
}

export { eventTime };
