/**
 * The DynamoBackup controller: one small reconcile per backup. It observes the backup, its cluster and its Job, lets
 * the pure `decideBackup` say what the status is and whether the Job must be made, creates the Job when told, and
 * writes the status. The Job does the work (`dynamo backup create` with the store's credentials, which the operator
 * never reads); what the Job ended with comes back through its pod's termination message.
 */
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import {
  API_VERSION,
  BACKUP_KIND,
  BACKUP_PLURAL,
  InvalidClusterError,
  InvalidResourceError,
  PLURAL,
  SCHEDULED_BACKUP_PLURAL,
  parseDynamoBackup,
  parseDynamoCluster,
  parseDynamoScheduledBackup,
  type DynamoBackup,
  type DynamoBackupStatus,
  type DynamoCluster,
} from "../api/index.js";
import { isConflict, objectPath, type KubeApi, type ObjectApi } from "../kube/api-client.js";
import { SCHEDULE_LABEL, decideBackup } from "../reconcile/backup.js";
import { jobState, type JobState } from "../reconcile/backup-job.js";
import { backupIdOf, backupJobName, buildBackupJob, selectorString } from "../resources/index.js";
import type { EventRecorder } from "./events.js";

export const BACKUP_FIELD_MANAGER = "dynamo-operator";

/** How often a backup is looked at while it waits or runs, besides the Job events that wake it. */
export const DEFAULT_BACKUP_CONTROLLER = { pendingRequeueMs: 10_000, runningRequeueMs: 30_000 };

export interface BackupControllerDeps {
  api: KubeApi;
  /** The storage image of clusters that name none: a backup Job runs the image its cluster's pods run. */
  defaultImage: string;
  events: EventRecorder;
  log(message: string): void;
  now?: () => number;
}

/** The label the Job controller puts on a Job's pods. */
const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";

/** The state of a Job and its pods, or undefined when the Job does not exist. */
export async function observeJob(api: ObjectApi, namespace: string, name: string): Promise<JobState | undefined> {
  const job = await api.find<V1Job>(objectPath("batch/v1", "jobs", namespace, name));
  if (!job) return undefined;
  const pods = await api.get<{ items: V1Pod[] }>(`${objectPath("v1", "pods", namespace)}?labelSelector=${encodeURIComponent(`${JOB_NAME_LABEL}=${name}`)}`);
  return jobState(job, pods.items);
}

/** The addresses of a cluster's running pods, for the Job's list of peer URLs. */
export async function clusterPodIps(api: ObjectApi, cluster: DynamoCluster): Promise<string[]> {
  const namespace = cluster.metadata.namespace as string;
  const pods = await api.get<{ items: V1Pod[] }>(`${objectPath("v1", "pods", namespace)}?labelSelector=${encodeURIComponent(selectorString(cluster.metadata.name))}`);
  return pods.items.filter((p) => p.status?.phase === "Running" && p.status.podIP).map((p) => p.status!.podIP!);
}

/** A DynamoCluster by name, or undefined when it does not exist or cannot be read as one. */
export async function findCluster(api: ObjectApi, namespace: string, name: string, log: (m: string) => void): Promise<DynamoCluster | undefined> {
  const raw = await api.find<unknown>(objectPath(API_VERSION, PLURAL, namespace, name));
  if (!raw) return undefined;
  try {
    return parseDynamoCluster(raw);
  } catch (err) {
    if (!(err instanceof InvalidClusterError)) throw err;
    log(`${namespace}/${name}: ${err.message}`);
    return undefined;
  }
}

export class BackupController {
  private readonly now: () => number;

  constructor(private readonly deps: BackupControllerDeps) {
    this.now = deps.now ?? Date.now;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const [namespace, name] = key.split("/") as [string, string];
    const raw = await this.deps.api.find<unknown>(objectPath(API_VERSION, BACKUP_PLURAL, namespace, name));
    if (!raw) return undefined;
    let backup: DynamoBackup;
    try {
      backup = parseDynamoBackup(raw);
    } catch (err) {
      if (!(err instanceof InvalidResourceError)) throw err;
      this.deps.log(`${key}: ${err.message}`);
      return undefined;
    }
    backup.kind = BACKUP_KIND;
    if (backup.metadata.deletionTimestamp) return undefined;
    const phase = backup.status?.phase;
    if (phase === "Completed" || phase === "Failed") return undefined;

    const api = this.deps.api;
    const cluster = await findCluster(api, namespace, backup.spec.cluster.name, this.deps.log);
    const jobName = backupJobName(name);
    const backupId = backupIdOf(backup);
    const decision = decideBackup({ backup, cluster, job: await observeJob(api, namespace, jobName), backupId, nowMs: this.now() });
    let status = decision.status;
    if (decision.createJob && cluster) {
      const job = buildBackupJob(backup, cluster, { image: cluster.spec.image ?? this.deps.defaultImage, backupId, podIps: await clusterPodIps(api, cluster), retention: await this.retentionOf(backup) });
      try {
        await api.create(objectPath("batch/v1", "jobs", namespace), job);
      } catch (err) {
        // Made by an earlier pass whose status write was lost: the Job is the same.
        if (!isConflict(err)) throw err;
      }
      status = { ...status, job: jobName };
    }
    await this.writeStatus(backup, status);
    if (decision.event) await this.deps.events.record(backup, decision.event.type, decision.event.reason, decision.event.message);
    if (status.phase === "Completed" || status.phase === "Failed") return undefined;
    return { requeueAfterMs: status.phase === "Pending" ? DEFAULT_BACKUP_CONTROLLER.pendingRequeueMs : DEFAULT_BACKUP_CONTROLLER.runningRequeueMs };
  }

  /** A scheduled backup's retention, which its Job applies in the store once the backup completes. */
  private async retentionOf(backup: DynamoBackup): Promise<{ keepLast?: number; maxAge?: string } | undefined> {
    const schedule = backup.metadata.labels?.[SCHEDULE_LABEL];
    if (!schedule) return undefined;
    const raw = await this.deps.api.find<unknown>(objectPath(API_VERSION, SCHEDULED_BACKUP_PLURAL, backup.metadata.namespace, schedule));
    if (!raw) return undefined;
    try {
      return parseDynamoScheduledBackup(raw).spec.retention;
    } catch {
      return undefined;
    }
  }

  private async writeStatus(backup: DynamoBackup, status: DynamoBackupStatus): Promise<void> {
    if (isDeepStrictEqual(plain(backup.status), plain(status))) return;
    await this.deps.api.apply(
      { apiVersion: API_VERSION, kind: BACKUP_KIND, metadata: { name: backup.metadata.name, namespace: backup.metadata.namespace }, status } as never,
      BACKUP_FIELD_MANAGER,
      "status",
    );
  }
}

export function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
