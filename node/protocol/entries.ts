/**
 * A compact batch encoding of (bucket, key, record) entries, for streaming a partition between nodes (rebuilds,
 * ownership handoff, anti-entropy): u16 bucket length, bucket, u16 key length, key, u32 record length, record; repeated.
 * Records stay in their stored encoding, so a scan ships what it read from disk without re-encoding it.
 */
import { frameBody } from "./frame.js";

export interface RawEntry {
  bucket: string;
  key: Buffer;
  record: Buffer;
}

/** Bytes an entry takes in a batch besides its bucket, key and record. */
export function entriesOverheadBytes(bucket: string, key: Buffer): number {
  return 2 + Buffer.byteLength(bucket, "utf8") + 2 + key.length + 4;
}

export function encodeEntries(entries: RawEntry[]): Buffer {
  // A page's entries are nearly always of one bucket: its bytes are made once per run of it, not once per entry.
  let bucketName: string | undefined;
  let bucketBytes = Buffer.alloc(0);
  const buckets = entries.map((e) => {
    if (e.bucket !== bucketName) {
      bucketName = e.bucket;
      bucketBytes = Buffer.from(e.bucket, "utf8");
    }
    return bucketBytes;
  });
  let size = 0;
  for (let i = 0; i < entries.length; i++) size += 2 + buckets[i]!.length + 2 + entries[i]!.key.length + 4 + entries[i]!.record.length;
  const out = frameBody(size);
  let at = 0;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const bucket = buckets[i]!;
    at = out.writeUInt16BE(bucket.length, at);
    out.set(bucket, at);
    at = out.writeUInt16BE(e.key.length, at + bucket.length);
    out.set(e.key, at);
    at = out.writeUInt32BE(e.record.length, at + e.key.length);
    out.set(e.record, at);
    at += e.record.length;
  }
  return out;
}

export function decodeEntries(buf: Buffer): RawEntry[] {
  const out: RawEntry[] = [];
  let at = 0;
  const need = (n: number) => {
    if (at + n > buf.length) throw new Error("truncated entry batch");
  };
  while (at < buf.length) {
    need(2);
    const bucketLength = buf.readUInt16BE(at);
    at += 2;
    need(bucketLength + 2);
    const bucket = buf.toString("utf8", at, at + bucketLength);
    at += bucketLength;
    const keyLength = buf.readUInt16BE(at);
    at += 2;
    need(keyLength + 4);
    const key = Buffer.from(buf.subarray(at, at + keyLength));
    at += keyLength;
    const recordLength = buf.readUInt32BE(at);
    at += 4;
    need(recordLength);
    out.push({ bucket, key, record: buf.subarray(at, at + recordLength) });
    at += recordLength;
  }
  return out;
}
