/**
 * Reconciling a DynamoCluster: pure decisions over an observation (membership, scale, replacement, status), and the
 * controller that observes, applies and drives the ring with them.
 */
export { IMAGE_PULL_REASONS, observePod, observeStatefulSet, ordinalOf, podName, REVISION_LABEL } from "./observation.js";
export type { ImagePullFailure, NodeProbe, Observation, PodObservation, RingView, StatefulSetObservation } from "./observation.js";
export type { MemberAddress, NodeAnswer, RingObservation, RingStepper, StepResult } from "./ring-stepper.js";
export {
  DEFAULT_MEMBERSHIP,
  desiredMembers,
  holdsData,
  joinablePods,
  memberAddress,
  newIncarnations,
  pastDeadline,
  replacementToStart,
  statefulSetReplicas,
  unreachableMembers,
} from "./membership.js";
export type { MembershipDecision, ReplacementDecision } from "./membership.js";
export { buildStatus, imagePullMessage, rebalanceEvents, servingQuorum, statusMessage, verdict } from "./status.js";
export type { PassOutcome, Verdict } from "./status.js";
export { DEFAULT_REQUEUE, desiredObjects, requeueAfterMs } from "./pass.js";
export type { DesiredInputs } from "./pass.js";
export { nextRollingRestart, podsStuckOnOldImage, rolloutProgress } from "./rollout.js";
export type { RolloutDecision, RolloutProgress } from "./rollout.js";
export { actionSummary, deletesPod, planPass } from "./plan.js";
export type { PassAction, PassMemory, PassPlan } from "./plan.js";
export { AVAILABLE_REASONS, DEGRADED_REASONS, PROGRESSING_REASONS, RESTORED_REASONS, RESTORE_EVENT_REASONS, RESTORE_HOLD_REASONS, RESTORE_WAITING_REASONS, isReason } from "./reasons.js";
export type { AvailableReason, DegradedReason, ProgressingReason, RestoredReason, RestoreEventReason, RestoreHoldReason, RestoreWaitingReason } from "./reasons.js";
