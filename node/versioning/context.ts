/**
 * Client contexts: the opaque `X-Dynamo-Context` token a read returns and a write sends back. It carries the clock of
 * the version the client read, and whatever it covers, the write replaces. That makes it powerful: a forged context
 * that claims to have seen every write would let a client silently erase siblings it never saw, and a context from
 * another key would make a write replace that key's versions on the strength of an unrelated read. So the token is
 * bound to its bucket and key and protected by an HMAC-SHA256 under the cluster's secret, checked in constant time,
 * and anything that does not verify is refused as `invalid_request` rather than trusted or ignored.
 *
 * Format version 1, base64url without padding (safe in headers and URLs):
 *
 *     u8 format version (1)
 *     varint actor count C, then C × { u8 actor length, actor UTF-8, varint counter }   (actors sorted)
 *     16 bytes: HMAC-SHA256 truncated, over
 *               (domain ‖ u32 bucket length ‖ bucket ‖ u32 key length ‖ key ‖ all the bytes above)
 *
 * The clock is in the clear: it says which actors wrote the key and how often, nothing about the values. Contexts are
 * bounded in size (`CONTEXT_LIMITS`) so a header cannot make the node parse or allocate much.
 */
import { timingSafeEqual } from "node:crypto";
import { digestBytes, digestText } from "../../lib/digest.js";
import { DynamoError } from "../errors/index.js";
import type { VersionVector } from "./types.js";
import { ByteReader } from "./bytes.js";
import { clockEncodedLength, clockEnd, readClock, sortedActors, writeClock } from "./codec.js";

export const CONTEXT_FORMAT_VERSION = 1;
const MAC_BYTES = 16;
/** Separates these MACs from any other use of the same secret (the secret may also authenticate peers). */
const MAC_DOMAIN = Buffer.from("dynamo/client-context\0", "utf8");

export interface ContextLimits {
  /** The longest context accepted, in characters of its base64url text. */
  textLengthMax: number;
  /** The most actors a context may name. */
  actorsMax: number;
}

export const CONTEXT_LIMITS: Readonly<ContextLimits> = Object.freeze({ textLengthMax: 8192, actorsMax: 1000 });

/** The context token for `clock` as read from `bucket`/`key`. */
export function encodeContext(clock: VersionVector, bucket: string, key: Buffer, secret: Buffer): string {
  checkSecret(secret);
  const actors = sortedActors(clock);
  const bodyLength = 1 + clockEncodedLength(clock, actors);
  const buf = Buffer.allocUnsafe(bodyLength + MAC_BYTES);
  buf[0] = CONTEXT_FORMAT_VERSION;
  writeClock(buf, 1, clock, actors);
  return sealed(buf, bodyLength, bucket, key, secret);
}

/**
 * `encodeContext` of a stored version's clock, from the version's encoding (a valid record): the record holds its clock
 * in the bytes a context holds it in, so they are copied instead of the clock being sorted and written again. Every
 * read answer carries a context, and most answer a version as one replica stored it.
 */
export function encodeContextOfRecord(encoded: Buffer, bucket: string, key: Buffer, secret: Buffer): string {
  checkSecret(secret);
  const end = clockEnd(encoded);
  const buf = Buffer.allocUnsafe(end + MAC_BYTES);
  buf[0] = CONTEXT_FORMAT_VERSION;
  encoded.copy(buf, 1, 1, end);
  return sealed(buf, end, bucket, key, secret);
}

/** The token of a context whose first `bodyLength` bytes of `buf` are written: the MAC after them, as base64url. */
function sealed(buf: Buffer, bodyLength: number, bucket: string, key: Buffer, secret: Buffer): string {
  buf.write(mac(secret, bucket, key, buf.subarray(0, bodyLength)), bodyLength, "latin1");
  return buf.toString("base64url");
}

/**
 * The clock inside a context token, after checking that it was issued by this cluster for exactly this bucket and
 * key and has not been altered. The empty string is the empty context (a blind write). Throws
 * `DynamoError("invalid_request")` for anything else that does not verify.
 */
export function decodeContext(
  text: string,
  bucket: string,
  key: Buffer,
  secret: Buffer,
  limits: ContextLimits = CONTEXT_LIMITS,
): VersionVector {
  checkSecret(secret);
  if (text === "") return {};
  if (text.length > limits.textLengthMax) {
    throw invalid(`context is ${text.length} characters long; the limit is ${limits.textLengthMax}`);
  }
  const raw = Buffer.from(text, "base64url");
  // Buffer.from skips characters outside the alphabet and ignores stray low bits, so only an exact round trip proves
  // the text is the canonical encoding of these bytes and not an altered spelling of them.
  if (raw.toString("base64url") !== text) throw invalid("context is not valid base64url");
  if (raw.length < 2 + MAC_BYTES) throw invalid("context is truncated");
  if (raw[0] !== CONTEXT_FORMAT_VERSION) throw invalid(`context has unsupported format version ${raw[0]}`);
  const body = raw.subarray(0, raw.length - MAC_BYTES);
  if (!timingSafeEqual(raw.subarray(raw.length - MAC_BYTES), Buffer.from(mac(secret, bucket, key, body), "latin1"))) {
    throw invalid(
      "context failed its integrity check: it was altered or truncated, or it was issued for another bucket or key",
    );
  }
  const reader = new ByteReader(body, "context", (message) => invalid(message));
  reader.offset = 1;
  const { clock } = readClock(reader, limits.actorsMax);
  reader.expectEnd();
  return clock;
}

/**
 * HMAC-SHA256 (RFC 2104) over the domain, the bucket, the key and the context's bytes, computed as two one-shot SHA-256
 * hashes with the key's padded blocks prepared once per secret: every read and write answer carries a context, and an
 * `Hmac` object per answer (a key import, six calls into the binding) cost more than the hashing itself. The inner
 * message's start (padded key, domain, bucket) is kept per bucket and the outer message's buffer is reused, so an
 * answer pays for its key and clock alone. The MAC comes back as a latin1 string of MAC_BYTES characters, one per byte
 * (see lib/digest.ts).
 */
function mac(secret: Buffer, bucket: string, key: Buffer, body: Buffer): string {
  const keyed = keyedOf(secret);
  const prefix = keyed.prefixes.get(bucket) ?? prefixOf(keyed, bucket);
  const message = Buffer.allocUnsafe(prefix.length + 4 + key.length + body.length);
  let at = prefix.copy(message, 0);
  at = message.writeUInt32BE(key.length, at);
  at += key.copy(message, at);
  body.copy(message, at);
  // The hash reads the outer message before it returns, so one buffer serves every MAC of this secret.
  const outer = keyed.outerMessage;
  outer.write(digestText("sha256", message), HMAC_BLOCK_BYTES, "latin1");
  return digestText("sha256", outer).slice(0, MAC_BYTES);
}

/** SHA-256's block size: an HMAC key is padded (or first hashed) to it. */
const HMAC_BLOCK_BYTES = 64;
/** Buckets whose inner-message start is kept per secret; a cluster has a handful, and any beyond are made afresh. */
const PREFIXES_MAX = 256;

interface Keyed {
  /** The key XOR ipad block. */
  readonly inner: Buffer;
  /** The key XOR opad block, followed by room for the inner hash. */
  readonly outerMessage: Buffer;
  /** Per bucket: the inner block, the domain, and the bucket with its length. */
  readonly prefixes: Map<string, Buffer>;
}

const keyedCache = new WeakMap<Buffer, Keyed>();

/** The padded blocks of HMAC for `secret`, kept as long as the secret is. */
function keyedOf(secret: Buffer): Keyed {
  let keyed = keyedCache.get(secret);
  if (keyed) return keyed;
  const block = Buffer.alloc(HMAC_BLOCK_BYTES);
  (secret.length > HMAC_BLOCK_BYTES ? digestBytes("sha256", secret) : secret).copy(block);
  keyed = { inner: Buffer.alloc(HMAC_BLOCK_BYTES), outerMessage: Buffer.alloc(HMAC_BLOCK_BYTES + 32), prefixes: new Map() };
  for (let i = 0; i < HMAC_BLOCK_BYTES; i++) {
    keyed.inner[i] = block[i]! ^ 0x36;
    keyed.outerMessage[i] = block[i]! ^ 0x5c;
  }
  keyedCache.set(secret, keyed);
  return keyed;
}

/** The inner message's start for `bucket`: the ipad block, the domain, the bucket's UTF-8 length and bytes. */
function prefixOf(keyed: Keyed, bucket: string): Buffer {
  const bucketLength = Buffer.byteLength(bucket, "utf8");
  const prefix = Buffer.allocUnsafeSlow(HMAC_BLOCK_BYTES + MAC_DOMAIN.length + 4 + bucketLength);
  let at = keyed.inner.copy(prefix, 0);
  at += MAC_DOMAIN.copy(prefix, at);
  at = prefix.writeUInt32BE(bucketLength, at);
  prefix.write(bucket, at, "utf8");
  if (keyed.prefixes.size < PREFIXES_MAX) keyed.prefixes.set(bucket, prefix);
  return prefix;
}

function checkSecret(secret: Buffer): void {
  if (secret.length === 0) throw new Error("invariant violated: the context secret is empty");
}

function invalid(message: string): DynamoError {
  return new DynamoError("invalid_request", message);
}
