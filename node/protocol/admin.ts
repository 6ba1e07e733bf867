/**
 * The messages of the admin API on the peer port (JSON over HTTP), used by the RingDriver, the operator, the
 * `dynamo dev` supervisor and tests. The node builds its answers as these types and every client parses them with
 * these schemas, so a field renamed on one side is a type error, and an answer that does not fit is a clear error
 * instead of an `undefined` deep inside the driver. Answers are parsed leniently about fields they do not know, so
 * a newer node can add fields without breaking an older driver.
 */
import { z } from "zod";
import { ringSchema } from "../ring/index.js";
import { nodeStatsSchema, type NodeStats } from "../stats/view.js";

export const ADMIN_PATHS = {
  node: "/v1/admin/node",
  ring: "/v1/admin/ring",
  transfers: "/v1/admin/transfers",
  /** The node's account of itself, the same as `GET /v1/node` on the client port (node/stats). */
  stats: "/v1/admin/stats",
  faults: "/v1/admin/faults",
  /** Followed by `{bucket}/{key}`, percent-encoded like the client API's paths. */
  local: "/v1/admin/local/",
  /** The buckets the node serves and the limits that shape what it stores (for backups and restores). */
  config: "/v1/admin/config",
} as const;

export const transferProgressSchema = z.object({
  partition: z.number().int().min(0),
  from: z.string(),
  to: z.string(),
  kind: z.enum(["ownership", "rebuild"]),
  state: z.enum(["waiting", "active", "done"]),
  keys: z.number().int().min(0),
  bytes: z.number().int().min(0),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  error: z.string().optional(),
});
export type TransferProgress = z.infer<typeof transferProgressSchema>;

const hintStatsSchema = z.object({
  count: z.number(),
  bytes: z.number(),
  byOwner: z.record(z.string(), z.object({ count: z.number(), bytes: z.number() })),
});

const fingerprintSchema = z.string().regex(/^[0-9a-f]{64}$/, "a SHA-256 fingerprint in 64 lower-case hex digits");

/**
 * Which certificates a port uses right now: fingerprints of the CAs it trusts and of its own certificate. The operator
 * compares them with the Secrets it wrote, so it knows when a rotated file has reached the node (the kubelet updates
 * mounted Secrets within a minute or so, and the node re-reads them every few seconds).
 */
export const tlsInUseSchema = z.object({
  caFingerprints: z.array(fingerprintSchema).max(64),
  certFingerprint: fingerprintSchema,
  certNotAfter: z.string(),
});
export type TlsInUse = z.infer<typeof tlsInUseSchema>;

/** `GET /v1/admin/node`: who the node is and what it is doing. */
export const nodeInfoSchema = z.object({
  id: z.string(),
  pid: z.number().int(),
  incarnation: z.string(),
  /** The zone the node was started in (`--zone`, `DYNAMO_ZONE`); absent when it was not told. */
  zone: z.string().optional(),
  actor: z.string(),
  epoch: z.number().int().min(0),
  clientUrl: z.string(),
  peerUrl: z.string(),
  ready: z.boolean(),
  uptimeMs: z.number(),
  hints: hintStatsSchema,
  rebuildingPartitions: z.number().int().min(0),
  /** "done" once a node that lost its disk has rebuilt every partition it replicates. */
  rebuild: z.enum(["none", "running", "done"]),
  transfers: z.array(transferProgressSchema),
  faults: z.object({ cut: z.array(z.string()) }).optional(),
  /** The peer port's certificates (absent in plaintext) and the client port's (absent without client TLS). */
  tls: z.object({ peer: tlsInUseSchema.optional(), client: tlsInUseSchema.optional() }).optional(),
  /** True once the node was told to stop and refuses new work (absent from older nodes). */
  draining: z.boolean().optional(),
  /** Ring members this node counts as down right now (absent from older nodes). */
  down: z.array(z.string()).optional(),
});
export type NodeInfo = z.infer<typeof nodeInfoSchema>;

/** `GET /v1/admin/ring` answers a ring (`ringSchema`); `PUT` takes one and answers this. */
/** `installed`: the node runs the ring now; otherwise `epoch` and `term` say what it runs instead. */
export const ringInstallSchema = z.object({ installed: z.boolean(), epoch: z.number().int().min(0), term: z.number().int().min(0).optional() });
export type RingInstall = z.infer<typeof ringInstallSchema>;
export { ringSchema };

/** `GET /v1/admin/transfers`: the transfers this node receives under its ring. */
export const transfersSchema = z.object({ epoch: z.number().int().min(0), transfers: z.array(transferProgressSchema) });
export type TransfersReport = z.infer<typeof transfersSchema>;

/** `PUT /v1/admin/faults` (fault injection, tests only): the members this node's peer network is cut from. */
export const faultsSchema = z.object({ cut: z.array(z.string().max(63)).max(4096) });
export type Faults = z.infer<typeof faultsSchema>;

/** `GET /v1/admin/local/{bucket}/{key}`: this node's own copy of a key, without asking any other replica. */
export const localRecordSchema = z.union([
  z.object({ found: z.literal(false), partition: z.number().int().optional(), reason: z.string().optional() }),
  z.object({
    found: z.literal(true),
    partition: z.number().int(),
    clock: z.record(z.string(), z.number()),
    siblings: z.array(
      z.object({
        dot: z.object({ actor: z.string(), counter: z.number() }),
        deleted: z.boolean(),
        /** base64, null for a tombstone. */
        value: z.string().nullable(),
        contentType: z.string(),
        timestamp: z.object({ ms: z.number(), logical: z.number() }),
      }),
    ),
  }),
]);
export type LocalRecord = z.infer<typeof localRecordSchema>;

/** `GET /v1/admin/stats`: see node/stats. */
export { nodeStatsSchema };
export type { NodeStats };

/** `GET /v1/admin/config`: the buckets this node serves and the limits a backup or restore must respect. */
export const nodeConfigViewSchema = z.object({
  buckets: z.array(
    z.object({
      name: z.string(),
      n: z.number().int().min(1),
      r: z.number().int().min(1),
      w: z.number().int().min(1),
      reconciliation: z.enum(["siblings", "lww"]),
    }),
  ),
  tombstoneGraceMs: z.number().int().min(0),
  recordBytesMax: z.number().int().min(1),
});
export type NodeConfigView = z.infer<typeof nodeConfigViewSchema>;

/** Every error on the peer port: `{"error": code, "message": text}`. */
export const adminErrorSchema = z.object({ error: z.string(), message: z.string() });
