/**
 * One-shot hashes for the hot path. `crypto.hash(..., "buffer")` makes the Buffer it returns in C++, and giving a new
 * object Buffer's prototype there costs more than hashing a short input: the SHA-1 of a key took 0.95 µs that way
 * against 0.27 µs returned as a latin1 string, on the image's Node.js 24 (0.71 against 0.25 on Node.js 20). A latin1
 * string ("binary" is its older name, the one the types know) holds one byte per character, and turning it into bytes in
 * JavaScript is a copy into Buffer's pool.
 */
import { hash } from "node:crypto";

export type DigestAlgorithm = "sha1" | "sha256";

/** The digest of `input` as a latin1 string: character i is byte i. */
export function digestText(algorithm: DigestAlgorithm, input: Buffer | string): string {
  return hash(algorithm, input, "binary");
}

/** The digest of `input` as bytes. */
export function digestBytes(algorithm: DigestAlgorithm, input: Buffer | string): Buffer {
  return Buffer.from(hash(algorithm, input, "binary"), "latin1");
}

/** The first four bytes of a `digestText` as an unsigned big-endian number. */
export function digestPrefix32(text: string): number {
  return ((text.charCodeAt(0) << 24) | (text.charCodeAt(1) << 16) | (text.charCodeAt(2) << 8) | text.charCodeAt(3)) >>> 0;
}
