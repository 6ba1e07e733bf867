import assert from "node:assert/strict";
import type { RunResult } from "../../../../bench/ycsb/runner.js";
import {
  baselineOf,
  formatCpuMs,
  formatSmall,
  healthyOf,
  markdownReport,
  ratio,
  workloadTable,
  type Measurement,
  type PeersReport,
  type Phase,
} from "../../../../bench/peers/report.js";

function result(opsPerSec: number, p99Us = 20_000, errors: Record<string, number> = {}): RunResult {
  const op = { operation: "all" as const, count: opsPerSec * 20, opsPerSec, errors, latency: { count: opsPerSec * 20, meanUs: 5_000, p50Us: 4_000, p99Us, p999Us: 2 * p99Us, maxUs: 3 * p99Us } };
  return { workload: "A", seconds: 20, operations: [{ ...op, operation: "read" }], total: op };
}

function measurement(variant: string, round: number, opsPerSec: number, serverCpuMsPerOp: number, phase: Phase = "healthy", workload = "A"): Measurement {
  return {
    round,
    variant,
    system: variant,
    phase,
    workload,
    loadAverage: 3.25,
    result: result(opsPerSec),
    cpu: { seconds: 20, serverCpuSeconds: (serverCpuMsPerOp * opsPerSec * 20) / 1000, driverCpuSeconds: 1 },
    serverCpuMsPerOp,
    driverCpuMsPerOp: 0.1,
  };
}

function report(measurements: Measurement[], downOne = false): PeersReport {
  return {
    startedAt: "2026-11-30T00:00:00.000Z",
    finishedAt: "2026-11-30T00:20:00.000Z",
    seed: 7,
    command: "npm run bench:peers",
    options: { systems: ["store", "etcd"], workloads: ["A"], rounds: 2, clients: 16, seconds: 20, warmupSeconds: 5, systemWarmupSeconds: 20, records: 10_000, valueBytes: 1024, downOne, durable: false, runtime: "host" },
    machine: { cpus: 2, cpuModel: "Test CPU", memoryGiB: 24, loadAverage: [4.5, 3, 2], node: "v20", platform: "linux" },
    systems: [
      { name: "store", version: "store 0.1.0", setup: "3 nodes", durability: "LevelDB without fsync" },
      { name: "etcd", version: "etcd 3.6.8", setup: "3 members", durability: "WAL fsync" },
    ],
    baseline: "store",
    measurements,
    warmups: [{ round: 1, system: "store", slices: [{ seconds: 10, opsPerSec: 900, serverCpuMsPerOp: 1.2 }, { seconds: 10, opsPerSec: 950, serverCpuMsPerOp: 0.95 }] }],
    notes: ["redis is one process"],
  };
}

/** The cells of the table row whose first two cells are `round` and `variant`. */
function row(table: string, round: number, variant: string): string[] {
  const line = table.split("\n").find((l) => l.startsWith(`| ${round} | ${variant} |`));
  assert.ok(line, `no row for round ${round} ${variant} in\n${table}`);
  return line.split("|").slice(1, -1).map((cell) => cell.trim());
}

describe("bench:peers report", function () {
  it("divides by the baseline and gives no ratio against nothing", function () {
    assert.equal(ratio(300, 150), 2);
    assert.equal(ratio(300, 0), undefined);
    assert.equal(ratio(undefined, 150), undefined);
  });

  it("compares each row with the baseline of the same round, not another round's", function () {
    const ms = [measurement("store", 1, 1000, 0.8), measurement("etcd", 1, 500, 0.4), measurement("store", 2, 2000, 0.7), measurement("etcd", 2, 1000, 0.5)];
    assert.equal(baselineOf(ms, ms[3]!, "store"), ms[2]);
    const table = workloadTable(report(ms), "healthy", "A");
    assert.deepEqual(row(table, 1, "etcd").slice(2, 4), ["500", "0.50×"]);
    assert.deepEqual(row(table, 2, "etcd").slice(2, 4), ["1,000", "0.50×"]);
    assert.equal(row(table, 2, "etcd")[9], "0.71×", "CPU per operation as a ratio to the store's in that round");
    assert.equal(row(table, 2, "store")[3], "1.00×");
    assert.equal(row(table, 1, "store").at(-1), "3.3", "the load average at the start of the measurement");
  });

  it("shows a one-node-down row against the same row healthy in the same round", function () {
    const ms = [measurement("store", 1, 1000, 0.8), measurement("store", 1, 900, 0.9, "one-down")];
    assert.equal(healthyOf(ms, ms[1]!), ms[0]);
    const table = workloadTable(report(ms, true), "one-down", "A");
    assert.match(table, /one node down/);
    assert.deepEqual(row(table, 1, "store").slice(2, 5), ["900", "1.00×", "0.90×"]);
  });

  it("prints small ratios and CPU figures with significant digits rather than as zero", function () {
    assert.equal(formatSmall(0.0058), "0.0058");
    assert.equal(formatSmall(12.614), "12.61");
    assert.equal(formatCpuMs(0.00612), "0.0061");
    assert.equal(formatCpuMs(0.75), "0.750");
  });

  it("states the command, the machine load, each system's durability and every round", function () {
    const ms = [measurement("store", 1, 1000, 0.8), measurement("etcd", 1, 500, 0.4), measurement("store", 2, 2000, 0.7), measurement("etcd", 2, 1000, 0.5)];
    const text = markdownReport(report(ms));
    assert.match(text, /`npm run bench:peers`/);
    assert.match(text, /load average 4\.50 3\.00 2\.00/);
    assert.match(text, /\| etcd \| etcd 3\.6\.8 \| 3 members \| WAL fsync \|/);
    assert.match(text, /Round 2 of 2/);
    assert.match(text, /\| etcd \| 1,000 \(0\.50×\) \|/, "the summary shows the last round with its ratio");
    assert.match(text, /- redis is one process/);
    assert.match(text, /- round 1, store: 20 s: 1\.200 0\.950/, "the warm-up is shown slice by slice");
    assert.equal(text.split("\n").filter((l) => /^\| [12] \| (store|etcd) \|/.test(l)).length, 4, "every round of every system has a row");
  });
});
