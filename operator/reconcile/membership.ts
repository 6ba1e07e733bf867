/**
 * Which nodes should be ring members, and which pods may go. These are the safety rules of the operator:
 * - a pod joins only once its node process is running and answers its admin API (a node turns ready only after it
 *   is in the ring, so "answers" is the readiness that can be asked of a node that has not joined yet);
 * - the first ring waits for every initial pod, so a new cluster is not built one member at a time;
 * - membership changes only from a healthy state: while a member is unreachable (and not yet past its deadline) the
 *   desired set is the current one, so a transfer never waits on a node that cannot send;
 * - a member unreachable past `unreachableReplaceAfterSeconds` is dropped, so its partitions are reassigned to the
 *   others and rebuilt from the remaining replicas;
 * - the StatefulSet only shrinks past an ordinal once that member holds no partition and takes part in no transfer.
 */
import type { Ring } from "../../node/ring/index.js";
import { largestN } from "../api/index.js";
import { CLIENT_PORT, PEER_PORT } from "../resources/index.js";
import { podName, type Observation, type PodObservation, type RingView } from "./observation.js";
import type { MemberAddress } from "./ring-stepper.js";

export const DEFAULT_MEMBERSHIP = {
  /** How long a scale-up waits for all its new pods before joining those that are up. */
  joinSettleMs: 60_000,
};

/** A pod's node as the ring driver reaches it: the peer port always over mutual TLS, the client port as the spec says. */
export function memberAddress(pod: PodObservation, client: "https" | "http"): MemberAddress | undefined {
  if (!pod.podIp) return undefined;
  const host = pod.podIp.includes(":") ? `[${pod.podIp}]` : pod.podIp;
  return { id: pod.name, peerUrl: `https://${host}:${PEER_PORT}`, clientUrl: `${client}://${host}:${CLIENT_PORT}`, ...(pod.zone ? { zone: pod.zone } : {}) };
}

/** Pods whose node process is running and answered its admin API in this pass. */
export function joinablePods(observation: Observation): PodObservation[] {
  return observation.pods.filter((p) => p.running && !p.deleting && observation.probes[p.name]?.reachable === true);
}

/**
 * Ring members that hold data and did not answer in this pass. A member that holds nothing (it finished leaving, or
 * never received a partition) is nobody's source, so its absence blocks nothing.
 */
export function unreachableMembers(observation: Observation): string[] {
  const ring = observation.ring.ring;
  if (!ring) return [];
  const reachable = new Set(joinablePods(observation).map((p) => p.name));
  return Object.keys(ring.members)
    .filter((id) => !reachable.has(id) && holdsData(ring, id))
    .sort();
}

/** Ring members whose node answers with another incarnation than the ring records: their disk was wiped. */
export function newIncarnations(observation: Observation): string[] {
  const ring = observation.ring.ring;
  if (!ring) return [];
  return Object.values(ring.members)
    .filter((m) => {
      const probe = observation.probes[m.id];
      return probe?.reachable === true && probe.incarnation !== m.incarnation;
    })
    .map((m) => m.id)
    .sort();
}

export type ReplacementDecision = { kind: "none" } | { kind: "blocked"; pod: string; reason: string } | { kind: "replace"; pod: string };

/**
 * The pod whose claim and pod to delete for a requested replacement, one at a time and only from a healthy state:
 * wiping one replica while another is down or partitions are moving could lose the last copy of some data.
 */
export function replacementToStart(observation: Observation): ReplacementDecision {
  const requested = observation.pods.filter((p) => p.replaceRequested && !p.deleting).sort((a, b) => a.ordinal - b.ordinal);
  const pod = requested[0];
  if (!pod) return { kind: "none" };
  const blocked = (reason: string): ReplacementDecision => ({ kind: "blocked", pod: pod.name, reason });
  const ring = observation.ring;
  if (!ring.known || !ring.ring) return blocked("the ring is not known yet");
  if (ring.ring.pending.length > 0) return blocked(`${ring.ring.pending.length} partition transfers are still pending`);
  const others = observation.pods.filter((p) => p.name !== pod.name);
  const deleting = others.filter((p) => p.deleting).map((p) => p.name);
  if (deleting.length > 0) return blocked(`${deleting.join(", ")} is being deleted`);
  const unreachable = unreachableMembers(observation).filter((id) => id !== pod.name);
  if (unreachable.length > 0) return blocked(`${unreachable.join(", ")} is unreachable`);
  const rebuilding = newIncarnations(observation).filter((id) => id !== pod.name);
  if (rebuilding.length > 0) return blocked(`${rebuilding.join(", ")} is still being rebuilt`);
  return { kind: "replace", pod: pod.name };
}

export function pastDeadline(observation: Observation, member: string): boolean {
  const seconds = observation.cluster.spec.unreachableReplaceAfterSeconds;
  const since = observation.unreachableSinceMs[member];
  return seconds > 0 && since !== undefined && observation.nowMs - since >= seconds * 1000;
}

export type MembershipDecision =
  | { kind: "wait"; reason: string }
  | { kind: "step"; desired: string[]; dropped: string[]; held: boolean; reason: string };

/**
 * The member ids to ask the ring for in this pass, or why not to touch the ring. Target members are the ordinals
 * below `spec.replicas`; higher ordinals are asked to leave.
 */
export function desiredMembers(observation: Observation, settleMs = DEFAULT_MEMBERSHIP.joinSettleMs): MembershipDecision {
  const { cluster, ring } = observation;
  const name = cluster.metadata.name;
  const target = Math.max(cluster.spec.replicas, largestN(cluster.spec));
  const targetIds = Array.from({ length: target }, (_, i) => podName(name, i));
  const joinable = new Set(joinablePods(observation).map((p) => p.name));

  if (!ring.known) return { kind: "wait", reason: "no node answered with its ring" };
  const current = ring.ring;
  if (!current) {
    const missing = targetIds.filter((id) => !joinable.has(id));
    if (missing.length > 0) return { kind: "wait", reason: `waiting for ${missing.join(", ")} before creating the ring` };
    return { kind: "step", desired: targetIds, dropped: [], held: false, reason: `creating the ring with ${target} members` };
  }

  const members = Object.keys(current.members).sort();
  const unreachable = unreachableMembers(observation);
  const dead = unreachable.filter((id) => pastDeadline(observation, id));
  const waitingOn = unreachable.filter((id) => !dead.includes(id));
  if (waitingOn.length > 0) {
    // Hold the membership where it is; the step still finishes whatever it can without the missing members.
    return { kind: "step", desired: members, dropped: [], held: true, reason: `holding membership while ${waitingOn.join(", ")} is unreachable` };
  }

  const newcomers = targetIds.filter((id) => !current.members[id]);
  const pendingNewcomers = newcomers.filter((id) => !joinable.has(id));
  const youngestPending = Math.max(
    0,
    ...observation.pods.filter((p) => pendingNewcomers.includes(p.name)).map((p) => observation.nowMs - p.createdAtMs),
  );
  const settling = pendingNewcomers.length > 0 && newcomers.some((id) => joinable.has(id)) && youngestPending < settleMs;
  const joining = settling ? [] : newcomers.filter((id) => joinable.has(id));
  const keep = targetIds.filter((id) => current.members[id] && !dead.includes(id));
  const desired = [...keep, ...joining].sort();
  const reason = settling
    ? `waiting for ${pendingNewcomers.join(", ")} to start before joining the new members together`
    : dead.length > 0
      ? `reassigning the partitions of ${dead.join(", ")}, unreachable past the deadline`
      : "converging on the target members";
  return { kind: "step", desired, dropped: dead, held: false, reason };
}

/** Whether member `id` owns a partition or takes part in a pending transfer of `ring`. */
export function holdsData(ring: Ring, id: string): boolean {
  return ring.owners.includes(id) || ring.pending.some((t) => t.from === id || t.to === id);
}

/**
 * The StatefulSet's replicas for this pass. Growing is immediate (pods are created, joining waits for them).
 * Shrinking lowers replicas past an ordinal only once the ring shows that member holds nothing, highest first, and
 * never while the ring is unknown.
 */
export function statefulSetReplicas(specReplicas: number, current: number | undefined, ring: RingView, cluster: string): number {
  if (current === undefined || specReplicas >= current) return specReplicas;
  if (!ring.known) return current;
  let replicas = current;
  while (replicas > specReplicas) {
    const id = podName(cluster, replicas - 1);
    if (ring.ring && holdsData(ring.ring, id)) break;
    replicas--;
  }
  return replicas;
}
