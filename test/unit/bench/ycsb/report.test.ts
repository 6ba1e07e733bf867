import assert from "node:assert/strict";
import { compareRounds, comparisonTable, cpuLine, cpuOfRounds, cpuTable, phaseComparison } from "../../../../bench/ycsb/report.js";
import type { RunResult } from "../../../../bench/ycsb/runner.js";

function run(serverCpuMsPerOperation?: number): RunResult {
  const total = { operation: "all" as const, count: 100, opsPerSec: 10, errors: {}, latency: { count: 100, p50Us: 1, p99Us: 2, p999Us: 3, maxUs: 4, meanUs: 1 } };
  return { workload: "A", seconds: 10, operations: [], total, ...(serverCpuMsPerOperation === undefined ? {} : { serverCpuMsPerOperation }) };
}

describe("YCSB report: server CPU per operation", function () {
  it("gives the store's CPU per operation as a multiple of the floor's", function () {
    const table = cpuTable([
      { phase: "healthy", workload: "A", store: 0.36, floor: 0.12 },
      { phase: "healthy", workload: "C", store: 0.2, floor: undefined },
    ]);
    const lines = table.split("\n");
    assert.match(lines[2]!, /^healthy\s+A\s+0\.360\s+0\.120\s+3\.00x$/);
    assert.match(lines[3]!, /^healthy\s+C\s+0\.200\s+-\s+-$/);
  });

  it("prints nothing where no process was measured (a store given by --url without a floor)", function () {
    assert.equal(cpuTable([{ phase: "healthy", workload: "A", store: undefined, floor: undefined }]), "");
    assert.deepEqual(cpuLine("[healthy] store", run()), []);
    assert.match(cpuLine("[healthy] store", run(0.3456))[0]!, /server CPU 0\.346 ms per operation$/);
  });
});

/** A YCSB-C run with `opsPerSec` reads per second and the given CPU per operation. */
function reads(opsPerSec: number, serverCpuMsPerOperation: number): RunResult {
  const read = { operation: "read" as const, count: opsPerSec * 10, opsPerSec, errors: {}, latency: { count: opsPerSec * 10, p50Us: 1000, p99Us: 3000, p999Us: 5000, maxUs: 9000, meanUs: 1200 } };
  return { workload: "C", seconds: 10, operations: [read], total: { ...read, operation: "all" as const }, serverCpuMsPerOperation };
}

describe("YCSB report: several rounds", function () {
  const rounds = [
    { store: reads(600, 0.15), floor: reads(1000, 0.07) },
    { store: reads(700, 0.13), floor: reads(1000, 0.08) },
    { store: reads(500, 0.14), floor: reads(1000, 0.06) },
  ];

  it("reports the round with the median ratio, whole, and every round's ratio in order", function () {
    const [row] = compareRounds("healthy", rounds);
    assert.equal(row!.ratio, 0.6);
    assert.equal(row!.store.opsPerSec, 600, "store and floor come from the median round");
    assert.deepEqual(row!.roundRatios, [0.6, 0.7, 0.5]);
    const lines = comparisonTable([row!]).split("\n");
    assert.match(lines[1]!, /median ratio.*ratio per round$/);
    assert.match(lines[2]!, /^C\s+read\s+600\s+1000\s+0\.60\s.*0\.60 0\.70 0\.50$/);
  });

  it("takes the lower middle round for an even count, and one round's rows as they are", function () {
    const [even] = compareRounds("healthy", rounds.slice(0, 2));
    assert.equal(even!.ratio, 0.6);
    const [single] = compareRounds("healthy", rounds.slice(0, 1));
    assert.equal(single!.roundRatios, undefined);
    assert.doesNotMatch(comparisonTable([single!]), /per round/);
  });

  it("gives each side's median CPU per operation", function () {
    assert.deepEqual(cpuOfRounds("healthy", "C", rounds), { phase: "healthy", workload: "C", store: 0.14, floor: 0.07 });
  });

  it("without a floor, reports the round with the median throughput, so phases compare middle rounds", function () {
    const healthy = compareRounds("healthy", [
      { store: reads(500, 0.15), floor: undefined },
      { store: reads(900, 0.13), floor: undefined },
      { store: reads(800, 0.14), floor: undefined },
    ]);
    const down = compareRounds("one-node-down", [
      { store: reads(600, 0.15), floor: undefined },
      { store: reads(880, 0.13), floor: undefined },
      { store: reads(840, 0.14), floor: undefined },
    ]);
    assert.equal(healthy[0]!.store.opsPerSec, 800);
    assert.deepEqual(healthy[0]!.roundOpsPerSec, [500, 900, 800]);
    assert.equal(healthy[0]!.roundRatios, undefined);
    const lines = comparisonTable(healthy).split("\n");
    assert.match(lines[1]!, /\sratio\s.*store ops\/s per round$/);
    assert.match(lines[2]!, /^C\s+read\s+800\s+-\s+-\s.*500 900 800$/);
    assert.match(phaseComparison([...healthy, ...down]), /one-node-down\s+C read\s+840\s+1\.05\s/);
  });
});
