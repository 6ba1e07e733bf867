/**
 * `spec.bootstrap.fromBackup`: a new cluster loads a backup before it turns Available. Pure decisions: where the
 * backup is (a Completed DynamoBackup, or a location), whether the restore Job may start (every pod up, the ring
 * formed and settled), what the restore's status is, and how it holds the cluster's Available condition back. The
 * restore is one Job run once; a Job that fails (a corrupt or missing file, a bucket the cluster lacks) fails the
 * bootstrap with the reason and the file its result names, and the cluster stays not Available: a silent partial
 * restore is never reported as a cluster ready for clients.
 */
import type { BackupFailureReason, BootstrapStatus, Condition, DynamoBackup, DynamoCluster, DynamoClusterStatus } from "../api/index.js";
import type { RestoreSource } from "../resources/index.js";
import type { JobState } from "./backup-job.js";
import { RESTORED_REASONS, isReason, type RestoreEventReason, type RestoreHoldReason, type RestoredReason, type RestoreWaitingReason } from "./reasons.js";

export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Where the backup to restore is, or why the restore cannot start yet, or why it never will. */
export type SourceResolution =
  | { kind: "ready"; source: RestoreSource }
  | { kind: "waiting"; reason: RestoreWaitingReason; message: string }
  | { kind: "failed"; reason: BackupFailureReason; message: string };

/** The source of `spec.bootstrap.fromBackup`: the DynamoBackup it names (undefined when absent), or its store. */
export function resolveSource(cluster: DynamoCluster, backup: DynamoBackup | undefined): SourceResolution {
  const from = cluster.spec.bootstrap?.fromBackup;
  if (!from) return { kind: "failed", reason: "InvalidSpec", message: "spec.bootstrap.fromBackup is not set" };
  if (from.store) return { kind: "ready", source: { store: from.store, ...(from.backupId ? { backupId: from.backupId } : {}) } };
  const name = from.backup as string;
  if (!backup) return { kind: "waiting", reason: "BackupNotFound", message: `waiting for DynamoBackup ${name}, which does not exist in namespace ${cluster.metadata.namespace}` };
  const phase = backup.status?.phase;
  if (phase === "Failed") return { kind: "failed", reason: "BackupFailed", message: `DynamoBackup ${name} failed: ${backup.status?.message ?? "no message"}` };
  if (phase !== "Completed" || !backup.status?.backupId) return { kind: "waiting", reason: "BackupNotComplete", message: `waiting for DynamoBackup ${name} to complete (${phase ?? "Pending"})` };
  return { kind: "ready", source: { store: backup.spec.store, backupId: backup.status.backupId } };
}

export interface BootstrapObservation {
  cluster: DynamoCluster;
  source: SourceResolution;
  /** Every pod ready, every one a ring member, nothing in transit: the cluster would be Stable and Available. */
  clusterSettled: boolean;
  /** The restore Job, undefined when there is none. */
  job: JobState | undefined;
  jobName: string;
  nowMs: number;
}

export interface BootstrapDecision {
  status: BootstrapStatus;
  createJob: boolean;
  event?: { type: "Normal" | "Warning"; reason: RestoreEventReason; message: string };
}

export function decideBootstrap(observation: BootstrapObservation): BootstrapDecision {
  const { cluster, source, job, jobName, nowMs } = observation;
  const previous = cluster.status?.bootstrap;
  if (previous?.phase === "Restored" || previous?.phase === "Failed") return { status: previous, createJob: false };
  const location = source.kind === "ready" ? source.source.store.location : previous?.location;
  const base: BootstrapStatus = {
    phase: "Waiting",
    ...(location ? { location } : {}),
    ...(source.kind === "ready" && source.source.backupId ? { backupId: source.source.backupId } : {}),
  };
  const failed = (reason: BackupFailureReason, message: string, extra: Partial<BootstrapStatus> = {}): BootstrapDecision => ({
    status: { ...base, ...extra, phase: "Failed", reason, message: message.slice(0, 1024), completionTime: extra.completionTime ?? iso(nowMs) },
    createJob: false,
    event: { type: "Warning", reason: "RestoreFailed", message },
  });

  if (!job) {
    if (previous?.phase === "Restoring") return failed("JobDeleted", `restore Job ${previous.job ?? jobName} was deleted before it finished; the cluster may hold part of the backup`, { job: previous.job });
    if (source.kind === "failed") return failed(source.reason, source.message);
    if (source.kind === "waiting") return { status: { ...base, reason: source.reason, message: source.message }, createJob: false };
    if (!observation.clusterSettled) return { status: { ...base, message: "waiting for every pod to be ready and the ring to settle before the restore" }, createJob: false };
    const message = `restoring ${source.source.backupId ? `backup ${source.source.backupId}` : "the newest complete backup"} from ${source.source.store.location}`;
    return { status: { ...base, phase: "Restoring", job: jobName, startTime: iso(nowMs), message }, createJob: true, event: { type: "Normal", reason: "RestoreStarted", message } };
  }
  const running = { ...base, job: jobName, ...(previous?.startTime ? { startTime: previous.startTime } : job.startTime ? { startTime: job.startTime } : {}) };
  if (job.kind === "running") return { status: { ...running, phase: "Restoring", message: previous?.message ?? `restoring from ${location}` }, createJob: false };
  if (job.kind === "failed") return failed(job.reason, job.message, { ...running, completionTime: job.completionTime });
  const result = job.result;
  const message = `restored backup ${result?.id ?? base.backupId ?? ""}${result?.records !== undefined ? `: ${result.records} records from ${result.partitions} verified files` : ""}`.replace("backup :", "the backup:");
  return {
    status: {
      ...running,
      phase: "Restored",
      ...(result?.id ? { backupId: result.id } : {}),
      ...(result?.records !== undefined ? { records: result.records } : {}),
      completionTime: job.completionTime ?? iso(nowMs),
      message,
    },
    createJob: false,
    event: { type: "Normal", reason: "Restored", message },
  };
}

/**
 * The cluster status with the bootstrap in it: `status.bootstrap`, the `Restored` condition, and Available held False
 * until the restore is done (the ring may serve quorum already, but not the data the user asked for). A failed
 * restore also makes the cluster Degraded, naming what failed.
 */
export function withBootstrap(status: DynamoClusterStatus, bootstrap: BootstrapStatus, previous: Condition[] | undefined, generation: number, nowMs: number): DynamoClusterStatus {
  const now = iso(nowMs);
  const restored = bootstrap.phase === "Restored";
  const reason = restoredReason(bootstrap);
  const hold: RestoreHoldReason = bootstrap.phase === "Failed" ? "RestoreFailed" : "Restoring";
  const message = bootstrap.message ?? bootstrap.phase;
  const transition = (type: string, value: "True" | "False") => {
    const before = previous?.find((c) => c.type === type);
    return before && before.status === value ? before.lastTransitionTime : now;
  };
  const conditions = (status.conditions ?? []).filter((c) => c.type !== "Restored").map((c) => {
    if (restored) return c;
    if (c.type === "Available") return { ...c, status: "False" as const, lastTransitionTime: transition("Available", "False"), reason: hold, message: `not available until the backup is restored: ${message}`.slice(0, 1024) };
    if (c.type === "Degraded" && bootstrap.phase === "Failed") return { ...c, status: "True" as const, lastTransitionTime: transition("Degraded", "True"), reason: "RestoreFailed", message: message.slice(0, 1024) };
    return c;
  });
  conditions.push({ type: "Restored", status: restored ? "True" : "False", observedGeneration: generation, lastTransitionTime: transition("Restored", restored ? "True" : "False"), reason, message: message.slice(0, 1024) });
  const out: DynamoClusterStatus = { ...status, bootstrap, conditions };
  if (bootstrap.phase === "Failed") out.message = `restore failed: ${message}`.slice(0, 1024);
  else if (!restored && status.phase === "Stable") out.message = message.slice(0, 1024);
  return out;
}

/**
 * The reason of the `Restored` condition. `status.bootstrap.reason` is a plain string once written, so one this
 * operator does not know (written by another version) falls back to the phase's generic reason.
 */
export function restoredReason(bootstrap: BootstrapStatus): RestoredReason {
  switch (bootstrap.phase) {
    case "Restored":
      return "Restored";
    case "Restoring":
      return "Restoring";
    case "Failed":
      return isReason(RESTORED_REASONS, bootstrap.reason) ? bootstrap.reason : "RestoreFailed";
    case "Waiting":
      return isReason(RESTORED_REASONS, bootstrap.reason) ? bootstrap.reason : "WaitingToRestore";
  }
}
