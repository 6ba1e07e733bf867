/**
 * PodDisruptionBudget `X`: voluntary disruptions (node drains, evictions) take at most `maxUnavailable` storage nodes
 * at once (1 by default), so with n = 3 a drain never leaves a partition with fewer than two live replicas.
 */
import type { V1PodDisruptionBudget } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import { objectNames, ownedMeta, selectorLabels } from "./object-meta.js";

export function buildPodDisruptionBudget(cluster: DynamoCluster): V1PodDisruptionBudget {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).podDisruptionBudget),
    spec: {
      maxUnavailable: cluster.spec.podDisruptionBudget.maxUnavailable,
      selector: { matchLabels: selectorLabels(cluster.metadata.name) },
    },
  };
}
