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
import type { Observation } from "./observation.js";
import type { StepResult } from "./ring-stepper.js";
import type { CertificateReport } from "../certificates/index.js";
import { rolloutProgress, type RolloutDecision } from "./rollout.js";

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
  available: [boolean, string, string];
  progressing: [boolean, string, string];
  degraded: [boolean, string, string];
}

/** Phase and the three conditions as (status, reason, message), decided from the observation and the outcome. */
export function verdict(observation: Observation, outcome: PassOutcome): Verdict {
  const { cluster } = observation;
  const spec = cluster.spec;
  const ring = outcome.step?.ring ?? observation.ring.ring;
  const readyMembers = ring ? observation.pods.filter((p) => p.ready && ring.members[p.name]).length : 0;
  const quorum = servingQuorum(cluster);
  const available: Verdict["available"] = ring
    ? readyMembers >= quorum
      ? [true, "QuorumReady", `${readyMembers} ready ring members; reads and writes need ${quorum}`]
      : [false, "QuorumNotReady", `${readyMembers} ready ring members; reads and writes need ${quorum}`]
    : [false, "NoRing", "the ring has not been created yet"];

  const unreachable = unreachableMembers(observation);
  const rebuilding = newIncarnations(observation);
  const degradedBy: [string, string] | undefined =
    outcome.problems.length > 0
      ? ["InvalidSpec", outcome.problems.join("; ")]
      : outcome.applyError
        ? ["ApplyFailed", outcome.applyError]
        : outcome.certificates && outcome.certificates.problems.length > 0
          ? ["CertificatesInvalid", outcome.certificates.problems.join("; ")]
          : unreachable.length > 0
            ? ["MemberUnreachable", `${unreachable.join(", ")} did not answer and holds data`]
            : outcome.stepError
              ? ["RingStepFailed", outcome.stepError]
              : outcome.replacement.kind === "blocked"
                ? ["ReplacementBlocked", `replacing ${outcome.replacement.pod} waits: ${outcome.replacement.reason}`]
                : undefined;
  const degraded: Verdict["degraded"] = degradedBy ? [true, ...degradedBy] : [false, "Healthy", "every ring member answers"];

  const stsReplicas = observation.statefulSet?.replicas;
  const rolling = rollingMessage(observation, outcome.rollout);
  const readyPods = observation.pods.filter((p) => p.ready).length;
  const membersMatch = ring
    ? Object.keys(ring.members).length === spec.replicas && observation.pods.every((p) => p.ordinal >= spec.replicas || ring.members[p.name])
    : false;
  const stepDone = outcome.step ? outcome.step.done : !!ring && ring.pending.length === 0 && membersMatch;
  const why: string | undefined = !ring
    ? "creating the ring"
    : outcome.replacement.kind === "replace"
      ? `replacing ${outcome.replacement.pod}`
      : rebuilding.length > 0
        ? `rebuilding ${rebuilding.join(", ")} (new incarnation)`
        : !stepDone || !membersMatch
          ? `rebalancing the ring towards ${spec.replicas} members`
          : stsReplicas !== spec.replicas
            ? `scaling the StatefulSet from ${stsReplicas ?? 0} to ${spec.replicas}`
            : rolling
              ? rolling
              : readyPods !== spec.replicas || observation.pods.length !== spec.replicas
                ? `waiting for ${spec.replicas} ready pods (${readyPods} ready)`
                : undefined;
  const reason = !ring
    ? "Creating"
    : why?.startsWith("replacing") || why?.startsWith("rebuilding")
      ? "Replacing"
      : why?.startsWith("scaling")
        ? "Scaling"
        : why === rolling
          ? "RollingUpdate"
          : why?.startsWith("waiting")
            ? "PodsNotReady"
            : "Rebalancing";

  if (spec.paused) {
    return { phase: "Paused", available, progressing: [false, "Paused", "spec.paused is true; the operator changes nothing"], degraded };
  }
  if (outcome.problems.length > 0 || outcome.applyError) {
    return { phase: "Degraded", available, progressing: [false, degraded[1], "blocked until the spec or the error is fixed"], degraded };
  }
  const blockedByUnreachable = unreachable.length > 0 && outcome.membership?.kind === "step" && outcome.membership.held;
  if (degradedBy && !why) return { phase: "Degraded", available, progressing: [false, degraded[1], degraded[2]], degraded };
  if (why) {
    const phase: Phase = !ring ? "Creating" : degradedBy ? "Degraded" : reason === "RollingUpdate" ? "Updating" : "Rebalancing";
    const progressing: Verdict["progressing"] = blockedByUnreachable ? [false, "MemberUnreachable", `${why}; held while ${unreachable.join(", ")} is unreachable`] : [true, reason, why];
    return { phase, available, progressing, degraded };
  }
  return { phase: "Stable", available, progressing: [false, "Stable", `${spec.replicas} members, ring balanced, no transfers pending`], degraded };
}

/** What the rolling update is doing, while pods remain at an older revision; undefined when none does. */
function rollingMessage(observation: Observation, decision: RolloutDecision | undefined): string | undefined {
  const progress = rolloutProgress(observation);
  if (!progress.updateRevision || progress.updated >= progress.total) return undefined;
  const head = `rolling update to ${progress.updateRevision}: ${progress.updated} of ${progress.total} pods updated`;
  if (decision?.kind === "restart") return `${head}; restarting ${decision.pod}`;
  return decision?.kind === "wait" ? `${head}; next pod waits: ${decision.reason}` : head;
}

function condition(type: ConditionType, value: [boolean, string, string], generation: number, now: string, previous: Condition[] | undefined): Condition {
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
