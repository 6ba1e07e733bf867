/**
 * The backups a location holds: each id with its state (complete, running, failed, or incomplete when only partition
 * files are left), read from its manifest or progress file. Also finds the backup a restore should use and deletes a
 * backup's objects, manifest first, so a backup half deleted can never pass for a complete one.
 */
import { BackupError } from "./errors.js";
import { manifestKey, manifestSchema, parseBackupFile, progressKey, progressSchema, type Manifest, type Progress } from "./format.js";
import { BACKUP_ID_PATTERN, checkBackupId } from "./location.js";
import { readText, type ObjectStore } from "./object-store.js";

export type BackupState = "complete" | "running" | "failed" | "incomplete";

export interface BackupEntry {
  id: string;
  state: BackupState;
  startedAt?: string;
  finishedAt?: string;
  /** For a running or failed backup, when its progress file was last written. */
  updatedAt?: string;
  partitionsDone?: number;
  partitionsTotal?: number;
  records?: number;
  bytes?: number;
  failure?: string;
  /** A manifest or progress file that could not be read, and why. */
  problem?: string;
}

export async function listBackups(store: ObjectStore): Promise<BackupEntry[]> {
  const ids = (await store.children("")).filter((id) => BACKUP_ID_PATTERN.test(id));
  const entries: BackupEntry[] = [];
  for (const id of ids) entries.push(await describeBackup(store, id));
  return entries.sort((a, b) => (a.startedAt ?? a.id).localeCompare(b.startedAt ?? b.id));
}

export async function describeBackup(store: ObjectStore, id: string): Promise<BackupEntry> {
  try {
    if ((await store.head(manifestKey(id))) !== undefined) return fromManifest(await readManifest(store, id));
    if ((await store.head(progressKey(id))) !== undefined) {
      return fromProgress(parseBackupFile(progressSchema, await readText(store, progressKey(id)), progressKey(id)));
    }
  } catch (err) {
    if (err instanceof BackupError && err.code === "invalid_manifest") return { id, state: "incomplete", problem: err.message };
    throw err;
  }
  return { id, state: "incomplete", problem: "neither a manifest nor a progress file" };
}

export async function readManifest(store: ObjectStore, id: string): Promise<Manifest> {
  return parseBackupFile(manifestSchema, await readText(store, manifestKey(id)), manifestKey(id));
}

/** The manifest of backup `id`, or of the newest complete backup when `id` is absent. */
export async function findManifest(store: ObjectStore, id: string | undefined): Promise<Manifest> {
  if (id !== undefined) {
    checkBackupId(id);
    if ((await store.head(manifestKey(id))) !== undefined) return readManifest(store, id);
    const entry = await describeBackup(store, id);
    if (entry.problem === "neither a manifest nor a progress file") throw new BackupError("not_found", `${store.description} holds no backup '${id}'`);
    throw new BackupError("not_complete", `backup '${id}' in ${store.description} is not complete (${entry.state}${entry.failure ? `: ${entry.failure}` : ""}); only a complete backup can be restored`);
  }
  const complete = (await listBackups(store)).filter((b) => b.state === "complete");
  const newest = complete[complete.length - 1];
  if (!newest) throw new BackupError("not_found", `${store.description} holds no complete backup`);
  return readManifest(store, newest.id);
}

/** Deletes every object of a backup: the manifest first, then the rest. */
export async function deleteBackup(store: ObjectStore, id: string): Promise<number> {
  checkBackupId(id);
  await store.delete([manifestKey(id)]);
  const keys = (await store.list(`${id}/`)).map((o) => o.key);
  await store.delete(keys);
  return keys.length + 1;
}

function fromManifest(manifest: Manifest): BackupEntry {
  return {
    id: manifest.id,
    state: "complete",
    startedAt: manifest.startedAt,
    finishedAt: manifest.finishedAt,
    partitionsDone: manifest.partitions.length,
    partitionsTotal: manifest.cluster.partitions,
    records: manifest.totals.records,
    bytes: manifest.totals.bytes,
  };
}

function fromProgress(progress: Progress): BackupEntry {
  let records = 0;
  let bytes = 0;
  for (const file of progress.done) {
    records += file.records;
    bytes += file.bytes;
  }
  return {
    id: progress.id,
    state: progress.state,
    startedAt: progress.startedAt,
    updatedAt: progress.updatedAt,
    partitionsDone: progress.done.length,
    partitionsTotal: progress.cluster.partitions,
    records,
    bytes,
    failure: progress.failure?.message,
  };
}
