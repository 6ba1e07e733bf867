/**
 * The closed-loop load generator: `clients` concurrent loops, each issuing its next operation as soon as the last one
 * returns, against whatever `KvTarget` it is given (the store, the floor, or a peer system). Latencies go into bounded
 * histograms; failures are counted by kind and never stop the run, because how often a store fails under load is part
 * of what is measured.
 */
import { LatencyHistogram, type LatencySummary } from "./histogram.js";
import type { SeededRandom as Random } from "../../lib/random.js";
import type { KvTarget } from "./target.js";
import { recordKey, type Operation, type Workload } from "./workloads.js";
import { ScrambledZipfian } from "./zipfian.js";

/** Called when the measured window opens and when it closes, so a caller can sample CPU time over exactly it. */
export interface MeasuredWindow {
  onStart(): void;
  onEnd(): void;
}

export interface RunOptions {
  clients: number;
  records: number;
  /** Measured duration of each workload. */
  seconds: number;
  /** Run before measuring starts, so connection setup and JIT warm-up do not count. */
  warmupSeconds: number;
  /** Values written; each write picks one so the store cannot exploit repeated bytes. */
  values: readonly Buffer[];
  random: Random;
  /** Told when the measured window opens and closes (for a workload, after its warm-up; for the load, its whole run). */
  window?: MeasuredWindow;
}

export interface OperationResult {
  operation: Operation;
  /** Operations that succeeded in the measured window. */
  count: number;
  opsPerSec: number;
  /** Failed operations by kind (the target's `errorKind`, e.g. `unavailable`, `timeout`, `not_found`). */
  errors: Record<string, number>;
  latency: LatencySummary;
}

export interface RunResult {
  workload: string;
  seconds: number;
  operations: OperationResult[];
  /** Every operation of the run together (reads and updates of a mixed workload), as operation `all`. */
  total: OperationResult;
  /**
   * CPU time of the target's processes over the measured window divided by the operations completed in it, in
   * milliseconds; set by the caller that knows the processes (bench/ycsb/benchmark.ts).
   */
  serverCpuMsPerOperation?: number;
}

/** Measurements for one operation type in one run. */
class OperationStats {
  readonly histogram = new LatencyHistogram();
  readonly errors = new Map<string, number>();

  constructor(private readonly total?: OperationStats) {}

  succeed(latencyUs: number): void {
    this.histogram.record(latencyUs);
    this.total?.succeed(latencyUs);
  }

  fail(kind: string): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1);
    this.total?.fail(kind);
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

function pick<T>(items: readonly T[], random: Random): T {
  return items[random.int(items.length)] as T;
}

async function timed(target: KvTarget, stats: OperationStats, recording: boolean, action: () => Promise<void>): Promise<void> {
  const started = performance.now();
  try {
    await action();
    if (recording) stats.succeed((performance.now() - started) * 1000);
  } catch (error) {
    if (recording) stats.fail(target.errorKind(error));
  }
}

/** Wraps the caller's window so each callback runs exactly once, and onEnd never before onStart. */
function windowOnce(window: MeasuredWindow | undefined): MeasuredWindow {
  let started = false;
  let ended = false;
  const onStart = (): void => {
    if (started) return;
    started = true;
    window?.onStart();
  };
  return {
    onStart,
    onEnd: () => {
      if (ended) return;
      onStart();
      ended = true;
      window?.onEnd();
    },
  };
}

/** The load phase: inserts every record once, blind, spread over the client loops. Measured from first to last. */
export async function loadRecords(target: KvTarget, options: RunOptions): Promise<RunResult> {
  const stats = new OperationStats();
  let nextRecord = 0;
  const started = performance.now();
  options.window?.onStart();
  const loop = async (random: Random): Promise<void> => {
    while (nextRecord < options.records) {
      const key = recordKey(nextRecord++);
      const value = pick(options.values, random);
      await timed(target, stats, true, () => target.insert(key, value));
    }
  };
  await Promise.all(Array.from({ length: options.clients }, () => loop(options.random.fork())));
  options.window?.onEnd();
  const seconds = (performance.now() - started) / 1000;
  const insert = stats.result("insert", seconds);
  return { workload: "load", seconds, operations: [insert], total: { ...insert, operation: "all" } };
}

/** Runs `workload` for warm-up plus `seconds`, recording only operations that start inside the measured window. */
export async function runWorkload(target: KvTarget, workload: Workload, options: RunOptions): Promise<RunResult> {
  const all = new OperationStats();
  const reads = new OperationStats(all);
  const updates = new OperationStats(all);
  const keys = new ScrambledZipfian(options.records);
  const measureFrom = performance.now() + options.warmupSeconds * 1000;
  const measureUntil = measureFrom + options.seconds * 1000;
  const window = windowOnce(options.window);
  const windowTimers = [
    setTimeout(window.onStart, measureFrom - performance.now()),
    setTimeout(window.onEnd, measureUntil - performance.now()),
  ];
  const loop = async (random: Random): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (now >= measureUntil) return;
      const recording = now >= measureFrom;
      const key = recordKey(keys.next(random));
      if (random.next() < workload.readProportion) {
        await timed(target, reads, recording, () => target.read(key));
      } else {
        const value = pick(options.values, random);
        await timed(target, updates, recording, () => target.update(key, value));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.clients }, () => loop(options.random.fork())));
  } finally {
    // Normally both timers have fired; a timer held up by a busy event loop is run now, so the caller's window closes.
    windowTimers.forEach((timer) => clearTimeout(timer));
    window.onStart();
    window.onEnd();
  }
  const operations = [reads.result("read", options.seconds)];
  if (workload.readProportion < 1) operations.push(updates.result("update", options.seconds));
  return { workload: workload.name, seconds: options.seconds, operations, total: all.result("all", options.seconds) };
}
