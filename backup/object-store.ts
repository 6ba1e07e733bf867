/**
 * The object store a location stands for, reduced to what backups need: write an object whole (or not at all), read
 * one as a stream, look at its size, list keys, delete. Keys are relative to the location and use `/` as separator.
 * Two implementations: a directory (file-store.ts) and S3 or an S3-compatible store (s3-store.ts).
 */
import type { Readable } from "node:stream";

export interface StoredObject {
  key: string;
  bytes: number;
}

export interface ObjectStore {
  /** The location, as a person would write it (`s3://bucket/prefix`). */
  readonly description: string;
  /**
   * Writes `key` from a buffer or a stream; the object appears only once all of it is written (a failed or
   * interrupted write leaves no object, or the previous one). Resolves with the bytes written.
   */
  put(key: string, body: Buffer | Readable, contentType: string): Promise<number>;
  /** Reads `key`; fails with a BackupError `missing_object` when there is no such object. */
  get(key: string): Promise<Readable>;
  /** The object's size, or undefined when there is none. */
  head(key: string): Promise<number | undefined>;
  /** Every object under `prefix` (a "directory", ending in `/`, or "" for everything), in key order. */
  list(prefix: string): Promise<StoredObject[]>;
  /** The names one level below `prefix` that hold objects (the backup ids, for prefix ""). */
  children(prefix: string): Promise<string[]>;
  /** Deletes the objects; keys that do not exist are ignored. */
  delete(keys: string[]): Promise<void>;
  close(): void;
}

/** Reads a whole (small) object as text, such as a manifest. */
export async function readText(store: ObjectStore, key: string, bytesMax = 64 * 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of await store.get(key)) {
    bytes += (chunk as Buffer).length;
    if (bytes > bytesMax) throw new Error(`${key} is larger than ${bytesMax} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
