/**
 * ConfigMap `X-config`: the node configuration file (buckets and tuning) every node of the cluster loads with
 * `--config`. Nodes read it at start, so the StatefulSet's pod template carries a hash of it and a change rolls the
 * pods one at a time.
 */
import { createHash } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import type { DynamoCluster } from "../api/index.js";
import { objectNames, ownedMeta } from "./object-meta.js";

export const CONFIG_FILE_KEY = "config.json";

/** The node configuration document, in the shape node/config parses. */
export function nodeConfigDocument(cluster: DynamoCluster): { buckets: unknown[]; tuning: Record<string, unknown> } {
  return { buckets: cluster.spec.buckets, tuning: cluster.spec.tuning ?? {} };
}

export function buildConfigMap(cluster: DynamoCluster): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: ownedMeta(cluster, objectNames(cluster.metadata.name).configMap),
    data: { [CONFIG_FILE_KEY]: JSON.stringify(nodeConfigDocument(cluster), null, 2) + "\n" },
  };
}

/** A short digest of the configuration, stamped on the pod template so a change restarts the nodes. */
export function configHash(cluster: DynamoCluster): string {
  return createHash("sha256").update(JSON.stringify(nodeConfigDocument(cluster))).digest("hex").slice(0, 16);
}
