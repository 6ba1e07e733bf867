/**
 * Pure construction of request paths. Keys are arbitrary bytes as far as the URL is concerned: every byte outside
 * RFC 3986's unreserved set is percent-encoded, including '/', so a key such as `a/b` stays one path segment.
 */
import { DynamoClientError } from "./errors.js";

/** The same rule the server enforces; checking it here turns a confusing 404 on a mangled path into a clear error. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const KEY_BYTES_MAX = 1024;

const HEX = "0123456789ABCDEF";

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

/** Percent-encodes every byte of `segment` (UTF-8 for strings) that is not an unreserved character. */
export function encodePathSegment(segment: string | Buffer): string {
  const bytes = typeof segment === "string" ? Buffer.from(segment, "utf8") : segment;
  let out = "";
  for (const byte of bytes) {
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 0x0f]}`;
  }
  return out;
}

export function validateBucket(bucket: string): void {
  if (!BUCKET_NAME.test(bucket)) {
    throw new DynamoClientError("invalid_request", `bucket name ${JSON.stringify(bucket)} must match ${BUCKET_NAME.source}`);
  }
}

export function validateKey(key: string | Buffer): void {
  const length = typeof key === "string" ? Buffer.byteLength(key, "utf8") : key.length;
  if (length < 1 || length > KEY_BYTES_MAX) {
    throw new DynamoClientError("invalid_request", `key must be 1..${KEY_BYTES_MAX} bytes, got ${length}`);
  }
}

/** Query parameters the API takes: quorum sizes. Undefined entries are left out. */
export interface QuorumQuery {
  r?: number | undefined;
  w?: number | undefined;
  pr?: number | undefined;
  pw?: number | undefined;
}

/** r and w count replies, so they are at least 1; pr and pw may be 0, which asks for no primary replies at all. */
const QUORUM_MIN: Record<keyof QuorumQuery, number> = { r: 1, w: 1, pr: 0, pw: 0 };

function encodeQuery(query: QuorumQuery): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query) as Array<[keyof QuorumQuery, number | undefined]>) {
    if (value === undefined) continue;
    const min = QUORUM_MIN[name];
    if (!Number.isInteger(value) || value < min) {
      throw new DynamoClientError("invalid_request", `${name} must be an integer of at least ${min}, got ${value}`);
    }
    parts.push(`${name}=${value}`);
  }
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

/** `/v1/kv/{bucket}/{key}?r=..`, validated and encoded. */
export function kvPath(bucket: string, key: string | Buffer, query: QuorumQuery = {}): string {
  validateBucket(bucket);
  validateKey(key);
  return `/v1/kv/${encodePathSegment(bucket)}/${encodePathSegment(key)}${encodeQuery(query)}`;
}

/**
 * Parses and normalizes a base URL: `http:` or `https:`, no query or fragment, and no trailing slash on the path
 * prefix so that `base + path` joins cleanly.
 */
export function normalizeBaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (cause) {
    throw new DynamoClientError("invalid_request", `invalid base URL ${JSON.stringify(raw)}`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new DynamoClientError("invalid_request", `base URL ${JSON.stringify(raw)} must use http: or https:`);
  }
  if (url.search !== "" || url.hash !== "") {
    throw new DynamoClientError("invalid_request", `base URL ${JSON.stringify(raw)} must not have a query or fragment`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
