/**
 * The operations of the peer protocol, each with the schema of its request and response headers and the codec of
 * its request and response bodies. Both ends use this one table: a caller encodes a typed request and gets a typed,
 * validated response back; the server decodes and validates every request before a handler sees it, so handlers
 * trust their inputs. Anything that does not fit (a header that is not an object, a field of the wrong type, an
 * unknown operation, a body that does not decode) is refused with a `PeerMessageError` naming the problem, which the
 * server answers as an `invalid_request` error frame and the caller turns into a failed request.
 *
 * Keys travel in headers as base64 (JSON has no bytes) and are bytes again after decoding; records travel in bodies
 * in their stored encoding. Headers are small by design (a frame's header is at most 64 KiB): anything that grows
 * with the data, such as a list of keys, travels in the body.
 */
import { z } from "zod";
import { BUCKET_NAME_PATTERN } from "../config/index.js";
import { ringSchema } from "../ring/index.js";
import type { Ring } from "../ring/types.js";
import { checkRecord, decodeRecord, encodeRecord, type RecordSummary } from "../versioning/index.js";
import type { VersionedRecord } from "../versioning/types.js";
import { decodeEntries, encodeEntries, type RawEntry } from "./entries.js";

/** The longest key a client may write; peers hold nothing longer. */
export const KEY_BYTES_MAX = 1024;
/** The most keys one anti-entropy key listing may name (the keys of the segments that differ). */
export const AE_KEYS_MAX = 200_000;
/** The most members a gossip digest may name. */
export const GOSSIP_MEMBERS_MAX = 4096;
/** Records per scan page at most, whatever the caller asks. */
export const SCAN_LIMIT_MAX = 4096;
/** Bytes of a hash tree's leaves (1024 segments of 8 bytes). */
export const AE_LEAVES_BYTES = 1024 * 8;
export const AE_SEGMENTS = 1024;

/** A request or response that does not fit its schema or codec. */
export class PeerMessageError extends Error {
  override readonly name = "PeerMessageError";
}

const MEMBER_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$/;
const memberId = z.string().regex(MEMBER_ID_PATTERN, "member ids are 1-63 letters, digits, '.', '_' or '-'");
const partition = z.number().int().min(0).max(0xffff);
const bucket = z.string().regex(BUCKET_NAME_PATTERN, "bucket names match [a-z0-9][a-z0-9_-]{0,62}");
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** A key: base64 on the wire, bytes after decoding; 1 to KEY_BYTES_MAX bytes. */
const key = z
  .string()
  .max(Math.ceil(KEY_BYTES_MAX / 3) * 4, "keys are at most 1024 bytes")
  .transform((text, ctx): Buffer => {
    const bytes: Buffer = Buffer.from(text, "base64");
    if (bytes.length === 0 || bytes.length > KEY_BYTES_MAX) ctx.addIssue({ code: "custom", message: `keys are 1 to ${KEY_BYTES_MAX} bytes, got ${bytes.length}` });
    return bytes;
  });
const actor = z.string().min(1).max(255).refine((a) => a !== "__proto__", "not an actor id");
const versionVector = z.record(actor, z.number().int().min(1).max(Number.MAX_SAFE_INTEGER));
/** A key's address within the ring: what every single-key operation names. */
const keyAddress = { partition, bucket, key };
const empty = z.object({});

/** Encodes and decodes one kind of body; `decode` throws on bytes that do not fit. */
export interface BodyCodec<In, Out = In> {
  encode(value: In): Buffer | undefined;
  decode(bytes: Buffer): Out;
}

const noBody: BodyCodec<undefined> = {
  encode: () => undefined,
  decode: (bytes) => {
    if (bytes.length > 0) throw new PeerMessageError(`expected no body, got ${bytes.length} bytes`);
    return undefined;
  },
};

/** A record to send, or its encoding when the sender has it already: sent as it is then, not encoded again. */
function encodeRecordOrBytes(record: VersionedRecord | Buffer): Buffer {
  return Buffer.isBuffer(record) ? record : encodeRecord(record);
}

/** A record, sent as the sender stored it when it has those bytes (a coordinator's new version), and decoded. */
const storedOrRecordBody: BodyCodec<VersionedRecord | Buffer, VersionedRecord> = {
  encode: encodeRecordOrBytes,
  decode: (bytes) => decodeRecord(bytes),
};

/**
 * A record received in its encoding, checked (`checkRecord`) but decoded only when something reads `record`: a
 * replica stores most replicated versions in the bytes they came in (`LocalReplica.mergeReceived`). `encoded` and the
 * values of `record` view the message: whatever keeps them past it copies them.
 */
export interface ReceivedRecord {
  readonly encoded: Buffer;
  readonly summary: RecordSummary;
  readonly record: VersionedRecord;
}

/**
 * A version being replicated: the sender gives the record, or its encoding when it has it already (a coordinator
 * that has just stored it, and sends it to every other replica); the receiver gets it checked, not decoded.
 */
const replicatedBody: BodyCodec<VersionedRecord | Buffer, ReceivedRecord> = {
  encode: encodeRecordOrBytes,
  decode: (bytes) => new LazyRecord(bytes, checkedSummary(bytes, "the record")),
};

/** What `checkRecord` finds of received bytes; for bytes that are not a record, `decodeRecord`'s error naming why. */
function checkedSummary(bytes: Buffer, what: string): RecordSummary {
  const summary = checkRecord(bytes);
  if (summary !== undefined) return summary;
  decodeRecord(bytes);
  throw new PeerMessageError(`${what} fails its check`);
}

/**
 * A record as the sender stores it, or nothing when the key is absent (an encoded record is never empty): a replica
 * answering a read sends its stored bytes as they are, which saves it a decode and an encode per read, and the reader
 * gets them checked and decodes them only where it needs to (replicas that agree send equal bytes, of which a read
 * decodes one).
 */
const storedRecordBody: BodyCodec<Buffer | undefined, ReceivedRecord | undefined> = {
  encode: (bytes) => bytes,
  // The bytes, and the values decoded from them, view the message rather than being copied out of it: a read answers
  // from them at once, and what it stores (read repair) is copied or encoded into new bytes.
  decode: (bytes) => (bytes.length === 0 ? undefined : new LazyRecord(bytes, checkedSummary(bytes, "the record"))),
};

/** Raw bytes, for a value being written; at most the frame's own bound. */
const bytesBody: BodyCodec<Buffer> = {
  encode: (bytes) => bytes,
  decode: (bytes) => bytes,
};

const leavesBody: BodyCodec<Buffer> = {
  encode: (bytes) => bytes,
  decode: (bytes) => {
    if (bytes.length !== AE_LEAVES_BYTES) throw new PeerMessageError(`hash tree leaves are ${AE_LEAVES_BYTES} bytes, got ${bytes.length}`);
    return bytes;
  },
};

export interface DecodedEntry {
  bucket: string;
  key: Buffer;
  /** The record; on an entry of a `scan` or `merge-page` body, decoded from `encoded` when first read. */
  readonly record: VersionedRecord;
  /**
   * The record's bytes as the sender stored them (a view into the message), checked on receipt; set on every entry a
   * page decodes, absent where entries are made otherwise.
   */
  encoded?: Buffer;
  /** What the check of `encoded` found, with it. */
  summary?: RecordSummary;
}

/** A record as received (`ReceivedRecord`): `encoded` decoded once, when `record` is first read. */
class LazyRecord implements ReceivedRecord {
  private decoded: VersionedRecord | undefined;

  constructor(
    readonly encoded: Buffer,
    readonly summary: RecordSummary,
  ) {}

  get record(): VersionedRecord {
    return (this.decoded ??= decodeRecord(this.encoded, { copyValues: false }));
  }
}

/**
 * An entry of a page as received: its record checked (`checkRecord`) but decoded only when something reads it. Most of
 * a page is stored in the sender's bytes or found equal to what the receiver holds, and decoding every record into
 * objects on receipt cost a joining node 130 ms of its 3.0 CPU-seconds in a profiled scale-out, and the collection
 * of those objects more. `record` is a getter: a copy of an entry must name it (`Object.assign` onto the entry, or
 * `record: entry.record`), as spreading one leaves it out. The decoded values are views into the message, like
 * `encoded`: whatever keeps a record past the page (the replica's merge, whose result is cached) copies its values
 * (`withOwnValues`).
 */
class ReceivedEntry extends LazyRecord implements DecodedEntry {
  constructor(
    readonly bucket: string,
    readonly key: Buffer,
    encoded: Buffer,
    summary: RecordSummary,
  ) {
    super(encoded, summary);
  }
}

/** A page of a partition: entries with their records as stored on the sender; every record is checked on receipt. */
const entriesBody: BodyCodec<RawEntry[], DecodedEntry[]> = {
  encode: encodeEntries,
  decode: (bytes) =>
    decodeEntries(bytes).map((entry) => {
      if (!BUCKET_NAME_PATTERN.test(entry.bucket)) throw new PeerMessageError(`entry with an invalid bucket name '${entry.bucket.slice(0, 80)}'`);
      if (entry.key.length === 0 || entry.key.length > KEY_BYTES_MAX) throw new PeerMessageError(`entry with a ${entry.key.length}-byte key`);
      return new ReceivedEntry(entry.bucket, entry.key, entry.record, checkedSummary(entry.record, "an entry's record"));
    }),
};

/** A JSON body checked against a schema (for lists that grow with the data and so do not belong in a header). */
function jsonBody<S extends z.ZodType>(schema: S): BodyCodec<z.output<S>> {
  return {
    encode: (value) => Buffer.from(JSON.stringify(toWire(value)), "utf8"),
    decode: (bytes) => checked(schema, parseJson(bytes.toString("utf8")), "body"),
  };
}

const ringBody: BodyCodec<Ring> = {
  encode: (ring) => Buffer.from(JSON.stringify(ring), "utf8"),
  decode: (bytes) => checked(ringSchema, parseJson(bytes.toString("utf8")), "ring") as Ring,
};

const heartbeats = z
  .record(memberId, z.tuple([count, count]))
  .refine((digest) => Object.keys(digest).length <= GOSSIP_MEMBERS_MAX, `a gossip digest names at most ${GOSSIP_MEMBERS_MAX} members`);
const gossipMessage = z.object({ epoch: count, ringHash: z.string().max(128), heartbeats });

/** An operation: schemas of both headers, codecs of both bodies. */
interface OpSpec<ReqH extends z.ZodType, ReqBIn, ReqBOut, ResH extends z.ZodType, ResBIn, ResBOut> {
  request: ReqH;
  requestBody: BodyCodec<ReqBIn, ReqBOut>;
  response: ResH;
  responseBody: BodyCodec<ResBIn, ResBOut>;
}

function op<ReqH extends z.ZodType, ReqBIn, ReqBOut, ResH extends z.ZodType, ResBIn, ResBOut>(
  spec: OpSpec<ReqH, ReqBIn, ReqBOut, ResH, ResBIn, ResBOut>,
): OpSpec<ReqH, ReqBIn, ReqBOut, ResH, ResBIn, ResBOut> {
  return spec;
}

export const PEER_OPS = {
  /** One replica's copy of a key; `canVote` is false while that replica rebuilds the partition. */
  fetch: op({
    request: z.object(keyAddress),
    requestBody: noBody,
    response: z.object({ canVote: z.boolean() }),
    responseBody: storedRecordBody,
  }),
  /** Merges a version into the receiver's replica; `hintFor` makes the receiver keep it for a member that is down. */
  replicate: op({
    request: z.object({ ...keyAddress, hintFor: memberId.optional() }),
    requestBody: replicatedBody,
    response: z.object({ changed: z.boolean() }),
    responseBody: noBody,
  }),
  /** Asks a replica to coordinate a client's write (the forwarding node holds no replica); answers the new version. */
  coordinate: op({
    request: z.object({
      bucket,
      key,
      context: versionVector.refine((clock) => Object.keys(clock).length <= 1000, "a context names at most 1000 actors"),
      contentType: z.string().max(1024),
      delete: z.boolean(),
      w: z.number().int().min(1).max(16),
      pw: z.number().int().min(0).max(16),
      /** The forwarding node's timestamp for the write, taken when the client sent it (absent: the replica stamps it). */
      stampedAt: z.object({ ms: count, logical: count }).optional(),
    }),
    requestBody: bytesBody,
    response: empty,
    responseBody: storedOrRecordBody,
  }),
  /** One page of a partition after a cursor, for rebuilds and ownership handoff. */
  scan: op({
    request: z.object({ partition, limit: z.number().int().min(1).max(SCAN_LIMIT_MAX), after: z.object({ bucket, key }).optional() }),
    requestBody: noBody,
    /**
     * `last`: the last key scanned, where the next page starts (a page may leave records out, see handoff).
     * `canVote`: false while the sender rebuilds the partition, so its copy may lack acknowledged writes (a backup
     * does not count it as a replica read). `epoch`: the sender's ring epoch, so a reader notices a ring change (after
     * which a member may drop a partition it no longer replicates) while it reads.
     */
    response: z.object({ done: z.boolean(), last: z.object({ bucket, key }).optional(), canVote: z.boolean().optional(), epoch: count.optional() }),
    responseBody: entriesBody,
  }),
  /**
   * Merges a page of records (distinct keys of one partition, as a scan returns them) into the receiver's replica
   * through the same merge as handoff pages, so versions and siblings stay as they are. Restores write with it; the
   * receiver refuses (`not_ready`) a partition it does not replicate under its ring, so the sender routes again.
   */
  "merge-page": op({
    request: z.object({ partition }),
    requestBody: entriesBody,
    response: z.object({ changed: count, epoch: count }),
    responseBody: noBody,
  }),
  /** Heartbeat digests and ring epochs, both ways. */
  gossip: op({ request: gossipMessage, requestBody: noBody, response: gossipMessage, responseBody: noBody }),
  /**
   * A member announces that it is shutting down (SIGTERM, a rolling restart): receivers count it as down at once,
   * instead of waiting for the failure detector, until they hear a heartbeat of a later generation (its next process).
   */
  leave: op({ request: z.object({ generation: count }), requestBody: noBody, response: empty, responseBody: noBody }),
  "ring-get": op({ request: empty, requestBody: noBody, response: empty, responseBody: ringBody }),
  "ring-put": op({ request: empty, requestBody: ringBody, response: z.object({ installed: z.boolean() }), responseBody: noBody }),
  /** A partition's hash tree leaves. */
  "ae-leaves": op({ request: z.object({ partition }), requestBody: noBody, response: empty, responseBody: leavesBody }),
  /** The keys (and version hashes) of a partition that fall in the given hash tree segments. */
  "ae-keys": op({
    request: z.object({ partition, segments: z.array(z.number().int().min(0).max(AE_SEGMENTS - 1)).max(AE_SEGMENTS) }),
    requestBody: noBody,
    response: empty,
    responseBody: jsonBody(z.array(z.tuple([bucket, key, z.string().regex(/^[0-9a-f]{16}$/)])).max(AE_KEYS_MAX)),
  }),
  /** Throws away a partition's hash tree so it is rebuilt from disk. */
  "ae-invalidate": op({ request: z.object({ partition }), requestBody: noBody, response: empty, responseBody: noBody }),
};

type Ops = typeof PEER_OPS;
export type PeerOp = keyof Ops;
type BodyIn<C> = C extends BodyCodec<infer In, unknown> ? In : never;
type BodyOut<C> = C extends BodyCodec<unknown, infer Out> ? Out : never;

/** A request as a handler sees it, decoded and validated. */
export interface PeerRequest<O extends PeerOp> {
  header: z.output<Ops[O]["request"]>;
  body: BodyOut<Ops[O]["requestBody"]>;
}
/** A body as a sender gives it: optional where the operation carries none. */
type BodyField<B> = undefined extends B ? { body?: B } : { body: B };
/** A request as a caller builds it. */
export type PeerRequestOut<O extends PeerOp> = { header: z.output<Ops[O]["request"]> } & BodyField<BodyIn<Ops[O]["requestBody"]>>;
/** A response as a caller receives it, decoded and validated. */
export interface PeerResponse<O extends PeerOp> {
  header: z.output<Ops[O]["response"]>;
  body: BodyOut<Ops[O]["responseBody"]>;
  /** Size of the body as it travelled, for transfer accounting. */
  bodyBytes: number;
}
/** A response as a handler builds it. */
export type PeerResponseOut<O extends PeerOp> = { header: z.output<Ops[O]["response"]> } & BodyField<BodyIn<Ops[O]["responseBody"]>>;

export type PeerHandler<O extends PeerOp> = (request: PeerRequest<O>, from: string) => Promise<PeerResponseOut<O>>;
/** Handlers by operation; a node registers one for every operation. */
export type PeerHandlers = { [O in PeerOp]: PeerHandler<O> };

export function isPeerOp(name: unknown): name is PeerOp {
  return typeof name === "string" && Object.hasOwn(PEER_OPS, name);
}

/**
 * The wire header of a request: the operation's name and its fields, as JSON, or for the operations on every client
 * request's path (`fetch`, `replicate`, and `coordinate` at level 2) in their compact binary form when the connection
 * agreed to it (`compact`: the level the other end reads, see COMPACT_LEVEL; true for this version's level).
 */
export function encodeRequestHeader<O extends PeerOp>(opName: O, header: z.output<Ops[O]["request"]>, compact: boolean | number = false): object | Buffer {
  const level = compactLevel(compact);
  if (level >= 1 && (opName === "fetch" || opName === "replicate")) return encodeCompactRequest(opName, header as CompactRequestHeader);
  if (level >= 2 && opName === "coordinate") return encodeCompactCoordinate(header as CoordinateHeader) ?? { ...(toWire(header) as object), op: opName };
  return { ...(toWire(header) as object), op: opName };
}

export function encodeRequestBody<O extends PeerOp>(opName: O, request: PeerRequestOut<O>): Buffer | undefined {
  return (PEER_OPS[opName].requestBody as BodyCodec<unknown, unknown>).encode((request as { body?: unknown }).body);
}

/** A response's header and body; `compact` as for requests (the caller asked for it when it connected). */
export function encodeResponse<O extends PeerOp>(opName: O, response: PeerResponseOut<O>, compact: boolean | number = false): { header: object | Buffer; body: Buffer | undefined } {
  const body = (PEER_OPS[opName].responseBody as BodyCodec<unknown, unknown>).encode((response as { body?: unknown }).body);
  const level = compactLevel(compact);
  if (level >= 2 && opName === "coordinate") return { header: Buffer.from([COMPACT_COORDINATE]), body };
  if (!level) return { header: toWire(response.header) as object, body };
  if (opName === "fetch") return { header: compactFlag(COMPACT_FETCH, (response.header as { canVote: boolean }).canVote), body };
  if (opName === "replicate") return { header: compactFlag(COMPACT_REPLICATE, (response.header as { changed: boolean }).changed), body };
  return { header: toWire(response.header) as object, body };
}

/** Parses a request frame's header and body; throws PeerMessageError naming the problem. */
export function decodeRequest(headerBytes: Buffer, body: Buffer): { op: PeerOp; request: PeerRequest<PeerOp> } {
  const tag = headerBytes[0];
  if (tag === COMPACT_FETCH || tag === COMPACT_REPLICATE) {
    const name = tag === COMPACT_FETCH ? "fetch" : "replicate";
    const header = decodeCompactRequest(name, headerBytes);
    return { op: name, request: { header, body: decodeBody(PEER_OPS[name].requestBody as BodyCodec<unknown, unknown>, body, `'${name}' request`) } as PeerRequest<PeerOp> };
  }
  if (tag === COMPACT_COORDINATE) {
    return { op: "coordinate", request: { header: decodeCompactCoordinate(headerBytes), body: decodeBody(PEER_OPS.coordinate.requestBody, body, "'coordinate' request") } };
  }
  const header = parseJson(headerBytes.toString("utf8"));
  if (header === null || typeof header !== "object" || Array.isArray(header)) throw new PeerMessageError("the request header is not a JSON object");
  const name = (header as { op?: unknown }).op;
  if (!isPeerOp(name)) throw new PeerMessageError(`unknown peer op '${String(name).slice(0, 64)}'`);
  const spec = PEER_OPS[name] as OpSpec<z.ZodType, unknown, unknown, z.ZodType, unknown, unknown>;
  return { op: name, request: { header: checked(spec.request, header, `'${name}' request`), body: decodeBody(spec.requestBody, body, `'${name}' request`) } as PeerRequest<PeerOp> };
}

/** Parses a response frame to a request of `opName`; throws PeerMessageError naming the problem. */
export function decodeResponse<O extends PeerOp>(opName: O, headerBytes: Buffer, body: Buffer): PeerResponse<O> {
  const spec = PEER_OPS[opName] as OpSpec<z.ZodType, unknown, unknown, z.ZodType, unknown, unknown>;
  const tag = headerBytes[0];
  const header =
    tag === COMPACT_FETCH || tag === COMPACT_REPLICATE || tag === COMPACT_COORDINATE
      ? decodeCompactResponse(opName, headerBytes)
      : checked(spec.response, parseJson(headerBytes.toString("utf8")), `'${opName}' response`);
  return { header, body: decodeBody(spec.responseBody, body, `'${opName}' response`), bodyBytes: body.length } as PeerResponse<O>;
}

const errorHeader = z.object({ code: z.string().max(64), message: z.string().max(4096) });

/** The code and message of an error frame; a malformed one still yields something to report. */
export function decodeErrorHeader(headerBytes: Buffer): { code: string; message: string } {
  try {
    const parsed = errorHeader.safeParse(JSON.parse(headerBytes.toString("utf8")));
    if (parsed.success) return parsed.data;
  } catch {
    // Reported below.
  }
  return { code: "internal", message: "the peer sent a malformed error" };
}

function decodeBody<Out>(codec: BodyCodec<unknown, Out>, bytes: Buffer, what: string): Out {
  try {
    return codec.decode(bytes);
  } catch (err) {
    if (err instanceof PeerMessageError) throw new PeerMessageError(`${what} body: ${err.message}`);
    throw new PeerMessageError(`${what} body does not decode: ${(err as Error).message}`);
  }
}

function checked<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(header)"}: ${i.message}`)
    .join("; ");
  throw new PeerMessageError(`invalid ${what}: ${problems}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PeerMessageError("not valid JSON");
  }
}

/** Replaces every Buffer (a key) by its base64 text, the form the schemas above decode. */
function toWire(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return value.toString("base64");
  if (Array.isArray(value)) return value.some((v) => typeof v === "object" && v !== null) ? value.map(toWire) : value;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = typeof v === "object" && v !== null ? toWire(v) : v;
  return out;
}

/*
 * Compact headers. Every client read sends `fetch` and every write `replicate` to other replicas; as JSON their headers
 * cost a base64 key, a JSON text, a parse and a schema check at each end, a large share of a node's time per request.
 * Their binary form carries the same fields, each checked on decoding as strictly as the schema checks the JSON:
 *
 *   request:  u8 tag | u16 partition | u8 bucket length | bucket | u16 key length | key
 *             [replicate: u8 hintFor length (0: none) | hintFor]
 *   response: u8 tag | u8 canVote (fetch) or changed (replicate), 0 or 1
 *
 * `coordinate` (a client's write forwarded to a replica: every write at six nodes and more, where most nodes hold no
 * replica of a key) carries the client's context, a version vector, and the write's other fields:
 *
 *   request:  u8 tag | u8 bucket length | bucket | u16 key length | key | u8 flags (1: delete, 2: stampedAt) | u8 w |
 *             u8 pw | u16 content type length | content type (UTF-8) | [stampedAt: f64 ms | f64 logical] |
 *             u16 actors | per actor: u8 length | actor (UTF-8) | f64 counter
 *   response: u8 tag (the new version travels in the body)
 *
 * A tag is a byte no JSON text starts with, so a receiver tells the forms apart by the first byte. A node sends them
 * only on a connection whose other end said, in the upgrade, that it reads them (`PEER_COMPACT_HEADER` for fetch and
 * replicate, `PEER_COMPACT_COORDINATE_HEADER` for coordinate too): a node of an earlier version on either end keeps
 * getting JSON for what it does not read.
 */
const COMPACT_FETCH = 0x01;
const COMPACT_REPLICATE = 0x02;
const COMPACT_COORDINATE = 0x03;
/** The upgrade header by which each end of a peer connection says it reads compact fetch and replicate headers. */
export const PEER_COMPACT_HEADER = "X-Dynamo-Peer-Compact";
/** The upgrade header by which each end says it also reads compact coordinate headers (level 2). */
export const PEER_COMPACT_COORDINATE_HEADER = "X-Dynamo-Peer-Compact-Coordinate";
/** The compact forms this version reads: 1 for fetch and replicate, 2 for coordinate as well. */
export const COMPACT_LEVEL = 2;

function compactLevel(compact: boolean | number): number {
  return compact === true ? COMPACT_LEVEL : compact === false ? 0 : compact;
}

interface CompactRequestHeader {
  partition: number;
  bucket: string;
  key: Buffer;
  hintFor?: string;
}

function encodeCompactRequest(opName: "fetch" | "replicate", header: CompactRequestHeader): Buffer {
  const { partition: part, bucket: bucketName, key: keyBytes, hintFor } = header;
  const hintLength = opName === "replicate" ? 1 + (hintFor?.length ?? 0) : 0;
  const out = Buffer.allocUnsafe(1 + 2 + 1 + bucketName.length + 2 + keyBytes.length + hintLength);
  out[0] = opName === "fetch" ? COMPACT_FETCH : COMPACT_REPLICATE;
  let at = out.writeUInt16BE(part, 1);
  out[at++] = bucketName.length;
  at += out.write(bucketName, at, "latin1");
  at = out.writeUInt16BE(keyBytes.length, at);
  at += keyBytes.copy(out, at);
  if (opName === "replicate") {
    out[at++] = hintFor?.length ?? 0;
    if (hintFor) out.write(hintFor, at, "latin1");
  }
  return out;
}

function decodeCompactRequest(opName: "fetch" | "replicate", bytes: Buffer): CompactRequestHeader {
  const fail = (problem: string) => new PeerMessageError(`invalid '${opName}' request: ${problem}`);
  if (bytes.length < 4) throw fail("truncated header");
  const part = bytes.readUInt16BE(1);
  const bucketLength = bytes[3]!;
  if (bytes.length < 4 + bucketLength + 2) throw fail("truncated header");
  const bucketName = bytes.toString("latin1", 4, 4 + bucketLength);
  if (!BUCKET_NAME_PATTERN.test(bucketName)) throw fail("bucket names match [a-z0-9][a-z0-9_-]{0,62}");
  let at = 4 + bucketLength;
  const keyLength = bytes.readUInt16BE(at);
  at += 2;
  if (keyLength === 0 || keyLength > KEY_BYTES_MAX) throw fail(`keys are 1 to ${KEY_BYTES_MAX} bytes, got ${keyLength}`);
  if (bytes.length < at + keyLength) throw fail("truncated key");
  // A copy: the key outlives the frame (locks, hints), which must not keep the whole socket chunk alive.
  const keyBytes = Buffer.from(bytes.subarray(at, at + keyLength));
  at += keyLength;
  const header: CompactRequestHeader = { partition: part, bucket: bucketName, key: keyBytes };
  if (opName === "replicate") {
    if (bytes.length < at + 1) throw fail("truncated header");
    const hintLength = bytes[at++]!;
    if (bytes.length < at + hintLength) throw fail("truncated hintFor");
    if (hintLength > 0) {
      const hintFor = bytes.toString("latin1", at, at + hintLength);
      if (!MEMBER_ID_PATTERN.test(hintFor)) throw fail("hintFor: member ids are 1-63 letters, digits, '.', '_' or '-'");
      header.hintFor = hintFor;
      at += hintLength;
    }
  }
  if (at !== bytes.length) throw fail(`${bytes.length - at} bytes after the header's fields`);
  return header;
}

function compactFlag(tag: number, flag: boolean): Buffer {
  return Buffer.from([tag, flag ? 1 : 0]);
}

function decodeCompactResponse(opName: PeerOp, bytes: Buffer): { canVote: boolean } | { changed: boolean } | Record<string, never> {
  if (opName === "coordinate" || bytes[0] === COMPACT_COORDINATE) {
    if (opName !== "coordinate" || bytes[0] !== COMPACT_COORDINATE) throw new PeerMessageError(`invalid '${opName}' response: a compact header of another operation`);
    if (bytes.length !== 1) throw new PeerMessageError("invalid 'coordinate' response: a compact header is its tag alone");
    return {};
  }
  const expected = opName === "fetch" ? COMPACT_FETCH : opName === "replicate" ? COMPACT_REPLICATE : undefined;
  if (bytes[0] !== expected) throw new PeerMessageError(`invalid '${opName}' response: a compact header of another operation`);
  if (bytes.length !== 2 || bytes[1]! > 1) throw new PeerMessageError(`invalid '${opName}' response: a compact header is a tag and a 0 or 1`);
  return opName === "fetch" ? { canVote: bytes[1] === 1 } : { changed: bytes[1] === 1 };
}

type CoordinateHeader = z.output<Ops["coordinate"]["request"]>;

const COORDINATE_DELETE = 1;
const COORDINATE_STAMPED = 2;
const CONTEXT_ACTORS_MAX = 1000;
const CONTENT_TYPE_MAX = 1024;

/**
 * The compact form of a coordinate header, or undefined for one that has no compact form (an actor id or content type
 * too long for its length field; the schema refuses those anyway), which then goes as JSON.
 */
function encodeCompactCoordinate(header: CoordinateHeader): Buffer | undefined {
  const actors = Object.entries(header.context);
  const contentType = Buffer.from(header.contentType, "utf8");
  if (contentType.length > 0xffff || actors.length > 0xffff) return undefined;
  const actorBytes = actors.map(([actorId]) => Buffer.from(actorId, "utf8"));
  if (actorBytes.some((a) => a.length === 0 || a.length > 0xff)) return undefined;
  let size = 1 + 1 + header.bucket.length + 2 + header.key.length + 3 + 2 + contentType.length + (header.stampedAt ? 16 : 0) + 2;
  for (const a of actorBytes) size += 1 + a.length + 8;
  const out = Buffer.allocUnsafe(size);
  out[0] = COMPACT_COORDINATE;
  out[1] = header.bucket.length;
  let at = 2 + out.write(header.bucket, 2, "latin1");
  at = out.writeUInt16BE(header.key.length, at);
  at += header.key.copy(out, at);
  out[at++] = (header.delete ? COORDINATE_DELETE : 0) | (header.stampedAt ? COORDINATE_STAMPED : 0);
  out[at++] = header.w;
  out[at++] = header.pw;
  at = out.writeUInt16BE(contentType.length, at);
  at += contentType.copy(out, at);
  if (header.stampedAt) {
    at = out.writeDoubleBE(header.stampedAt.ms, at);
    at = out.writeDoubleBE(header.stampedAt.logical, at);
  }
  at = out.writeUInt16BE(actors.length, at);
  actors.forEach(([, counter], i) => {
    const a = actorBytes[i]!;
    out[at++] = a.length;
    at += a.copy(out, at);
    at = out.writeDoubleBE(counter, at);
  });
  return out;
}

/** Reads a compact coordinate header, checking every field as the JSON schema does; throws PeerMessageError. */
function decodeCompactCoordinate(bytes: Buffer): CoordinateHeader {
  const fail = (problem: string) => new PeerMessageError(`invalid 'coordinate' request: ${problem}`);
  let at = 1;
  const need = (n: number, what: string) => {
    if (bytes.length < at + n) throw fail(`truncated ${what}`);
  };
  need(1, "header");
  const bucketLength = bytes[at++]!;
  need(bucketLength + 2, "header");
  const bucketName = bytes.toString("latin1", at, at + bucketLength);
  if (!BUCKET_NAME_PATTERN.test(bucketName)) throw fail("bucket names match [a-z0-9][a-z0-9_-]{0,62}");
  at += bucketLength;
  const keyLength = bytes.readUInt16BE(at);
  at += 2;
  if (keyLength === 0 || keyLength > KEY_BYTES_MAX) throw fail(`keys are 1 to ${KEY_BYTES_MAX} bytes, got ${keyLength}`);
  need(keyLength, "key");
  // A copy, as for fetch and replicate: the key outlives the frame.
  const keyBytes = Buffer.from(bytes.subarray(at, at + keyLength));
  at += keyLength;
  need(5, "header");
  const flags = bytes[at++]!;
  if ((flags & ~(COORDINATE_DELETE | COORDINATE_STAMPED)) !== 0) throw fail(`unknown flags ${flags}`);
  const w = bytes[at++]!;
  const pw = bytes[at++]!;
  if (w < 1 || w > 16) throw fail(`w is 1 to 16, got ${w}`);
  if (pw > 16) throw fail(`pw is 0 to 16, got ${pw}`);
  const contentTypeLength = bytes.readUInt16BE(at);
  at += 2;
  need(contentTypeLength, "content type");
  const contentType = bytes.toString("utf8", at, at + contentTypeLength);
  if (contentType.length > CONTENT_TYPE_MAX) throw fail(`content types are at most ${CONTENT_TYPE_MAX} characters`);
  at += contentTypeLength;
  const header: CoordinateHeader = { bucket: bucketName, key: keyBytes, context: {}, contentType, delete: (flags & COORDINATE_DELETE) !== 0, w, pw };
  if (flags & COORDINATE_STAMPED) {
    need(16, "stampedAt");
    const ms = bytes.readDoubleBE(at);
    const logical = bytes.readDoubleBE(at + 8);
    at += 16;
    if (!isCount(ms) || !isCount(logical)) throw fail("stampedAt: ms and logical are whole numbers from 0");
    header.stampedAt = { ms, logical };
  }
  need(2, "context");
  const actors = bytes.readUInt16BE(at);
  at += 2;
  if (actors > CONTEXT_ACTORS_MAX) throw fail(`a context names at most ${CONTEXT_ACTORS_MAX} actors, got ${actors}`);
  for (let i = 0; i < actors; i++) {
    need(1, "context");
    const actorLength = bytes[at++]!;
    if (actorLength === 0) throw fail("context: an empty actor id");
    need(actorLength + 8, "context");
    const actorId = bytes.toString("utf8", at, at + actorLength);
    at += actorLength;
    const counter = bytes.readDoubleBE(at);
    at += 8;
    if (actorId === "__proto__") throw fail("context: not an actor id");
    if (Object.hasOwn(header.context, actorId)) throw fail("context: an actor named twice");
    if (!isCount(counter) || counter < 1) throw fail(`context: counters are whole numbers from 1`);
    header.context[actorId] = counter;
  }
  if (at !== bytes.length) throw fail(`${bytes.length - at} bytes after the header's fields`);
  return header;
}

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
