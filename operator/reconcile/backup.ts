/**
 * The pure decisions of the backup controllers: what a DynamoBackup's status is and whether its Job must be created
 * (from the backup, its cluster and its Job), and what a DynamoScheduledBackup does now (start a backup, delete the
 * backups its retention lets go) and when it looks again. The controllers only observe and carry these out.
 */
import { parseLocation } from "../../backup/location.js";
import { retentionVictims, type RetentionCandidate } from "../../backup/retention.js";
import {
  API_VERSION,
  BACKUP_KIND,
  SCHEDULED_BACKUP_KIND,
  durationMs,
  type BackupFailureReason,
  type BackupPhase,
  type Condition,
  type DynamoBackup,
  type DynamoBackupStatus,
  type DynamoCluster,
  type DynamoScheduledBackup,
  type DynamoScheduledBackupStatus,
} from "../api/index.js";
import { boundedName } from "../resources/index.js";
import { lastDueTime, nextCronTime, parseCron } from "./cron.js";
import type { JobState } from "./backup-job.js";

export const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** Problems with a backup store the API server's schema cannot see; the backup engine would refuse them. */
export function storeProblems(location: string): string[] {
  try {
    parseLocation(location);
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

export interface BackupObservation {
  backup: DynamoBackup;
  /** The cluster the backup names; undefined when it does not exist. */
  cluster: DynamoCluster | undefined;
  /** The backup's Job: undefined when there is none. */
  job: JobState | undefined;
  backupId: string;
  nowMs: number;
}

export interface BackupDecision {
  status: DynamoBackupStatus;
  /** Create the Job now. */
  createJob: boolean;
  /** An Event for a change of phase. */
  event?: { type: "Normal" | "Warning"; reason: string; message: string };
}

const isTerminal = (phase: BackupPhase | undefined) => phase === "Completed" || phase === "Failed";

function isAvailable(cluster: DynamoCluster): boolean {
  return (cluster.status?.conditions ?? []).some((c) => c.type === "Available" && c.status === "True");
}

function condition(type: string, status: boolean, reason: string, message: string, generation: number, now: string, previous: Condition[] | undefined): Condition {
  const value = status ? "True" : "False";
  const before = previous?.find((c) => c.type === type);
  return {
    type,
    status: value,
    observedGeneration: generation,
    lastTransitionTime: before && before.status === value ? before.lastTransitionTime : now,
    reason,
    message: message.slice(0, 1024),
  };
}

/** The status of a backup in `phase`, with its two conditions. */
function withPhase(
  observation: BackupObservation,
  phase: BackupPhase,
  message: string,
  fields: Partial<DynamoBackupStatus>,
  failure?: BackupFailureReason,
): DynamoBackupStatus {
  const { backup } = observation;
  const previous = backup.status;
  const generation = backup.metadata.generation ?? 0;
  const now = iso(observation.nowMs);
  return {
    ...stripConditions(previous),
    ...fields,
    phase,
    message: message.slice(0, 1024),
    observedGeneration: generation,
    conditions: [
      condition("Completed", phase === "Completed", phase === "Completed" ? "Completed" : phase, phase === "Completed" ? message : `the backup is ${phase.toLowerCase()}`, generation, now, previous?.conditions),
      condition("Failed", phase === "Failed", failure ?? (phase === "Failed" ? "JobFailed" : phase), phase === "Failed" ? message : `the backup is ${phase.toLowerCase()}`, generation, now, previous?.conditions),
    ],
  };
}

function stripConditions(status: DynamoBackupStatus | undefined): DynamoBackupStatus {
  const { conditions: _c, ...rest } = status ?? {};
  return rest;
}

/**
 * A DynamoBackup's next status. A backup that completed or failed stays so: its Job is not run again, and a
 * Completed one is never reopened. Only a Job that succeeded makes it Completed.
 */
export function decideBackup(observation: BackupObservation): BackupDecision {
  const { backup, cluster, job, backupId } = observation;
  const status = backup.status;
  if (isTerminal(status?.phase)) return { status: status as DynamoBackupStatus, createJob: false };
  const clusterName = backup.spec.cluster.name;
  const location = backup.spec.store.location;
  const base: Partial<DynamoBackupStatus> = { backupId, location };
  const failed = (reason: BackupFailureReason, message: string, fields: Partial<DynamoBackupStatus> = {}): BackupDecision => ({
    status: withPhase(observation, "Failed", message, { ...base, ...fields, completionTime: fields.completionTime ?? iso(observation.nowMs) }, reason),
    createJob: false,
    event: { type: "Warning", reason: `Backup${reason}`, message },
  });

  const problems = storeProblems(location);
  if (problems.length > 0) return failed("InvalidSpec", problems.join("; "));

  if (!job) {
    // The Job was made before (the status names it) and is gone: someone deleted it mid-run.
    if (status?.job && status.phase === "Running") return failed("JobDeleted", `Job ${status.job} was deleted before the backup finished; backup ${backupId} may be incomplete and is not reported complete`);
    if (!cluster) return failed("ClusterNotFound", `DynamoCluster ${clusterName} does not exist in namespace ${backup.metadata.namespace}`);
    if (!isAvailable(cluster)) {
      return { status: withPhase(observation, "Pending", `waiting for DynamoCluster ${clusterName} to be Available`, base), createJob: false };
    }
    return {
      status: withPhase(observation, "Running", `starting backup ${backupId} of ${clusterName} to ${location}`, base),
      createJob: true,
      event: { type: "Normal", reason: "BackupStarted", message: `backup ${backupId} of DynamoCluster ${clusterName} to ${location}` },
    };
  }
  if (job.kind === "running") {
    // The Job's latest progress line, or the last one seen while a retried pod has not logged one yet.
    const progress = job.progress ? progressStatus(job.progress) : status?.progress;
    const message = `backing up ${clusterName} to ${location} (backup ${backupId})` + (progress?.summary ? `: ${progress.summary} partitions, ${progress.records ?? 0} records` : "");
    return {
      status: withPhase(observation, "Running", message, { ...base, ...(job.startTime ? { startTime: job.startTime } : {}), ...(progress ? { progress } : {}) }),
      createJob: false,
    };
  }
  if (job.kind === "failed") return failed(job.reason, job.message, { ...(job.startTime ? { startTime: job.startTime } : {}), completionTime: job.completionTime });
  const result = job.result;
  const progress = result ? progressStatus({ partitionsDone: result.partitions, partitionsTotal: result.partitions, records: result.records, bytes: result.bytes }) : undefined;
  const message =
    `backup ${result?.id ?? backupId} complete in ${location}` +
    (result?.records !== undefined ? `: ${result.records} records in ${result.partitions} partitions` : "") +
    (result?.pruneError ? `; retention failed: ${result.pruneError}` : result?.pruned?.length ? `; retention deleted ${result.pruned.join(", ")}` : "");
  return {
    status: withPhase(observation, "Completed", message, {
      ...base,
      ...(result?.id ? { backupId: result.id } : {}),
      startTime: result?.startedAt ?? job.startTime,
      completionTime: result?.finishedAt ?? job.completionTime ?? iso(observation.nowMs),
      ...(progress ? { progress } : {}),
    }),
    createJob: false,
    event: { type: "Normal", reason: "BackupCompleted", message },
  };
}

/** `status.progress` from counts, each optional, with the `done/total` summary of the Progress column. */
export function progressStatus(counts: { partitionsDone?: number; partitionsTotal?: number; records?: number; bytes?: number }): NonNullable<DynamoBackupStatus["progress"]> {
  const summary = counts.partitionsDone !== undefined && counts.partitionsTotal !== undefined ? `${counts.partitionsDone}/${counts.partitionsTotal}` : undefined;
  return Object.fromEntries(Object.entries({ ...counts, summary }).filter(([, v]) => v !== undefined));
}

/** What a schedule does in one pass. */
export interface ScheduleDecision {
  status: DynamoScheduledBackupStatus;
  /** A DynamoBackup to create now. */
  create?: DynamoBackup;
  /** DynamoBackups of this schedule its retention lets go. */
  delete: string[];
  /** When to look again. */
  requeueAfterMs: number;
  /** A schedule the operator cannot parse. */
  problem?: string;
}

/** The DynamoBackup name of a run due at `dueMs`: the schedule's name and the due minute. */
export function scheduledBackupName(schedule: string, dueMs: number): string {
  return boundedName(schedule, iso(dueMs).replace(/[-:TZ]/g, "").slice(0, 12));
}

const phaseOf = (backup: DynamoBackup): BackupPhase => backup.status?.phase ?? "Pending";
const createdMs = (backup: DynamoBackup) => Date.parse(String(backup.metadata.creationTimestamp ?? "")) || 0;

/** A schedule's backups as the retention rule sees them: a backup not yet finished counts as running. */
export function retentionCandidates(backups: readonly DynamoBackup[]): RetentionCandidate[] {
  return backups.map((b) => {
    const phase = phaseOf(b);
    const state = phase === "Completed" ? "complete" : phase === "Failed" ? "failed" : "running";
    return { id: b.metadata.name, state, startedAtMs: Date.parse(b.status?.startTime ?? "") || createdMs(b) };
  });
}

export interface ScheduleObservation {
  scheduled: DynamoScheduledBackup;
  /** The DynamoBackups this schedule owns. */
  backups: readonly DynamoBackup[];
  nowMs: number;
}

/** Looks again at least this often, so a clock jump or a lost event delays a run by no more. */
const RESYNC_MS = 5 * 60_000;

export function decideSchedule(observation: ScheduleObservation): ScheduleDecision {
  const { scheduled, backups, nowMs } = observation;
  const spec = scheduled.spec;
  const previous = scheduled.status ?? {};
  const generation = scheduled.metadata.generation ?? 0;
  let cron;
  try {
    cron = parseCron(spec.schedule);
  } catch (err) {
    const problem = `spec.schedule: ${(err as Error).message}`;
    return { status: { ...previous, message: problem, observedGeneration: generation }, delete: [], requeueAfterMs: RESYNC_MS, problem };
  }
  const storeProblem = storeProblems(spec.template.store.location)[0];
  if (storeProblem) {
    return { status: { ...previous, message: storeProblem, observedGeneration: generation }, delete: [], requeueAfterMs: RESYNC_MS, problem: storeProblem };
  }
  const sorted = [...backups].sort((a, b) => createdMs(a) - createdMs(b) || a.metadata.name.localeCompare(b.metadata.name));
  const active = sorted.filter((b) => phaseOf(b) !== "Completed" && phaseOf(b) !== "Failed");
  const completed = sorted.filter((b) => phaseOf(b) === "Completed");
  const failed = sorted.filter((b) => phaseOf(b) === "Failed");
  const lastCompleted = completed[completed.length - 1];
  const lastFailed = failed[failed.length - 1];

  // The first run is the first time due after the schedule was created: creating one does not start a backup at once.
  const sinceMs = Date.parse(previous.lastScheduleTime ?? "") || Date.parse(String(scheduled.metadata.creationTimestamp ?? "")) || nowMs;
  const due = spec.suspend ? undefined : lastDueTime(cron, sinceMs, nowMs);
  let create: DynamoBackup | undefined;
  let message: string;
  let lastScheduleTime = previous.lastScheduleTime;
  let lastBackup = previous.lastBackup;
  if (spec.suspend) {
    message = "suspended: no new backup starts";
  } else if (due !== undefined && active.length > 0) {
    // One backup at a time: a run due while another is running is skipped, as a CronJob's Forbid does.
    lastScheduleTime = iso(due);
    message = `skipped the run due at ${iso(due)}: ${active[0]!.metadata.name} is still running`;
  } else if (due !== undefined) {
    lastScheduleTime = iso(due);
    create = scheduledBackup(scheduled, due);
    lastBackup = create.metadata.name;
    message = `started ${create.metadata.name}`;
  } else {
    message = active.length > 0 ? `${active[0]!.metadata.name} is running` : "waiting for the next run";
  }

  const retention = spec.retention;
  const victims = retention
    ? retentionVictims(retentionCandidates(backups), { keepLast: retention.keepLast, maxAgeMs: retention.maxAge ? durationMs(retention.maxAge) : undefined }, nowMs)
    : [];
  const nextMs = nextCronTime(cron, Math.max(nowMs, Date.parse(lastScheduleTime ?? "") || 0));
  const status: DynamoScheduledBackupStatus = {
    ...(lastScheduleTime ? { lastScheduleTime } : {}),
    ...(spec.suspend ? {} : { nextScheduleTime: iso(nextMs) }),
    ...(create ? { active: create.metadata.name } : active[0] ? { active: active[0].metadata.name } : {}),
    ...(lastBackup ? { lastBackup } : {}),
    ...(lastCompleted ? { lastCompletedBackup: lastCompleted.metadata.name } : previous.lastCompletedBackup ? { lastCompletedBackup: previous.lastCompletedBackup } : {}),
    ...(lastCompleted?.status?.completionTime ? { lastCompletionTime: lastCompleted.status.completionTime } : previous.lastCompletionTime ? { lastCompletionTime: previous.lastCompletionTime } : {}),
    ...(lastFailed ? { lastFailedBackup: lastFailed.metadata.name } : previous.lastFailedBackup ? { lastFailedBackup: previous.lastFailedBackup } : {}),
    message,
    observedGeneration: generation,
  };
  return { status, create, delete: victims, requeueAfterMs: Math.max(1000, Math.min(RESYNC_MS, nextMs - nowMs + 1000)) };
}

/** The DynamoBackup a schedule creates for the run due at `dueMs`, owned by the schedule. */
export function scheduledBackup(scheduled: DynamoScheduledBackup, dueMs: number): DynamoBackup {
  const uid = scheduled.metadata.uid;
  if (!uid) throw new Error(`DynamoScheduledBackup ${scheduled.metadata.name} has no uid`);
  const template = scheduled.spec.template;
  return {
    apiVersion: API_VERSION,
    kind: BACKUP_KIND,
    metadata: {
      name: scheduledBackupName(scheduled.metadata.name, dueMs),
      namespace: scheduled.metadata.namespace,
      labels: { [SCHEDULE_LABEL]: scheduled.metadata.name },
      ownerReferences: [{ apiVersion: API_VERSION, kind: SCHEDULED_BACKUP_KIND, name: scheduled.metadata.name, uid, controller: true, blockOwnerDeletion: true }],
    } as DynamoBackup["metadata"],
    spec: { ...template },
  };
}

/** Labels each DynamoBackup a schedule made with the schedule's name. */
export const SCHEDULE_LABEL = "dynamo.ringkv.dev/scheduled-backup";
