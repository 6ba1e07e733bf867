/**
 * The ring as clients see it (`GET /v1/ring` on the client port), both ways: the node encodes it, the client library
 * decodes it and computes preference lists with the very functions the nodes use, so a client that routes each
 * request to a replica of its key (Dynamo's client-driven coordination, §6.4 of the paper) agrees with the nodes on
 * who those replicas are, zones included.
 *
 * The view carries only what the preference list needs: the partition count, the owner of each partition (as an
 * index into the member list, which keeps a 256-partition ring near 1 KiB), each member's client URL, state and zone,
 * and each bucket's n. Peer addresses and incarnations stay inside the cluster. Its version, `TERM.EPOCH`, orders
 * rings as the nodes do (the highest term, then the highest epoch); nodes name theirs in response headers so a client
 * learns that it is behind.
 */
import { z } from "zod";
import { DynamoError } from "../errors/index.js";
import { isPowerOfTwo, partitionOf, PARTITIONS_MAX } from "./hash.js";
import { preferenceList } from "./preference-list.js";
import type { Member, Ring } from "./types.js";

/** Request: the ring version a client routed by. Response: the node's version, when it differs from the client's. */
export const RING_VERSION_HEADER = "x-dynamo-ring-version";
/** Response: the node holds no replica of the key by its ring, whose version this names; it forwarded the request. */
export const MISDIRECTED_HEADER = "x-dynamo-misdirected";

export interface RingVersion {
  term: number;
  epoch: number;
}

export interface RingView {
  /** `TERM.EPOCH`, as in the headers. */
  version: string;
  term: number;
  epoch: number;
  partitions: number;
  /** Sorted by id; `owners` indexes into it. */
  members: Array<{ id: string; clientUrl: string; state: Member["state"]; zone?: string }>;
  owners: number[];
  buckets: Array<{ name: string; n: number }>;
}

/** What a client routes by: the ring rebuilt for the preference-list functions, and each bucket's n. */
export interface DecodedRingView {
  version: RingVersion;
  ring: Ring;
  buckets: Map<string, number>;
}

export function ringVersion(ring: Pick<Ring, "term" | "epoch">): string {
  return `${ring.term ?? 0}.${ring.epoch}`;
}

/** Parses `TERM.EPOCH`; undefined for anything else, so a garbled header is ignored rather than trusted. */
export function parseRingVersion(text: string | undefined): RingVersion | undefined {
  const match = text === undefined ? null : /^(\d{1,15})\.(\d{1,15})$/.exec(text.trim());
  return match ? { term: Number(match[1]), epoch: Number(match[2]) } : undefined;
}

/** Negative when `a` is older than `b`, as the nodes order rings: the higher term wins, then the higher epoch. */
export function compareRingVersions(a: RingVersion, b: RingVersion): number {
  return a.term !== b.term ? a.term - b.term : a.epoch - b.epoch;
}

export function encodeRingView(ring: Ring, buckets: Iterable<{ name: string; n: number }>): RingView {
  const members = Object.values(ring.members).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const index = new Map(members.map((m, i) => [m.id, i]));
  return {
    version: ringVersion(ring),
    term: ring.term ?? 0,
    epoch: ring.epoch,
    partitions: ring.partitions,
    members: members.map((m) => ({ id: m.id, clientUrl: m.clientUrl, state: m.state, ...(m.zone !== undefined ? { zone: m.zone } : {}) })),
    owners: ring.owners.map((id) => index.get(id) as number),
    buckets: [...buckets].map((b) => ({ name: b.name, n: b.n })).sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

const viewSchema = z.object({
  term: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  epoch: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  partitions: z.number().int().min(1).max(PARTITIONS_MAX).refine(isPowerOfTwo, "partitions must be a power of two"),
  members: z
    .array(z.object({ id: z.string().min(1).max(63), clientUrl: z.string().min(1).max(2048), state: z.enum(["joining", "valid", "leaving"]), zone: z.string().max(63).optional() }))
    .min(1)
    .max(PARTITIONS_MAX),
  owners: z.array(z.number().int().min(0)),
  buckets: z.array(z.object({ name: z.string().min(1).max(63), n: z.number().int().min(1).max(64) })).max(4096),
});

/**
 * Validates a view from the wire and rebuilds the ring from it. Throws `invalid_request` naming the problem: a client
 * must never route by a ring it half understood.
 */
export function decodeRingView(input: unknown): DecodedRingView {
  const parsed = viewSchema.safeParse(input);
  if (!parsed.success) {
    throw new DynamoError("invalid_request", `invalid ring view: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(view)"}: ${i.message}`).join("; ")}`);
  }
  const view = parsed.data;
  if (view.owners.length !== view.partitions) throw new DynamoError("invalid_request", `invalid ring view: ${view.owners.length} owners for ${view.partitions} partitions`);
  const outside = view.owners.find((o) => o >= view.members.length);
  if (outside !== undefined) throw new DynamoError("invalid_request", `invalid ring view: owner index ${outside} names no member`);
  if (new Set(view.members.map((m) => m.id)).size !== view.members.length) throw new DynamoError("invalid_request", "invalid ring view: a member id appears twice");
  // Peer URLs and incarnations are not part of the view; the preference list never reads them.
  const members = Object.fromEntries(
    view.members.map((m) => [m.id, { id: m.id, clientUrl: m.clientUrl, peerUrl: "", incarnation: "", state: m.state, ...(m.zone !== undefined ? { zone: m.zone } : {}) }]),
  );
  const ring: Ring = {
    epoch: view.epoch,
    term: view.term,
    partitions: view.partitions,
    owners: view.owners.map((o) => view.members[o]!.id),
    pending: [],
    members,
  };
  return { version: { term: view.term, epoch: view.epoch }, ring, buckets: new Map(view.buckets.map((b) => [b.name, b.n])) };
}

/** The ids of the key's replicas in preference order: the members a write and a read of it should be sent to. */
export function replicasOf(ring: Ring, bucket: string, key: Buffer, n: number): readonly string[] {
  return preferenceList(ring, partitionOf(bucket, key, ring.partitions), n);
}
