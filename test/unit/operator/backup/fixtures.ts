// Shared inputs of the backup controllers' unit tests: resources as the operator reads them from the API server.
import { parseDynamoBackup, parseDynamoScheduledBackup, type DynamoBackup, type DynamoScheduledBackup } from "../../../../operator/api/index.js";

export const UID = "3f1a2b3c-0000-4000-8000-000000000002";

export function dynamoBackup(spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}, status?: Record<string, unknown>): DynamoBackup {
  return parseDynamoBackup({
    apiVersion: "dynamo.ringkv.dev/v1alpha1",
    kind: "DynamoBackup",
    metadata: { name: "nightly", namespace: "ns", uid: UID, generation: 1, creationTimestamp: "2026-11-30T02:00:07Z", ...meta },
    spec: { cluster: { name: "kv" }, store: { location: "s3://backups/kv", credentials: { secretName: "s3-creds" } }, ...spec },
    ...(status ? { status } : {}),
  });
}

export function scheduledBackup(spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}, status?: Record<string, unknown>): DynamoScheduledBackup {
  return parseDynamoScheduledBackup({
    apiVersion: "dynamo.ringkv.dev/v1alpha1",
    kind: "DynamoScheduledBackup",
    metadata: { name: "daily", namespace: "ns", uid: UID, generation: 1, creationTimestamp: "2026-11-29T12:00:00Z", ...meta },
    spec: { schedule: "0 2 * * *", template: { cluster: { name: "kv" }, store: { location: "s3://backups/kv" } }, ...spec },
    ...(status ? { status } : {}),
  });
}
