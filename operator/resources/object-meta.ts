/**
 * Names, labels and owner references of the objects a DynamoCluster owns. The names and the four labels are fixed by
 * the Kubernetes contract (DESIGN.md §2); every builder takes them from here so they are spelled in one place.
 */
import type { V1ObjectMeta, V1OwnerReference } from "@kubernetes/client-node";
import { API_VERSION, KIND, type DynamoCluster } from "../api/index.js";

export const LABEL_NAME = "app.kubernetes.io/name";
export const LABEL_INSTANCE = "app.kubernetes.io/instance";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "dynamo-operator";
/** The component label of the pods of a cluster's backup and restore Jobs (the storage pods' is `storage`). */
export const BACKUP_COMPONENT = "backup";

/** Port names and numbers of a storage node: clients on one, peers and the admin API on the other. */
export const CLIENT_PORT = 8080;
export const PEER_PORT = 8081;

export const objectNames = (cluster: string) => ({
  statefulSet: cluster,
  clientService: cluster,
  peerService: `${cluster}-peers`,
  podDisruptionBudget: cluster,
  configMap: `${cluster}-config`,
  secret: `${cluster}-token`,
  /** The cluster CA with its key (operator-managed certificates only): for the operator's eyes alone. */
  caSecret: `${cluster}-ca-key`,
  /** The CA bundle published for clients of the client port. */
  caConfigMap: `${cluster}-ca`,
  /** The nodes' peer certificates: `ca.crt` and one `POD.tls.crt`/`POD.tls.key` pair per pod (or cert-manager's). */
  peerTlsSecret: `${cluster}-peer-tls`,
  /** The client port's certificate, shared by every node. */
  clientTlsSecret: `${cluster}-client-tls`,
  /** The operator's client certificate when cert-manager issues the cluster's certificates. */
  operatorTlsSecret: `${cluster}-operator-tls`,
  networkPolicy: cluster,
  /** cert-manager Certificates, when the cluster names an issuer. */
  peerCertificate: `${cluster}-peer`,
  clientCertificate: `${cluster}-client`,
  operatorCertificate: `${cluster}-operator`,
});

/** The labels that select a cluster's pods; a StatefulSet's selector is immutable, so this set never grows. */
export function selectorLabels(cluster: string): Record<string, string> {
  return { [LABEL_NAME]: "dynamo", [LABEL_INSTANCE]: cluster, [LABEL_COMPONENT]: "storage" };
}

/** The four contract labels every owned object and pod carries. */
export function clusterLabels(cluster: string): Record<string, string> {
  return { ...selectorLabels(cluster), [LABEL_MANAGED_BY]: MANAGED_BY };
}

/** The pod selector as the string the scale subresource publishes in `.status.selector`. */
export function selectorString(cluster: string): string {
  return Object.entries(selectorLabels(cluster))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

export function ownerReference(cluster: DynamoCluster): V1OwnerReference {
  const uid = cluster.metadata.uid;
  if (!uid) throw new Error(`DynamoCluster ${cluster.metadata.name} has no uid; owned objects need one for their owner reference`);
  return { apiVersion: API_VERSION, kind: KIND, name: cluster.metadata.name, uid, controller: true, blockOwnerDeletion: true };
}

/** Metadata of an owned object: its name, the cluster's namespace, the contract labels and the owner reference. */
export function ownedMeta(cluster: DynamoCluster, name: string): V1ObjectMeta {
  return {
    name,
    namespace: cluster.metadata.namespace,
    labels: clusterLabels(cluster.metadata.name),
    ownerReferences: [ownerReference(cluster)],
  };
}
