/**
 * What the console shows, built from one node's point of view: the ring (owner of every partition, moves in flight
 * with their state), every member with its liveness and its own account of itself (rates, latency, disk, hints), the
 * progress of the ring change in flight, and the cluster's request history over the last minutes. Pure: the routes
 * gather the inputs (this node's ring and failure detector, the members' `NodeStats`) and this shapes them.
 */
import { describeProgress, partitionsPerMember, percentMoved, rebalanceProgress, type RebalanceProgress, type Ring } from "../ring/index.js";
import type { HistoryPointView, NodeStats } from "../stats/index.js";

/** How a member looks from here: what the ring says it is doing, and whether it answers. */
export type MemberCondition = "up" | "suspect" | "down" | "rebuilding" | "joining" | "leaving";

export interface MemberLiveness {
  /** Whether this node's failure detector has the member up (always true for itself). */
  up: boolean;
  /** The detector's suspicion; phi at or past half the threshold while still up reads as "suspect". */
  phi: number;
}

export function memberCondition(ringState: string, liveness: MemberLiveness, phiThreshold: number, rebuilding: boolean): MemberCondition {
  if (!liveness.up) return "down";
  if (rebuilding) return "rebuilding";
  if (ringState === "leaving") return "leaving";
  if (ringState === "joining") return "joining";
  return liveness.phi >= phiThreshold / 2 ? "suspect" : "up";
}

export interface OverviewMember {
  id: string;
  ringState: string;
  condition: MemberCondition;
  partitions: number;
  /** Partitions this member would own in a perfectly even ring (Q / members). */
  idealPartitions: number;
  incarnation: string;
  stats?: Omit<NodeStats, "history" | "transfers">;
  error?: string;
}

export interface OverviewMove {
  partition: number;
  from: string;
  to: string;
  kind: string;
  state: string;
  bytes: number;
}

export interface Overview {
  node: string;
  generatedAt: number;
  epoch: number;
  partitions: number;
  owners: string[];
  nextOwners?: string[];
  members: OverviewMember[];
  moves: OverviewMove[];
  rebalance?: RebalanceProgress & { percent: number; summary: string };
  /** Requests of the whole cluster over the last minutes: rates summed over members, latency of the slowest. */
  history: HistoryPointView[];
}

export interface OverviewInputs {
  self: string;
  ring: Ring | undefined;
  liveness: (id: string) => MemberLiveness;
  phiThreshold: number;
  stats: Map<string, NodeStats | { error: string }>;
  nowMs: number;
}

export function buildOverview(inputs: OverviewInputs): Overview {
  const { ring, stats } = inputs;
  if (!ring) return { node: inputs.self, generatedAt: inputs.nowMs, epoch: 0, partitions: 0, owners: [], members: [], moves: [], history: [] };
  const counts = partitionsPerMember(ring.owners);
  const ids = Object.keys(ring.members).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  const ideal = Math.round((ring.partitions / Math.max(1, ids.filter((id) => ring.members[id]!.state !== "leaving").length)) * 10) / 10;
  const transfers = new Map<string, NodeStats["transfers"][number]>();
  for (const s of stats.values()) if ("transfers" in s) for (const t of s.transfers) transfers.set(`${t.partition}->${t.to}`, t);
  const members = ids.map((id): OverviewMember => {
    const m = ring.members[id]!;
    const s = stats.get(id);
    const rebuilding = (s && "rebuildingPartitions" in s && s.rebuildingPartitions > 0) || ring.pending.some((t) => t.to === id && t.kind === "rebuild");
    const out: OverviewMember = {
      id,
      ringState: m.state,
      condition: memberCondition(m.state, inputs.liveness(id), inputs.phiThreshold, rebuilding),
      partitions: counts[id] ?? 0,
      idealPartitions: m.state === "leaving" ? 0 : ideal,
      incarnation: m.incarnation,
    };
    if (s && "error" in s) out.error = s.error;
    else if (s) {
      const { history: _history, transfers: _transfers, ...rest } = s;
      out.stats = rest;
    }
    return out;
  });
  const moves = ring.pending.map((t) => {
    const r = transfers.get(`${t.partition}->${t.to}`);
    return { partition: t.partition, from: t.from, to: t.to, kind: t.kind, state: r?.state ?? "waiting", bytes: r?.bytes ?? 0 };
  });
  const overview: Overview = {
    node: inputs.self,
    generatedAt: inputs.nowMs,
    epoch: ring.epoch,
    partitions: ring.partitions,
    owners: ring.owners,
    members,
    moves,
    history: clusterHistory([...stats.values()].flatMap((s) => ("history" in s ? [s.history] : []))),
  };
  if (ring.nextOwners) overview.nextOwners = ring.nextOwners;
  if (ring.pending.length > 0) {
    const progress = rebalanceProgress(ring, transfers.values(), inputs.nowMs);
    overview.rebalance = { ...progress, percent: percentMoved(progress), summary: describeProgress(progress) };
  }
  return overview;
}

/**
 * One history for the cluster from each member's: points are matched by their time rounded to the sampling step
 * (members sample independently), rates are summed, and latency is the slowest member's (quantiles cannot be added).
 */
export function clusterHistory(histories: HistoryPointView[][], stepMs = 5000): HistoryPointView[] {
  const byStep = new Map<number, HistoryPointView>();
  for (const history of histories) {
    for (const p of history) {
      const t = Math.round(p.t / stepMs) * stepMs;
      const acc = byStep.get(t);
      if (!acc) {
        byStep.set(t, { ...p, t, opsPerSecond: { ...p.opsPerSecond } });
        continue;
      }
      acc.opsPerSecond.get += p.opsPerSecond.get;
      acc.opsPerSecond.put += p.opsPerSecond.put;
      acc.opsPerSecond.delete += p.opsPerSecond.delete;
      acc.errorsPerSecond += p.errorsPerSecond;
      acc.handoffBytesPerSecond += p.handoffBytesPerSecond;
      acc.p50Ms = maxOf(acc.p50Ms, p.p50Ms);
      acc.p99Ms = maxOf(acc.p99Ms, p.p99Ms);
    }
  }
  return [...byStep.values()].sort((a, b) => a.t - b.t);
}

function maxOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}
