/**
 * The plan of one reconcile pass: from the observation alone, the StatefulSet's replicas and the ordered actions to
 * take once the owned objects are applied. Pure, so every decision a pass can make is a value a test can state; the
 * controller executes the plan and changes nothing the plan does not name.
 *
 * A pass makes at most one disruptive change. A plan that deletes a pod (a replacement, a rolling update's restart)
 * takes no ring step: the observation was made before the deletion, so a step on it could count the deleted node as
 * up and commit a ring around it. The next pass observes again and steps then.
 */
import { desiredMembers, newIncarnations, replacementToStart, statefulSetReplicas, type MembershipDecision, type ReplacementDecision } from "./membership.js";
import type { Observation } from "./observation.js";
import { nextRollingRestart, podsStuckOnOldImage, rolloutProgress, type RolloutDecision } from "./rollout.js";

export type PassAction =
  /** The applied StatefulSet changed its replicas (growing, or shrinking past members that hold nothing). */
  | { kind: "scaleStatefulSet"; from: number; to: number }
  /** A member came back under a new incarnation (its disk was wiped) that no earlier pass announced. */
  | { kind: "announceIncarnation"; member: string; incarnation: string }
  /** Delete a pod stuck pulling an image of an older revision (it never ran): it returns from the current template. */
  | { kind: "recreateStuckPod"; pod: string; uid: string; image: string }
  /** Delete the pod's claim, then the pod: it returns with a fresh volume as a new incarnation. */
  | { kind: "replacePod"; pod: string; uid: string }
  /** A requested replacement has to wait, and why. */
  | { kind: "reportReplacementBlocked"; pod: string; reason: string }
  /** Delete an outdated pod for the rolling update; the StatefulSet controller creates it at the update revision. */
  | { kind: "restartOutdatedPod"; pod: string; uid: string; updateRevision: string; updated: number; total: number }
  /** Members unreachable past the deadline are left out of the desired members: their partitions move to others. */
  | { kind: "reportMembersDropped"; members: string[]; afterSeconds: number }
  /** One ring step towards these member ids, on this pass's observation of the nodes. */
  | { kind: "stepRing"; desired: string[] };

export interface PassPlan {
  statefulSetReplicas: number;
  replacement: ReplacementDecision;
  /** The rolling update's decision (`none` while a replacement is requested: that goes first). */
  rollout: RolloutDecision;
  /** Undefined when the pass deletes a pod, and so leaves the ring alone. */
  membership: MembershipDecision | undefined;
  /** In order, after the owned objects are applied. */
  actions: PassAction[];
}

/** What the controller remembers that a plan depends on: the incarnations it has announced already, by member. */
export interface PassMemory {
  announcedIncarnations: Readonly<Record<string, string>>;
}

export function planPass(observation: Observation, memory: PassMemory): PassPlan {
  const { cluster } = observation;
  const current = observation.statefulSet?.replicas;
  const replicas = statefulSetReplicas(cluster.spec.replicas, current, observation.ring, cluster.metadata.name);
  const actions: PassAction[] = [];
  if (current !== undefined && replicas !== current) actions.push({ kind: "scaleStatefulSet", from: current, to: replicas });
  for (const member of newIncarnations(observation)) {
    const probe = observation.probes[member];
    if (probe?.reachable === true && memory.announcedIncarnations[member] !== probe.incarnation) {
      actions.push({ kind: "announceIncarnation", member, incarnation: probe.incarnation });
    }
  }

  for (const pod of podsStuckOnOldImage(observation)) {
    actions.push({ kind: "recreateStuckPod", pod: pod.name, uid: pod.uid, image: pod.imagePull?.image ?? "" });
  }

  const replacement = replacementToStart(observation);
  if (replacement.kind === "replace") {
    const pod = observation.pods.find((p) => p.name === replacement.pod);
    if (pod) actions.push({ kind: "replacePod", pod: pod.name, uid: pod.uid });
  } else if (replacement.kind === "blocked") {
    actions.push({ kind: "reportReplacementBlocked", pod: replacement.pod, reason: replacement.reason });
  }

  const rollout: RolloutDecision = replacement.kind === "none" ? nextRollingRestart(observation) : { kind: "none" };
  if (rollout.kind === "restart") {
    const progress = rolloutProgress(observation);
    actions.push({ kind: "restartOutdatedPod", pod: rollout.pod, uid: rollout.uid, updateRevision: progress.updateRevision ?? "", updated: progress.updated, total: progress.total });
  }

  if (actions.some(deletesPod)) return { statefulSetReplicas: replicas, replacement, rollout, membership: undefined, actions };
  const membership = desiredMembers(observation);
  if (membership.kind === "step") {
    if (membership.dropped.length > 0) actions.push({ kind: "reportMembersDropped", members: membership.dropped, afterSeconds: cluster.spec.unreachableReplaceAfterSeconds });
    actions.push({ kind: "stepRing", desired: membership.desired });
  }
  return { statefulSetReplicas: replicas, replacement, rollout, membership, actions };
}

export function deletesPod(action: PassAction): boolean {
  return action.kind === "replacePod" || action.kind === "restartOutdatedPod" || action.kind === "recreateStuckPod";
}

/**
 * The line `status.lastAction` keeps for an action that changes the cluster; undefined for those that only report.
 * (A ring step's line is the driver's account of the epoch it committed.)
 */
export function actionSummary(action: PassAction): string | undefined {
  switch (action.kind) {
    case "scaleStatefulSet":
      return `StatefulSet replicas ${action.from} → ${action.to}`;
    case "recreateStuckPod":
      return `recreating ${action.pod}, stuck pulling ${action.image}, an image the cluster no longer names`;
    case "replacePod":
      return `replacing ${action.pod}: deleted its claim and pod`;
    case "restartOutdatedPod":
      return `rolling update to ${action.updateRevision}: restarting ${action.pod} (${action.updated} of ${action.total} pods updated)`;
    default:
      return undefined;
  }
}
