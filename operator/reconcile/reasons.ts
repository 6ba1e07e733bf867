/**
 * The reasons of the DynamoCluster's conditions: part of its API (users `kubectl wait` on them, alerts match them;
 * docs/operator.md lists them), so they are typed constants, never derived from the wording of a message.
 */

export const AVAILABLE_REASONS = ["QuorumReady", "QuorumNotReady", "NoRing"] as const;
export type AvailableReason = (typeof AVAILABLE_REASONS)[number];

/** Why the cluster is Degraded, the most fundamental first; `Healthy` when it is not. */
export const DEGRADED_REASONS = ["Healthy", "InvalidSpec", "ApplyFailed", "CertificatesInvalid", "ImagePullFailed", "MemberUnreachable", "RingStepFailed", "ReplacementBlocked"] as const;
export type DegradedReason = (typeof DEGRADED_REASONS)[number];

/** What the operator is doing (Progressing True), or why it is not (False: `Stable`, `Paused`, or what blocks it). */
export const PROGRESSING_REASONS = ["Creating", "Replacing", "Rebalancing", "Scaling", "RollingUpdate", "PodsNotReady", "Stable", "Paused", "MemberUnreachable"] as const;
export type ProgressingReason = (typeof PROGRESSING_REASONS)[number] | Exclude<DegradedReason, "Healthy">;
