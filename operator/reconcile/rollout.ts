/**
 * Rolling updates, driven by the operator rather than the StatefulSet controller (whose update strategy is OnDelete):
 * a changed image, resources or configuration gives the StatefulSet a new update revision, and the operator deletes
 * one outdated pod at a time, highest ordinal first, each only once the cluster could lose a node without failing a
 * request: every pod exists and is ready, no ring change is in flight, and the rolling gate (driver/roll.ts) holds on
 * every member's own account (none down in anyone's view, hints delivered, nothing rebuilding). The deleted pod's
 * node drains on SIGTERM; the StatefulSet controller creates it again at the new revision. Pure: decisions over an
 * Observation.
 */
import { DEFAULT_ROLL, rollGate, type RollOptions, type RollReport } from "../../driver/index.js";
import { memberAddress } from "./membership.js";
import type { Observation, PodObservation } from "./observation.js";

export type RolloutDecision =
  /** Every pod runs the StatefulSet's update revision (or there is no StatefulSet yet). */
  | { kind: "none" }
  /** Outdated pods remain but the next may not go yet. */
  | { kind: "wait"; reason: string }
  /** Delete this pod now; its node drains and it comes back at the update revision. */
  | { kind: "restart"; pod: string; uid: string };

export interface RolloutProgress {
  /** Pods (of the StatefulSet's ordinals) that run the update revision. */
  updated: number;
  total: number;
  currentRevision?: string;
  updateRevision?: string;
}

export function rolloutProgress(observation: Observation): RolloutProgress {
  const sts = observation.statefulSet;
  const pods = statefulSetPods(observation);
  const updated = pods.filter((p) => p.revision !== undefined && p.revision === sts?.updateRevision).length;
  const total = sts?.replicas ?? 0;
  // Under OnDelete the StatefulSet controller never advances its own currentRevision (kubernetes#73492), so once
  // every pod runs the update revision, that is the current one.
  const currentRevision = updated === total && pods.length === total ? sts?.updateRevision : sts?.currentRevision;
  return {
    updated,
    total,
    ...(currentRevision ? { currentRevision } : {}),
    ...(sts?.updateRevision ? { updateRevision: sts.updateRevision } : {}),
  };
}

export function nextRollingRestart(observation: Observation, options: RollOptions = DEFAULT_ROLL): RolloutDecision {
  const sts = observation.statefulSet;
  if (!sts?.updateRevision) return { kind: "none" };
  const pods = statefulSetPods(observation);
  const outdated = pods.filter((p) => p.revision !== sts.updateRevision);
  if (outdated.length === 0) return { kind: "none" };
  // The StatefulSet controller must have seen the newest template, or its update revision is not the one to reach.
  if (sts.observedGeneration < sts.generation) return { kind: "wait", reason: "the StatefulSet controller has not observed the newest template yet" };
  if (pods.length < sts.replicas) return { kind: "wait", reason: `waiting for ${sts.replicas} pods (${pods.length} exist)` };
  const restarting = pods.find((p) => p.deleting);
  if (restarting) return { kind: "wait", reason: `${restarting.name} is stopping` };
  const notReady = pods.find((p) => !p.ready);
  if (notReady) return { kind: "wait", reason: `${notReady.name} is not ready` };
  const ring = observation.ring.ring;
  if (!observation.ring.known || !ring) return { kind: "wait", reason: "no node answered with its ring" };
  if (ring.pending.length > 0) return { kind: "wait", reason: `a ring change is in flight (${ring.pending.length} transfers)` };
  const outsider = pods.find((p) => !ring.members[p.name]);
  if (outsider) return { kind: "wait", reason: `${outsider.name} is not a ring member yet` };
  // A pod that came back has a new IP on most networks; until the ring records it (a ring step), the other nodes
  // still send its replicas' requests to the old address, so it counts as down for them however healthy it is.
  const moved = pods.find((p) => p.podIp !== undefined && ring.members[p.name]?.peerUrl !== memberAddress(p, "https")?.peerUrl);
  if (moved) return { kind: "wait", reason: `${moved.name}'s new address is not in the ring yet` };
  const behind = pods.find((p) => {
    const probe = observation.probes[p.name];
    return probe?.reachable === true && probe.epoch < ring.epoch;
  });
  if (behind) return { kind: "wait", reason: `${behind.name} has not installed ring epoch ${ring.epoch} yet` };
  const verdict = rollGate(rollReports(observation, Object.keys(ring.members)), options);
  if (!verdict.healthy) return { kind: "wait", reason: verdict.reason };
  const next = outdated.reduce((a, b) => (b.ordinal > a.ordinal ? b : a));
  return { kind: "restart", pod: next.name, uid: next.uid };
}

/** The members' accounts of themselves, as the pass's probes recorded them. */
function rollReports(observation: Observation, members: string[]): RollReport[] {
  return members.map((id) => {
    const probe = observation.probes[id];
    if (!probe) return { id, error: "its pod is not running" };
    if (!probe.reachable) return { id, error: probe.error };
    return probe.info ? { id, info: probe.info } : { id, error: "no report" };
  });
}

function statefulSetPods(observation: Observation): PodObservation[] {
  const replicas = observation.statefulSet?.replicas ?? 0;
  return observation.pods.filter((p) => p.ordinal < replicas);
}

/**
 * Pods the roll above would wait on forever: a pod stuck pulling an image the cluster no longer names (a typo in
 * spec.image, since corrected) is never ready, so no next pod may go. Such a pod never ran the store, so deleting it
 * loses nothing: its claim stays, and the StatefulSet controller recreates it from the current template.
 */
export function podsStuckOnOldImage(observation: Observation): PodObservation[] {
  const updateRevision = observation.statefulSet?.updateRevision;
  if (!updateRevision) return [];
  return observation.pods.filter((p) => p.imagePull !== undefined && !p.deleting && !p.running && p.revision !== undefined && p.revision !== updateRevision);
}
