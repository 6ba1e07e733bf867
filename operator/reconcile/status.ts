/**
 * The status a pass writes: overwritten each time from what was observed and done, never accumulated, so it cannot
 * drift from the truth. Conditions carry the generation they describe and keep their lastTransitionTime while their
 * status does not change, so `kubectl wait --for=condition=Available` and `--for=condition=Progressing=false` work.
 */
import type { Ring } from "../../node/ring/index.js";
import { partitionsPerMember } from "../../node/ring/index.js";
import { DEFAULT_BUCKET } from "../../node/config/index.js";
import { describeProgress, formatBytes, formatDuration, rebalanceSeconds, rebalanceStatus, type RebalanceProgress } from "../../driver/index.js";
import type { Condition, ConditionType, DynamoCluster, DynamoClusterStatus, MemberStatus, Phase, RebalanceStatus } from "../api/index.js";
import { selectorString } from "../resources/index.js";
import { newIncarnations, unreachableMembers, type MembershipDecision, type ReplacementDecision } from "./membership.js";
import type { ImagePullFailure, Observation } from "./observation.js";
import type { StepResult } from "./ring-stepper.js";
import type { CertificateReport } from "../certificates/index.js";
import { rolloutProgress, type RolloutDecision } from "./rollout.js";
import type { AvailableReason, DegradedReason, ProgressingReason } from "./reasons.js";

/** What the pass decided and did, besides what it observed. */
export interface PassOutcome {
  /** Problems with the spec only the operator can detect; the pass changed nothing when there are any. */
  problems: string[];
  /** The error of applying owned objects, if that failed. */
  applyError?: string;
  membership: MembershipDecision | undefined;
  step: StepResult | undefined;
  stepError?: string;
  statefulSetReplicas: number | undefined;
  replacement: ReplacementDecision;
  /** The rolling update's decision this pass (`none` when no pod is outdated, or when the pass did not act). */
  rollout?: RolloutDecision;
  /** The last change this pass made, for `status.lastAction`. */
  action?: string;
  /** What the certificates step decided and saw; absent when the pass changed nothing (paused, invalid spec). */
  certificates?: CertificateReport;
}

/** The quorum the nodes need to serve every bucket: the largest r or w over the configured and default buckets. */
export function servingQuorum(cluster: DynamoCluster): number {
  const buckets = cluster.spec.buckets.some((b) => b.name === DEFAULT_BUCKET.name) ? cluster.spec.buckets : [...cluster.spec.buckets, DEFAULT_BUCKET];
  return Math.max(...buckets.map((b) => Math.max(b.r, b.w)));
}

function memberStatuses(observation: Observation, ring: Ring | undefined): MemberStatus[] {
  const counts = ring ? partitionsPerMember(ring.owners) : {};
  const ids = new Set([...observation.pods.map((p) => p.name), ...Object.keys(ring?.members ?? {})]);
  return [...ids]
    .map((id) => {
      const pod = observation.pods.find((p) => p.name === id);
      const probe = observation.probes[id];
      const member = ring?.members[id];
      const status: MemberStatus = {
        id,
        state: member?.state ?? "absent",
        partitions: counts[id] ?? 0,
        ready: pod?.ready ?? false,
        reachable: probe?.reachable ?? false,
      };
      const incarnation = probe?.reachable ? probe.incarnation : member?.incarnation;
      if (incarnation) status.incarnation = incarnation;
      const zone = member?.zone ?? pod?.zone;
      if (zone) status.zone = zone;
      const since = observation.unreachableSinceMs[id];
      if (since !== undefined) status.unreachableSince = new Date(since).toISOString();
      return status;
    })
    .sort((a, b) => a.id.localeCompare(b.id, "en", { numeric: true }));
}

export interface Verdict {
  phase: Phase;
  available: [boolean, AvailableReason, string];
  progressing: [boolean, ProgressingReason, string];
  degraded: [boolean, DegradedReason, string];
}

/** One row of a decision table: the first row that applies gives the reason, and its message. */
interface Row<R extends string> {
  applies: boolean;
  reason: R;
  message: () => string;
}

function firstApplying<R extends string>(rows: Row<R>[]): { reason: R; message: string } | undefined {
  const row = rows.find((r) => r.applies);
  return row && { reason: row.reason, message: row.message() };
}

/** Phase and the three conditions as (status, reason, message), decided from the observation and the outcome. */
export function verdict(observation: Observation, outcome: PassOutcome): Verdict {
  const { cluster } = observation;
  const spec = cluster.spec;
  const ring = outcome.step?.ring ?? observation.ring.ring;
  const readyMembers = ring ? observation.pods.filter((p) => p.ready && ring.members[p.name]).length : 0;
  const quorum = servingQuorum(cluster);
  const quorumText = `${readyMembers} ready ring members; reads and writes need ${quorum}`;
  const available = firstApplying<AvailableReason>([
    { applies: !ring, reason: "NoRing", message: () => (observation.ring.known ? "the ring has not been created yet" : "no node answered the operator, so it does not know the ring") },
    { applies: readyMembers >= quorum, reason: "QuorumReady", message: () => quorumText },
    { applies: true, reason: "QuorumNotReady", message: () => quorumText },
  ])!;

  const unreachable = unreachableMembers(observation);
  const rebuilding = newIncarnations(observation);
  const pullFailure = observation.pods.find((p) => p.imagePull && !p.deleting);
  const { replacement } = outcome;
  // What is wrong, the most fundamental first: each later row may be a consequence of an earlier one.
  const wrong = firstApplying<Exclude<DegradedReason, "Healthy">>([
    { applies: outcome.problems.length > 0, reason: "InvalidSpec", message: () => outcome.problems.join("; ") },
    { applies: outcome.applyError !== undefined, reason: "ApplyFailed", message: () => outcome.applyError ?? "" },
    { applies: (outcome.certificates?.problems.length ?? 0) > 0, reason: "CertificatesInvalid", message: () => outcome.certificates?.problems.join("; ") ?? "" },
    { applies: pullFailure?.imagePull !== undefined, reason: "ImagePullFailed", message: () => (pullFailure?.imagePull ? imagePullMessage(pullFailure.name, pullFailure.imagePull) : "") },
    { applies: unreachable.length > 0, reason: "MemberUnreachable", message: () => `${unreachable.join(", ")} did not answer and holds data` },
    { applies: outcome.stepError !== undefined, reason: "RingStepFailed", message: () => outcome.stepError ?? "" },
    { applies: replacement.kind === "blocked", reason: "ReplacementBlocked", message: () => (replacement.kind === "blocked" ? `replacing ${replacement.pod} waits: ${replacement.reason}` : "") },
  ]);
  const degraded: Verdict["degraded"] = wrong ? [true, wrong.reason, wrong.message] : [false, "Healthy", "every ring member answers"];

  const stsReplicas = observation.statefulSet?.replicas;
  const rolling = rollingMessage(observation, outcome.rollout);
  const readyPods = observation.pods.filter((p) => p.ready).length;
  const membersMatch = ring
    ? Object.keys(ring.members).length === spec.replicas && observation.pods.every((p) => p.ordinal >= spec.replicas || ring.members[p.name])
    : false;
  const stepDone = outcome.step ? outcome.step.done : !!ring && ring.pending.length === 0 && membersMatch;
  // What is being done, the first that applies.
  const doing = firstApplying<ProgressingReason>([
    { applies: !ring, reason: "Creating", message: () => "creating the ring" },
    { applies: replacement.kind === "replace", reason: "Replacing", message: () => `replacing ${replacement.kind === "replace" ? replacement.pod : ""}` },
    { applies: rebuilding.length > 0, reason: "Replacing", message: () => `rebuilding ${rebuilding.join(", ")} (new incarnation)` },
    { applies: !stepDone || !membersMatch, reason: "Rebalancing", message: () => `rebalancing the ring towards ${spec.replicas} members` },
    { applies: stsReplicas !== spec.replicas, reason: "Scaling", message: () => `scaling the StatefulSet from ${stsReplicas ?? 0} to ${spec.replicas}` },
    { applies: rolling !== undefined, reason: "RollingUpdate", message: () => rolling ?? "" },
    { applies: readyPods !== spec.replicas || observation.pods.length !== spec.replicas, reason: "PodsNotReady", message: () => `waiting for ${spec.replicas} ready pods (${readyPods} ready)` },
  ]);
  const heldByUnreachable = unreachable.length > 0 && outcome.membership?.kind === "step" && outcome.membership.held;

  // The phase and Progressing, the first row that applies.
  const rows: { applies: boolean; phase: () => Phase; progressing: () => Verdict["progressing"] }[] = [
    { applies: spec.paused, phase: () => "Paused", progressing: () => [false, "Paused", "spec.paused is true; the operator changes nothing"] },
    {
      applies: outcome.problems.length > 0 || outcome.applyError !== undefined,
      phase: () => "Degraded",
      progressing: () => [false, wrong!.reason, "blocked until the spec or the error is fixed"],
    },
    { applies: wrong !== undefined && doing === undefined, phase: () => "Degraded", progressing: () => [false, wrong!.reason, wrong!.message] },
    {
      applies: doing !== undefined,
      phase: () => (!ring ? "Creating" : wrong ? "Degraded" : doing!.reason === "RollingUpdate" ? "Updating" : "Rebalancing"),
      progressing: () => (heldByUnreachable ? [false, "MemberUnreachable", `${doing!.message}; held while ${unreachable.join(", ")} is unreachable`] : [true, doing!.reason, doing!.message]),
    },
    { applies: true, phase: () => "Stable", progressing: () => [false, "Stable", `${spec.replicas} members, ring balanced, no transfers pending`] },
  ];
  const row = rows.find((r) => r.applies)!;
  return { phase: row.phase(), available: [available.reason === "QuorumReady", available.reason, available.message], progressing: row.progressing(), degraded };
}

/** What the rolling update is doing, while pods remain at an older revision; undefined when none does. */
function rollingMessage(observation: Observation, decision: RolloutDecision | undefined): string | undefined {
  const progress = rolloutProgress(observation);
  if (!progress.updateRevision || progress.updated >= progress.total) return undefined;
  const head = `rolling update to ${progress.updateRevision}: ${progress.updated} of ${progress.total} pods updated`;
  if (decision?.kind === "restart") return `${head}; restarting ${decision.pod}`;
  return decision?.kind === "wait" ? `${head}; next pod waits: ${decision.reason}` : head;
}

/** `pod kv-0 cannot pull image ringkv/dynamo:9.9: ErrImagePull: <the kubelet's message>`. */
export function imagePullMessage(pod: string, failure: ImagePullFailure): string {
  return `pod ${pod} cannot pull image ${failure.image}: ${failure.reason}${failure.message ? `: ${failure.message}` : ""}`;
}

function condition(type: ConditionType, value: readonly [boolean, string, string], generation: number, now: string, previous: Condition[] | undefined): Condition {
  const status = value[0] ? "True" : "False";
  const before = previous?.find((c) => c.type === type);
  return {
    type,
    status,
    observedGeneration: generation,
    lastTransitionTime: before && before.status === status ? before.lastTransitionTime : now,
    reason: value[1],
    message: value[2].slice(0, 1024),
  };
}

/**
 * `CertificatesReady`: True while every certificate the cluster needs is in place and valid. A pass that changed
 * nothing (paused, invalid spec) keeps the condition it found.
 */
function certificatesCondition(report: CertificateReport | undefined, generation: number, now: string, previous: Condition[] | undefined): Condition[] {
  if (!report) {
    const before = previous?.find((c) => c.type === "CertificatesReady");
    return before ? [before] : [];
  }
  return [condition("CertificatesReady", [report.ready, report.reason, report.message], generation, now, previous)];
}

/** The Events a change of `.status.rebalance` deserves: a plan started, or finished (with the time it took). */
export function rebalanceEvents(previous: RebalanceStatus | undefined, next: RebalanceStatus | undefined): { reason: string; message: string }[] {
  if (!next) return [];
  const events: { reason: string; message: string }[] = [];
  const samePlan = previous !== undefined && previous.finishTime === undefined;
  if (!samePlan && !(previous?.finishTime !== undefined && previous.epoch === next.epoch)) {
    events.push({ reason: "RebalanceStarted", message: `ring epoch ${next.epoch}: moving ${next.partitionsTotal} partitions to their new replicas` });
  }
  if (next.finishTime !== undefined && previous?.finishTime === undefined) {
    const seconds = rebalanceSeconds(next);
    events.push({
      reason: "RebalanceFinished",
      message: `moved ${next.partitionsTotal} partitions (${formatBytes(next.bytesMoved)})${seconds !== undefined ? ` in ${formatDuration(seconds)}` : ""}`,
    });
  }
  return events;
}

/** The one-line `.status.message`: what is wrong, else what is being done (with progress), else that all is well. */
export function statusMessage(v: Verdict, rebalance: RebalanceStatus | undefined, progress: RebalanceProgress | undefined): string {
  if (v.degraded[0]) return v.degraded[2];
  if (progress && rebalance?.finishTime === undefined) return `${v.progressing[0] ? `${v.progressing[2]}: ` : ""}${describeProgress(progress)}`;
  if (v.progressing[0]) return v.progressing[2];
  const seconds = rebalance ? rebalanceSeconds(rebalance) : undefined;
  const last = rebalance && seconds !== undefined ? ` (last rebalance: ${rebalance.partitionsTotal} partitions in ${formatDuration(seconds)})` : "";
  return `${v.progressing[2]}${last}`;
}

export function buildStatus(observation: Observation, outcome: PassOutcome): DynamoClusterStatus {
  const { cluster } = observation;
  const previous = cluster.status;
  const generation = cluster.metadata.generation ?? 0;
  const now = new Date(observation.nowMs).toISOString().replace(/\.\d{3}Z$/, "Z");
  const ring = outcome.step?.ring ?? observation.ring.ring;
  const v = verdict(observation, outcome);
  // Only the fields the status schema declares: the driver may report more (server-side apply refuses unknown ones).
  const transfers = outcome.step
    ? { pending: outcome.step.transfers.pending, active: outcome.step.transfers.active }
    : { pending: ring?.pending.length ?? 0, active: 0 };
  const status: DynamoClusterStatus = {
    replicas: observation.pods.length,
    readyReplicas: observation.pods.filter((p) => p.ready).length,
    selector: selectorString(cluster.metadata.name),
    phase: v.phase,
    partitions: cluster.spec.partitions,
    members: memberStatuses(observation, ring),
    transfers,
    conditions: [
      condition("Available", v.available, generation, now, previous?.conditions),
      condition("Progressing", v.progressing, generation, now, previous?.conditions),
      condition("Degraded", v.degraded, generation, now, previous?.conditions),
      ...certificatesCondition(outcome.certificates, generation, now, previous?.conditions),
    ],
    observedGeneration: generation,
  };
  const tls = outcome.certificates?.status ?? previous?.tls;
  if (tls) status.tls = tls;
  if (ring) status.ringEpoch = ring.epoch;
  const progress = rolloutProgress(observation);
  if (progress.updateRevision) {
    status.rollout = { ...progress, progress: `${progress.updated}/${progress.total}` };
    if (outcome.rollout?.kind === "wait" && progress.updated < progress.total) status.rollout.waiting = outcome.rollout.reason.slice(0, 1024);
  }
  const rebalance = rebalanceStatus(previous?.rebalance, outcome.step?.rebalance, ring, observation.nowMs);
  if (rebalance) status.rebalance = rebalance;
  status.message = statusMessage(v, rebalance, outcome.step?.rebalance).slice(0, 1024);
  const lastAction = outcome.action ?? previous?.lastAction;
  if (lastAction) status.lastAction = lastAction;
  return status;
}
