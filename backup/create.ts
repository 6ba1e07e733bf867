/**
 * Taking a backup: every partition of every bucket, each read from all of its replicas at once and merged
 * (replica-merge.ts), written as one compressed file per partition, and a manifest written last.
 *
 * What it promises. Every partition is read after the backup's start time from at least n - w + 1 of its voting
 * replicas for every bucket (n and w as configured), and any read set of that size meets every write quorum, so each
 * write acknowledged before the start is in the backup, or a later version that replaced it is. Every other member is
 * read too, so writes kept by stand-ins (hinted handoff) or by members a partition is moving from or to are included
 * when those members answer. A partition read while the ring changed is read again, because a member may drop a
 * partition it no longer replicates once a change is finalized.
 *
 * How it fails. A partition that cannot be read well enough is retried a few times, then the backup is marked failed
 * in its progress file and the error names the partition. An interrupted backup (a killed process, a lost node) keeps
 * its progress file; run again with the same id, it keeps the partition files already uploaded and verified and reads
 * the rest. The manifest, written only when every partition file is in place, is what makes a backup complete.
 */
import { preferenceList } from "../node/ring/index.js";
import type { Ring } from "../node/ring/index.js";
import { encodeRecord, isTombstoneOnly, RECORD_FORMAT_VERSION } from "../node/versioning/index.js";
import type { ClusterAccess } from "./cluster.js";
import { describe } from "./cluster.js";
import { BackupError } from "./errors.js";
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  manifestKey,
  manifestOf,
  manifestSchema,
  parseBackupFile,
  partitionKey,
  progressKey,
  progressSchema,
  type BackupBucket,
  type Manifest,
  type PartitionFile,
  type Progress,
} from "./format.js";
import { checkBackupId, newBackupId } from "./location.js";
import { readText, type ObjectStore } from "./object-store.js";
import { PartitionFileWriter } from "./partition-file.js";
import { PageBudget, type RateLimits } from "./rate.js";
import { mergeReplicas, type ReplicaOutcome, type ReplicaScan } from "./replica-merge.js";

export const DEFAULT_BACKUP = {
  /** Meant to keep client p99 within 1.5x of its level without a backup; see docs/backup.md#measured-cost for what was measured. */
  bytesPerSecond: 8 * 1024 * 1024,
  recordsPerSecond: 20_000,
  /** Records per scan page asked of a replica. */
  pageRecords: 256,
  /** Partitions read at once. */
  partitionsInFlight: 2,
  /** Reads of one partition before the backup fails. */
  attempts: 5,
  retryDelayMs: 1000,
  retryDelayMaxMs: 15_000,
  /** How often the progress file is rewritten while partitions are being read (it also serves as a heartbeat). */
  heartbeatMs: 15_000,
  /** The least time between two rewrites of the progress file as partitions finish. */
  progressEveryMs: 3_000,
  /** A running backup whose progress file is older than this is taken to be dead, and may be taken over. */
  staleAfterMs: 60_000,
  /** Warnings kept in the manifest at most. */
  warningsMax: 50,
};

export interface BackupProgress {
  id: string;
  partitionsDone: number;
  partitionsTotal: number;
  records: number;
  bytes: number;
  startedAt: string;
}

export interface BackupOptions {
  cluster: ClusterAccess;
  store: ObjectStore;
  /** Run (or resume, or find complete) the backup of this id; a new id when absent. */
  id?: string;
  /** Takes over a backup whose progress file says it is running, however recently it was updated. */
  takeOver?: boolean;
  rate?: Partial<RateLimits>;
  pageRecords?: number;
  partitionsInFlight?: number;
  attempts?: number;
  onProgress?: (progress: BackupProgress) => void;
  log?: (message: string) => void;
  signal?: AbortSignal;
  now?: () => number;
}

export interface BackupResult {
  manifest: Manifest;
  /** Partitions kept from an earlier, interrupted run. */
  resumedPartitions: number;
  /** The backup was already complete; nothing was read. */
  alreadyComplete: boolean;
}

export async function runBackup(options: BackupOptions): Promise<BackupResult> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => undefined);
  const id = options.id !== undefined ? checkBackupId(options.id) : newBackupId(now());
  const { store, cluster } = options;

  if ((await store.head(manifestKey(id))) !== undefined) {
    const manifest = parseBackupFile(manifestSchema, await readText(store, manifestKey(id)), manifestKey(id));
    return { manifest, resumedPartitions: 0, alreadyComplete: true };
  }
  let progress = await resumable(store, id, cluster, options.takeOver ?? false, now(), log);
  const resumedPartitions = progress?.done.length ?? 0;
  if (!progress) {
    const ring = await cluster.refreshRing();
    progress = {
      format: BACKUP_FORMAT,
      formatVersion: BACKUP_FORMAT_VERSION,
      id,
      startedAt: new Date(now()).toISOString(),
      cluster: {
        ringEpoch: ring.epoch,
        partitions: ring.partitions,
        members: Object.keys(ring.members).sort(),
        tombstoneGraceMs: cluster.config.tombstoneGraceMs,
        recordBytesMax: cluster.config.recordBytesMax,
      },
      buckets: cluster.config.buckets,
      recordFormatVersion: RECORD_FORMAT_VERSION,
      compression: "gzip",
      state: "running",
      updatedAt: new Date(now()).toISOString(),
      done: [],
      warnings: [],
    };
    log(`backup ${id}: ${ring.partitions} partitions of ${progress.buckets.length} buckets from ${Object.keys(ring.members).length} members, ring epoch ${ring.epoch}`);
  } else {
    log(`backup ${id}: resuming, ${progress.done.length} of ${progress.cluster.partitions} partitions already uploaded and verified`);
  }

  const run = new BackupRun(options, progress, now, log);
  return { manifest: await run.run(), resumedPartitions, alreadyComplete: false };
}

/**
 * The progress of an earlier run of `id` that this run may continue, with the partition files that are still in
 * place; undefined when there is none. A run that still looks alive (its progress file updated recently) is not
 * taken over unless asked.
 */
async function resumable(store: ObjectStore, id: string, cluster: ClusterAccess, takeOver: boolean, nowMs: number, log: (m: string) => void): Promise<Progress | undefined> {
  if ((await store.head(progressKey(id))) === undefined) return undefined;
  const progress = parseBackupFile(progressSchema, await readText(store, progressKey(id)), progressKey(id));
  const ageMs = nowMs - Date.parse(progress.updatedAt);
  if (progress.state === "running" && ageMs < DEFAULT_BACKUP.staleAfterMs && !takeOver) {
    throw new BackupError(
      "not_complete",
      `backup ${id} is being taken right now (its progress was updated ${Math.round(ageMs / 1000)} s ago); if the process taking it is gone, wait a minute and run again`,
    );
  }
  const ring = await cluster.refreshRing();
  if (ring.partitions !== progress.cluster.partitions) {
    throw new BackupError("incompatible", `backup ${id} was started on a cluster of ${progress.cluster.partitions} partitions; this one has ${ring.partitions}`);
  }
  if (!sameBuckets(progress.buckets, cluster.config.buckets)) {
    throw new BackupError("incompatible", `backup ${id} was started with other buckets (${describeBuckets(progress.buckets)}) than the cluster now has (${describeBuckets(cluster.config.buckets)})`);
  }
  const kept: PartitionFile[] = [];
  for (const file of progress.done) {
    const bytes = await store.head(file.object);
    if (bytes === file.bytes) kept.push(file);
    else log(`backup ${id}: partition ${file.partition} is read again: its file is ${bytes === undefined ? "missing" : `${bytes} bytes, not ${file.bytes}`}`);
  }
  return { ...progress, state: "running", failure: undefined, done: kept };
}

class BackupRun {
  private readonly budget: PageBudget;
  private readonly targetN: number;
  private readonly abort = new AbortController();
  private readonly unreachable = new Map<string, number>();
  private readonly skippedBuckets = new Set<string>();
  private persisting: Promise<void> = Promise.resolve();
  private persistedAt = 0;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: BackupOptions,
    private progress: Progress,
    private readonly now: () => number,
    private readonly log: (message: string) => void,
  ) {
    this.budget = new PageBudget({
      bytesPerSecond: options.rate?.bytesPerSecond ?? DEFAULT_BACKUP.bytesPerSecond,
      recordsPerSecond: options.rate?.recordsPerSecond ?? DEFAULT_BACKUP.recordsPerSecond,
    });
    this.targetN = Math.max(...progress.buckets.map((b) => b.n));
    options.signal?.addEventListener("abort", () => this.abort.abort(), { once: true });
    if (options.signal?.aborted) this.abort.abort();
  }

  async run(): Promise<Manifest> {
    const { store } = this.options;
    await this.persist();
    this.heartbeat = setInterval(() => void this.persist().catch(() => undefined), DEFAULT_BACKUP.heartbeatMs);
    this.heartbeat.unref();
    try {
      const done = new Set(this.progress.done.map((f) => f.partition));
      const pending = Array.from({ length: this.progress.cluster.partitions }, (_, p) => p).filter((p) => !done.has(p));
      this.report();
      await this.readAll(pending);
    } catch (err) {
      clearInterval(this.heartbeat);
      const failure = err instanceof BackupError ? err : new BackupError("cluster_unavailable", describe(err), { cause: err });
      // A stopped run is recorded as failed too, so it can be resumed at once (a "running" one looks alive for a minute).
      this.progress = { ...this.progress, state: "failed", failure: { code: failure.code, message: failure.message } };
      await this.persist().catch((e: Error) => this.log(`backup ${this.progress.id}: could not record the failure: ${e.message}`));
      throw failure;
    }
    clearInterval(this.heartbeat);
    await this.persisting.catch(() => undefined);
    const endRing = await this.options.cluster.refreshRing().catch(() => this.options.cluster.ring);
    this.progress = { ...this.progress, warnings: this.warnings() };
    const manifest = manifestOf(this.progress, this.now(), endRing.epoch);
    // The manifest goes last: from this moment on the backup is complete, and not a moment before.
    await store.put(manifestKey(manifest.id), Buffer.from(JSON.stringify(manifest, null, 2) + "\n"), "application/json");
    await store.delete([progressKey(manifest.id)]).catch(() => undefined);
    return manifest;
  }

  private async readAll(pending: number[]): Promise<void> {
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (next < pending.length && failure === undefined) {
        if (this.abort.signal.aborted) throw new BackupError("aborted", `backup ${this.progress.id} was stopped; run it again with --id ${this.progress.id} to resume`);
        const partition = pending[next++]!;
        try {
          const file = await this.readWithRetries(partition);
          this.progress = { ...this.progress, done: [...this.progress.done, file] };
          this.report();
          // The progress file grows with every partition, so it is rewritten at most every few seconds, not per
          // partition: a partition done but not yet recorded is only read again if the run is interrupted.
          if (this.now() - this.persistedAt >= DEFAULT_BACKUP.progressEveryMs) void this.persist().catch(() => undefined);
        } catch (err) {
          failure ??= err;
          this.abort.abort();
        }
      }
    };
    const workers = Array.from({ length: Math.min(this.options.partitionsInFlight ?? DEFAULT_BACKUP.partitionsInFlight, pending.length) }, worker);
    const results = await Promise.allSettled(workers);
    if (failure !== undefined) throw failure;
    for (const result of results) if (result.status === "rejected") throw result.reason;
  }

  private async readWithRetries(partition: number): Promise<PartitionFile> {
    const attempts = this.options.attempts ?? DEFAULT_BACKUP.attempts;
    let delayMs = DEFAULT_BACKUP.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const ring = attempt === 1 ? this.options.cluster.ring : await this.options.cluster.refreshRing();
      try {
        return await this.readPartition(partition, ring);
      } catch (err) {
        if (this.abort.signal.aborted) throw new BackupError("aborted", `backup ${this.progress.id} was stopped while reading partition ${partition}`);
        if (attempt >= attempts) {
          const code = err instanceof BackupError ? err.code : "cluster_unavailable";
          throw new BackupError(code, `partition ${partition} could not be backed up after ${attempts} attempts: ${describe(err)}`, { cause: err });
        }
        this.log(`backup ${this.progress.id}: partition ${partition}, attempt ${attempt} of ${attempts} failed (${describe(err)}); trying again in ${delayMs} ms`);
        await sleep(delayMs, this.abort.signal);
        delayMs = Math.min(delayMs * 2, DEFAULT_BACKUP.retryDelayMaxMs);
      }
    }
  }

  /** Reads one partition from every member, merges, uploads the file, and checks enough replicas were read. */
  private async readPartition(partition: number, ring: Ring): Promise<PartitionFile> {
    const { cluster, store } = this.options;
    const pageRecords = this.options.pageRecords ?? DEFAULT_BACKUP.pageRecords;
    const scans: ReplicaScan[] = Object.keys(ring.members)
      .sort()
      .map((member) => ({
        id: member,
        page: async (after) => {
          if (this.abort.signal.aborted) throw new BackupError("aborted", "stopped");
          const page = await cluster.scan(member, partition, after, pageRecords);
          await this.budget.spend(page.bodyBytes, page.entries.length);
          return page;
        },
      }));
    const object = partitionKey(this.progress.id, partition);
    const writer = new PartitionFileWriter(partition);
    const upload = store.put(object, writer.stream, "application/gzip");
    upload.catch(() => undefined);
    const outcomes: ReplicaOutcome[] = [];
    const modes = new Map(this.progress.buckets.map((b) => [b.name, b.reconciliation]));
    let tombstones = 0;
    let written;
    try {
      for await (const merged of mergeReplicas(scans, (bucket) => modes.get(bucket), outcomes, (bucket) => this.skippedBuckets.add(bucket))) {
        if (isTombstoneOnly(merged.record)) tombstones += 1;
        await writer.write({ bucket: merged.bucket, key: merged.key, record: encodeRecord(merged.record) });
      }
      written = await writer.end();
    } catch (err) {
      writer.destroy(err as Error);
      await upload.catch(() => undefined);
      throw err;
    }
    await upload;
    const stored = await store.head(object);
    if (stored !== written.bytes) {
      throw new BackupError("store_failed", `${object} was uploaded as ${written.bytes} bytes but the store holds ${stored ?? "nothing"}`, { object });
    }
    const voting = this.checkReplicas(partition, ring, outcomes);
    return {
      partition,
      object,
      bytes: written.bytes,
      sha256: written.sha256,
      records: written.records,
      tombstones,
      rawBytes: written.rawBytes,
      replicasRead: voting,
      othersRead: outcomes.filter((o) => o.records > 0 && !voting.includes(o.id)).map((o) => o.id),
      ringEpoch: ring.epoch,
    };
  }

  /**
   * The replicas whose full copy was merged; throws when, for some bucket, fewer than n - w + 1 of its replicas were,
   * or when a member read under another ring epoch than the one the partition was routed by.
   */
  private checkReplicas(partition: number, ring: Ring, outcomes: ReplicaOutcome[]): string[] {
    const moved = outcomes.find((o) => [...o.epochs].some((e) => e !== ring.epoch));
    if (moved) {
      throw new BackupError("cluster_unavailable", `the ring changed while partition ${partition} was read (epoch ${ring.epoch}, ${moved.id} has ${[...moved.epochs].join(", ")})`);
    }
    for (const o of outcomes) if (o.error) this.unreachable.set(o.id, (this.unreachable.get(o.id) ?? 0) + 1);
    const full = new Set(outcomes.filter((o) => o.complete && o.canVote && !o.error).map((o) => o.id));
    const preference = preferenceList(ring, partition, this.targetN);
    for (const bucket of this.progress.buckets) {
      const replicas = preference.slice(0, bucket.n);
      const need = Math.max(1, replicas.length - bucket.w + 1);
      const read = replicas.filter((id) => full.has(id));
      if (read.length < need) {
        const missing = replicas.filter((id) => !full.has(id)).map((id) => describeOutcome(outcomes.find((o) => o.id === id), id));
        throw new BackupError(
          "insufficient_replicas",
          `partition ${partition}: read ${read.length} of the ${replicas.length} replicas of bucket '${bucket.name}' in full, needs ${need} (n=${bucket.n}, w=${bucket.w}): ${missing.join("; ")}`,
        );
      }
    }
    return preference.filter((id) => full.has(id));
  }

  private warnings(): string[] {
    const warnings = [...this.progress.warnings];
    for (const [member, partitions] of this.unreachable) {
      warnings.push(
        `${member} could not be read for ${partitions} partition reads: writes acknowledged only by it as a stand-in for a replica that was down (hinted handoff) may be missing`,
      );
    }
    for (const bucket of this.skippedBuckets) warnings.push(`records of bucket '${bucket}', which the cluster no longer configures, were left out`);
    return [...new Set(warnings)].slice(0, DEFAULT_BACKUP.warningsMax);
  }

  private report(): void {
    let records = 0;
    let bytes = 0;
    for (const file of this.progress.done) {
      records += file.records;
      bytes += file.bytes;
    }
    this.options.onProgress?.({
      id: this.progress.id,
      partitionsDone: this.progress.done.length,
      partitionsTotal: this.progress.cluster.partitions,
      records,
      bytes,
      startedAt: this.progress.startedAt,
    });
  }

  /** Writes the progress file; writes are serialized so an older one never lands after a newer one. */
  private persist(): Promise<void> {
    this.persistedAt = this.now();
    const write = async () => {
      const progress: Progress = { ...this.progress, updatedAt: new Date(this.now()).toISOString(), warnings: this.warnings() };
      await this.options.store.put(progressKey(progress.id), Buffer.from(JSON.stringify(progress) + "\n"), "application/json");
    };
    this.persisting = this.persisting.catch(() => undefined).then(write);
    return this.persisting;
  }
}

function describeOutcome(outcome: ReplicaOutcome | undefined, id: string): string {
  if (!outcome) return `${id} was not read`;
  if (outcome.error) return `${id} failed: ${outcome.error.message}`;
  if (!outcome.canVote) return `${id} is rebuilding the partition`;
  return `${id} did not finish`;
}

function sameBuckets(a: BackupBucket[], b: BackupBucket[]): boolean {
  return describeBuckets(a) === describeBuckets(b);
}

function describeBuckets(buckets: BackupBucket[]): string {
  return [...buckets]
    .sort((x, y) => (x.name < y.name ? -1 : 1))
    .map((b) => `${b.name} n=${b.n} r=${b.r} w=${b.w} ${b.reconciliation}`)
    .join(", ");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
