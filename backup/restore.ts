/**
 * Restoring a backup into a running cluster: check that the cluster can take it, verify every file's size and
 * checksum before anything is written, then stream the files, route each record by the cluster's own ring (which may
 * have another size, or even another partition count, than the backed-up one) and write it to every replica of its
 * key with `merge-page`, the merge path of handoff, so versions arrive intact: siblings stay siblings, version
 * vectors and lww timestamps are kept, and a context read after the restore resolves them.
 *
 * A missing or corrupt file fails the restore by name before the first write. Pages in flight are bounded; a page a
 * replica refuses because the ring moved is routed again, and the restore fails, loudly, if a replica stays out of
 * reach. Merging is idempotent, so running a failed restore again (with `allowNonEmpty`) completes it.
 */
import { DynamoError } from "../node/errors/index.js";
import type { RawEntry } from "../node/protocol/index.js";
import { partitionOf, preferenceList } from "../node/ring/index.js";
import type { Ring } from "../node/ring/index.js";
import { findManifest } from "./catalog.js";
import type { ClusterAccess } from "./cluster.js";
import { describe } from "./cluster.js";
import { BackupError } from "./errors.js";
import type { Manifest, PartitionFile } from "./format.js";
import type { ObjectStore } from "./object-store.js";
import { readPartitionFile, verifyFile } from "./partition-file.js";

export const DEFAULT_RESTORE = {
  /** Records per merge-page request, and the bytes of records after which a page is sent sooner. */
  pageRecords: 256,
  pageBytesMax: 1024 * 1024,
  /** Pages being written at once (each to every replica of its partition). */
  pagesInFlight: 8,
  /** Files verified at once in the first pass. */
  verifyInFlight: 4,
  /** Tries of one page before the restore fails. */
  attempts: 6,
  retryDelayMs: 500,
  retryDelayMaxMs: 10_000,
};

export interface RestoreProgress {
  id: string;
  phase: "verifying" | "loading";
  partitionsDone: number;
  partitionsTotal: number;
  records: number;
  bytes: number;
}

export interface RestoreOptions {
  cluster: ClusterAccess;
  store: ObjectStore;
  /** The backup to restore; the newest complete one when absent. */
  id?: string;
  /** Merge into a cluster that already holds data (to finish an interrupted restore). */
  allowNonEmpty?: boolean;
  pagesInFlight?: number;
  onProgress?: (progress: RestoreProgress) => void;
  log?: (message: string) => void;
  signal?: AbortSignal;
}

export interface RestoreResult {
  manifest: Manifest;
  records: number;
  /** Pages of records written, each to every replica of its partition. */
  pagesWritten: number;
}

export async function runRestore(options: RestoreOptions): Promise<RestoreResult> {
  const { store, cluster } = options;
  const log = options.log ?? (() => undefined);
  const manifest = await findManifest(store, options.id);
  checkCompatible(manifest, cluster);
  const ring = await cluster.refreshRing();
  log(
    `restore ${manifest.id} (${manifest.totals.records} records taken ${manifest.startedAt} from ${manifest.cluster.members.length} members, ${manifest.cluster.partitions} partitions) into ${Object.keys(ring.members).length} members, ${ring.partitions} partitions`,
  );
  checkComplete(manifest);
  if (!options.allowNonEmpty) await checkEmpty(cluster, ring);

  await verifyAll(manifest, options);
  const loader = new Loader(options, manifest);
  await loader.loadAll();
  if (loader.records !== manifest.totals.records) {
    throw new BackupError("corrupt_object", `the backup's files held ${loader.records} records, but its manifest counts ${manifest.totals.records}`);
  }
  return { manifest, records: loader.records, pagesWritten: loader.pages };
}

/** Every bucket of the backup must exist in the cluster with the same reconciliation, and fit its record bound. */
function checkCompatible(manifest: Manifest, cluster: ClusterAccess): void {
  const problems: string[] = [];
  const target = new Map(cluster.config.buckets.map((b) => [b.name, b]));
  for (const bucket of manifest.buckets) {
    const mine = target.get(bucket.name);
    if (!mine) problems.push(`the cluster has no bucket '${bucket.name}' (n=${bucket.n}, ${bucket.reconciliation}); configure it before restoring`);
    else if (mine.reconciliation !== bucket.reconciliation) {
      problems.push(`bucket '${bucket.name}' is ${bucket.reconciliation} in the backup but ${mine.reconciliation} in the cluster, which would change its versions`);
    }
  }
  if (cluster.config.recordBytesMax < manifest.cluster.recordBytesMax) {
    problems.push(`the cluster's recordBytesMax (${cluster.config.recordBytesMax}) is below the backed-up cluster's (${manifest.cluster.recordBytesMax}), so some records might not fit`);
  }
  if (problems.length > 0) throw new BackupError("incompatible", `backup ${manifest.id} cannot be restored into this cluster: ${problems.join("; ")}`);
}

/** A manifest that names every partition once. */
function checkComplete(manifest: Manifest): void {
  const seen = new Set(manifest.partitions.map((f) => f.partition));
  if (seen.size !== manifest.partitions.length || seen.size !== manifest.cluster.partitions) {
    throw new BackupError("invalid_manifest", `backup ${manifest.id}'s manifest names ${seen.size} distinct partitions of ${manifest.cluster.partitions}`);
  }
}

/** Refuses a cluster that holds any record, tombstones included, in any partition on any member. */
async function checkEmpty(cluster: ClusterAccess, ring: Ring): Promise<void> {
  const work: { member: string; partition: number }[] = [];
  for (const member of Object.keys(ring.members)) for (let p = 0; p < ring.partitions; p++) work.push({ member, partition: p });
  let next = 0;
  let found: { member: string; partition: number } | undefined;
  const worker = async () => {
    while (!found && next < work.length) {
      const item = work[next++]!;
      let page;
      try {
        page = await cluster.scan(item.member, item.partition, undefined, 1);
      } catch (err) {
        throw new BackupError("cluster_unavailable", `could not check that ${item.member} is empty: ${describe(err)}`, { cause: err });
      }
      if (page.entries.length > 0) found = item;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  if (found) {
    throw new BackupError(
      "not_empty",
      `the cluster already holds data (partition ${found.partition} on ${found.member}); restore into an empty cluster, or pass --allow-non-empty to merge the backup into what is there (which removes nothing)`,
    );
  }
}

async function verifyAll(manifest: Manifest, options: RestoreOptions): Promise<void> {
  const files = [...manifest.partitions];
  let next = 0;
  let verified = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < files.length) {
      if (options.signal?.aborted) throw new BackupError("aborted", "the restore was stopped");
      const file = files[next++]!;
      await verifyFile(await options.store.get(file.object), file);
      verified += 1;
      bytes += file.bytes;
      options.onProgress?.({ id: manifest.id, phase: "verifying", partitionsDone: verified, partitionsTotal: files.length, records: 0, bytes });
    }
  };
  await Promise.all(Array.from({ length: Math.min(DEFAULT_RESTORE.verifyInFlight, files.length) }, worker));
}

/** Streams the files into the cluster: records batched per target partition, a bounded number of pages in flight. */
class Loader {
  records = 0;
  pages = 0;
  private bytes = 0;
  private readonly batches = new Map<number, { entries: RawEntry[]; bytes: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private readonly buckets: Map<string, { n: number }>;
  private readonly targetN: number;

  constructor(
    private readonly options: RestoreOptions,
    private readonly manifest: Manifest,
  ) {
    this.buckets = new Map(options.cluster.config.buckets.map((b) => [b.name, b]));
    this.targetN = Math.max(...options.cluster.config.buckets.map((b) => b.n));
  }

  async loadAll(): Promise<void> {
    const files = [...this.manifest.partitions].sort((a, b) => a.partition - b.partition);
    let done = 0;
    for (const file of files) {
      await this.loadFile(file);
      done += 1;
      this.bytes += file.bytes;
      this.options.onProgress?.({ id: this.manifest.id, phase: "loading", partitionsDone: done, partitionsTotal: files.length, records: this.records, bytes: this.bytes });
    }
    for (const partition of [...this.batches.keys()]) await this.send(partition);
    await Promise.all(this.inFlight);
    this.rethrow();
  }

  private async loadFile(file: PartitionFile): Promise<void> {
    const partitions = this.options.cluster.ring.partitions;
    let records = 0;
    for await (const entry of readPartitionFile(await this.options.store.get(file.object), file)) {
      this.rethrow();
      if (this.options.signal?.aborted) throw new BackupError("aborted", "the restore was stopped");
      records += 1;
      const target = partitionOf(entry.bucket, entry.key, partitions);
      const batch = this.batches.get(target) ?? { entries: [], bytes: 0 };
      batch.entries.push(entry);
      batch.bytes += entry.record.length + entry.key.length;
      this.batches.set(target, batch);
      if (batch.entries.length >= DEFAULT_RESTORE.pageRecords || batch.bytes >= DEFAULT_RESTORE.pageBytesMax) await this.send(target);
    }
    if (records !== file.records) {
      throw new BackupError("corrupt_object", `${file.object} holds ${records} records, but the manifest says ${file.records}`, { object: file.object });
    }
    this.records += records;
  }

  /** Sends a partition's batch, waiting first while the in-flight bound is reached. */
  private async send(partition: number): Promise<void> {
    const batch = this.batches.get(partition);
    this.batches.delete(partition);
    if (!batch || batch.entries.length === 0) return;
    while (this.inFlight.size >= (this.options.pagesInFlight ?? DEFAULT_RESTORE.pagesInFlight)) await Promise.race(this.inFlight);
    this.rethrow();
    const page = this.write(partition, batch.entries).then(
      () => {
        this.pages += 1;
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    const tracked = page.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  /** Writes a page to every replica of its partition under the current ring, routing again when the ring moved. */
  private async write(partition: number, entries: RawEntry[]): Promise<void> {
    let delayMs = DEFAULT_RESTORE.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      const ring = this.options.cluster.ring;
      const targets = replicaTargets(ring, partition, entries, this.buckets, this.targetN);
      const results = await Promise.allSettled([...targets].map(([member, page]) => this.options.cluster.mergePage(member, partition, page)));
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [{ member: [...targets.keys()][i]!, err: r.reason as unknown }] : []));
      if (failed.length === 0) return;
      const fatal = failed.find((f) => f.err instanceof DynamoError && (f.err.code === "unknown_bucket" || f.err.code === "invalid_request"));
      if (fatal) throw new BackupError("incompatible", `${fatal.member} refused records of partition ${partition}: ${describe(fatal.err)}`, { cause: fatal.err });
      const reasons = failed.map((f) => `${f.member}: ${describe(f.err)}`).join("; ");
      if (attempt >= DEFAULT_RESTORE.attempts) {
        throw new BackupError("cluster_unavailable", `could not write partition ${partition} to every replica after ${attempt} attempts: ${reasons}`);
      }
      this.options.log?.(`restore: partition ${partition}, attempt ${attempt} failed (${reasons}); routing again in ${delayMs} ms`);
      await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(delayMs * 2, DEFAULT_RESTORE.retryDelayMaxMs);
      await this.options.cluster.refreshRing().catch(() => undefined);
    }
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * Which members get which records of a page: for each record, its bucket's n replicas in the partition's preference
 * list, plus the member a pending transfer moves the partition to (it would miss a write made behind its stream's
 * cursor otherwise), exactly the members a client's write would go to.
 */
export function replicaTargets(ring: Ring, partition: number, entries: RawEntry[], buckets: Map<string, { n: number }>, targetN: number): Map<string, RawEntry[]> {
  const preference = preferenceList(ring, partition, targetN);
  const byBucket = new Map<string, string[]>();
  const out = new Map<string, RawEntry[]>();
  for (const entry of entries) {
    let members = byBucket.get(entry.bucket);
    if (!members) {
      const replicas = preference.slice(0, buckets.get(entry.bucket)?.n ?? targetN);
      const receivers = ring.pending.filter((t) => t.partition === partition && replicas.includes(t.from)).map((t) => t.to);
      members = [...new Set([...replicas, ...receivers])];
      byBucket.set(entry.bucket, members);
    }
    for (const member of members) {
      const list = out.get(member) ?? [];
      list.push(entry);
      out.set(member, list);
    }
  }
  return out;
}
