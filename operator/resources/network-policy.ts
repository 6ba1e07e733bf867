/**
 * NetworkPolicy `X`: the peer port (replication, gossip, handoff, the admin API) only from the cluster's own pods, its
 * backup and restore Jobs' pods (component `backup`), and the operator's, plus whatever `spec.network.peerFrom` adds;
 * the client port from what `spec.network.clientFrom` allows (the cluster's namespace by default) and the operator's
 * pods, which read the nodes' /metrics there for the custom metrics API. Any other ingress to the storage pods is
 * refused. It protects only where the cluster's network plugin enforces NetworkPolicies; mutual TLS and the token guard
 * the peer port regardless.
 */
import type { KubernetesObject, V1LabelSelector, V1NetworkPolicyPeer } from "@kubernetes/client-node";
import type { DynamoCluster, NetworkPeer } from "../api/index.js";
import { BACKUP_COMPONENT, CLIENT_PORT, LABEL_COMPONENT, PEER_PORT, objectNames, ownedMeta, selectorLabels } from "./object-meta.js";

/** Where the operator runs, so its pods may reach the peer port: its namespace and its pods' labels. */
export interface OperatorPods {
  namespace: string;
  labels: Record<string, string>;
}

/**
 * The object as the API server reads it. Not the client library's V1NetworkPolicy: its model spells `from` as `_from`
 * and only its own serializer renames it, while the operator sends builders' objects as they are.
 */
export interface NetworkPolicyObject extends KubernetesObject {
  spec: {
    podSelector: V1LabelSelector;
    policyTypes: string[];
    ingress: { ports: { protocol: string; port: number }[]; from: V1NetworkPolicyPeer[] }[];
  };
}

/** The namespace label Kubernetes sets on every namespace (since 1.21), to select one namespace by name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

function peer(p: NetworkPeer): V1NetworkPolicyPeer {
  return JSON.parse(JSON.stringify(p)) as V1NetworkPolicyPeer;
}

export function buildNetworkPolicy(cluster: DynamoCluster, operator: OperatorPods | undefined): NetworkPolicyObject {
  const name = cluster.metadata.name;
  const network = cluster.spec.network;
  const peerSources: V1NetworkPolicyPeer[] = [
    { podSelector: { matchLabels: selectorLabels(name) } },
    // The pods of the cluster's backup and restore Jobs (resources/backup-job.ts), which read and write through the peer port.
    { podSelector: { matchLabels: { ...selectorLabels(name), [LABEL_COMPONENT]: BACKUP_COMPONENT } } },
  ];
  const operatorPeer: V1NetworkPolicyPeer[] = operator
    ? [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: operator.namespace } }, podSelector: { matchLabels: { ...operator.labels } } }]
    : [];
  peerSources.push(...operatorPeer);
  peerSources.push(...(network.peerFrom ?? []).map(peer));
  // An empty `from` would admit everyone, so the default is spelled out: every pod of the cluster's namespace. The
  // operator reads the nodes' /metrics on the client port for the custom metrics API, so it is admitted there too.
  const clientSources = [...(network.clientFrom ? network.clientFrom.map(peer) : [{ podSelector: {} }]), ...operatorPeer];
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: ownedMeta(cluster, objectNames(name).networkPolicy),
    spec: {
      podSelector: { matchLabels: selectorLabels(name) },
      policyTypes: ["Ingress"],
      ingress: [
        { ports: [{ protocol: "TCP", port: PEER_PORT }], from: peerSources },
        { ports: [{ protocol: "TCP", port: CLIENT_PORT }], from: clientSources },
      ],
    },
  };
}
