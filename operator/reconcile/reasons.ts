/**
 * The reasons of the DynamoCluster's conditions and of its restore's Events: part of its API (users `kubectl wait` on
 * them, alerts match them; docs/operator.md lists them), so they are typed constants, never derived from the wording
 * of a message.
 */
import { BACKUP_FAILURE_REASONS } from "../api/index.js";

/** Why a cluster bootstrapping from a backup is not Available yet although its quorum may be ready. */
export const RESTORE_HOLD_REASONS = ["Restoring", "RestoreFailed"] as const;
export type RestoreHoldReason = (typeof RESTORE_HOLD_REASONS)[number];

export const AVAILABLE_REASONS = ["QuorumReady", "QuorumNotReady", "NoRing", ...RESTORE_HOLD_REASONS] as const;
export type AvailableReason = (typeof AVAILABLE_REASONS)[number];

/** Why the cluster is Degraded, the most fundamental first; `Healthy` when it is not. */
export const DEGRADED_REASONS = ["Healthy", "InvalidSpec", "ApplyFailed", "CertificatesInvalid", "ImagePullFailed", "MemberUnreachable", "RingStepFailed", "ReplacementBlocked", "RestoreFailed"] as const;
export type DegradedReason = (typeof DEGRADED_REASONS)[number];

/** What the operator is doing (Progressing True), or why it is not (False: `Stable`, `Paused`, or what blocks it). */
export const PROGRESSING_REASONS = ["Creating", "Replacing", "Rebalancing", "Scaling", "RollingUpdate", "PodsNotReady", "Stable", "Paused", "MemberUnreachable"] as const;
export type ProgressingReason = (typeof PROGRESSING_REASONS)[number] | Exclude<DegradedReason, "Healthy">;

/** Why the restore of `spec.bootstrap.fromBackup` has not started: the pods and ring, or the DynamoBackup it names. */
export const RESTORE_WAITING_REASONS = ["WaitingToRestore", "BackupNotFound", "BackupNotComplete"] as const;
export type RestoreWaitingReason = (typeof RESTORE_WAITING_REASONS)[number];

/**
 * The reasons of the `Restored` condition: waiting, running (`Restoring`), done (`Restored`), or failed, with the
 * failure's own reason (`CorruptObject`, `MissingObject`, `JobFailed`, ...; `RestoreFailed` when none is known).
 */
export const RESTORED_REASONS = [...new Set([...RESTORE_WAITING_REASONS, "Restoring", "Restored", "RestoreFailed", ...BACKUP_FAILURE_REASONS] as const)];
export type RestoredReason = RestoreWaitingReason | "Restoring" | "Restored" | "RestoreFailed" | (typeof BACKUP_FAILURE_REASONS)[number];

/** The Events of a restore on the DynamoCluster. */
export const RESTORE_EVENT_REASONS = ["RestoreStarted", "Restored", "RestoreFailed"] as const;
export type RestoreEventReason = (typeof RESTORE_EVENT_REASONS)[number];

/** Whether a reason read back from a status (a plain string there) is one of `reasons`. */
export function isReason<T extends string>(reasons: readonly T[], value: string | undefined): value is T {
  return value !== undefined && (reasons as readonly string[]).includes(value);
}
