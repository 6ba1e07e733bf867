/**
 * Client Service `X`: where applications send reads and writes. Only ready nodes (members of the ring) are behind
 * it; any of them coordinates any request.
 */
import type { V1Service } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import { CLIENT_PORT, objectNames, ownedMeta, selectorLabels } from "./object-meta.js";

export function buildClientService(cluster: DynamoCluster): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).clientService),
    spec: {
      type: "ClusterIP",
      selector: selectorLabels(cluster.metadata.name),
      ports: [{ name: "client", port: CLIENT_PORT, targetPort: "client", protocol: "TCP" }],
    },
  };
}
