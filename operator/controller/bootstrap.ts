/**
 * The impure half of `spec.bootstrap.fromBackup`, called by the cluster controller once a pass: it reads the
 * DynamoBackup the spec names and the restore Job, lets `decideBootstrap` decide, and creates the restore Job (owned
 * by the cluster) when the cluster has settled. The cluster controller folds the result into the status.
 */
import { API_VERSION, BACKUP_PLURAL, InvalidResourceError, parseDynamoBackup, type DynamoBackup, type DynamoCluster } from "../api/index.js";
import { isConflict, objectPath, type ObjectApi } from "../kube/api-client.js";
import { decideBootstrap, resolveSource, type BootstrapDecision } from "../reconcile/bootstrap.js";
import type { Observation } from "../reconcile/index.js";
import { buildRestoreJob, restoreJobName } from "../resources/index.js";
import { observeJob } from "./backup-controller.js";
import type { EventRecorder } from "./events.js";

/** How often a cluster is looked at while its restore waits or runs, besides the Job events that wake it. */
export const BOOTSTRAP_REQUEUE_MS = 5_000;

export async function bootstrapStep(api: ObjectApi, events: EventRecorder, observation: Observation, clusterSettled: boolean, defaultImage: string): Promise<BootstrapDecision> {
  const cluster: DynamoCluster = observation.cluster;
  const namespace = cluster.metadata.namespace as string;
  const from = cluster.spec.bootstrap?.fromBackup;
  let backup: DynamoBackup | undefined;
  if (from?.backup) {
    const raw = await api.find<unknown>(objectPath(API_VERSION, BACKUP_PLURAL, namespace, from.backup));
    try {
      backup = raw ? parseDynamoBackup(raw) : undefined;
    } catch (err) {
      if (!(err instanceof InvalidResourceError)) throw err;
    }
  }
  const jobName = restoreJobName(cluster.metadata.name);
  const terminal = cluster.status?.bootstrap?.phase === "Restored" || cluster.status?.bootstrap?.phase === "Failed";
  const job = terminal ? undefined : await observeJob(api, namespace, jobName);
  const source = resolveSource(cluster, backup);
  const decision = decideBootstrap({ cluster, source, clusterSettled, job, jobName, nowMs: observation.nowMs });
  if (decision.createJob && source.kind === "ready") {
    const podIps = observation.pods.filter((p) => p.running && p.podIp).map((p) => p.podIp as string);
    try {
      await api.create(objectPath("batch/v1", "jobs", namespace), buildRestoreJob(cluster, source.source, podIps, cluster.spec.image ?? defaultImage));
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }
  if (decision.event) await events.record(cluster, decision.event.type, decision.event.reason, decision.event.message);
  return decision;
}
