import assert from "node:assert/strict";
import { decideBootstrap, resolveSource, withBootstrap, type BootstrapObservation } from "../../../../operator/reconcile/bootstrap.js";
import type { BootstrapStatus, DynamoCluster, DynamoClusterStatus } from "../../../../operator/api/index.js";
import { AVAILABLE_REASONS, DEGRADED_REASONS, RESTORED_REASONS, RESTORE_EVENT_REASONS, isReason } from "../../../../operator/reconcile/index.js";
import { dynamoCluster } from "../fixtures.js";
import { dynamoBackup } from "./fixtures.js";

const NOW = Date.parse("2026-11-30T03:00:00Z");
const STORE = { location: "s3://backups/kv", credentials: { secretName: "s3-creds" } };

function restoringCluster(bootstrap?: DynamoClusterStatus["bootstrap"]): DynamoCluster {
  const cluster = dynamoCluster({ replicas: 5, bootstrap: { fromBackup: { backup: "nightly" } } }, { name: "kv2" });
  if (bootstrap) cluster.status = { bootstrap };
  return cluster;
}

const completedBackup = () => dynamoBackup({ store: STORE }, {}, { phase: "Completed", backupId: "20261130T020007Z-3f1a2b3c" });

function observe(over: Partial<BootstrapObservation> = {}): BootstrapObservation {
  const cluster = over.cluster ?? restoringCluster();
  return { cluster, source: resolveSource(cluster, completedBackup()), clusterSettled: true, job: undefined, jobName: "kv2-restore", nowMs: NOW, ...over };
}

describe("bootstrap from a backup", () => {
  it("takes the store and id of a Completed DynamoBackup, and waits for one not complete or not there yet", () => {
    const cluster = restoringCluster();
    assert.deepEqual(resolveSource(cluster, completedBackup()), { kind: "ready", source: { store: completedBackup().spec.store, backupId: "20261130T020007Z-3f1a2b3c" } });
    assert.equal(resolveSource(cluster, dynamoBackup({}, {}, { phase: "Running" })).kind, "waiting");
    assert.deepEqual(resolveSource(cluster, undefined).kind, "waiting");
    const failed = resolveSource(cluster, dynamoBackup({}, {}, { phase: "Failed", message: "boom" }));
    assert.equal(failed.kind === "failed" && failed.reason, "BackupFailed");
    const direct = dynamoCluster({ bootstrap: { fromBackup: { store: STORE, backupId: "b7" } } });
    assert.deepEqual(resolveSource(direct, undefined), { kind: "ready", source: { store: { ...STORE }, backupId: "b7" } });
  });

  it("starts the restore Job only once the cluster has settled", () => {
    assert.equal(decideBootstrap(observe({ clusterSettled: false })).createJob, false);
    assert.equal(decideBootstrap(observe({ clusterSettled: false })).status.phase, "Waiting");
    const start = decideBootstrap(observe());
    assert.equal(start.createJob, true);
    assert.equal(start.status.phase, "Restoring");
    assert.equal(start.status.job, "kv2-restore");
  });

  it("is Restored with the records written when the Job succeeded", () => {
    const decision = decideBootstrap(
      observe({ cluster: restoringCluster({ phase: "Restoring", job: "kv2-restore" }), job: { kind: "succeeded", result: { ok: true, id: "b1", records: 1234, partitions: 64 } } }),
    );
    assert.equal(decision.status.phase, "Restored");
    assert.equal(decision.status.records, 1234);
    assert.equal(decision.createJob, false);
  });

  it("fails naming the file when the Job reports a corrupt or missing one, and never starts again", () => {
    const message = "s3://backups/kv/b1/partitions/00042.dkv.gz has SHA-256 ab, but the manifest says cd";
    const decision = decideBootstrap(observe({ cluster: restoringCluster({ phase: "Restoring", job: "kv2-restore" }), job: { kind: "failed", reason: "CorruptObject", message } }));
    assert.equal(decision.status.phase, "Failed");
    assert.equal(decision.status.reason, "CorruptObject");
    assert.equal(decision.status.message, message);
    const again = decideBootstrap(observe({ cluster: restoringCluster(decision.status), job: undefined }));
    assert.equal(again.createJob, false);
    assert.equal(again.status.phase, "Failed");
  });

  it("fails when the restore Job is deleted mid-run", () => {
    const decision = decideBootstrap(observe({ cluster: restoringCluster({ phase: "Restoring", job: "kv2-restore" }), job: undefined }));
    assert.equal(decision.status.reason, "JobDeleted");
  });

  describe("the cluster's status", () => {
    const base = (): DynamoClusterStatus => ({
      phase: "Stable",
      message: "5 members, ring balanced",
      conditions: [
        { type: "Available", status: "True", lastTransitionTime: "2026-11-30T02:59:00Z", reason: "QuorumReady", message: "5 ready" },
        { type: "Degraded", status: "False", lastTransitionTime: "2026-11-30T02:59:00Z", reason: "Healthy", message: "" },
      ],
    });
    const conditionOf = (s: DynamoClusterStatus, type: string) => s.conditions?.find((c) => c.type === type);

    it("holds Available False until the backup is restored", () => {
      const restoring = withBootstrap(base(), { phase: "Restoring", message: "restoring backup b1" }, undefined, 1, NOW);
      assert.equal(conditionOf(restoring, "Available")?.status, "False");
      assert.equal(conditionOf(restoring, "Available")?.reason, "Restoring");
      assert.equal(conditionOf(restoring, "Restored")?.status, "False");
      const restored = withBootstrap(base(), { phase: "Restored", message: "restored backup b1" }, restoring.conditions, 1, NOW);
      assert.equal(conditionOf(restored, "Available")?.status, "True");
      assert.equal(conditionOf(restored, "Restored")?.status, "True");
    });

    it("gives every condition of every bootstrap phase a typed reason, and an unknown stored reason a generic one", () => {
      const phases: BootstrapStatus[] = [
        { phase: "Waiting", message: "waiting for the pods" },
        { phase: "Waiting", reason: "BackupNotComplete", message: "waiting for DynamoBackup b" },
        { phase: "Restoring", message: "restoring" },
        { phase: "Restored", message: "restored" },
        { phase: "Failed", reason: "CorruptObject", message: "corrupt" },
        { phase: "Failed", reason: "SomethingNewer", message: "written by another version" },
        { phase: "Waiting", reason: "SomethingNewer", message: "written by another version" },
      ];
      const reasons: string[] = [];
      for (const bootstrap of phases) {
        const status = withBootstrap(base(), bootstrap, undefined, 1, NOW);
        const restored = conditionOf(status, "Restored")?.reason ?? "";
        assert.ok(isReason(RESTORED_REASONS, restored), `Restored reason ${restored} is typed`);
        assert.ok(isReason(AVAILABLE_REASONS, conditionOf(status, "Available")?.reason), `Available reason of ${bootstrap.phase}`);
        assert.ok(isReason(DEGRADED_REASONS, conditionOf(status, "Degraded")?.reason), `Degraded reason of ${bootstrap.phase}`);
        reasons.push(restored);
      }
      assert.deepEqual(reasons, ["WaitingToRestore", "BackupNotComplete", "Restoring", "Restored", "CorruptObject", "RestoreFailed", "WaitingToRestore"]);
      for (const decision of [
        decideBootstrap(observe({})),
        decideBootstrap(observe({ cluster: restoringCluster({ phase: "Restoring", job: "kv2-restore" }), job: { kind: "failed", reason: "CorruptObject", message: "x" } })),
      ]) {
        if (decision.event) assert.ok(isReason(RESTORE_EVENT_REASONS, decision.event.reason), decision.event.reason);
      }
    });

    it("names the failure in the Restored condition, Degraded and the message", () => {
      const failed = withBootstrap(base(), { phase: "Failed", reason: "MissingObject", message: "b1/partitions/00003.dkv.gz is missing" }, undefined, 1, NOW);
      assert.deepEqual([conditionOf(failed, "Restored")?.reason, conditionOf(failed, "Restored")?.message], ["MissingObject", "b1/partitions/00003.dkv.gz is missing"]);
      assert.equal(conditionOf(failed, "Degraded")?.status, "True");
      assert.equal(conditionOf(failed, "Available")?.status, "False");
      assert.match(failed.message ?? "", /restore failed: .*00003\.dkv\.gz/);
    });
  });
});
