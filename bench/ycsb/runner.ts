/**
 * The closed-loop load generator: `clients` concurrent loops, each issuing its next operation as soon as the last one
 * returns, against whatever the given `DynamoClient` points at (the store or the floor). Latencies go into bounded
 * histograms; failures are counted by error code and never stop the run, because how often a store fails under load
 * is part of what is measured.
 */
import { DynamoClient, DynamoClientError } from "../../client/index.js";
import { LatencyHistogram, type LatencySummary } from "./histogram.js";
import type { Random } from "./random.js";
import { recordKey, type Operation, type Workload } from "./workloads.js";
import { ScrambledZipfian } from "./zipfian.js";

export interface RunOptions {
  bucket: string;
  clients: number;
  records: number;
  /** Measured duration of each workload. */
  seconds: number;
  /** Run before measuring starts, so connection setup and JIT warm-up do not count. */
  warmupSeconds: number;
  /** Values written; each write picks one so the store cannot exploit repeated bytes. */
  values: readonly Buffer[];
  random: Random;
}

export interface OperationResult {
  operation: Operation;
  /** Operations that succeeded in the measured window. */
  count: number;
  opsPerSec: number;
  /** Failed operations by error code (a DynamoClientError code, `not_found` for a missing record). */
  errors: Record<string, number>;
  latency: LatencySummary;
}

export interface RunResult {
  workload: string;
  seconds: number;
  operations: OperationResult[];
}

/** Measurements for one operation type in one run. */
class OperationStats {
  readonly histogram = new LatencyHistogram();
  readonly errors = new Map<string, number>();

  fail(error: unknown): void {
    const code = error instanceof DynamoClientError ? error.code : "exception";
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  result(operation: Operation, seconds: number): OperationResult {
    return {
      operation,
      count: this.histogram.count,
      opsPerSec: seconds > 0 ? this.histogram.count / seconds : 0,
      errors: Object.fromEntries(this.errors),
      latency: this.histogram.summary(),
    };
  }
}

async function read(client: DynamoClient, bucket: string, key: string): Promise<void> {
  const result = await client.get(bucket, key);
  // Every record was loaded first, so a miss is a failure of the store, not a normal outcome.
  if (result.kind === "not_found") throw new DynamoClientError("not_found", `record ${key} not found`);
}

async function update(client: DynamoClient, bucket: string, key: string, value: Buffer): Promise<void> {
  const current = await client.get(bucket, key);
  // A missing record is written blind (or over its tombstone's context): the update still happens, as in YCSB.
  await client.put(bucket, key, value, { context: current.context, contentType: "application/octet-stream" });
}

function pick<T>(items: readonly T[], random: Random): T {
  return items[random.int(items.length)] as T;
}

async function timed(stats: OperationStats, recording: boolean, action: () => Promise<void>): Promise<void> {
  const started = performance.now();
  try {
    await action();
    if (recording) stats.histogram.record((performance.now() - started) * 1000);
  } catch (error) {
    if (recording) stats.fail(error);
  }
}

/** The load phase: inserts every record once, blind, spread over the client loops. Measured from first to last. */
export async function loadRecords(client: DynamoClient, options: RunOptions): Promise<RunResult> {
  const stats = new OperationStats();
  let nextRecord = 0;
  const started = performance.now();
  const loop = async (random: Random): Promise<void> => {
    while (nextRecord < options.records) {
      const key = recordKey(nextRecord++);
      const value = pick(options.values, random);
      await timed(stats, true, async () => {
        await client.put(options.bucket, key, value, { contentType: "application/octet-stream" });
      });
    }
  };
  await Promise.all(Array.from({ length: options.clients }, () => loop(options.random.fork())));
  const seconds = (performance.now() - started) / 1000;
  return { workload: "load", seconds, operations: [stats.result("insert", seconds)] };
}

/** Runs `workload` for warm-up plus `seconds`, recording only operations that start inside the measured window. */
export async function runWorkload(client: DynamoClient, workload: Workload, options: RunOptions): Promise<RunResult> {
  const reads = new OperationStats();
  const updates = new OperationStats();
  const keys = new ScrambledZipfian(options.records);
  const measureFrom = performance.now() + options.warmupSeconds * 1000;
  const measureUntil = measureFrom + options.seconds * 1000;
  const loop = async (random: Random): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= measureUntil) return;
      const recording = now >= measureFrom;
      const key = recordKey(keys.next(random));
      if (random.next() < workload.readProportion) {
        await timed(reads, recording, () => read(client, options.bucket, key));
      } else {
        const value = pick(options.values, random);
        await timed(updates, recording, () => update(client, options.bucket, key, value));
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, () => loop(options.random.fork())));
  const operations = [reads.result("read", options.seconds)];
  if (workload.readProportion < 1) operations.push(updates.result("update", options.seconds));
  return { workload: workload.name, seconds: options.seconds, operations };
}
