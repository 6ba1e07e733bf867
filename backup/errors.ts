/**
 * Why a backup or a restore failed, as a stable code (the CLI's exit status and the operator's condition reason come
 * from it) and a message that names what failed: the object, the partition, the bucket.
 */
export type BackupErrorCode =
  /** A LOCATION that is neither `file:///abs/dir` nor `s3://bucket/prefix`, or an id with characters it may not hold. */
  | "invalid_location"
  /** No backup by that id, or no complete backup at all. */
  | "not_found"
  /** The backup exists but is not complete (still running, interrupted or failed), so it cannot be restored. */
  | "not_complete"
  /** A file the manifest names is not in the store. */
  | "missing_object"
  /** A file whose size or checksum differs from the manifest's, or whose contents do not decode. */
  | "corrupt_object"
  /** A manifest or progress file that does not fit its schema, or of a format this version cannot read. */
  | "invalid_manifest"
  /** The backup and the target cluster disagree (a bucket missing or reconciled differently, smaller record bound). */
  | "incompatible"
  /** A restore into a cluster that already holds data, without being told to merge into it. */
  | "not_empty"
  /** Too few replicas of a partition answered to promise every acknowledged write is in the backup. */
  | "insufficient_replicas"
  /** The cluster could not be read or written (unreachable nodes, refused pages) within the retries allowed. */
  | "cluster_unavailable"
  /** The object store refused or failed a request. */
  | "store_failed"
  /** Stopped on request (a signal, the operator giving up the run). */
  | "aborted";

export class BackupError extends Error {
  override readonly name = "BackupError";

  constructor(
    readonly code: BackupErrorCode,
    message: string,
    options?: { cause?: unknown; object?: string },
  ) {
    super(message, options);
    this.object = options?.object;
  }

  /** The store key of the file the error is about, when it is about one. */
  readonly object: string | undefined;
}

/** The error's code, or `undefined` for anything that is not a BackupError. */
export function backupErrorCode(err: unknown): BackupErrorCode | undefined {
  return err instanceof BackupError ? err.code : undefined;
}
