/**
 * One partition's file in a backup: gzip of a 12-byte header (`DYNBAK`, u16 format version, u32 partition) followed
 * by entries in the peer protocol's entry encoding (u16 bucket length, bucket, u16 key length, key, u32 record
 * length, record), in key order, each record in the store's own record encoding (node/versioning/codec.ts), which
 * carries its version vector, its siblings with their dots and tombstones, and their timestamps. Writing and reading
 * both stream, so a partition of any size takes bounded memory; the SHA-256 and size of the compressed bytes are
 * taken on the way out and checked on the way in.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { Transform, type Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { BUCKET_NAME_PATTERN } from "../node/config/index.js";
import { encodeEntries, KEY_BYTES_MAX, RECORD_BYTES_MAX_LIMIT, type RawEntry } from "../node/protocol/index.js";
import { BackupError } from "./errors.js";
import { BACKUP_FORMAT_VERSION } from "./format.js";

const MAGIC = Buffer.from("DYNBAK", "latin1");
const HEADER_BYTES = MAGIC.length + 2 + 4;
/** A merged record may reach the replication ceiling, twice the largest record bound. */
const RECORD_BYTES_LIMIT = 2 * RECORD_BYTES_MAX_LIMIT;

export interface WrittenFile {
  bytes: number;
  sha256: string;
  records: number;
  rawBytes: number;
}

/** A stream that passes bytes through while counting and hashing them. */
class Digest extends Transform {
  private readonly hash = createHash("sha256");
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }

  hex(): string {
    return this.hash.digest("hex");
  }
}

/**
 * Writes a partition file: `stream` carries the compressed bytes to the store while entries are written, and `end`
 * resolves with the file's size, checksum and counts once the consumer has read it all.
 */
export class PartitionFileWriter {
  private readonly gzip = createGzip({ level: 6 });
  private readonly digest = new Digest();
  private records = 0;
  private rawBytes = 0;

  constructor(partition: number) {
    this.gzip.on("error", (err) => this.digest.destroy(err));
    this.gzip.pipe(this.digest);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt16BE(BACKUP_FORMAT_VERSION, MAGIC.length);
    header.writeUInt32BE(partition, MAGIC.length + 2);
    this.gzip.write(header);
  }

  /** The compressed bytes, for the store to read. */
  get stream(): Readable {
    return this.digest;
  }

  /** Adds one entry; waits while the consumer is behind, so memory stays bounded. */
  async write(entry: RawEntry): Promise<void> {
    const bytes = encodeEntries([entry]);
    this.records += 1;
    this.rawBytes += entry.record.length;
    if (!this.gzip.write(bytes)) await once(this.gzip, "drain");
  }

  async end(): Promise<WrittenFile> {
    const finished = once(this.digest, "end");
    this.gzip.end();
    await finished;
    return { bytes: this.digest.bytes, sha256: this.digest.hex(), records: this.records, rawBytes: this.rawBytes };
  }

  /** Stops writing after a failure; the consumer sees the error. */
  destroy(err: Error): void {
    this.gzip.destroy(err);
    this.digest.destroy(err);
  }
}

export interface ExpectedFile {
  partition: number;
  object: string;
  bytes: number;
  sha256: string;
}

/** Reads a whole file without decoding it and checks its size and checksum (the restore's first pass). */
export async function verifyFile(stream: Readable, expected: ExpectedFile): Promise<void> {
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    for await (const chunk of stream) {
      hash.update(chunk as Buffer);
      bytes += (chunk as Buffer).length;
    }
  } catch (err) {
    throw new BackupError("store_failed", `reading ${expected.object} failed: ${(err as Error).message}`, { object: expected.object, cause: err });
  }
  checkDigest(expected, bytes, hash.digest("hex"));
}

/**
 * The entries of a partition file, in order, decoded as they stream in. The file's size and checksum are checked when
 * its last byte has been read; a mismatch (or any malformed byte) throws `corrupt_object` naming the file, so a caller
 * that applies entries as they come must treat the whole file as failed when that happens.
 */
export async function* readPartitionFile(stream: Readable, expected: ExpectedFile): AsyncGenerator<RawEntry> {
  const digest = new Digest();
  const gunzip = createGunzip();
  stream.on("error", (err) => digest.destroy(err));
  stream.pipe(digest);
  digest.on("error", (err) => gunzip.destroy(err));
  digest.pipe(gunzip);
  const corrupt = (why: string, cause?: unknown) =>
    new BackupError("corrupt_object", `${expected.object} is corrupt: ${why}`, { object: expected.object, cause });
  let pending: Buffer = Buffer.alloc(0);
  let headerSeen = false;
  try {
    for await (const chunk of gunzip) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      if (!headerSeen) {
        if (pending.length < HEADER_BYTES) continue;
        checkHeader(pending, expected, corrupt);
        pending = pending.subarray(HEADER_BYTES);
        headerSeen = true;
      }
      let at = 0;
      for (;;) {
        const entry = nextEntry(pending, at, corrupt);
        if (!entry) break;
        at = entry.end;
        yield entry.entry;
      }
      pending = at === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(at));
    }
  } catch (err) {
    if (err instanceof BackupError) throw err;
    if ((err as NodeJS.ErrnoException).code?.startsWith("Z_")) throw corrupt(`it does not decompress (${(err as Error).message})`, err);
    throw new BackupError("store_failed", `reading ${expected.object} failed: ${(err as Error).message}`, { object: expected.object, cause: err });
  }
  // Whatever follows the compressed stream still counts towards the size and checksum.
  digest.unpipe(gunzip);
  digest.resume();
  if (!digest.readableEnded) await once(digest, "end");
  if (!headerSeen) throw corrupt("it ends before its header");
  if (pending.length > 0) throw corrupt(`it ends inside an entry (${pending.length} bytes left over)`);
  checkDigest(expected, digest.bytes, digest.hex());
}

function checkHeader(bytes: Buffer, expected: ExpectedFile, corrupt: (why: string) => BackupError): void {
  if (!bytes.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt("it is not a partition file of a dynamo backup");
  const version = bytes.readUInt16BE(MAGIC.length);
  if (version > BACKUP_FORMAT_VERSION) throw corrupt(`it has format version ${version}; this dynamo reads up to ${BACKUP_FORMAT_VERSION}`);
  const partition = bytes.readUInt32BE(MAGIC.length + 2);
  if (partition !== expected.partition) throw corrupt(`it holds partition ${partition}, not ${expected.partition}`);
}

/** The entry starting at `at`, or undefined when `bytes` does not hold all of it yet. */
function nextEntry(bytes: Buffer, at: number, corrupt: (why: string) => BackupError): { entry: RawEntry; end: number } | undefined {
  if (bytes.length - at < 2) return undefined;
  const bucketLength = bytes.readUInt16BE(at);
  if (bucketLength < 1 || bucketLength > 63) throw corrupt(`an entry has a ${bucketLength}-byte bucket name`);
  if (bytes.length - at < 2 + bucketLength + 2) return undefined;
  const keyLength = bytes.readUInt16BE(at + 2 + bucketLength);
  if (keyLength < 1 || keyLength > KEY_BYTES_MAX) throw corrupt(`an entry has a ${keyLength}-byte key`);
  const recordAt = at + 2 + bucketLength + 2 + keyLength;
  if (bytes.length < recordAt + 4) return undefined;
  const recordLength = bytes.readUInt32BE(recordAt);
  if (recordLength < 1 || recordLength > RECORD_BYTES_LIMIT) throw corrupt(`an entry has a ${recordLength}-byte record`);
  const end = recordAt + 4 + recordLength;
  if (bytes.length < end) return undefined;
  const bucket = bytes.toString("utf8", at + 2, at + 2 + bucketLength);
  if (!BUCKET_NAME_PATTERN.test(bucket)) throw corrupt(`an entry names bucket '${bucket.slice(0, 64)}', which is not a bucket name`);
  const key = Buffer.from(bytes.subarray(at + 2 + bucketLength + 2, recordAt));
  return { entry: { bucket, key, record: Buffer.from(bytes.subarray(recordAt + 4, end)) }, end };
}

function checkDigest(expected: ExpectedFile, bytes: number, sha256: string): void {
  if (bytes !== expected.bytes) {
    throw new BackupError("corrupt_object", `${expected.object} is ${bytes} bytes, but the manifest says ${expected.bytes}`, { object: expected.object });
  }
  if (sha256 !== expected.sha256) {
    throw new BackupError("corrupt_object", `${expected.object} has SHA-256 ${sha256}, but the manifest says ${expected.sha256}`, { object: expected.object });
  }
}
