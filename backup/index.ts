/**
 * Backups and restores of a whole cluster to object storage (a directory or S3), shared by the `dynamo backup`
 * command and the operator's DynamoBackup, DynamoScheduledBackup and bootstrap-from-backup. See create.ts for what a
 * backup promises, restore.ts for how it comes back, and format.ts for what is stored.
 */
export { ClusterAccess } from "./cluster.js";
export type { ClusterConnection } from "./cluster.js";
export { BackupError, backupErrorCode } from "./errors.js";
export type { BackupErrorCode } from "./errors.js";
export { BACKUP_FORMAT_VERSION, manifestKey, partitionKey, progressKey } from "./format.js";
export type { Manifest, PartitionFile, Progress } from "./format.js";
export { BACKUP_ID_PATTERN, checkBackupId, formatLocation, newBackupId, parseLocation } from "./location.js";
export type { Location } from "./location.js";
export type { ObjectStore, StoredObject } from "./object-store.js";
export { openStore } from "./stores.js";
export type { S3Access } from "./stores.js";
export type { S3Credentials } from "./s3-store.js";
export { DEFAULT_BACKUP, runBackup } from "./create.js";
export type { BackupOptions, BackupProgress, BackupResult } from "./create.js";
export { DEFAULT_RESTORE, replicaTargets, runRestore } from "./restore.js";
export type { RestoreOptions, RestoreProgress, RestoreResult } from "./restore.js";
export { deleteBackup, describeBackup, findManifest, listBackups, readManifest } from "./catalog.js";
export type { BackupEntry, BackupState } from "./catalog.js";
export { retentionVictims } from "./retention.js";
export type { RetentionPolicy, RetentionCandidate } from "./retention.js";
