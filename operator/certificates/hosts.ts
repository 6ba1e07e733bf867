/**
 * The names certificates are issued for. A node's peer certificate names the pod's DNS names under the headless
 * Service `X-peers`; peers do not check names (the cluster CA is the identity, and a pod's address changes with every
 * restart), but tools that reach one pod by name can. The client-port certificate is shared by every node and names
 * the client Service (short and qualified names, and its cluster IP once it has one) and any pod under `X-peers`,
 * since clients do check names.
 */
import type { DynamoCluster } from "../api/index.js";
import { objectNames } from "../resources/index.js";

export const DEFAULT_CLUSTER_DOMAIN = "cluster.local";

function sortedUnique(names: string[]): string[] {
  return [...new Set(names)].sort();
}

export function peerHosts(cluster: DynamoCluster, pod: string, clusterDomain = DEFAULT_CLUSTER_DOMAIN): string[] {
  const ns = cluster.metadata.namespace ?? "default";
  const peers = objectNames(cluster.metadata.name).peerService;
  return sortedUnique([pod, `${pod}.${peers}`, `${pod}.${peers}.${ns}`, `${pod}.${peers}.${ns}.svc`, `${pod}.${peers}.${ns}.svc.${clusterDomain}`]);
}

export function clientHosts(cluster: DynamoCluster, clusterIp: string | undefined, clusterDomain = DEFAULT_CLUSTER_DOMAIN): string[] {
  const ns = cluster.metadata.namespace ?? "default";
  const names = objectNames(cluster.metadata.name);
  const service = names.clientService;
  const ip = clusterIp && clusterIp !== "None" ? [clusterIp] : [];
  return sortedUnique([
    service,
    `${service}.${ns}`,
    `${service}.${ns}.svc`,
    `${service}.${ns}.svc.${clusterDomain}`,
    `*.${names.peerService}.${ns}.svc`,
    `*.${names.peerService}.${ns}.svc.${clusterDomain}`,
    ...ip,
  ]);
}

/** The name clients verify the client port against when they connect to a pod's address: the client Service's. */
export function clientServerName(cluster: DynamoCluster): string {
  return `${objectNames(cluster.metadata.name).clientService}.${cluster.metadata.namespace ?? "default"}.svc`;
}
