import assert from "node:assert/strict";
import { warmUp, warmupSettled, type WarmupSlice } from "../../../../bench/peers/warmup.js";
import { seededRandom } from "../../../../lib/random.js";
import { genericErrorKind, type KvTarget } from "../../../../bench/ycsb/target.js";

function slices(...cpu: Array<number | undefined>): WarmupSlice[] {
  return cpu.map((serverCpuMsPerOp) => ({ seconds: 10, opsPerSec: 100, serverCpuMsPerOp }));
}

describe("bench:peers warm-up", function () {
  it("goes on while the system keeps reaching new lows of CPU per operation", function () {
    assert.equal(warmupSettled(slices()), false);
    assert.equal(warmupSettled(slices(0.575, 0.544)), false, "two slices say nothing about a trend");
    assert.equal(warmupSettled(slices(0.575, 0.544, 0.56)), true, "no new low 10% below the best: settled");
    assert.equal(warmupSettled(slices(1.39, 0.84, 0.45)), false);
    assert.equal(warmupSettled(slices(1.39, 0.84, 0.45, 0.43)), false, "0.43 is still far below the best before the last two");
    assert.equal(warmupSettled(slices(1.39, 0.84, 0.45, 0.43, 0.44)), true);
    assert.equal(warmupSettled(slices(4.17, 3.02, 3.79)), false, "a noisy dearer slice does not end a falling trend");
    assert.equal(warmupSettled(slices(4.17, 3.02, 3.79, 2.5)), false);
    assert.equal(warmupSettled(slices(0.5, 0.6, 0.55)), true, "dearer than before is settled");
    assert.equal(warmupSettled(slices(0.5, 0.5, undefined)), false, "a slice where nothing completed proves nothing");
  });

  it("stops at the time limit even when the system never settles", async function () {
    const target: KvTarget = {
      read: () => Promise.resolve(),
      insert: () => Promise.resolve(),
      update: () => Promise.resolve(),
      errorKind: genericErrorKind,
    };
    const base = { clients: 1, records: 10, values: [Buffer.from("v")] };
    const result = await warmUp(target, () => [], base, seededRandom(1), 0.1);
    assert.equal(result.length, 1);
    assert.equal(result[0]!.seconds, 0.1);
  });
});
