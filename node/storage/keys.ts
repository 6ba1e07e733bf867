/**
 * The on-disk key layout. Every record of partition p lives under the prefix `d` + p (big-endian u16), so a
 * partition is one contiguous key range that can be streamed, hashed or dropped as a unit. Bucket names cannot hold
 * a zero byte, so `bucket 0x00 key` splits back unambiguously whatever bytes the key holds.
 */

export const DATA_PREFIX = 0x64; // 'd'
export const HINT_PREFIX = 0x68; // 'h'
export const META_PREFIX = 0x6d; // 'm'

export function dataKey(partition: number, bucket: string, key: Buffer): Buffer {
  const bucketBytes = Buffer.from(bucket, "utf8");
  const out = Buffer.allocUnsafe(3 + bucketBytes.length + 1 + key.length);
  out[0] = DATA_PREFIX;
  out.writeUInt16BE(partition, 1);
  bucketBytes.copy(out, 3);
  out[3 + bucketBytes.length] = 0;
  key.copy(out, 4 + bucketBytes.length);
  return out;
}

/**
 * A data key as a string (latin1, one character per byte): the one id of a record in this process, for the record
 * cache, the record locks and the write queue.
 */
export function recordId(raw: Buffer): string {
  return raw.toString("latin1");
}

/**
 * A record's data key and its id, made once for a request's steps on it (its lock, its read, its write): each made
 * them again, three buffers and three strings per replicated write, and each new string is hashed again by every
 * map it meets.
 */
export interface RecordKey {
  readonly partition: number;
  readonly raw: Buffer;
  readonly id: string;
}

export function recordKey(partition: number, bucket: string, key: Buffer): RecordKey {
  const raw = dataKey(partition, bucket, key);
  return { partition, raw, id: recordId(raw) };
}

/** The half-open key range [gte, lt) holding every record of one partition. */
export function partitionRange(partition: number): { gte: Buffer; lt: Buffer } {
  const gte = Buffer.from([DATA_PREFIX, 0, 0]);
  gte.writeUInt16BE(partition, 1);
  const lt = Buffer.from([DATA_PREFIX, 0, 0]);
  if (partition === 0xffff) lt[0] = DATA_PREFIX + 1;
  else lt.writeUInt16BE(partition + 1, 1);
  return { gte, lt };
}

export interface ParsedDataKey {
  partition: number;
  bucket: string;
  key: Buffer;
}

export function parseDataKey(raw: Buffer): ParsedDataKey {
  const separator = raw.indexOf(0, 3);
  if (raw[0] !== DATA_PREFIX || separator < 0) throw new Error("not a data key");
  return {
    partition: raw.readUInt16BE(1),
    bucket: raw.subarray(3, separator).toString("utf8"),
    key: Buffer.from(raw.subarray(separator + 1)),
  };
}

export function metaKey(name: string): Buffer {
  return Buffer.concat([Buffer.from([META_PREFIX]), Buffer.from(name, "utf8")]);
}
