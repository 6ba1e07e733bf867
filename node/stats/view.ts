/**
 * The node's own account of itself, as `GET /v1/node` on the client port answers it: identity, disk, event-loop lag,
 * request rates and latency, hints per target, anti-entropy in the last hour, the transfers it receives, and the
 * history of the last minutes. One zod schema types both the node that builds it and the readers that parse it (the
 * console, the kubectl plugin), so they cannot drift apart.
 */
import { z } from "zod";

const opsSchema = z.object({ get: z.number(), put: z.number(), delete: z.number() });
const quantilesSchema = z.object({ p50: z.number().optional(), p99: z.number().optional() });

export const transferViewSchema = z.object({
  partition: z.number().int(),
  from: z.string(),
  to: z.string(),
  kind: z.string(),
  state: z.string(),
  keys: z.number(),
  bytes: z.number(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  error: z.string().optional(),
});

export const historyPointSchema = z.object({
  t: z.number(),
  opsPerSecond: opsSchema,
  errorsPerSecond: z.number(),
  p50Ms: z.number().optional(),
  p99Ms: z.number().optional(),
  handoffBytesPerSecond: z.number(),
});

export const nodeStatsSchema = z.object({
  id: z.string(),
  incarnation: z.string(),
  epoch: z.number().int(),
  ready: z.boolean(),
  uptimeSeconds: z.number(),
  disk: z.object({
    /** Bytes of the data directory (LevelDB's files). */
    dataBytes: z.number(),
    /** Of the file system holding it; absent where the platform cannot tell. */
    freeBytes: z.number().optional(),
    capacityBytes: z.number().optional(),
  }),
  memory: z.object({ rssBytes: z.number(), heapUsedBytes: z.number() }),
  /** Event-loop delay over the last sampling interval, ms. */
  eventLoopLagMs: z.object({ p50: z.number(), p99: z.number(), max: z.number() }),
  rates: z.object({
    windowSeconds: z.number(),
    opsPerSecond: opsSchema.extend({ total: z.number() }),
    errorsPerSecond: z.number(),
    latencyMs: z.object({ get: quantilesSchema, put: quantilesSchema, delete: quantilesSchema }),
  }),
  hints: z.object({
    count: z.number(),
    bytes: z.number(),
    /** Hints held for each member that missed writes. */
    byTarget: z.record(z.string(), z.object({ count: z.number(), bytes: z.number() })),
  }),
  antiEntropy: z.object({
    windowSeconds: z.number(),
    exchanges: z.number(),
    /** Exchanges that found and repaired differences. */
    repaired: z.number(),
    failed: z.number(),
    keysRepaired: z.number(),
  }),
  rebuildingPartitions: z.number(),
  transfers: z.array(transferViewSchema),
  history: z.array(historyPointSchema),
});

export type NodeStats = z.output<typeof nodeStatsSchema>;
export type TransferView = z.output<typeof transferViewSchema>;
export type HistoryPointView = z.output<typeof historyPointSchema>;
