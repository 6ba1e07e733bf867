/**
 * The RingDriver's pure decisions: given the newest ring, the desired members and what the nodes report, what is the
 * next ring to commit, if any. Each function returns a whole new ring (epoch + 1) or undefined for "nothing to do",
 * so the driver's impure shell only reads, decides, and pushes.
 */
import { planClaim, preferenceList, zonesOf } from "../node/ring/index.js";
import type { Member, Ring, Transfer } from "../node/ring/types.js";

/** Partitions streamed at once across the whole cluster during a ring change, unless the driver is told otherwise. */
export const DEFAULT_CLUSTER_TRANSFERS_MAX = 8;

export interface NodeReport {
  id: string;
  peerUrl: string;
  clientUrl: string;
  incarnation: string;
  /** The zone the node says it runs in (`--zone`), or the one its orchestrator knows; absent when unknown. */
  zone?: string;
  /** "done" once a node that lost its disk has rebuilt every partition it replicates. */
  rebuild: "none" | "running" | "done";
}

/** Replica additions needed to go from `ring.owners` to `next`: partition by partition, who gains it, and from whom. */
export function transfersFor(ring: Ring, next: readonly string[], targetN: number): Transfer[] {
  const out: Transfer[] = [];
  const future: Ring = { ...ring, owners: [...next] };
  for (let p = 0; p < ring.partitions; p++) {
    const before = preferenceList(ring, p, targetN);
    const after = preferenceList(future, p, targetN);
    const leaving = before.filter((id) => !after.includes(id));
    for (const to of after) {
      if (before.includes(to)) continue;
      out.push({ partition: p, from: leaving[0] ?? before[0]!, to, kind: "ownership" });
    }
  }
  return out;
}

function sameOwners(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Members as they should be listed: every desired member (joining until it owns something), plus members that still
 * own partitions in `owners` but are no longer desired (leaving). Everything else is dropped.
 */
function membersFor(ring: Ring, desired: readonly string[], owners: readonly string[], reports: Map<string, NodeReport>): Record<string, Member> | undefined {
  const owning = new Set(owners);
  const members: Record<string, Member> = {};
  for (const id of desired) {
    const known = ring.members[id];
    const report = reports.get(id);
    if (!known && !report) return undefined;
    members[id] = {
      id,
      peerUrl: report?.peerUrl ?? known!.peerUrl,
      clientUrl: report?.clientUrl ?? known!.clientUrl,
      incarnation: known?.incarnation ?? report!.incarnation,
      state: owning.has(id) ? "valid" : "joining",
    };
    const zone = report?.zone ?? known?.zone;
    if (zone) members[id]!.zone = zone;
  }
  for (const id of owning) if (!members[id] && ring.members[id]) members[id] = { ...ring.members[id]!, state: "leaving" };
  return members;
}

/**
 * How many partitions each receiving member may stream at once so that the cluster as a whole runs at most
 * `clusterTransfersMax` (at least one each, or nothing would move).
 */
export function transferLimitFor(pending: readonly Transfer[], clusterTransfersMax: number): number {
  const receivers = new Set(pending.map((t) => t.to)).size;
  return Math.max(1, Math.floor(clusterTransfersMax / Math.max(1, receivers)));
}

/** A new plan towards `desired`, started from the ring's current (authoritative) owners. */
export function replan(
  ring: Ring,
  desired: readonly string[],
  reports: Map<string, NodeReport>,
  targetN: number,
  clusterTransfersMax = DEFAULT_CLUSTER_TRANSFERS_MAX,
): Ring | undefined {
  const members = membersFor(ring, desired, ring.owners, reports);
  if (!members) return undefined;
  const next = planClaim(ring.owners, desired, targetN, zonesOf(Object.values(members)));
  const pending = transfersFor(ring, next, targetN);
  const candidate: Ring = { ...ring, epoch: ring.epoch + 1, members, nextOwners: next, pending, transferLimit: transferLimitFor(pending, clusterTransfersMax) };
  if (candidate.pending.length === 0) return finalize(candidate, desired);
  return candidate;
}

/** The ring once every pending transfer is done: the planned owners take over. */
export function finalize(ring: Ring, desired: readonly string[]): Ring {
  const owners = ring.nextOwners ?? ring.owners;
  const members: Record<string, Member> = {};
  for (const [id, member] of Object.entries(ring.members)) {
    if (!desired.includes(id) && !owners.includes(id)) continue;
    members[id] = { ...member, state: desired.includes(id) ? "valid" : "leaving" };
  }
  const { nextOwners: _dropped, transferLimit: _limit, ...rest } = ring;
  return { ...rest, epoch: ring.epoch + 1, owners: [...owners], pending: [], members };
}

/** Whether the ring already is what `desired` asks for: nothing pending, members exactly desired, plan unchanged. */
export function isSettled(ring: Ring, desired: readonly string[], targetN: number): boolean {
  if (ring.pending.length > 0) return false;
  const ids = Object.keys(ring.members).sort();
  if (ids.length !== desired.length || !ids.every((id, i) => id === [...desired].sort()[i])) return false;
  return sameOwners(planClaim(ring.owners, desired, targetN, zonesOf(Object.values(ring.members))), ring.owners);
}

/** Whether the plan in flight still leads where `desired` points. */
export function planStillWanted(ring: Ring, desired: readonly string[], targetN: number): boolean {
  const wantedMembers = new Set(desired);
  for (const [id, m] of Object.entries(ring.members)) {
    if (wantedMembers.has(id) !== (m.state !== "leaving")) return false;
  }
  if (desired.some((id) => !ring.members[id])) return false;
  return sameOwners(ring.nextOwners, planClaim(ring.owners, desired, targetN, zonesOf(Object.values(ring.members))));
}

/**
 * Address, incarnation and zone changes the ring must record: a pod that came back on another IP, a node that lost its
 * disk and has finished rebuilding as a new incarnation, a node that now reports its zone (or was rescheduled into
 * another one). Ownership is untouched here; a new zone makes the ring unsettled, and the next step re-plans.
 */
export function refreshMembers(ring: Ring, reports: Map<string, NodeReport>): Ring | undefined {
  let changed = false;
  const members: Record<string, Member> = {};
  for (const [id, member] of Object.entries(ring.members)) {
    const report = reports.get(id);
    let next = member;
    if (report && (report.peerUrl !== member.peerUrl || report.clientUrl !== member.clientUrl)) {
      next = { ...next, peerUrl: report.peerUrl, clientUrl: report.clientUrl };
    }
    if (report && report.incarnation !== member.incarnation && report.rebuild === "done") {
      next = { ...next, incarnation: report.incarnation };
    }
    if (report?.zone && report.zone !== member.zone) next = { ...next, zone: report.zone };
    if (next !== member) changed = true;
    members[id] = next;
  }
  return changed ? { ...ring, epoch: ring.epoch + 1, members } : undefined;
}
