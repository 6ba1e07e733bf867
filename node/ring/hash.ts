/**
 * Where a key lives. The hash space is cut into Q equal, contiguous slices (Q a power of two), and a key's partition is
 * the slice its hash falls into. Taking the top bits of the hash (rather than the hash modulo Q) keeps each partition a
 * contiguous range of the hash space, so partitions stay meaningful as ranges and neighbouring partitions are
 * neighbouring slices. SHA-1 is not used for security here: it is deterministic, fast, everywhere, and spreads keys well.
 */
import { digestBytes, digestPrefix32, digestText } from "../../lib/digest.js";
import { assert } from "../errors/index.js";

/** The partition count of a new cluster when none is configured. */
export const DEFAULT_PARTITIONS = 256;

/** The largest partition count a ring may have; a partition index must fit in the top 16 bits of the hash. */
export const PARTITIONS_MAX = 65536;

const SEPARATOR = Buffer.from([0]);

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/**
 * The partition of `key` in `bucket` on a ring of `partitions` partitions. The bucket and key are separated by a zero
 * byte, which a bucket name cannot contain, so `("a", "bc")` and `("ab", "c")` hash differently.
 */
export function partitionOf(bucket: string, key: Buffer, partitions: number): number {
  assert(isPowerOfTwo(partitions) && partitions <= PARTITIONS_MAX, `partitions must be a power of two <= ${PARTITIONS_MAX}, got ${partitions}`);
  if (partitions === 1) return 0;
  const bits = Math.log2(partitions);
  return digestPrefix32(digestText("sha1", digestInput(bucket, key))) >>> (32 - bits);
}

/**
 * SHA-1 of the bucket, a zero byte and the key: what places a key on the ring, and what its anti-entropy hashes start
 * from (../anti-entropy/hash-tree.ts). Other nodes compare both, so these bytes must never change. One buffer and one
 * call into the hash binding: every key-value request, and every write to a partition with a hash tree, computes it.
 */
export function keyDigest(bucket: string, key: Buffer): Buffer {
  return digestBytes("sha1", digestInput(bucket, key));
}

function digestInput(bucket: string, key: Buffer): Buffer {
  const bucketLength = Buffer.byteLength(bucket, "utf8");
  const input = Buffer.allocUnsafe(bucketLength + SEPARATOR.length + key.length);
  input.write(bucket, 0, "utf8");
  SEPARATOR.copy(input, bucketLength);
  key.copy(input, bucketLength + SEPARATOR.length);
  return input;
}
