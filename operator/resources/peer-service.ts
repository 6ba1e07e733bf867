/**
 * Headless Service `X-peers`: the StatefulSet's governing service. It publishes not-ready addresses because a node
 * only turns ready once it is in the ring, and peers (and the operator) must reach it before that to bring it in.
 */
import type { V1Service } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import { CLIENT_PORT, PEER_PORT, objectNames, ownedMeta, selectorLabels } from "./object-meta.js";

export function buildPeerService(cluster: DynamoCluster): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).peerService),
    spec: {
      clusterIP: "None",
      publishNotReadyAddresses: true,
      selector: selectorLabels(cluster.metadata.name),
      ports: [
        { name: "peer", port: PEER_PORT, targetPort: "peer", protocol: "TCP" },
        { name: "client", port: CLIENT_PORT, targetPort: "client", protocol: "TCP" },
      ],
    },
  };
}
