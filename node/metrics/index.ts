/**
 * The node's Prometheus metrics. One registry per node instance, so several nodes in one process (as in unit tests)
 * never share counters. Names follow Prometheus conventions: `_total` for counters, base units (seconds, bytes).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { FastCounter, FastHistogram } from "./fast.js";

/** Upper bounds (seconds) of the client latency histogram's buckets, without +Inf. */
export const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class NodeMetrics {
  readonly registry = new Registry();

  // What every client request records is kept in plain fields (./fast.ts): labels are given as {op, status}.
  readonly requests = new FastCounter(this.registry, "dynamo_requests_total", "Client requests by operation and HTTP status");
  readonly requestDuration = new FastHistogram(this.registry, "dynamo_request_duration_seconds", "Client request latency by operation", LATENCY_BUCKETS_S, {
    labelled: true,
  });
  readonly siblings = new FastHistogram(this.registry, "dynamo_siblings", "Siblings per record returned to clients", [1, 2, 3, 5, 10, 25, 50, 100], {
    labelled: false,
  });
  readonly siblingWarnings = new Counter({
    name: "dynamo_sibling_warnings_total",
    help: "Writes that left a record with more siblings than the warning limit",
    registers: [this.registry],
  });
  readonly siblingRefusals = new Counter({
    name: "dynamo_sibling_refusals_total",
    help: "Writes refused because the record had reached the sibling limit",
    registers: [this.registry],
  });
  readonly readRepairs = new Counter({
    name: "dynamo_read_repairs_total",
    help: "Stale replicas repaired by reads",
    registers: [this.registry],
  });
  readonly readRepairsDropped = new Counter({
    name: "dynamo_read_repairs_dropped_total",
    help: "Read repairs skipped because the repair queue was full",
    registers: [this.registry],
  });
  readonly forwarded = new Counter({
    name: "dynamo_forwarded_writes_total",
    help: "Writes forwarded to a replica because this node holds no replica of the key",
    registers: [this.registry],
  });
  readonly misdirected = new Counter({
    name: "dynamo_misdirected_requests_total",
    help: "Requests from ring-routing clients that reached a node holding no replica of their key (it forwarded them)",
    registers: [this.registry],
  });
  readonly connectionsHandedOver = new Counter({
    name: "dynamo_client_connections_handed_over_total",
    help: "Client connections the port's own HTTP reader gave to Node's HTTP server: at a request it does not serve (not a plain key-value request, or one still in pieces after the wait), or over the connection limit",
    registers: [this.registry],
  });
  readonly ringViews = new Counter({
    name: "dynamo_ring_view_requests_total",
    help: "GET /v1/ring requests by answer: full view (200) or unchanged (304)",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  /** Fast: while a peer is down, every write to its keys counts one (a prom-client child cost 2 µs each, round 38). */
  readonly peerErrors = new FastCounter(this.registry, "dynamo_peer_errors_total", "Failed requests to peers by operation");
  readonly tombstonesReaped = new Counter({
    name: "dynamo_tombstones_reaped_total",
    help: "Tombstones removed after their grace period",
    registers: [this.registry],
  });
  readonly hints = new Gauge({
    name: "dynamo_hints",
    help: "Hints this node holds for members that missed writes",
    registers: [this.registry],
  });
  readonly hintBytes = new Gauge({
    name: "dynamo_hint_bytes",
    help: "Bytes of the records hints point at",
    registers: [this.registry],
  });
  readonly recordRefusals = new Counter({
    name: "dynamo_record_refusals_total",
    help: "Writes (path=write) and merges (path=merge) refused because the key's record would pass its byte bound",
    labelNames: ["path"] as const,
    registers: [this.registry],
  });
  readonly hintsDropped = new Counter({
    name: "dynamo_hints_dropped_total",
    help: "Hints given up because their owner refused the record for good (it would pass the record bound there)",
    registers: [this.registry],
  });
  readonly hintsRefused = new Counter({
    name: "dynamo_hints_refused_total",
    help: "Hints not stored because the hint store was full",
    registers: [this.registry],
  });
  readonly hintsDelivered = new Counter({
    name: "dynamo_hints_delivered_total",
    help: "Hints delivered to their owners",
    registers: [this.registry],
  });
  readonly rebuildKeys = new Counter({
    name: "dynamo_rebuild_keys_total",
    help: "Records copied from other replicas while rebuilding after a lost disk",
    registers: [this.registry],
  });
  readonly rebuildPendingPartitions = new Gauge({
    name: "dynamo_rebuild_pending_partitions",
    help: "Partitions this node still has to rebuild before its reads count",
    registers: [this.registry],
  });
  readonly membersDown = new Gauge({
    name: "dynamo_members_down",
    help: "Ring members this node currently believes down",
    registers: [this.registry],
  });
  readonly antiEntropyExchanges = new Counter({
    name: "dynamo_anti_entropy_exchanges_total",
    help: "Anti-entropy exchanges by outcome",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly antiEntropyKeysRepaired = new Counter({
    name: "dynamo_anti_entropy_keys_repaired_total",
    help: "Keys found different between replicas and repaired by anti-entropy",
    registers: [this.registry],
  });
  readonly antiEntropyTreeBuild = new Histogram({
    name: "dynamo_anti_entropy_tree_build_seconds",
    help: "Time to build one partition's hash tree from disk",
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
    registers: [this.registry],
  });
  readonly handoffKeys = new Counter({
    name: "dynamo_handoff_keys_total",
    help: "Records received through ownership handoff",
    registers: [this.registry],
  });
  readonly handoffBytes = new Counter({
    name: "dynamo_handoff_bytes_total",
    help: "Bytes received through ownership handoff",
    registers: [this.registry],
  });
  readonly handoffErrors = new Counter({
    name: "dynamo_handoff_errors_total",
    help: "Ownership transfers interrupted by an error (each is retried)",
    registers: [this.registry],
  });
  readonly transferDuration = new Histogram({
    name: "dynamo_transfer_duration_seconds",
    help: "Time to receive one partition",
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly handoffPace = new Gauge({
    name: "dynamo_handoff_pace_bytes_per_second",
    help: "Bytes per second this node's partition streaming may take now: the configured rate, lowered while client work on the node falls behind",
    registers: [this.registry],
  });
  readonly transfersActive = new Gauge({
    name: "dynamo_transfers_active",
    help: "Partitions this node is receiving right now",
    registers: [this.registry],
  });
  readonly partitionsDropped = new Counter({
    name: "dynamo_partitions_dropped_total",
    help: "Partitions dropped after this node stopped replicating them",
    registers: [this.registry],
  });
  readonly cacheHits = new Gauge({
    name: "dynamo_record_cache_hits",
    help: "Reads answered by the record cache since start",
    registers: [this.registry],
  });
  readonly cacheMisses = new Gauge({
    name: "dynamo_record_cache_misses",
    help: "Reads that went to LevelDB since start",
    registers: [this.registry],
  });
  readonly cacheBytes = new Gauge({
    name: "dynamo_record_cache_bytes",
    help: "Memory held by the record cache",
    registers: [this.registry],
  });
  readonly writeBatches = new Gauge({
    name: "dynamo_store_write_batches",
    help: "LevelDB write batches since start (each holds the record, hint and metadata writes queued while the one before was in flight)",
    registers: [this.registry],
  });
  readonly writeOperations = new Gauge({
    name: "dynamo_store_write_operations",
    help: "Writes and deletions queued for LevelDB since start",
    registers: [this.registry],
  });
  readonly writesRefused = new Gauge({
    name: "dynamo_store_writes_refused",
    help: "1 once LevelDB refused a batch of logged writes: the node takes no more writes until it restarts and replays its write log",
    registers: [this.registry],
  });
  readonly unappliedBytes = new Gauge({
    name: "dynamo_store_unapplied_bytes",
    help: "Bytes of writes acknowledged from the store's write log that LevelDB does not hold yet (writers wait past 16 MiB)",
    registers: [this.registry],
  });
  readonly ringEpoch = new Gauge({
    name: "dynamo_ring_epoch",
    help: "Epoch of the ring this node has installed",
    registers: [this.registry],
  });
  readonly ownedPartitions = new Gauge({
    name: "dynamo_owned_partitions",
    help: "Partitions this node owns in the installed ring",
    registers: [this.registry],
  });

  readonly storageBytes = new Gauge({
    name: "dynamo_storage_bytes",
    help: "Bytes of the node's data directory on disk (LevelDB's files)",
    registers: [this.registry],
  });
  readonly storageFreeBytes = new Gauge({
    name: "dynamo_storage_free_bytes",
    help: "Bytes available to the node on the file system of its data directory",
    registers: [this.registry],
  });
  readonly storageCapacityBytes = new Gauge({
    name: "dynamo_storage_capacity_bytes",
    help: "Size of the file system of the node's data directory",
    registers: [this.registry],
  });
  readonly eventLoopLag = new Gauge({
    name: "dynamo_event_loop_lag_seconds",
    help: "Event-loop delay over the last sampling interval, by quantile: how long ready work waited for the node's one thread (0 when idle)",
    labelNames: ["quantile"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "dynamo_process_" });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
