/**
 * A partition's hash tree, flattened to its leaves: 1024 segments, each the XOR of a 64-bit hash of every (key,
 * version) in it. XOR makes the tree incremental: a write folds the old version's hash out and the new one's in,
 * without reading anything else. Two replicas compare all leaves in one 8 KiB message and then look only at the keys
 * of segments that differ. Pure; the caller feeds it records.
 */
import { digestBytes } from "../../lib/digest.js";
import { keyDigest } from "../ring/hash.js";
import type { VersionedRecord } from "../versioning/types.js";

export const SEGMENTS = 1024;
export const LEAVES_BYTES = SEGMENTS * 8;

export interface KeyHash {
  segment: number;
  /** 8 bytes identifying this key at this version. */
  hash: Buffer;
}

/** Which segment a key falls in, and the hash of the key at the given version. */
export function keyHash(bucket: string, key: Buffer, record: VersionedRecord): KeyHash {
  return versionHash(keyDigest(bucket, key), record);
}

/**
 * `keyHash` of the key whose `keyDigest` (the ring's) is given: a write computes the digest once for its versions before
 * and after. One-shot `hash` calls over the bytes the `Hash` objects used before were fed: the bytes every replica
 * compares stay as they were, in 40% less time per write with a tree (performance round 29).
 */
export function versionHash(digest: Buffer, record: VersionedRecord): KeyHash {
  const summary = versionSummary(record);
  const input = Buffer.allocUnsafe(digest.length + Buffer.byteLength(summary));
  digest.copy(input, 0);
  input.write(summary, digest.length, "utf8");
  return { segment: digest.readUInt16BE(0) % SEGMENTS, hash: digestBytes("sha1", input).subarray(0, 8) };
}

/** A canonical text of a record's version: its clock and the dots (and deletion marks) of its siblings. */
function versionSummary(record: VersionedRecord): string {
  const clock = Object.keys(record.clock)
    .sort()
    .map((actor) => `${actor}:${record.clock[actor]}`)
    .join(",");
  const dots = record.siblings
    .map((s) => `${s.dot.actor}:${s.dot.counter}${s.value === null ? "d" : ""}`)
    .sort()
    .join(",");
  return `${clock}|${dots}`;
}

export class HashTree {
  readonly leaves = Buffer.alloc(LEAVES_BYTES);

  fold(hash: KeyHash): void {
    const at = hash.segment * 8;
    for (let i = 0; i < 8; i++) this.leaves[at + i]! ^= hash.hash[i]!;
  }

  /** Segments whose leaves differ from another replica's. */
  diff(otherLeaves: Buffer): number[] {
    if (otherLeaves.length !== LEAVES_BYTES) throw new Error(`hash tree leaves must be ${LEAVES_BYTES} bytes, got ${otherLeaves.length}`);
    const out: number[] = [];
    for (let s = 0; s < SEGMENTS; s++) {
      if (this.leaves.compare(otherLeaves, s * 8, s * 8 + 8, s * 8, s * 8 + 8) !== 0) out.push(s);
    }
    return out;
  }
}
