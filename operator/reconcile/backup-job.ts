/**
 * What a backup or restore Job's state means, decided purely from the Job and its pods as the API server reports
 * them. The one rule that matters: only a Job that succeeded (its pod exited 0, which `dynamo backup` does only once
 * the backup's manifest is written or every record of a verified backup is restored) counts as done. A crashed,
 * killed or deleted Job is a failure, with the reason its last pod gave when it gave one.
 */
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { BackupFailureReason } from "../api/index.js";
import { BACKUP_CONTAINER } from "../resources/index.js";

/** The line `dynamo backup --result-file` writes, as the kubelet keeps it in the container's termination message. */
export type JobResult =
  | {
      ok: true;
      action?: "backup" | "restore";
      id?: string;
      startedAt?: string;
      finishedAt?: string;
      partitions?: number;
      records?: number;
      bytes?: number;
      pruned?: string[];
      pruneError?: string;
    }
  | { ok: false; code?: string; message?: string; object?: string };

/** How far a running backup Job is, from the last `--progress-json` line its pod logged. */
export interface JobProgress {
  partitionsDone: number;
  partitionsTotal: number;
  records: number;
  bytes: number;
}

export type JobState =
  | { kind: "running"; startTime?: string; progress?: JobProgress }
  | { kind: "succeeded"; startTime?: string; completionTime?: string; result?: JobResult & { ok: true } }
  | { kind: "failed"; startTime?: string; completionTime?: string; reason: BackupFailureReason; message: string };

/** The result line in a termination message; undefined when it holds something else (a crash's last log lines). */
export function parseJobResult(message: string | undefined): JobResult | undefined {
  if (!message) return undefined;
  const line = message.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  if (!line) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value === "object" && value !== null && typeof (value as { ok?: unknown }).ok === "boolean") return value as JobResult;
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * The last progress line in the tail of a backup Job's log (`{"progress":{...}}`, one a second at most, among other
 * log lines); undefined when there is none or it does not hold whole, consistent counts. A line cut by the tail's
 * byte limit does not parse and is skipped for the one before it.
 */
export function parseJobProgress(log: string): JobProgress | undefined {
  const lines = log.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (!line.startsWith('{"progress"')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const p = (value as { progress?: Record<string, unknown> }).progress;
    if (typeof p !== "object" || p === null) continue;
    const count = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
    const [partitionsDone, partitionsTotal, records, bytes] = [count(p.partitionsDone), count(p.partitionsTotal), count(p.records), count(p.bytes)];
    if (partitionsDone === undefined || partitionsTotal === undefined || records === undefined || bytes === undefined) continue;
    if (partitionsTotal === 0 || partitionsDone > partitionsTotal) continue;
    return { partitionsDone, partitionsTotal, records, bytes };
  }
  return undefined;
}

/** The pod of a running Job whose log tells its progress: the newest one running (a retry replaces a failed one). */
export function progressPod(pods: readonly V1Pod[]): V1Pod | undefined {
  const running = pods.filter((p) => p.status?.phase === "Running" && !p.metadata?.deletionTimestamp);
  return running.sort((a, b) => (time(a.metadata?.creationTimestamp) ?? "").localeCompare(time(b.metadata?.creationTimestamp) ?? "")).at(-1);
}

/** `corrupt_object` → `CorruptObject`: a `dynamo backup` error code as a condition reason. */
export function reasonOfCode(code: string | undefined): BackupFailureReason {
  const known: Record<string, BackupFailureReason> = {
    invalid_location: "InvalidLocation",
    not_found: "NotFound",
    not_complete: "NotComplete",
    missing_object: "MissingObject",
    corrupt_object: "CorruptObject",
    invalid_manifest: "InvalidManifest",
    incompatible: "Incompatible",
    not_empty: "NotEmpty",
    insufficient_replicas: "InsufficientReplicas",
    cluster_unavailable: "ClusterUnavailable",
    store_failed: "StoreFailed",
    aborted: "Aborted",
    usage: "InvalidSpec",
  };
  return (code && known[code]) || "JobFailed";
}

const time = (value: unknown): string | undefined =>
  value === undefined || value === null ? undefined : (value instanceof Date ? value : new Date(String(value))).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The termination message of the backup container of the pod that ended last. */
function lastTermination(pods: readonly V1Pod[]): { message?: string; exitCode?: number; reason?: string } | undefined {
  const ended = pods
    .map((pod) => {
      const status = pod.status?.containerStatuses?.find((c) => c.name === BACKUP_CONTAINER);
      const terminated = status?.state?.terminated ?? status?.lastState?.terminated;
      return terminated ? { at: time(terminated.finishedAt) ?? "", terminated } : undefined;
    })
    .filter((e) => e !== undefined)
    .sort((a, b) => a.at.localeCompare(b.at));
  const last = ended[ended.length - 1]?.terminated;
  return last ? { message: last.message, exitCode: last.exitCode, reason: last.reason } : undefined;
}

/** The state of a Job from its conditions and its pods' termination messages. */
export function jobState(job: V1Job, pods: readonly V1Pod[]): JobState {
  const conditions = job.status?.conditions ?? [];
  const startTime = time(job.status?.startTime);
  const isTrue = (type: string) => conditions.find((c) => c.type === type && c.status === "True");
  const complete = isTrue("Complete");
  const failed = isTrue("Failed");
  const termination = lastTermination(pods);
  const result = parseJobResult(termination?.message);
  if (complete && !failed) {
    return { kind: "succeeded", startTime, completionTime: time(job.status?.completionTime ?? complete.lastTransitionTime), ...(result?.ok ? { result } : {}) };
  }
  if (failed) {
    const completionTime = time(failed.lastTransitionTime);
    if (result && !result.ok) {
      return { kind: "failed", startTime, completionTime, reason: reasonOfCode(result.code), message: result.message ?? `the Job failed (${result.code ?? "no code"})` };
    }
    const last = termination
      ? `; its last pod ended with ${termination.reason ?? "exit"} ${termination.exitCode ?? "?"}${termination.message ? `: ${termination.message.trim().split("\n").slice(-3).join(" | ")}` : ""}`
      : "";
    return { kind: "failed", startTime, completionTime, reason: "JobFailed", message: `${failed.reason ?? "Failed"}: ${failed.message ?? "the Job failed"}${last}`.slice(0, 1024) };
  }
  return { kind: "running", startTime };
}
