/**
 * The Jobs that run `dynamo backup` for the operator: a DynamoBackup's backup and a DynamoCluster's bootstrap restore.
 * Each runs the cluster's own image (so the backup engine matches the nodes), in the cluster's namespace, with:
 * - the cluster token (Secret `X-token`) and a client certificate of the cluster CA for the peer port's mutual TLS:
 *   a node certificate from Secret `X-peer-tls` (pod `X-0`'s when the operator issues them, the shared one under
 *   cert-manager). The token already grants a node's rights on the peer port, so the certificate adds none;
 * - the store's credentials Secret as environment variables, which only the Job reads (the operator never does);
 * - for a `file://` location, the volume the spec names, mounted at the location's directory;
 * - `--result-file` on the container's termination-message file, so the operator learns the outcome (the backup id,
 *   the counts, or the failure's code and the file it names) from the pod status, with no access to the store.
 * The pods carry the cluster's instance label and component `backup`, which the cluster's NetworkPolicy admits to
 * the peer port. Pure: the caller passes everything only the API server knows (pod addresses, the backup id).
 */
import { createHash } from "node:crypto";
import type { V1Container, V1Job, V1ObjectMeta, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { parseLocation } from "../../backup/location.js";
import { API_VERSION, BACKUP_KIND, GROUP, type BackupStore, type DynamoBackup, type DynamoCluster } from "../api/index.js";
import { BACKUP_COMPONENT, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY, PEER_PORT, objectNames, ownerReference } from "./object-meta.js";
import { TOKEN_KEY } from "./secret.js";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "./stateful-set.js";

export const BACKUP_CONTAINER = "backup";
/** Labels a Job with the DynamoBackup it runs, or the DynamoCluster it restores into. */
export const BACKUP_LABEL = `${GROUP}/backup`;
export const RESTORE_LABEL = `${GROUP}/restore`;

export const JOB_PATHS = {
  tokenDir: "/etc/dynamo/token",
  tlsDir: "/etc/dynamo/peer-tls",
  tmp: "/var/tmp/dynamo",
  /** The kubelet copies this file into the pod status when the container ends (at most 4 KiB). */
  result: "/dev/termination-log",
};

/** Retries of a Job's pod: a backup rerun with the same id resumes it; a restore rerun merges what is left. */
export const JOB_BACKOFF_LIMIT = 3;
/** `dynamo backup` exits 2 for bad usage, which no retry fixes. */
export const EXIT_USAGE = 2;

export const DEFAULT_JOB_RESOURCES = { requests: { cpu: "200m", memory: "256Mi" }, limits: { memory: "512Mi" } };

/** Object names are at most 63 characters where they become label values; a longer one is cut and given a hash. */
export function boundedName(base: string, suffix: string, max = 63): string {
  const name = `${base}-${suffix}`;
  if (name.length <= max) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 8);
  return `${base.slice(0, max - suffix.length - hash.length - 2).replace(/[-.]+$/, "")}-${hash}-${suffix}`;
}

export const backupJobName = (backup: string) => boundedName(backup, "backup");
export const restoreJobName = (cluster: string) => boundedName(cluster, "restore");

/**
 * The backup id a DynamoBackup writes: its spec's, else one derived from its creation time and uid, so every retry of
 * its Job (and a new operator) names the same backup, and a DynamoBackup made again under the same name names another.
 */
export function backupIdOf(backup: DynamoBackup): string {
  if (backup.spec.backupId) return backup.spec.backupId;
  const created = backup.metadata.creationTimestamp;
  const uid = backup.metadata.uid;
  if (!created || !uid) throw new Error(`DynamoBackup ${backup.metadata.name} has no creation time or uid yet`);
  const iso = (created instanceof Date ? created : new Date(created)).toISOString();
  return `${iso.replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z")}-${uid.replace(/-/g, "").slice(0, 8)}`;
}

/**
 * Where the Job finds the cluster: the peer Service's DNS name first (it resolves to every node), then the nodes'
 * addresses as the operator saw them, in case the pod has no cluster DNS. `dynamo backup` tries them in turn and then
 * follows the ring, so one that answers is enough.
 */
export function peerUrls(cluster: DynamoCluster, podIps: readonly string[]): string[] {
  const service = `https://${objectNames(cluster.metadata.name).peerService}.${cluster.metadata.namespace}.svc:${PEER_PORT}`;
  return [service, ...[...new Set(podIps)].sort().map((ip) => `https://${ip.includes(":") ? `[${ip}]` : ip}:${PEER_PORT}`)];
}

/** The `--s3-*` flags of a store. */
function storeFlags(store: BackupStore): string[] {
  const s3 = store.s3;
  if (!s3) return [];
  return [
    ...(s3.endpoint ? [`--s3-endpoint=${s3.endpoint}`] : []),
    ...(s3.region ? [`--s3-region=${s3.region}`] : []),
    ...(s3.pathStyle ? ["--s3-path-style"] : []),
  ];
}

/** The volume and mount that hold a `file://` location, mounted at its directory. */
function storeVolume(store: BackupStore): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const location = parseLocation(store.location);
  if (location.kind !== "file" || !store.volume) return { volumes: [], mounts: [] };
  const volume: V1Volume = { ...store.volume, name: "store" };
  return { volumes: [volume], mounts: [{ name: "store", mountPath: location.dir }] };
}

/** The peer-port client certificate: pod 0's when the operator issues them, cert-manager's shared one otherwise. */
function peerTlsVolume(cluster: DynamoCluster): V1Volume {
  const name = cluster.metadata.name;
  const secretName = objectNames(name).peerTlsSecret;
  const items = cluster.spec.tls.issuerRef
    ? undefined
    : [
        { key: "ca.crt", path: "ca.crt" },
        { key: `${name}-0.tls.crt`, path: "tls.crt" },
        { key: `${name}-0.tls.key`, path: "tls.key" },
      ];
  return { name: "peer-tls", secret: { secretName, defaultMode: 0o400, ...(items ? { items } : {}) } };
}

function jobLabels(cluster: DynamoCluster, extra: Record<string, string>): Record<string, string> {
  return {
    [LABEL_NAME]: "dynamo",
    [LABEL_INSTANCE]: cluster.metadata.name,
    [LABEL_COMPONENT]: BACKUP_COMPONENT,
    [LABEL_MANAGED_BY]: MANAGED_BY,
    ...extra,
  };
}

interface JobParts {
  meta: V1ObjectMeta;
  /** The storage nodes' image (the cluster's, or the operator's default), so the backup engine matches the nodes. */
  image: string;
  args: string[];
  store: BackupStore;
  resources: DynamoBackup["spec"]["resources"];
  /** Environment besides TMPDIR. */
  env?: { name: string; value: string }[];
}

function stringQuantities(values: Record<string, string | number> | undefined): Record<string, string> | undefined {
  return values ? Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])) : undefined;
}

function buildJob(cluster: DynamoCluster, parts: JobParts): V1Job {
  const { volumes: storeVolumes, mounts: storeMounts } = storeVolume(parts.store);
  const resources = parts.resources
    ? { requests: stringQuantities(parts.resources.requests), limits: stringQuantities(parts.resources.limits) }
    : DEFAULT_JOB_RESOURCES;
  const container: V1Container = {
    name: BACKUP_CONTAINER,
    image: parts.image,
    imagePullPolicy: cluster.spec.imagePullPolicy,
    args: parts.args,
    env: [{ name: "TMPDIR", value: JOB_PATHS.tmp }, ...(parts.env ?? [])],
    ...(parts.store.credentials ? { envFrom: [{ secretRef: { name: parts.store.credentials.secretName } }] } : {}),
    volumeMounts: [
      { name: "token", mountPath: JOB_PATHS.tokenDir, readOnly: true },
      { name: "peer-tls", mountPath: JOB_PATHS.tlsDir, readOnly: true },
      { name: "tmp", mountPath: JOB_PATHS.tmp },
      ...storeMounts,
    ],
    resources,
    terminationMessagePath: JOB_PATHS.result,
    // A crash before the result is written still leaves its last words in the pod status.
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: restrictedContainerSecurityContext(),
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: parts.meta,
    spec: {
      backoffLimit: JOB_BACKOFF_LIMIT,
      podFailurePolicy: { rules: [{ action: "FailJob", onExitCodes: { containerName: BACKUP_CONTAINER, operator: "In", values: [EXIT_USAGE] } }] },
      template: {
        metadata: { labels: parts.meta.labels },
        spec: {
          restartPolicy: "Never",
          containers: [container],
          volumes: [
            { name: "token", secret: { secretName: objectNames(cluster.metadata.name).secret, defaultMode: 0o400, items: [{ key: TOKEN_KEY, path: TOKEN_KEY }] } },
            peerTlsVolume(cluster),
            { name: "tmp", emptyDir: {} },
            ...storeVolumes,
          ],
          securityContext: restrictedPodSecurityContext(),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          nodeSelector: cluster.spec.scheduling?.nodeSelector,
          tolerations: cluster.spec.scheduling?.tolerations as never,
          priorityClassName: cluster.spec.scheduling?.priorityClassName,
        },
      },
    },
  };
}

function connectionFlags(urls: readonly string[]): string[] {
  return [`--url=${urls.join(",")}`, `--token-file=${JOB_PATHS.tokenDir}/${TOKEN_KEY}`, `--tls-dir=${JOB_PATHS.tlsDir}`, `--result-file=${JOB_PATHS.result}`];
}

export interface BackupJobOptions {
  backupId: string;
  /** The image the cluster's pods run: `spec.image`, or the operator's default when it names none. */
  image: string;
  /** The addresses of the cluster's running pods. */
  podIps: readonly string[];
  /** Retention applied in the location after the backup completes (scheduled backups). */
  retention?: { keepLast?: number; maxAge?: string };
}

/** The Job of a DynamoBackup, owned by it (deleting the DynamoBackup deletes the Job, never the backup's objects). */
export function buildBackupJob(backup: DynamoBackup, cluster: DynamoCluster, options: BackupJobOptions): V1Job {
  const uid = backup.metadata.uid;
  if (!uid) throw new Error(`DynamoBackup ${backup.metadata.name} has no uid; its Job needs one for the owner reference`);
  const rate = backup.spec.rate;
  const args = [
    "backup",
    "create",
    `--to=${backup.spec.store.location}`,
    `--id=${options.backupId}`,
    ...connectionFlags(peerUrls(cluster, options.podIps)),
    ...storeFlags(backup.spec.store),
    ...(rate?.bytesPerSecond !== undefined ? [`--bytes-per-second=${rate.bytesPerSecond}`] : []),
    ...(rate?.recordsPerSecond !== undefined ? [`--records-per-second=${rate.recordsPerSecond}`] : []),
    ...(rate?.partitionsInFlight !== undefined ? [`--partitions-in-flight=${rate.partitionsInFlight}`] : []),
    ...(options.retention?.keepLast !== undefined ? [`--keep-last=${options.retention.keepLast}`] : []),
    ...(options.retention?.maxAge !== undefined ? [`--max-age=${options.retention.maxAge}`] : []),
  ];
  const labels = jobLabels(cluster, { [BACKUP_LABEL]: backup.metadata.name });
  return buildJob(cluster, {
    image: options.image,
    meta: {
      name: backupJobName(backup.metadata.name),
      namespace: backup.metadata.namespace,
      labels,
      ownerReferences: [{ apiVersion: API_VERSION, kind: BACKUP_KIND, name: backup.metadata.name, uid, controller: true, blockOwnerDeletion: true }],
    },
    args,
    store: backup.spec.store,
    resources: backup.spec.resources,
    // Progress lines as JSON, which the operator reads from the pod's log into status.progress while the Job runs.
    // An environment variable rather than --progress-json: an image older than the flag ignores it instead of
    // refusing its arguments, and its backup then simply shows progress only at the end.
    env: [{ name: "DYNAMO_PROGRESS_JSON", value: "1" }],
  });
}

export interface RestoreSource {
  store: BackupStore;
  /** The backup to restore; the newest complete one in the location when undefined. */
  backupId?: string;
}

/**
 * The Job that loads a backup into a new cluster, owned by the cluster. It merges (`--allow-non-empty`): the cluster
 * is new and held back from Available until the Job succeeds, and a retried pod must finish what an earlier one began.
 */
export function buildRestoreJob(cluster: DynamoCluster, source: RestoreSource, podIps: readonly string[], image: string): V1Job {
  const args = [
    "backup",
    "restore",
    `--from=${source.store.location}`,
    ...(source.backupId ? [`--id=${source.backupId}`] : []),
    "--allow-non-empty",
    ...connectionFlags(peerUrls(cluster, podIps)),
    ...storeFlags(source.store),
  ];
  return buildJob(cluster, {
    image,
    meta: {
      name: restoreJobName(cluster.metadata.name),
      namespace: cluster.metadata.namespace,
      labels: jobLabels(cluster, { [RESTORE_LABEL]: cluster.metadata.name }),
      ownerReferences: [ownerReference(cluster)],
    },
    args,
    store: source.store,
    resources: undefined,
  });
}
