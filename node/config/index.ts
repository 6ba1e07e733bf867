/**
 * Node configuration: bucket definitions and tuning knobs, validated once at the edge with zod. Every knob has its
 * documented default in the schema, so a node runs with no configuration file at all.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { DynamoError } from "../errors/index.js";
// The frame module itself, not the protocol's index: the protocol's message schemas import this module.
import { RECORD_BYTES_MAX_LIMIT } from "../protocol/frame.js";

/** Room a record needs besides one value: its clock, a dot, a timestamp and a content type. */
const RECORD_VERSION_ROOM_BYTES = 64 * 1024;

export const BUCKET_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const bucketSchema = z
  .object({
    name: z.string().regex(BUCKET_NAME_PATTERN, "bucket names match [a-z0-9][a-z0-9_-]{0,62}"),
    n: z.number().int().min(1).max(16),
    r: z.number().int().min(1),
    w: z.number().int().min(1),
    reconciliation: z.enum(["siblings", "lww"]).default("siblings"),
  })
  // A misspelt field (`reconcilation: lww`) must stop the node rather than silently give the bucket a default.
  .strict()
  .refine((b) => b.r <= b.n, { message: "r must be <= n" })
  .refine((b) => b.w <= b.n, { message: "w must be <= n" });

export type BucketConfig = z.output<typeof bucketSchema>;

export const DEFAULT_BUCKET: BucketConfig = { name: "default", n: 3, r: 2, w: 2, reconciliation: "siblings" };

/**
 * Tuning knobs: each with its bounds and its documented default, in one place. `DEFAULT_TUNING` is what a node runs
 * with when its configuration file says nothing.
 */
export const tuningSchema = z
  .object({
    /** Upper bound on how long a coordinator waits for a quorum before answering 503. */
    requestTimeoutMs: z.number().int().min(10).max(600_000).default(5000),
    /** How long one peer request may take before it counts as failed. */
    peerTimeoutMs: z.number().int().min(10).max(600_000).default(3000),
    /**
     * How long a node told to stop (SIGTERM) waits for the requests it is coordinating or serving to finish before it
     * closes its ports anyway. It stays below Kubernetes' terminationGracePeriodSeconds (30 s) and `dynamo dev`'s grace.
     */
    drainTimeoutMs: z.number().int().min(0).max(600_000).default(8000),
    /** Largest value a client may store. */
    valueMaxBytes: z.number().int().min(1).max(RECORD_BYTES_MAX_LIMIT - RECORD_VERSION_ROOM_BYTES).default(1024 * 1024),
    /**
     * Largest a key's record (every sibling and tombstone, with its version data) may grow through writes; a write
     * past it is refused with 409 record_too_large until a client resolves the siblings. At most 16 MiB, so that
     * every record fits in a peer frame.
     */
    recordBytesMax: z
      .number()
      .int()
      .min(64 * 1024)
      .max(RECORD_BYTES_MAX_LIMIT, `at most ${RECORD_BYTES_MAX_LIMIT} bytes (16 MiB), so that every record fits in a peer frame`)
      .default(8 * 1024 * 1024),
    /** Live + tombstone siblings past which a warning is logged and counted. */
    siblingsWarn: z.number().int().min(1).default(25),
    /** Siblings past which further concurrent writes are refused (repair is never refused). */
    siblingsMax: z.number().int().min(1).max(10_000).default(100),
    /** How long a tombstone is kept before it may be reaped. */
    tombstoneGraceMs: z.number().int().min(0).default(24 * 60 * 60 * 1000),
    /** How often the node looks for tombstones past their grace period. */
    reapIntervalMs: z.number().int().min(100).default(15 * 60 * 1000),
    /** Most tombstones reaped in one pass, so a pass never holds the disk for long. */
    reapBatchMax: z.number().int().min(1).max(1_000_000).default(10_000),
    /** How often a node gossips, and to how many random members each time. */
    gossipIntervalMs: z.number().int().min(10).max(60_000).default(500),
    gossipFanout: z.number().int().min(1).max(16).default(2),
    /** Failure detector threshold: phi 8 means one chance in 10^8 that a member this quiet is merely slow. */
    phiThreshold: z.number().min(1).max(50).default(8),
    /** Bounds of the hint store: markers, and bytes of the records they point at. */
    hintsMax: z.number().int().min(0).max(100_000_000).default(100_000),
    hintBytesMax: z.number().int().min(0).default(256 * 1024 * 1024),
    /** How often hints are offered to owners that are up again, and how many per owner per round. */
    hintDeliveryIntervalMs: z.number().int().min(10).default(1000),
    hintBatchMax: z.number().int().min(1).max(100_000).default(500),
    /** Records per page when a wiped node rebuilds a partition from another replica. */
    rebuildBatchMax: z.number().int().min(1).max(10_000).default(500),
    /** How often one anti-entropy exchange runs (each exchange covers one partition with one other replica). */
    antiEntropyIntervalMs: z.number().int().min(10).default(10_000),
    /** Records per second that building hash trees may read, so anti-entropy never eats the disk. */
    antiEntropyKeysPerSecond: z.number().int().min(1).default(20_000),
    /** How often every hash tree is rebuilt from disk, to catch anything incremental updates missed. */
    antiEntropyRebuildIntervalMs: z.number().int().min(1000).default(60 * 60 * 1000),
    /**
     * Partitions one node receives at once during handoff, and the bytes per second a node may stream (sending and
     * receiving, handoff and rebuilds): the ceiling of a pace that backs off while the node's event loop is more than
     * `handoffLagTargetMs` (or 1.5 times its level without streaming) behind, or while the 99th percentile of its client
     * requests is more than `handoffLatencyFactor` times its level without streaming, so client requests keep their
     * latency. The pace reads the event loop as Node's 10 ms sampling timer does, interval included: 20 means ticks
     * 10 ms late (dynamo_event_loop_lag_seconds reports the part beyond the interval alone).
     * `handoffFloorBytesPerSecond` is the least the pace keeps streaming at however much clients suffer (the ceiling,
     * if that is lower): a step under full client load runs at about this rate per node, so raising it finishes such a
     * step sooner at the price of the clients' latency during it.
     */
    transferConcurrency: z.number().int().min(1).max(64).default(4),
    handoffBytesPerSecond: z.number().int().min(1024).default(128 * 1024 * 1024),
    handoffFloorBytesPerSecond: z.number().int().min(1024).default(256 * 1024),
    handoffLagTargetMs: z.number().min(1).max(60_000).default(20),
    handoffLatencyFactor: z.number().min(1).max(100).default(1.25),
    /** Records per page of a handoff stream. */
    handoffBatchMax: z.number().int().min(1).max(10_000).default(2000),
    /** How long a node keeps a partition it no longer replicates, so nodes still routing by the old ring find it. */
    dropDelayMs: z.number().int().min(0).default(10_000),
    /** Memory for the cache of recently used records in front of LevelDB. */
    recordCacheBytes: z.number().int().min(0).max(64 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    /**
     * Whether each record write waits for LevelDB to fsync its log. Off, a write survives a crash of the node process
     * (it is in the operating system's page cache) but not of the machine, unless the other replicas of w kept it;
     * on, it survives power loss on this node too, at the cost of an fsync per write.
     */
    syncWrites: z.boolean().default(false),
    /** Most requests one peer connection keeps in flight; more wait for the connection or fail fast. */
    peerInFlightMax: z.number().int().min(1).max(1_000_000).default(4096),
    /** Most concurrent client requests one node coordinates before answering 503. */
    coordinatorInFlightMax: z.number().int().min(1).max(1_000_000).default(4096),
    /** Read repairs queued in the background at most; beyond this they are dropped and counted. */
    readRepairQueueMax: z.number().int().min(0).max(1_000_000).default(1024),
    /**
     * A read asks r replicas, not all n: r+w>n already makes any r of them hold the newest acknowledged write, and
     * the other replicas' answers would only feed read repair. This share of reads asks every replica, so a replica
     * that missed a write is still repaired by reads (anti-entropy and hints repair it too); 1 asks all on every read.
     */
    readRepairChance: z.number().min(0).max(1).default(0.1),
    /**
     * The least a read waits for the r replicas it asked before it asks the others too; it waits longer when the 99th
     * percentile of recent replica answers is longer (a busy machine), so only the slowest reads ask more. One slow or
     * frozen replica then costs a read this much rather than the peer timeout.
     */
    readSpeculateMs: z.number().int().min(0).max(600_000).default(20),
    /**
     * Client connections one node keeps open, idle keep-alive ones included; a connection past it is answered 503 and
     * closed, so a flood of sockets cannot exhaust file descriptors or memory.
     */
    clientConnectionsMax: z.number().int().min(1).max(1_000_000).default(4096),
    /** How long a client may take to send a request's headers; past it the node answers 408 and closes the connection. */
    clientHeadersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    /** How long a client may take to send a request's body once its headers are in; past it, 408 and the connection closes. */
    clientBodyTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
    /**
     * Bytes of client request bodies one node holds at once, counted from the first byte read (or from the declared
     * Content-Length) until the answer is sent; a request that would pass it gets 503 at once.
     */
    clientBodyBudgetBytes: z.number().int().min(1).max(64 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
  })
  .strict();

export type Tuning = z.output<typeof tuningSchema>;

export const DEFAULT_TUNING: Tuning = tuningSchema.parse({});

/** The least a node's handoff pace streams at: the configured floor, or the ceiling when that is lower. */
export function handoffFloorBytesPerSecond(tuning: Tuning): number {
  return Math.min(tuning.handoffBytesPerSecond, tuning.handoffFloorBytesPerSecond);
}

type TuningShape = typeof tuningSchema.shape;

/**
 * What a configuration file (or a DynamoCluster's `spec.tuning`) may say: the same knobs with the same bounds, each
 * optional and without its default, so a resource keeps only what its author wrote and every node fills in the rest.
 */
export const tuningOverridesSchema = z
  .object(
    Object.fromEntries(Object.entries(tuningSchema.shape).map(([key, knob]) => [key, knob.unwrap().optional()])) as {
      [K in keyof TuningShape]: z.ZodOptional<ReturnType<TuningShape[K]["unwrap"]>>;
    },
  )
  .strict();

export const nodeConfigFileSchema = z
  .object({
    buckets: z.array(bucketSchema).default([]),
    // `prefault` parses the empty object, so every knob the file leaves out gets its default.
    tuning: tuningSchema.prefault({}),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    for (const bucket of cfg.buckets) {
      if (seen.has(bucket.name)) ctx.addIssue({ code: "custom", message: `bucket '${bucket.name}' is defined twice` });
      seen.add(bucket.name);
    }
  });

export interface NodeConfig {
  buckets: Map<string, BucketConfig>;
  tuning: Tuning;
}

/** Validates a parsed configuration document; `default` is always present unless the document redefines it. */
export function parseNodeConfig(document: unknown): NodeConfig {
  const result = nodeConfigFileSchema.safeParse(document ?? {});
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new DynamoError("invalid_request", `invalid configuration: ${problems}`);
  }
  const buckets = new Map<string, BucketConfig>([[DEFAULT_BUCKET.name, DEFAULT_BUCKET]]);
  for (const bucket of result.data.buckets) buckets.set(bucket.name, bucket);
  const tuning = result.data.tuning;
  if (tuning.siblingsWarn > tuning.siblingsMax) {
    throw new DynamoError("invalid_request", "invalid configuration: tuning.siblingsWarn must be <= tuning.siblingsMax");
  }
  if (tuning.valueMaxBytes + RECORD_VERSION_ROOM_BYTES > tuning.recordBytesMax) {
    throw new DynamoError(
      "invalid_request",
      `invalid configuration: tuning.valueMaxBytes (${tuning.valueMaxBytes}) must leave ${RECORD_VERSION_ROOM_BYTES} bytes of tuning.recordBytesMax ` +
        `(${tuning.recordBytesMax}) for version data, or a single value could never be replicated; raise recordBytesMax (at most ${RECORD_BYTES_MAX_LIMIT}) or lower valueMaxBytes`,
    );
  }
  if (tuning.valueMaxBytes > tuning.clientBodyBudgetBytes) {
    throw new DynamoError("invalid_request", "invalid configuration: tuning.valueMaxBytes must be <= tuning.clientBodyBudgetBytes, or no value of the largest size could ever be accepted");
  }
  return { buckets, tuning };
}

/**
 * What a ring with `owners` distinct partition owners cannot give the configured buckets: a bucket whose n is larger
 * keeps fewer replicas than it asks for, and its reads or writes fail outright when r or w is larger still. Said at
 * start, in /readyz and in /v1/cluster, so a misconfiguration is seen before the first failed write.
 */
export function replicationWarnings(buckets: Iterable<BucketConfig>, owners: number): string[] {
  const warnings: string[] = [];
  for (const b of buckets) {
    if (b.n <= owners) continue;
    const failing = [b.w > owners ? `writes at w=${b.w}` : "", b.r > owners ? `reads at r=${b.r}` : ""].filter(Boolean);
    warnings.push(
      `bucket '${b.name}' has n=${b.n} but only ${owners} ${owners === 1 ? "node owns" : "nodes own"} partitions: each key gets at most ${owners} replicas` +
        (failing.length > 0 ? ` and ${failing.join(" and ")} fail` : "") +
        `; add nodes or lower n`,
    );
  }
  return warnings;
}

/** Reads a JSON or YAML configuration file (YAML is a superset of JSON, so one parser serves both). */
export function loadNodeConfig(path: string | undefined): NodeConfig {
  if (!path) return parseNodeConfig({});
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new DynamoError("invalid_request", `cannot read configuration file ${path}: ${(err as Error).message}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new DynamoError("invalid_request", `configuration file ${path} is not valid JSON or YAML: ${(err as Error).message}`);
  }
  return parseNodeConfig(document);
}
