/**
 * StatefulSet `X`: the storage nodes. Pod `X-i` runs `dynamo node` with its pod name as node id, binds and advertises
 * its pod IP (from the downward API), reads the configuration, the token and its certificates as mounted files, and
 * keeps its data on claim `data-X-i`.
 *
 * The peer port always runs mutual TLS: Secret `X-peer-tls` holds `ca.crt` and, when the operator issues the
 * certificates, one `X-i.tls.crt`/`X-i.tls.key` pair per pod (the node picks its own with `DYNAMO_TLS_NAME`); when
 * cert-manager does, one certificate shared by all. The client port serves `X-client-tls` unless `spec.tls.client`
 * turns TLS off, and requires client tokens from the user's Secret when `spec.clientTokens` names one. A node
 * re-reads all of these while it runs, so rotating them restarts nothing.
 *
 * Pods are created in parallel rather than one by one (OrderedReady): a node only reports ready once it is a member
 * of the ring, and the operator joins nodes to the ring, so OrderedReady would make every join wait for the previous
 * one and would stall any scale step behind one unhealthy pod. The order that matters, which members join and leave
 * the ring and when, is kept by the operator (one ring change per pass, highest ordinals leave first).
 *
 * Updates roll under the operator's control (OnDelete): it deletes one outdated pod at a time, each only once the
 * cluster has caught up from the last, and its node drains on SIGTERM within terminationGracePeriodSeconds.
 *
 * `replicas` is a parameter and not `spec.replicas`: the reconciler lowers it only after the ring has handed off the
 * highest ordinals' partitions.
 */
import type { V1Container, V1EnvVar, V1PodSecurityContext, V1PodSpec, V1SecurityContext, V1StatefulSet } from "@kubernetes/client-node";
import { GROUP, type DynamoCluster } from "../api/index.js";
import { CONFIG_FILE_KEY, configHash } from "./config-map.js";
import { CLIENT_PORT, PEER_PORT, clusterLabels, objectNames, ownedMeta, selectorLabels } from "./object-meta.js";
import { TOKEN_KEY } from "./secret.js";

export const CONTAINER_NAME = "dynamo";
export const DATA_VOLUME = "data";
export const CONFIG_HASH_ANNOTATION = `${GROUP}/config-hash`;
/**
 * `https` or `http`: how the pod's client port is spoken, as a pod label, so one PodMonitor can scrape clusters with
 * and without client TLS (Prometheus sets its scheme from it).
 */
export const CLIENT_SCHEME_LABEL = `${GROUP}/client-scheme`;

export const PATHS = {
  data: "/var/lib/dynamo",
  configDir: "/etc/dynamo/config",
  tokenDir: "/etc/dynamo/token",
  peerTlsDir: "/etc/dynamo/peer-tls",
  clientTlsDir: "/etc/dynamo/client-tls",
  clientTokensDir: "/etc/dynamo/client-tokens",
  /**
   * Scratch space on an emptyDir, named by TMPDIR since the root filesystem is read-only.
   */
  tmp: "/var/tmp/dynamo",
};

/** The non-root identity the storage container runs as. */
export const RUN_AS_USER = 10001;

/**
 * The container security context of every pod the operator makes (storage nodes, backup and restore Jobs): the
 * project's non-root user, a read-only root filesystem, no privilege escalation and no capabilities, which the
 * Kubernetes "restricted" Pod Security Standard asks for.
 */
export function restrictedContainerSecurityContext(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  };
}

/** The pod security context that goes with it: volumes owned by the same group, the runtime's default seccomp profile. */
export function restrictedPodSecurityContext(): V1PodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: RUN_AS_USER,
    runAsGroup: RUN_AS_USER,
    fsGroup: RUN_AS_USER,
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export const DEFAULT_PROBES = {
  readinessPeriodSeconds: 2,
  readinessFailureThreshold: 3,
  livenessPeriodSeconds: 10,
  /** A node busy streaming partitions may answer slowly; a minute of silence, not one miss, means it is stuck. */
  livenessFailureThreshold: 6,
  timeoutSeconds: 3,
  terminationGracePeriodSeconds: 30,
};

export interface StatefulSetOptions {
  /** The StatefulSet's replicas, decided by the reconciler from the ring's progress. */
  replicas: number;
  /** The image when the cluster names none: the operator's default (operator/api/image.ts). */
  defaultImage: string;
}

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } };
}

/** The client port's scheme under this spec. */
export function clientScheme(cluster: DynamoCluster): "https" | "http" {
  return cluster.spec.tls.client.enabled ? "https" : "http";
}

function securityEnv(cluster: DynamoCluster): V1EnvVar[] {
  const spec = cluster.spec;
  const env: V1EnvVar[] = [{ name: "DYNAMO_TLS_DIR", value: PATHS.peerTlsDir }];
  // Operator-issued certificates sit side by side in one Secret; cert-manager's peer certificate is one for all.
  if (!spec.tls.issuerRef) env.push({ name: "DYNAMO_TLS_NAME", value: "$(POD_NAME)" });
  if (spec.tls.client.enabled) env.push({ name: "DYNAMO_CLIENT_TLS_DIR", value: PATHS.clientTlsDir });
  if (spec.clientTokens) env.push({ name: "DYNAMO_CLIENT_TOKENS_FILE", value: `${PATHS.clientTokensDir}/${spec.clientTokens.key}` });
  return env;
}

function storageContainer(cluster: DynamoCluster, defaultImage: string): V1Container {
  const spec = cluster.spec;
  const scheme = clientScheme(cluster) === "https" ? "HTTPS" : "HTTP";
  const resources = spec.resources
    ? { requests: stringQuantities(spec.resources.requests), limits: stringQuantities(spec.resources.limits) }
    : undefined;
  return {
    name: CONTAINER_NAME,
    image: spec.image ?? defaultImage,
    imagePullPolicy: spec.imagePullPolicy,
    args: ["node"],
    ports: [
      { name: "client", containerPort: CLIENT_PORT, protocol: "TCP" },
      { name: "peer", containerPort: PEER_PORT, protocol: "TCP" },
    ],
    env: [
      fieldEnv("POD_NAME", "metadata.name"),
      fieldEnv("POD_NAMESPACE", "metadata.namespace"),
      fieldEnv("POD_IP", "status.podIP"),
      { name: "DYNAMO_ID", value: "$(POD_NAME)" },
      { name: "DYNAMO_HOST", value: "$(POD_IP)" },
      { name: "DYNAMO_ADVERTISE", value: "$(POD_IP)" },
      { name: "DYNAMO_PORT", value: String(CLIENT_PORT) },
      { name: "DYNAMO_PEER_PORT", value: String(PEER_PORT) },
      { name: "DYNAMO_DATA_DIR", value: PATHS.data },
      { name: "DYNAMO_CONFIG", value: `${PATHS.configDir}/${CONFIG_FILE_KEY}` },
      { name: "DYNAMO_TOKEN_FILE", value: `${PATHS.tokenDir}/${TOKEN_KEY}` },
      { name: "DYNAMO_CONSOLE", value: spec.console.enabled ? "on" : "off" },
      ...securityEnv(cluster),
      { name: "TMPDIR", value: PATHS.tmp },
    ],
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: PATHS.data },
      { name: "config", mountPath: PATHS.configDir, readOnly: true },
      { name: "token", mountPath: PATHS.tokenDir, readOnly: true },
      { name: "peer-tls", mountPath: PATHS.peerTlsDir, readOnly: true },
      ...(spec.tls.client.enabled ? [{ name: "client-tls", mountPath: PATHS.clientTlsDir, readOnly: true }] : []),
      ...(spec.clientTokens ? [{ name: "client-tokens", mountPath: PATHS.clientTokensDir, readOnly: true }] : []),
      { name: "tmp", mountPath: PATHS.tmp },
    ],
    // The kubelet does not verify the certificate of an HTTPS probe; it only needs the node to answer.
    readinessProbe: {
      httpGet: { path: "/readyz", port: "client", scheme },
      periodSeconds: DEFAULT_PROBES.readinessPeriodSeconds,
      failureThreshold: DEFAULT_PROBES.readinessFailureThreshold,
      timeoutSeconds: DEFAULT_PROBES.timeoutSeconds,
    },
    livenessProbe: {
      httpGet: { path: "/healthz", port: "client", scheme },
      periodSeconds: DEFAULT_PROBES.livenessPeriodSeconds,
      failureThreshold: DEFAULT_PROBES.livenessFailureThreshold,
      timeoutSeconds: DEFAULT_PROBES.timeoutSeconds,
    },
    resources,
    securityContext: restrictedContainerSecurityContext(),
  };
}

/** Quantities as strings, the form the API server returns, so applying the same spec twice is a no-op. */
function stringQuantities(values: Record<string, string | number> | undefined): Record<string, string> | undefined {
  if (!values) return undefined;
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)]));
}

/** The Node label that names a zone, as cloud providers and the Kubernetes scheduler use it. */
export const ZONE_LABEL = "topology.kubernetes.io/zone";

/**
 * The default spread of a cluster's pods: over zones, at most one pod more in any zone than in another. With
 * `ScheduleAnyway` it is a preference, so a cluster with one zone (or Nodes without the label) still schedules every
 * pod; the ring spreads each key's replicas over the zones the pods landed in (docs/ring.md, "Zones").
 */
export function defaultSpread(cluster: string): NonNullable<V1PodSpec["topologySpreadConstraints"]> {
  return [{ maxSkew: 1, topologyKey: ZONE_LABEL, whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selectorLabels(cluster) } }];
}

function podSpec(cluster: DynamoCluster, defaultImage: string): V1PodSpec {
  const names = objectNames(cluster.metadata.name);
  const scheduling = cluster.spec.scheduling ?? {};
  // The scheduling fields are free-form in the CRD (they are the pod spec's own types); the API server validates them
  // when it receives this StatefulSet, and the reconciler reports a rejection in a condition.
  return {
    containers: [storageContainer(cluster, defaultImage)],
    // The pod does not start until every Secret exists (cert-manager may take a moment to issue its certificates).
    volumes: [
      { name: "config", configMap: { name: names.configMap } },
      { name: "token", secret: { secretName: names.secret, defaultMode: 0o400 } },
      { name: "peer-tls", secret: { secretName: names.peerTlsSecret, defaultMode: 0o400 } },
      ...(cluster.spec.tls.client.enabled ? [{ name: "client-tls", secret: { secretName: names.clientTlsSecret, defaultMode: 0o400 } }] : []),
      ...(cluster.spec.clientTokens ? [{ name: "client-tokens", secret: { secretName: cluster.spec.clientTokens.secretName, defaultMode: 0o400 } }] : []),
      { name: "tmp", emptyDir: {} },
    ],
    securityContext: restrictedPodSecurityContext(),
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: DEFAULT_PROBES.terminationGracePeriodSeconds,
    nodeSelector: scheduling.nodeSelector,
    affinity: scheduling.affinity as V1PodSpec["affinity"],
    tolerations: scheduling.tolerations as V1PodSpec["tolerations"],
    topologySpreadConstraints: (scheduling.topologySpreadConstraints ?? defaultSpread(cluster.metadata.name)) as V1PodSpec["topologySpreadConstraints"],
    priorityClassName: scheduling.priorityClassName,
  };
}

export function buildStatefulSet(cluster: DynamoCluster, options: StatefulSetOptions): V1StatefulSet {
  const name = cluster.metadata.name;
  const names = objectNames(name);
  const storage = cluster.spec.storage;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: ownedMeta(cluster, names.statefulSet),
    spec: {
      replicas: options.replicas,
      serviceName: names.peerService,
      podManagementPolicy: "Parallel",
      // The operator rolls the pods itself (reconcile/rollout.ts), one at a time and only while the cluster is healthy.
      updateStrategy: { type: "OnDelete" },
      persistentVolumeClaimRetentionPolicy: { ...cluster.spec.persistentVolumeClaimRetentionPolicy },
      selector: { matchLabels: selectorLabels(name) },
      template: {
        metadata: { labels: { ...clusterLabels(name), [CLIENT_SCHEME_LABEL]: clientScheme(cluster) }, annotations: { [CONFIG_HASH_ANNOTATION]: configHash(cluster) } },
        spec: podSpec(cluster, options.defaultImage),
      },
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: DATA_VOLUME, labels: clusterLabels(name) },
          spec: {
            accessModes: ["ReadWriteOnce"],
            storageClassName: storage.storageClassName,
            resources: { requests: { storage: String(storage.size) } },
          },
        },
      ],
    },
  };
}

/** Pod `X-i`'s claim name, as the StatefulSet controller derives it from the claim template. */
export function claimName(pod: string): string {
  return `${DATA_VOLUME}-${pod}`;
}
