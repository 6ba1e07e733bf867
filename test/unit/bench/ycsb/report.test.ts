import assert from "node:assert/strict";
import { cpuLine, cpuTable } from "../../../../bench/ycsb/report.js";
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
