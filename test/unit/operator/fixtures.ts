// Shared inputs of the operator's unit tests: a parsed DynamoCluster as the operator would see it from the API server.
import { parseDynamoCluster, type DynamoCluster, type DynamoClusterSpecInput } from "../../../operator/api/index.js";

export function dynamoCluster(spec: DynamoClusterSpecInput = {}, meta: { name?: string; generation?: number; annotations?: Record<string, string> } = {}): DynamoCluster {
  return parseDynamoCluster({
    apiVersion: "dynamo.ringkv.dev/v1alpha1",
    kind: "DynamoCluster",
    metadata: {
      name: meta.name ?? "kv",
      namespace: "ns",
      uid: "0b0c0d0e-0000-4000-8000-000000000001",
      generation: meta.generation ?? 1,
      annotations: meta.annotations,
    },
    spec,
  });
}
