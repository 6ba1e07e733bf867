/**
 * Where backups are kept: `file:///abs/dir` (a directory on a local or mounted file system) or `s3://bucket/prefix`
 * (S3 or an S3-compatible store). Parsing is pure, so the rules are tested without a store. Each backup lives under
 * `<location>/<id>/`, so one location holds many backups, and the ids are restricted to characters that mean the same
 * thing as a file name and as an object key.
 */
import { isAbsolute, normalize } from "node:path";
import { BackupError } from "./errors.js";

export type Location = { kind: "file"; dir: string } | { kind: "s3"; bucket: string; prefix: string };

/** S3 bucket names: 3 to 63 lower-case letters, digits, dots and dashes, starting and ending with a letter or digit. */
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A backup id: letters, digits, `.`, `_`, `-`; it names a directory and an object prefix. */
export const BACKUP_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function parseLocation(text: string): Location {
  if (text.startsWith("file://")) {
    const path = decodeURIComponent(text.slice("file://".length));
    if (!isAbsolute(path)) throw new BackupError("invalid_location", `'${text}': a file location is file:///absolute/directory`);
    return { kind: "file", dir: normalize(path).replace(/\/+$/, "") || "/" };
  }
  if (text.startsWith("s3://")) {
    const rest = text.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+|\/+$/g, "");
    if (!S3_BUCKET.test(bucket)) throw new BackupError("invalid_location", `'${text}': '${bucket}' is not an S3 bucket name`);
    if (prefix.split("/").some((part) => part === "." || part === "..")) {
      throw new BackupError("invalid_location", `'${text}': the prefix may not hold '.' or '..' segments`);
    }
    return { kind: "s3", bucket, prefix };
  }
  throw new BackupError("invalid_location", `'${text}' is not a backup location: use file:///absolute/directory or s3://bucket/prefix`);
}

export function formatLocation(location: Location): string {
  return location.kind === "file" ? `file://${location.dir}` : `s3://${location.bucket}${location.prefix ? `/${location.prefix}` : ""}`;
}

export function checkBackupId(id: string): string {
  if (!BACKUP_ID_PATTERN.test(id)) {
    throw new BackupError("invalid_location", `backup id '${id}' must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return id;
}

/**
 * A new backup's id: its start time to the second (so ids sort by age) and a random suffix (so two backups started in
 * the same second by different hands do not collide).
 */
export function newBackupId(startedAtMs: number, random: () => number = Math.random): string {
  const stamp = new Date(startedAtMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, "0");
  return `${stamp}-${suffix}`;
}
