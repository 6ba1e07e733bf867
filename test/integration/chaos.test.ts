/**
 * A short chaos run with a fixed seed in every CI run; `npm run test:chaos` runs longer ones.
 */
import assert from "node:assert/strict";
import { runChaos } from "../chaos/scenario.js";

describe("chaos", function () {
  this.timeout(180_000);

  it("a few seconds of kills, freezes and network cuts lose no acknowledged write (seed 42)", async function () {
    const report = await runChaos({ seconds: 8, seed: 42, log: (line) => console.log(`    ${line}`) });
    assert.ok(report.acknowledged > 20, `only ${report.acknowledged} writes were acknowledged`);
    assert.deepEqual(report.lost, []);
  });
});
