import assert from "node:assert/strict";
import type { V1Job } from "@kubernetes/client-node";
import { backupIdOf, boundedName, buildBackupJob, buildRestoreJob, peerUrls } from "../../../../operator/resources/index.js";
import { dynamoCluster } from "../fixtures.js";
import { UID, dynamoBackup } from "./fixtures.js";

const container = (job: V1Job) => job.spec!.template.spec!.containers[0]!;
const args = (job: V1Job) => container(job).args!;
const volume = (job: V1Job, name: string) => job.spec!.template.spec!.volumes!.find((v) => v.name === name);

describe("backup and restore Job builders", () => {
  const cluster = dynamoCluster({ image: "ringkv/dynamo:1.2.3" });

  it("runs `dynamo backup create` with the cluster's image, its token, a peer certificate and a fixed backup id", () => {
    const job = buildBackupJob(dynamoBackup(), cluster, { image: "ringkv/dynamo:1.2.3", backupId: "20261130T020007Z-3f1a2b3c", podIps: ["10.0.0.2", "10.0.0.1"] });
    assert.equal(job.metadata!.name, "nightly-backup");
    assert.equal(container(job).image, "ringkv/dynamo:1.2.3");
    assert.deepEqual(args(job), [
      "backup",
      "create",
      "--to=s3://backups/kv",
      "--id=20261130T020007Z-3f1a2b3c",
      "--url=https://kv-peers.ns.svc:8081,https://10.0.0.1:8081,https://10.0.0.2:8081",
      "--token-file=/etc/dynamo/token/token",
      "--tls-dir=/etc/dynamo/peer-tls",
      "--result-file=/dev/termination-log",
    ]);
    assert.deepEqual(volume(job, "token")!.secret, { secretName: "kv-token", defaultMode: 0o400, items: [{ key: "token", path: "token" }] });
    // Pod 0's certificate, renamed to the names --tls-dir reads.
    assert.deepEqual(volume(job, "peer-tls")!.secret!.items, [
      { key: "ca.crt", path: "ca.crt" },
      { key: "kv-0.tls.crt", path: "tls.crt" },
      { key: "kv-0.tls.key", path: "tls.key" },
    ]);
    assert.equal(container(job).terminationMessagePath, "/dev/termination-log");
    assert.equal(job.spec!.template.spec!.restartPolicy, "Never");
  });

  it("is owned by the DynamoBackup, and its pods carry the labels the cluster's NetworkPolicy admits", () => {
    const job = buildBackupJob(dynamoBackup(), cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    assert.deepEqual(job.metadata!.ownerReferences, [{ apiVersion: "dynamo.ringkv.dev/v1alpha1", kind: "DynamoBackup", name: "nightly", uid: UID, controller: true, blockOwnerDeletion: true }]);
    const labels = job.spec!.template.metadata!.labels!;
    assert.equal(labels["app.kubernetes.io/instance"], "kv");
    assert.equal(labels["app.kubernetes.io/component"], "backup");
    assert.equal(labels["dynamo.ringkv.dev/backup"], "nightly");
  });

  it("gives the store's credentials to the Job alone, as environment variables from their Secret", () => {
    const job = buildBackupJob(dynamoBackup(), cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    assert.deepEqual(container(job).envFrom, [{ secretRef: { name: "s3-creds" } }]);
    const withoutCredentials = buildBackupJob(dynamoBackup({ store: { location: "s3://backups/kv" } }), cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    assert.equal(container(withoutCredentials).envFrom, undefined);
  });

  it("asks the backup for JSON progress lines through the environment, which an older image ignores", () => {
    const job = buildBackupJob(dynamoBackup(), cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    assert.ok(container(job).env?.some((e) => e.name === "DYNAMO_PROGRESS_JSON" && e.value === "1"));
    assert.ok(!container(job).args?.includes("--progress-json"), "not a flag: an image without it would refuse the Job's arguments");
  });

  it("passes the S3 settings, the rate limits and a schedule's retention as flags", () => {
    const backup = dynamoBackup({
      store: { location: "s3://backups/kv", s3: { endpoint: "http://seaweed:8333", region: "eu-west-1", pathStyle: true } },
      rate: { bytesPerSecond: 1048576, recordsPerSecond: 0, partitionsInFlight: 4 },
    });
    const job = buildBackupJob(backup, cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [], retention: { keepLast: 7, maxAge: "30d" } });
    const flags = args(job).slice(8);
    assert.deepEqual(flags, [
      "--s3-endpoint=http://seaweed:8333",
      "--s3-region=eu-west-1",
      "--s3-path-style",
      "--bytes-per-second=1048576",
      "--records-per-second=0",
      "--partitions-in-flight=4",
      "--keep-last=7",
      "--max-age=30d",
    ]);
  });

  it("mounts a file:// location's volume at its directory", () => {
    const backup = dynamoBackup({ store: { location: "file:///backups/kv", volume: { persistentVolumeClaim: { claimName: "backups" } } } });
    const job = buildBackupJob(backup, cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    assert.deepEqual(volume(job, "store"), { persistentVolumeClaim: { claimName: "backups" }, name: "store" });
    assert.deepEqual(container(job).volumeMounts!.find((m) => m.name === "store"), { name: "store", mountPath: "/backups/kv" });
  });

  it("runs as the nodes do: non-root, read-only root, no capabilities, no service account token", () => {
    const job = buildBackupJob(dynamoBackup(), cluster, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    const security = container(job).securityContext!;
    assert.equal(security.runAsNonRoot, true);
    assert.equal(security.readOnlyRootFilesystem, true);
    assert.equal(security.allowPrivilegeEscalation, false);
    assert.deepEqual(security.capabilities, { drop: ["ALL"] });
    assert.equal(job.spec!.template.spec!.automountServiceAccountToken, false);
    // Bad usage (exit 2) fails the Job at once; anything else is retried, which resumes the same backup id.
    assert.deepEqual(job.spec!.podFailurePolicy!.rules[0]!.onExitCodes!.values, [2]);
  });

  it("uses cert-manager's shared peer certificate as it is", () => {
    const managed = dynamoCluster({ tls: { issuerRef: { name: "ca" } } });
    const job = buildBackupJob(dynamoBackup(), managed, { image: "ringkv/dynamo:test", backupId: "b", podIps: [] });
    assert.deepEqual(volume(job, "peer-tls")!.secret, { secretName: "kv-peer-tls", defaultMode: 0o400 });
  });

  it("restores with `dynamo backup restore --allow-non-empty`, owned by the cluster", () => {
    const job = buildRestoreJob(cluster, { store: { location: "s3://backups/kv", s3: { pathStyle: true } }, backupId: "20261130T020007Z-3f1a2b3c" }, ["10.0.0.9"], "ringkv/dynamo:test");
    assert.equal(job.metadata!.name, "kv-restore");
    assert.deepEqual(args(job), [
      "backup",
      "restore",
      "--from=s3://backups/kv",
      "--id=20261130T020007Z-3f1a2b3c",
      "--allow-non-empty",
      "--url=https://kv-peers.ns.svc:8081,https://10.0.0.9:8081",
      "--token-file=/etc/dynamo/token/token",
      "--tls-dir=/etc/dynamo/peer-tls",
      "--result-file=/dev/termination-log",
      "--s3-path-style",
    ]);
    assert.equal(job.metadata!.ownerReferences![0]!.kind, "DynamoCluster");
  });

  it("derives a backup id from the creation time and uid, so a retry resumes it and a new object gets another", () => {
    assert.equal(backupIdOf(dynamoBackup()), "20261130T020007Z-3f1a2b3c");
    assert.equal(backupIdOf(dynamoBackup({ image: "ringkv/dynamo:test", backupId: "manual-1" })), "manual-1");
    assert.notEqual(backupIdOf(dynamoBackup({}, { uid: "99990000-0000-4000-8000-000000000002" })), backupIdOf(dynamoBackup()));
  });

  it("keeps Job names within 63 characters, distinct for distinct long names", () => {
    const a = boundedName("a".repeat(70), "backup");
    const b = boundedName(`${"a".repeat(69)}b`, "backup");
    assert.ok(a.length <= 63 && b.length <= 63);
    assert.notEqual(a, b);
    assert.ok(a.endsWith("-backup"));
    assert.equal(boundedName("short", "backup"), "short-backup");
  });

  it("brackets IPv6 pod addresses", () => {
    assert.deepEqual(peerUrls(cluster, ["fd00::1"]), ["https://kv-peers.ns.svc:8081", "https://[fd00::1]:8081"]);
  });
});
