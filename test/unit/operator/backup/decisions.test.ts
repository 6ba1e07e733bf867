import assert from "node:assert/strict";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { jobState, parseJobProgress, parseJobResult, progressPod, reasonOfCode } from "../../../../operator/reconcile/backup-job.js";
import { progressLine } from "../../../../cli/backup-commands.js";
import { decideBackup, decideSchedule, scheduledBackupName } from "../../../../operator/reconcile/backup.js";
import type { DynamoCluster } from "../../../../operator/api/index.js";
import { dynamoCluster } from "../fixtures.js";
import { dynamoBackup, scheduledBackup } from "./fixtures.js";

const NOW = Date.parse("2026-11-30T02:05:00Z");

function availableCluster(): DynamoCluster {
  const cluster = dynamoCluster();
  cluster.status = { conditions: [{ type: "Available", status: "True", lastTransitionTime: "2026-11-30T00:00:00Z", reason: "QuorumReady", message: "" }] };
  return cluster;
}

function job(conditions: { type: string; status: string; reason?: string; message?: string }[]): V1Job {
  return { status: { startTime: new Date("2026-11-30T02:00:10Z"), conditions: conditions.map((c) => ({ ...c, lastTransitionTime: new Date("2026-11-30T02:04:00Z") })) } } as V1Job;
}

function pod(terminated: { exitCode: number; message?: string; reason?: string }, finishedAt = "2026-11-30T02:03:00Z"): V1Pod {
  const state = { terminated: { ...terminated, finishedAt: new Date(finishedAt) } };
  return { status: { containerStatuses: [{ name: "backup", image: "ringkv/dynamo", imageID: "", ready: false, restartCount: 0, state }] } };
}

const conditionOf = (status: { conditions?: { type: string; status: string; reason: string }[] }, type: string) => status.conditions?.find((c) => c.type === type);

describe("backup decisions", () => {
  describe("a Job's state", () => {
    it("is succeeded only with the Complete condition, with the result line of its pod", () => {
      const result = { ok: true, action: "backup", id: "b1", partitions: 64, records: 1000, bytes: 5000 };
      const state = jobState(job([{ type: "Complete", status: "True" }]), [pod({ exitCode: 0, message: JSON.stringify(result) })]);
      assert.equal(state.kind, "succeeded");
      assert.deepEqual(state.kind === "succeeded" && state.result, result);
    });

    it("is failed with the typed reason and message of the last pod's result", () => {
      const failure = { ok: false, code: "corrupt_object", message: "s3://b/x/partitions/00042.dkv.gz has SHA-256 ab, but the manifest says cd", object: "x/partitions/00042.dkv.gz" };
      const state = jobState(job([{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }]), [
        pod({ exitCode: 1, message: JSON.stringify({ ok: false, code: "cluster_unavailable", message: "first try" }) }, "2026-11-30T02:01:00Z"),
        pod({ exitCode: 1, message: JSON.stringify(failure) }, "2026-11-30T02:03:00Z"),
      ]);
      assert.deepEqual(state.kind === "failed" && [state.reason, state.message], ["CorruptObject", failure.message]);
    });

    it("is failed (JobFailed) when the pods crashed without a result, never succeeded", () => {
      const state = jobState(job([{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" }]), [
        pod({ exitCode: 137, reason: "OOMKilled", message: "last log line" }),
      ]);
      assert.equal(state.kind, "failed");
      assert.equal(state.kind === "failed" && state.reason, "JobFailed");
      assert.match(state.kind === "failed" ? state.message : "", /BackoffLimitExceeded.*OOMKilled 137/);
    });

    it("is running while neither condition holds, even after a pod failed (it is retried)", () => {
      assert.equal(jobState(job([]), [pod({ exitCode: 1, message: JSON.stringify({ ok: false, code: "store_failed" }) })]).kind, "running");
    });

    it("reads the result line after a crash's log lines, and nothing else as a result", () => {
      assert.deepEqual(parseJobResult('progress...\n{"ok":true,"id":"x"}\n'), { ok: true, id: "x" });
      assert.equal(parseJobResult("Error: boom\n  at x"), undefined);
      assert.equal(parseJobResult("{not json"), undefined);
      assert.equal(reasonOfCode("missing_object"), "MissingObject");
      assert.equal(reasonOfCode("something new"), "JobFailed");
    });
  });

  describe("a running Job's progress", () => {
    const line = (done: number, total = 64, records = done * 100, bytes = done * 4096) =>
      progressLine({ id: "b1", partitionsDone: done, partitionsTotal: total, records, bytes, startedAt: "2026-11-30T02:00:12Z" });

    it("is the last progress line the CLI printed, among the other lines of the log", () => {
      const log = ["backup b1: 64 partitions of 1 buckets from 3 members, ring epoch 4", line(3), "backup b1: partition 7 is read again: its file is missing", line(9), "warning: slow member kv-2", ""].join("\n");
      assert.deepEqual(parseJobProgress(log), { partitionsDone: 9, partitionsTotal: 64, records: 900, bytes: 36_864 });
    });

    it("skips a line cut by the log's byte limit, and lines that are not whole, consistent counts", () => {
      const cut = line(12).slice(0, 30);
      assert.deepEqual(parseJobProgress(`${line(11)}\n${cut}`), { partitionsDone: 11, partitionsTotal: 64, records: 1100, bytes: 45_056 });
      assert.equal(parseJobProgress(line(65)), undefined, "more done than total");
      assert.equal(parseJobProgress(line(0, 0)), undefined, "no partitions at all");
      assert.equal(parseJobProgress('{"progress":{"partitionsDone":1.5,"partitionsTotal":4,"records":1,"bytes":1}}'), undefined);
      assert.equal(parseJobProgress('{"progress":{"partitionsDone":-1,"partitionsTotal":4,"records":1,"bytes":1}}'), undefined);
      assert.equal(parseJobProgress('{"progress":{"partitionsDone":1,"partitionsTotal":4}}'), undefined);
      assert.equal(parseJobProgress("backup b1: 3/64 partitions, 300 records, 12 KiB"), undefined, "the human line is not read");
      assert.equal(parseJobProgress(""), undefined);
    });

    it("is read from the newest running pod of the Job (a retry's), never from one that ended or is going", () => {
      const p = (name: string, phase: string, created: string, deleting = false): V1Pod =>
        ({ metadata: { name, creationTimestamp: new Date(created), ...(deleting ? { deletionTimestamp: new Date(created) } : {}) }, status: { phase } }) as V1Pod;
      const pods = [p("a", "Failed", "2026-11-30T02:00:00Z"), p("b", "Running", "2026-11-30T02:01:00Z"), p("c", "Running", "2026-11-30T02:02:00Z", true), p("d", "Pending", "2026-11-30T02:03:00Z")];
      assert.equal(progressPod(pods)?.metadata?.name, "b");
      assert.equal(progressPod(pods.filter((x) => x.metadata?.name !== "b")), undefined);
    });
  });

  describe("a DynamoBackup", () => {
    const observe = (over: Partial<Parameters<typeof decideBackup>[0]> = {}) =>
      decideBackup({ backup: dynamoBackup(), cluster: availableCluster(), job: undefined, backupId: "b1", nowMs: NOW, ...over });

    it("creates its Job once the cluster is Available", () => {
      const decision = observe();
      assert.equal(decision.createJob, true);
      assert.equal(decision.status.phase, "Running");
      const waiting = observe({ cluster: dynamoCluster() });
      assert.equal(waiting.createJob, false);
      assert.equal(waiting.status.phase, "Pending");
    });

    it("fails with ClusterNotFound for a cluster that does not exist", () => {
      const decision = observe({ cluster: undefined });
      assert.equal(decision.status.phase, "Failed");
      assert.equal(conditionOf(decision.status, "Failed")?.reason, "ClusterNotFound");
      assert.equal(conditionOf(decision.status, "Completed")?.status, "False");
    });

    it("is Completed with its progress only when the Job succeeded", () => {
      const decision = observe({ job: { kind: "succeeded", result: { ok: true, id: "b1", partitions: 64, records: 1000, bytes: 5000, startedAt: "2026-11-30T02:00:12Z", finishedAt: "2026-11-30T02:04:00Z" } } });
      assert.equal(decision.status.phase, "Completed");
      assert.deepEqual(decision.status.progress, { partitionsDone: 64, partitionsTotal: 64, records: 1000, bytes: 5000, summary: "64/64" });
      assert.equal(decision.status.startTime, "2026-11-30T02:00:12Z");
      assert.equal(conditionOf(decision.status, "Completed")?.status, "True");
      assert.equal(conditionOf(decision.status, "Failed")?.status, "False");
    });

    it("advances its progress while the Job runs, and keeps the last while a retried pod has not reported yet", () => {
      const running = observe({ backup: dynamoBackup({}, {}, { phase: "Running", job: "nightly-backup" }), job: { kind: "running", progress: { partitionsDone: 5, partitionsTotal: 64, records: 500, bytes: 2048 } } });
      assert.equal(running.status.phase, "Running");
      assert.deepEqual(running.status.progress, { partitionsDone: 5, partitionsTotal: 64, records: 500, bytes: 2048, summary: "5/64" });
      assert.match(running.status.message ?? "", /5\/64 partitions, 500 records/);
      assert.equal(conditionOf(running.status, "Completed")?.status, "False");
      const retried = observe({ backup: dynamoBackup({}, {}, running.status), job: { kind: "running" } });
      assert.deepEqual(retried.status.progress, running.status.progress);
      const first = observe({ backup: dynamoBackup({}, {}, { phase: "Running", job: "nightly-backup" }), job: { kind: "running" } });
      assert.equal(first.status.progress, undefined, "no progress before the Job reported any");
    });

    it("is Failed, never Completed, when the Job failed or was deleted mid-run", () => {
      const failed = observe({ job: { kind: "failed", reason: "JobFailed", message: "BackoffLimitExceeded" } });
      assert.equal(failed.status.phase, "Failed");
      assert.equal(conditionOf(failed.status, "Failed")?.reason, "JobFailed");
      assert.equal(conditionOf(failed.status, "Completed")?.status, "False");
      const running = dynamoBackup({}, {}, { phase: "Running", job: "nightly-backup" });
      const deleted = observe({ backup: running });
      assert.equal(deleted.createJob, false);
      assert.equal(conditionOf(deleted.status, "Failed")?.reason, "JobDeleted");
    });

    it("stays as it ended: a finished backup never runs again", () => {
      const done = dynamoBackup({}, {}, { phase: "Failed", message: "x" });
      const decision = observe({ backup: done, job: undefined });
      assert.equal(decision.createJob, false);
      assert.equal(decision.status, done.status);
    });

    it("refuses a location the backup engine refuses", () => {
      const decision = observe({ backup: dynamoBackup({ store: { location: "s3://b/x" } }) });
      assert.equal(conditionOf(decision.status, "Failed")?.reason, "InvalidSpec");
    });
  });

  describe("a DynamoScheduledBackup", () => {
    const backupOf = (name: string, phase: string, start: string) =>
      dynamoBackup({}, { name, creationTimestamp: start, labels: { "dynamo.ringkv.dev/scheduled-backup": "daily" } }, { phase, startTime: start });

    it("starts nothing before its first time due, then one backup named after the due minute", () => {
      const before = decideSchedule({ scheduled: scheduledBackup(), backups: [], nowMs: Date.parse("2026-11-30T01:59:00Z") });
      assert.equal(before.create, undefined);
      assert.equal(before.status.nextScheduleTime, "2026-11-30T02:00:00Z");
      assert.ok(before.requeueAfterMs <= 61_000);
      const due = decideSchedule({ scheduled: scheduledBackup(), backups: [], nowMs: NOW });
      assert.equal(due.create?.metadata.name, "daily-202611300200");
      assert.equal(due.create?.metadata.name, scheduledBackupName("daily", Date.parse("2026-11-30T02:00:00Z")));
      assert.deepEqual(due.create?.spec, scheduledBackup().spec.template);
      assert.equal(due.status.lastScheduleTime, "2026-11-30T02:00:00Z");
      assert.equal(due.status.nextScheduleTime, "2026-12-01T02:00:00Z");
    });

    it("runs one backup at a time: a run due while one is running is skipped", () => {
      const decision = decideSchedule({ scheduled: scheduledBackup(), backups: [backupOf("daily-202611290200", "Running", "2026-11-29T02:00:00Z")], nowMs: NOW });
      assert.equal(decision.create, undefined);
      assert.match(decision.status.message ?? "", /skipped/);
      assert.equal(decision.status.lastScheduleTime, "2026-11-30T02:00:00Z");
    });

    it("starts nothing when suspended", () => {
      assert.equal(decideSchedule({ scheduled: scheduledBackup({ suspend: true }), backups: [], nowMs: NOW }).create, undefined);
    });

    it("lets old backups go by count and age, never the newest complete one nor one running", () => {
      const backups = [
        backupOf("d1", "Completed", "2026-11-01T02:00:00Z"),
        backupOf("d2", "Completed", "2026-11-27T02:00:00Z"),
        backupOf("d3", "Failed", "2026-11-28T02:00:00Z"),
        backupOf("d4", "Completed", "2026-11-29T02:00:00Z"),
        backupOf("d5", "Running", "2026-11-30T02:00:00Z"),
      ];
      const byCount = decideSchedule({ scheduled: scheduledBackup({ retention: { keepLast: 2 } }), backups, nowMs: NOW });
      assert.deepEqual(byCount.delete, ["d1", "d3"]);
      const byAge = decideSchedule({ scheduled: scheduledBackup({ retention: { maxAge: "2d" } }), backups, nowMs: NOW });
      assert.deepEqual(byAge.delete, ["d1", "d2", "d3"]);
      const all = decideSchedule({ scheduled: scheduledBackup({ retention: { keepLast: 1, maxAge: "1m" } }), backups, nowMs: NOW });
      assert.ok(!all.delete.includes("d4") && !all.delete.includes("d5"));
    });

    it("reports a schedule it cannot read instead of acting", () => {
      const decision = decideSchedule({ scheduled: scheduledBackup({ schedule: "0 25 * * *" }), backups: [], nowMs: NOW });
      assert.match(decision.problem ?? "", /hour '25'/);
      assert.equal(decision.create, undefined);
    });
  });
});
