// A backup and a restore on the real node, through the operator alone: a cluster of 3 holding plain keys, keys with
// siblings, lww overwrites and deleted keys is backed up by a DynamoBackup to a `file://` location on a
// PersistentVolumeClaim (the harness's local-path provisioner); a new cluster of 4 with `spec.bootstrap.fromBackup`
// naming it runs the restore Job on the same claim, stays un-Available until the Job succeeds, and then serves every
// key with its values (siblings still siblings) and none of the deleted ones.
import assert from "node:assert/strict";
import type { DynamoClient } from "../../../client/index.js";
import type { Operator } from "../../../operator/controller/index.js";
import { seededRandom } from "../../../lib/random.js";
import { type BackupEntry, type BackupKind, writeEntry } from "../../helpers/backup-data.js";
import { retry, valuesOf } from "../../helpers/replicas.js";
import { pool } from "../../helpers/pool.js";
import { testSeed } from "../../helpers/random.js";
import { admin, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";
import { clusterClient, clustersPath, createCluster, installCrd, readCluster, readyClientUrls, startOperator, waitStable, type ClusterObject } from "../operator/helpers.js";

const KEYS = Number(process.env.DYNAMO_K8S_BACKUP_KEYS ?? 240);
const BUCKETS = [
  { name: "cart", n: 3, r: 2, w: 2, reconciliation: "siblings" },
  { name: "sessions", n: 3, r: 2, w: 2, reconciliation: "lww" },
];
const backupsPath = (ns: string) => `/apis/dynamo.ringkv.dev/v1alpha1/namespaces/${ns}/dynamobackups`;

type Kind = Exclude<BackupKind, "single">;
interface BackupObject {
  status?: {
    phase?: string;
    backupId?: string;
    job?: string;
    message?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    progress?: { partitionsDone?: number; partitionsTotal?: number; records?: number; bytes?: number; summary?: string };
  };
}

/**
 * Writes the plan. A blind write retried after a timeout may add a sibling, so what each key holds is read back at
 * r=3 afterwards and that is what the restore must reproduce.
 */
async function load(client: DynamoClient, seed: number): Promise<BackupEntry[]> {
  const random = seededRandom(seed);
  const plan: BackupEntry[] = [];
  for (let i = 0; i < KEYS; i++) {
    const roll = random.next();
    const kind: Kind = roll < 0.2 ? "siblings" : roll < 0.4 ? "deleted" : roll < 0.55 ? "lww" : "plain";
    plan.push({ bucket: kind === "lww" ? "sessions" : kind === "plain" && i % 2 === 0 ? "default" : "cart", key: `k${String(i).padStart(5, "0")}`, kind, values: [] });
  }
  await pool(plan, 8, (e) => writeEntry(client, e, () => client.get(e.bucket, e.key, { r: 3 })));
  await pool(plan, 8, async (e) => {
    e.values = valuesOf(await retry(() => client.get(e.bucket, e.key, { r: 3 })));
  });
  return plan;
}

function condition(c: ClusterObject, type: string) {
  return c.status?.conditions?.find((x) => x.type === type);
}

describe("backup: a DynamoBackup restored into a new cluster by spec.bootstrap.fromBackup", function () {
  this.timeout(600_000);
  let ns = "";
  let operator: Operator | undefined;

  before(async () => {
    await installCrd();
    ns = await createNamespace("backup");
    operator = await startOperator(ns);
  });
  after(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
  });

  it("backs up a cluster of 3 to a volume and restores every version into a cluster of 4", async () => {
    const seed = testSeed("backup-restore");
    console.error(`    ${KEYS} keys`);
    const api = admin();
    await createCluster(ns, "source", { replicas: 3, partitions: 16, buckets: BUCKETS });
    await api.post(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "backups" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    await waitStable(ns, "source", 3);

    const client = await clusterClient(ns, "source", await readyClientUrls(ns, "source"));
    let plan: BackupEntry[];
    try {
      plan = await load(client, seed);
    } finally {
      client.close();
    }
    const count = (kind: Kind) => plan.filter((e) => e.kind === kind).length;
    console.error(`    wrote ${plan.length} keys: ${count("plain")} plain, ${count("siblings")} with siblings, ${count("lww")} lww, ${count("deleted")} deleted`);
    assert.ok(plan.filter((e) => e.kind === "siblings").every((e) => e.values.length >= 2), "every sibling key reads back with its siblings");
    assert.ok(plan.filter((e) => e.kind === "deleted").every((e) => e.values.length === 0), "every deleted key reads as gone");

    await api.post(backupsPath(ns), {
      apiVersion: "dynamo.ringkv.dev/v1alpha1",
      kind: "DynamoBackup",
      metadata: { name: "source-now" },
      spec: {
        cluster: { name: "source" },
        store: { location: "file:///backups/source", volume: { persistentVolumeClaim: { claimName: "backups" } } },
        // Slow enough (about 45 records per partition over its replicas, one partition at a time) that the backup
        // runs for several of the operator's looks, so its progress can be seen advancing.
        rate: { recordsPerSecond: 60, partitionsInFlight: 1 },
      },
    });
    const phases = new Set<string>();
    const partial = new Set<string>();
    const backup = await waitFor(
      "DynamoBackup source-now to complete",
      async () => {
        const b = await api.get<BackupObject>(`${backupsPath(ns)}/source-now`);
        if (b.status?.phase) phases.add(b.status.phase);
        const done = b.status?.progress?.partitionsDone;
        if (b.status?.phase === "Running" && done !== undefined && done > 0 && done < 16) partial.add(b.status.progress!.summary ?? "");
        if (b.status?.phase === "Failed") throw new Error(`the backup failed: ${JSON.stringify(b.status)}`);
        return b.status?.phase === "Completed" ? b : undefined;
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    const status = backup.status!;
    console.error(`    backup ${status.backupId}: phases ${[...phases].join(" → ")}, progress ${[...partial].join(", ")} then ${JSON.stringify(status.progress)}`);
    assert.ok(partial.size > 0, "status.progress advanced while the Job ran, between 0 and every partition");
    assert.equal(status.conditions?.find((c) => c.type === "Completed")?.status, "True");
    assert.equal(status.progress?.partitionsTotal, 16);
    assert.equal(status.progress?.partitionsDone, 16);
    assert.equal(status.progress?.summary, "16/16");
    // Every live key and every tombstone the source holds is a record of the backup.
    assert.ok((status.progress?.records ?? 0) >= plan.length, `the backup has ${status.progress?.records} records for ${plan.length} keys`);
    assert.ok((status.progress?.bytes ?? 0) > 0);

    await createCluster(ns, "restored", { replicas: 4, partitions: 32, buckets: BUCKETS, bootstrap: { fromBackup: { backup: "source-now" } } });
    const seen = new Set<string>();
    const restored = await waitFor(
      "the restored cluster to be Available",
      async () => {
        const c = await readCluster(ns, "restored");
        const phase = c.status?.bootstrap?.phase;
        if (phase) seen.add(phase);
        if (phase === "Failed") throw new Error(`the restore failed: ${JSON.stringify(c.status?.bootstrap)}`);
        const available = condition(c, "Available")?.status === "True";
        // The data comes first: a cluster Available before its restore succeeded would take writes a user thinks land
        // on the backup's data, and `kubectl wait --for=condition=Available` would return too early.
        if (available && phase !== "Restored") throw new Error(`Available while the bootstrap is ${phase}: ${JSON.stringify(c.status)}`);
        return available ? c : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 250 },
    );
    const bootstrap = restored.status!.bootstrap!;
    console.error(`    restore: phases ${[...seen].join(" → ")}, ${JSON.stringify(bootstrap)}`);
    assert.ok(seen.has("Restoring"), `the restore ran as a Job the test saw (phases ${[...seen].join(", ")})`);
    assert.equal(bootstrap.backupId, status.backupId);
    assert.equal(bootstrap.records, status.progress?.records);
    assert.equal(condition(restored, "Restored")?.status, "True");
    const job = await api.get<{ status?: { succeeded?: number } }>(`/apis/batch/v1/namespaces/${ns}/jobs/${bootstrap.job}`);
    assert.equal(job.status?.succeeded, 1);
    await waitStable(ns, "restored", 4);

    const target = await clusterClient(ns, "restored", await readyClientUrls(ns, "restored"));
    const wrong: string[] = [];
    try {
      await pool(plan, 8, async (e) => {
        const got = valuesOf(await retry(() => target.get(e.bucket, e.key, { r: 3 })));
        if (JSON.stringify(got) !== JSON.stringify(e.values)) wrong.push(`${e.bucket}/${e.key} (${e.kind}): ${JSON.stringify(got)}, expected ${JSON.stringify(e.values)}`);
      });
    } finally {
      target.close();
    }
    assert.deepEqual(wrong, [], `${wrong.length} of ${plan.length} keys differ after the restore`);
    // The source's API objects are unchanged by the restore: the spec still names its backup.
    const spec = await api.get<{ spec: { bootstrap?: unknown } }>(`${clustersPath(ns)}/restored`);
    assert.deepEqual(spec.spec.bootstrap, { fromBackup: { backup: "source-now" } });
  });
});
