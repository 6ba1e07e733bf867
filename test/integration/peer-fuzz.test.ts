/**
 * The peer-protocol fuzz target (test/fuzz/peer-target.ts) against a real 3-node cluster, with a fixed seed and a short
 * budget so it runs in every `npm test`. A longer campaign: `SEED=7 FUZZ_SECONDS=600 npx mocha --config .mocharc.json
 * test/integration/peer-fuzz.test.ts`.
 */
import assert from "node:assert/strict";
import { runPeerFuzz, writeSentinels } from "../fuzz/peer-target.js";
import { TestCluster } from "../helpers/dev-cluster.js";

const SEED = process.env.SEED ? Number(process.env.SEED) : 20261130;
const SECONDS = process.env.FUZZ_SECONDS ? Number(process.env.FUZZ_SECONDS) : 15;

describe("peer protocol fuzzing", function () {
  this.timeout((SECONDS + 120) * 1000);
  let cluster: TestCluster;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
    await writeSentinels(cluster.clientUrls()[0]!);
  });
  after(async function () {
    await cluster?.destroy();
  });

  it(`random and mutated frames crash no node, change no sentinel and fail no client request but with 503 (seed ${SEED})`, async function () {
    const nodes = cluster.nodes();
    const report = await runPeerFuzz(
      { peerUrls: nodes.map((n) => n.peerUrl), clientUrls: cluster.clientUrls(), pids: nodes.map((n) => n.pid!), token: cluster.token, tls: cluster.peerTls! },
      { seed: SEED, seconds: SECONDS, log: (line) => console.log(line) },
    );
    console.log(
      `    peer fuzz: seed ${report.seed}, ${report.rounds} rounds, ${report.requests} requests (${report.replies.ok} ok, ${report.replies.error} error replies), ` +
        `${report.clientChecks} client reads, RSS ${report.rssBytes.before.map((b) => Math.round(b / 1048576)).join("/")} -> ${report.rssBytes.after.map((b) => Math.round(b / 1048576)).join("/")} MiB (replay with SEED=${SEED})`,
    );
    assert.deepEqual(report.findings, []);
    assert.ok(report.requests > 100, `only ${report.requests} requests were sent`);
    assert.ok(report.replies.error > 0 && report.replies.ok > 0, "both well-formed and malformed requests were among them");
  });
});
