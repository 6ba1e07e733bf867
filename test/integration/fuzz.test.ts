/**
 * The fuzz targets (test/fuzz/) against one real 3-node cluster, each with a fixed seed and a short budget, so they run
 * in every `npm test`. Longer campaigns: `npm run test:fuzz -- --seconds 600 --seed 7` (see docs/security.md); a
 * finding names its round, and `--seed S --target T --round R` replays that one attack.
 */
import assert from "node:assert/strict";
import { clientTarget } from "../fuzz/client-target.js";
import { startFuzzCluster, type RunningFuzzCluster } from "../fuzz/cluster.js";
import { runFuzz, summarize } from "../fuzz/harness.js";
import { peerTarget } from "../fuzz/peer-target.js";
import { testDuration } from "../helpers/durations.js";

const SEED = process.env.SEED ? Number(process.env.SEED) : 20261130;
// Each round is drawn from the seed and its number alone, so every CI run replays the same first rounds: a shorter
// budget drops the last of them, not a kind of attack. DYNAMO_TEST_LONG=1 gives the longer budgets (25 s and 15 s),
// FUZZ_SECONDS any other.
const CLIENT_SECONDS = process.env.FUZZ_SECONDS ? Number(process.env.FUZZ_SECONDS) : testDuration(12, 25);
const PEER_SECONDS = process.env.FUZZ_SECONDS ? Number(process.env.FUZZ_SECONDS) : testDuration(10, 15);

describe("fuzzing on real nodes", function () {
  this.timeout((CLIENT_SECONDS + PEER_SECONDS + 180) * 1000);
  let running: RunningFuzzCluster;

  before(async function () {
    running = await startFuzzCluster();
  });
  after(async function () {
    await running?.destroy();
  });

  it(`the client API: hostile requests and bytes get well-formed 4xx, crash nothing and change no sentinel (seed ${SEED})`, async function () {
    const report = await runFuzz(clientTarget, running.target, { seed: SEED, seconds: CLIENT_SECONDS, log: (line) => console.log(line) });
    console.log(`    ${summarize(report)}`);
    assert.deepEqual(report.findings, []);
    assert.ok(report.requests > 100, `only ${report.requests} requests were sent`);
    assert.ok((report.counts["2xx"] ?? 0) > 0 && (report.counts["4xx"] ?? 0) > 0, "both accepted and refused requests were among them");
  });

  it(`the peer protocol: random and mutated frames crash nothing and change no sentinel (seed ${SEED})`, async function () {
    const report = await runFuzz(peerTarget, running.target, { seed: SEED, seconds: PEER_SECONDS, log: (line) => console.log(line) });
    console.log(`    ${summarize(report)}`);
    assert.deepEqual(report.findings, []);
    assert.ok(report.requests > 100, `only ${report.requests} requests were sent`);
    assert.ok((report.counts["error"] ?? 0) > 0 && (report.counts["ok"] ?? 0) > 0, "both well-formed and malformed requests were among them");
  });
});
