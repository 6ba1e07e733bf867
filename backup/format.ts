/**
 * What a backup stores, and the zod schemas that every reader checks it against. A backup `ID` under a location is:
 *
 *     ID/partitions/00042.dkv.gz   one file per partition: every record of every bucket in it, merged from its replicas
 *     ID/progress.json             while it runs (and if it fails): the partitions done so far, for resuming
 *     ID/manifest.json             written last, only once every partition file is uploaded and verified
 *
 * A backup is complete exactly when its manifest exists: the manifest is one object written in one request (or one
 * rename), so a reader sees all of it or none, and a partial upload can never pass for a complete backup. The
 * manifest names every partition file with its size, SHA-256 and record count, so a restore can tell a missing or
 * corrupt file before it writes anything.
 */
import { z } from "zod";
import { RECORD_FORMAT_VERSION } from "../node/versioning/index.js";
import { BackupError } from "./errors.js";
import { BACKUP_ID_PATTERN } from "./location.js";

export const BACKUP_FORMAT = "dynamo-backup";
/** Version of this layout and of the partition file format (see partition-file.ts); readers refuse newer ones. */
export const BACKUP_FORMAT_VERSION = 1;

export const MANIFEST_NAME = "manifest.json";
export const PROGRESS_NAME = "progress.json";

export function manifestKey(id: string): string {
  return `${id}/${MANIFEST_NAME}`;
}

export function progressKey(id: string): string {
  return `${id}/${PROGRESS_NAME}`;
}

export function partitionKey(id: string, partition: number): string {
  return `${id}/partitions/${String(partition).padStart(5, "0")}.dkv.gz`;
}

const bucketSchema = z.object({
  name: z.string(),
  n: z.number().int().min(1),
  r: z.number().int().min(1),
  w: z.number().int().min(1),
  reconciliation: z.enum(["siblings", "lww"]),
});
export type BackupBucket = z.infer<typeof bucketSchema>;

const isoTime = z.string().refine((t) => !Number.isNaN(Date.parse(t)), "not an ISO 8601 time");

/** One partition's file, as uploaded and verified. */
export const partitionFileSchema = z.object({
  partition: z.number().int().min(0).max(0xffff),
  /** The file's key under the location (`ID/partitions/00042.dkv.gz`). */
  object: z.string(),
  /** Size and SHA-256 (hex) of the file as stored, compressed. */
  bytes: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Keys in the file, and how many of them are deletes (every sibling a tombstone). */
  records: z.number().int().min(0),
  tombstones: z.number().int().min(0),
  /** Bytes of the encoded records before compression. */
  rawBytes: z.number().int().min(0),
  /** The members whose copies were read in full and merged (each a replica allowed to vote for the partition). */
  replicasRead: z.array(z.string()),
  /** Members that held some of the partition's records without being among its voting replicas (stand-ins, old owners). */
  othersRead: z.array(z.string()),
  /** The ring epoch the partition was read under. */
  ringEpoch: z.number().int().min(0),
});
export type PartitionFile = z.infer<typeof partitionFileSchema>;

/** What the cluster looked like when the backup started. */
const clusterSchema = z.object({
  ringEpoch: z.number().int().min(0),
  partitions: z.number().int().min(1).max(65536),
  members: z.array(z.string()),
  tombstoneGraceMs: z.number().int().min(0),
  recordBytesMax: z.number().int().min(1),
});
export type BackupCluster = z.infer<typeof clusterSchema>;

const header = {
  format: z.literal(BACKUP_FORMAT),
  formatVersion: z.number().int().min(1),
  id: z.string().regex(BACKUP_ID_PATTERN),
  /** Every write acknowledged before this time is in the backup (see docs/user-guide.md for the exact promise). */
  startedAt: isoTime,
  cluster: clusterSchema,
  buckets: z.array(bucketSchema),
  recordFormatVersion: z.number().int().min(1),
  compression: z.literal("gzip"),
};

export const manifestSchema = z.object({
  ...header,
  finishedAt: isoTime,
  /** The ring epoch when the last partition was read. */
  ringEpochAtEnd: z.number().int().min(0),
  totals: z.object({
    records: z.number().int().min(0),
    tombstones: z.number().int().min(0),
    bytes: z.number().int().min(0),
    rawBytes: z.number().int().min(0),
  }),
  partitions: z.array(partitionFileSchema),
  /** Things the backup could not promise, said plainly (a member unreachable, so its stand-in writes may be missing). */
  warnings: z.array(z.string()),
});
export type Manifest = z.infer<typeof manifestSchema>;

export const progressSchema = z.object({
  ...header,
  state: z.enum(["running", "failed"]),
  updatedAt: isoTime,
  failure: z.object({ code: z.string(), message: z.string() }).optional(),
  done: z.array(partitionFileSchema),
  warnings: z.array(z.string()),
});
export type Progress = z.infer<typeof progressSchema>;

/** Parses and checks a manifest or progress file; a newer format is refused by name rather than misread. */
export function parseBackupFile<S extends typeof manifestSchema | typeof progressSchema>(schema: S, text: string, object: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BackupError("invalid_manifest", `${object} is not valid JSON`, { object });
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof version === "number" && version > BACKUP_FORMAT_VERSION) {
    throw new BackupError("invalid_manifest", `${object} has format version ${version}; this dynamo reads up to ${BACKUP_FORMAT_VERSION}: use a newer dynamo`, { object });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new BackupError("invalid_manifest", `${object} does not fit the backup format: ${problems}`, { object });
  }
  const data = parsed.data as z.output<S>;
  if (data.recordFormatVersion > RECORD_FORMAT_VERSION) {
    throw new BackupError("invalid_manifest", `${object} holds records of format ${data.recordFormatVersion}; this dynamo reads up to ${RECORD_FORMAT_VERSION}`, { object });
  }
  return data;
}

export function manifestOf(progress: Progress, finishedAtMs: number, ringEpochAtEnd: number): Manifest {
  const partitions = [...progress.done].sort((a, b) => a.partition - b.partition);
  const totals = { records: 0, tombstones: 0, bytes: 0, rawBytes: 0 };
  for (const file of partitions) {
    totals.records += file.records;
    totals.tombstones += file.tombstones;
    totals.bytes += file.bytes;
    totals.rawBytes += file.rawBytes;
  }
  const { state: _state, updatedAt: _updatedAt, failure: _failure, done: _done, ...rest } = progress;
  return { ...rest, finishedAt: new Date(finishedAtMs).toISOString(), ringEpochAtEnd, totals, partitions };
}
