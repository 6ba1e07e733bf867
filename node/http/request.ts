/**
 * Validation of client requests at the edge: the bucket and key from the raw URL path (decoded byte-wise, so a key
 * may hold any UTF-8 including '/'), the quorum parameters from the query string, and the context header. Everything
 * past this point trusts its inputs.
 */
import { z } from "zod";
import { BUCKET_NAME_PATTERN, type BucketConfig } from "../config/index.js";
import { DynamoError, invalidRequest } from "../errors/index.js";

export const KEY_BYTES_MAX = 1024;

/** Where the key-value routes start; every request path under it is a key-value request. */
export const KV_PREFIX = "/v1/kv/";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export interface KvPath {
  bucket: string;
  key: Buffer;
}

/** Parses `/v1/kv/{bucket}/{key}` from the raw (still percent-encoded) request path. */
export function parseKvPath(rawPath: string): KvPath {
  const match = /^\/v1\/kv\/([^/]*)\/(.*)$/s.exec(rawPath);
  if (!match) throw invalidRequest("expected a path of the form /v1/kv/{bucket}/{key}");
  const bucket = percentDecode(match[1]!, "bucket").toString("latin1");
  if (!BUCKET_NAME_PATTERN.test(bucket)) {
    throw invalidRequest(`invalid bucket name '${bucket.slice(0, 80)}': bucket names match [a-z0-9][a-z0-9_-]{0,62}`);
  }
  const rawKey = match[2]!;
  // Plain printable ASCII is its own bytes, and valid UTF-8.
  const plain = PLAIN_TEXT.test(rawKey);
  const key = plain ? Buffer.from(rawKey, "latin1") : percentDecode(rawKey, "key");
  if (key.length === 0) throw invalidRequest("the key is empty: keys are 1 to 1024 bytes");
  if (key.length > KEY_BYTES_MAX) throw invalidRequest(`the key is ${key.length} bytes: keys are 1 to 1024 bytes`);
  if (!plain) {
    try {
      utf8.decode(key);
    } catch {
      throw invalidRequest("the key is not valid UTF-8");
    }
  }
  return { bucket, key };
}

/**
 * The bucket a raw request path names, decoded exactly as `parseKvPath` decodes it (so authorization and the handler
 * can never disagree about which bucket a request is for), or undefined when it is not a key-value path.
 */
export function kvBucketOf(rawPath: string): string | undefined {
  const match = /^\/v1\/kv\/([^/?]*)\//.exec(rawPath);
  if (!match) return undefined;
  try {
    return percentDecode(match[1]!, "bucket").toString("latin1");
  } catch {
    return undefined;
  }
}

/** Printable ASCII without '%': text that decodes to its own bytes. */
const PLAIN_TEXT = /^[\x20-\x24\x26-\x7e]*$/;

function percentDecode(text: string, what: string): Buffer {
  if (PLAIN_TEXT.test(text)) return Buffer.from(text, "latin1");
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalidRequest(`malformed percent-encoding in the ${what}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c > 0x7f) {
      // Raw non-ASCII characters in a request line are not valid HTTP; accept their UTF-8 bytes anyway.
      for (const b of Buffer.from(text[i]!, "utf8")) bytes.push(b);
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes);
}

const quorumValue = z
  .string()
  .regex(/^[0-9]+$/, "must be a whole number")
  .transform((v) => Number(v));

export interface QuorumOptions {
  r: number;
  w: number;
  pr: number;
  pw: number;
}

const ALLOWED_QUERY = new Set(["r", "w", "pr", "pw"]);

/**
 * Reads r/w/pr/pw from the query string, each between 1 and the bucket's n (pr/pw may also be 0); without a query
 * string, the bucket's own.
 */
export function parseQuorum(query: URLSearchParams | undefined, bucket: BucketConfig): QuorumOptions {
  if (query === undefined) return { r: bucket.r, w: bucket.w, pr: 0, pw: 0 };
  for (const name of query.keys()) {
    if (!ALLOWED_QUERY.has(name)) throw invalidRequest(`unknown query parameter '${name}': allowed are r, w, pr, pw`);
  }
  const read = (name: keyof QuorumOptions, fallback: number, min: number): number => {
    const values = query.getAll(name);
    if (values.length === 0) return fallback;
    if (values.length > 1) throw invalidRequest(`query parameter '${name}' is given more than once`);
    const parsed = quorumValue.safeParse(values[0]);
    if (!parsed.success) throw invalidRequest(`query parameter '${name}' must be a whole number, got '${values[0]}'`);
    if (parsed.data < min || parsed.data > bucket.n) {
      throw invalidRequest(`query parameter '${name}' must be between ${min} and n=${bucket.n} for bucket '${bucket.name}', got ${parsed.data}`);
    }
    return parsed.data;
  };
  return { r: read("r", bucket.r, 1), w: read("w", bucket.w, 1), pr: read("pr", 0, 0), pw: read("pw", 0, 0) };
}

export function requireBucket(buckets: Map<string, BucketConfig>, name: string): BucketConfig {
  const bucket = buckets.get(name);
  if (!bucket) throw new DynamoError("unknown_bucket", `bucket '${name}' does not exist; configure it under "buckets"`);
  return bucket;
}
