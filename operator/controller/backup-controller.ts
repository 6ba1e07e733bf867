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
import { KubeApiError, isConflict, objectPath, type KubeApi, type ObjectApi } from "../kube/api-client.js";
import { SCHEDULE_LABEL, decideBackup } from "../reconcile/backup.js";
import { jobState, parseJobProgress, progressPod, type JobProgress, type JobState } from "../reconcile/backup-job.js";
import { BACKUP_CONTAINER, backupIdOf, backupJobName, buildBackupJob, selectorString } from "../resources/index.js";
import type { EventRecorder } from "./events.js";

export const BACKUP_FIELD_MANAGER = "dynamo-operator";

/**
 * How often a backup is looked at while it waits or runs, besides the Job events that wake it. While it runs each
 * look reads the tail of the Job pod's log for its progress (the Job logs a line a second at most).
 */
export const DEFAULT_BACKUP_CONTROLLER = { pendingRequeueMs: 10_000, runningRequeueMs: 5_000 };

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
export async function observeJob(api: ObjectApi, namespace: string, name: string, progress?: ProgressReader): Promise<JobState | undefined> {
  const job = await api.find<V1Job>(objectPath("batch/v1", "jobs", namespace, name));
  if (!job) return undefined;
  const pods = await api.get<{ items: V1Pod[] }>(`${objectPath("v1", "pods", namespace)}?labelSelector=${encodeURIComponent(`${JOB_NAME_LABEL}=${name}`)}`);
  const state = jobState(job, pods.items);
  if (state.kind !== "running" || !progress) return state;
  const pod = progressPod(pods.items);
  const reported = pod ? await progress.read(namespace, pod.metadata!.name!) : undefined;
  return reported ? { ...state, progress: reported } : state;
}

/** The bytes of a Job pod's log tail read for its last progress line: a few dozen lines, even long warnings. */
export const PROGRESS_LOG_TAIL = { lines: 64, bytes: 32_768 };

/**
 * Reads a running backup Job's progress from the tail of its pod's log (`get` on `pods/log`, read-only: the Job
 * itself has no access to the API). Any failure only costs the live progress, never the backup: a 403 (a chart
 * without the right) is logged once, anything else each time, and the status keeps the last progress it had.
 */
export class ProgressReader {
  private forbiddenLogged = false;

  constructor(
    private readonly api: Pick<KubeApi, "getText">,
    private readonly log: (message: string) => void,
  ) {}

  async read(namespace: string, pod: string): Promise<JobProgress | undefined> {
    const query = `container=${BACKUP_CONTAINER}&tailLines=${PROGRESS_LOG_TAIL.lines}&limitBytes=${PROGRESS_LOG_TAIL.bytes}`;
    try {
      return parseJobProgress(await this.api.getText(`${objectPath("v1", "pods", namespace, pod, "log")}?${query}`));
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 403) {
        if (!this.forbiddenLogged) this.log(`cannot read backup Job logs (pods/log in ${namespace}): a DynamoBackup's progress shows only once it completes`);
        this.forbiddenLogged = true;
      } else {
        this.log(`${namespace}/${pod}: cannot read the backup's progress from its log: ${(err as Error).message}`);
      }
      return undefined;
    }
  }
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
  private readonly progress: ProgressReader;

  constructor(private readonly deps: BackupControllerDeps) {
    this.now = deps.now ?? Date.now;
    this.progress = new ProgressReader(deps.api, deps.log);
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
    const decision = decideBackup({ backup, cluster, job: await observeJob(api, namespace, jobName, this.progress), backupId, nowMs: this.now() });
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
