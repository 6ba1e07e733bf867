/**
 * Rolling restarts over `dynamo dev`: clients at r=w=2 keep adding to sets while `dynamo dev restart --rolling`
 * restarts every node in turn. Each node drains on SIGTERM (readiness false, peers told it is leaving, new requests
 * refused with a retryable 503, in-flight ones finished, store flushed) and the next one goes only once the cluster
 * has caught up. The promise: not one failed request, not one acknowledged write lost. The p99 latency before the roll
 * and during it is printed (a measurement, not an assertion).
 */
import assert from "node:assert/strict";
import { TestCluster } from "../helpers/dev-cluster.js";
import { seededRandom } from "../../lib/random.js";
import { testDuration } from "../helpers/durations.js";
import { testSeed } from "../helpers/random.js";
import { formatReport, SetChecker, type ObservedOp } from "../helpers/set-checker.js";

describe("rolling restarts", function () {
  this.timeout(600_000);
  let cluster: TestCluster | undefined;

  afterEach(async function () {
    if (this.currentTest?.state === "failed" && cluster) {
      console.log(cluster.log().slice(-4000));
      for (let i = 0; i < 5; i++) console.log(`--- node-${i}\n${cluster.nodeLog(i).slice(-3000)}`);
    }
    await cluster?.destroy();
    cluster = undefined;
  });

  for (const nodes of [3, 5]) {
    it(`a full roll of ${nodes} nodes fails no request at r=w=2 and loses no acknowledged write`, async function () {
      cluster = await TestCluster.start({ nodes, partitions: 64 });
      const c = cluster;
      const rng = seededRandom(testSeed(`rolling restart of ${nodes} nodes`));
      // The first seconds warm the processes up (JIT, connections, caches) and are measured apart from "before".
      const phase = { name: "warmup" as "warmup" | "before" | "during" | "after" };
      const latencies: Record<string, number[]> = { warmup: [], before: [], during: [], after: [] };
      const checker = new SetChecker({
        urls: () => c.clientUrls(),
        bucket: "default",
        keys: 24,
        clients: 4,
        rng,
        r: 2,
        w: 2,
        failover: true,
        observe: (op: ObservedOp) => {
          if (op.error === undefined) latencies[phase.name]!.push(op.latencyMs);
        },
      });
      checker.start();
      // The phases before the roll serve the printed latency alone; DYNAMO_TEST_LONG=1 gives them the longer spans
      // (3 s and 6 s) that make the "before" p99 steadier.
      await sleep(testDuration(1000, 3000));
      phase.name = "before";
      await sleep(testDuration(2500, 6000));

      phase.name = "during";
      const roll = await c.rollingRestart();
      phase.name = "after";
      await sleep(1500);
      await checker.stop();

      assert.equal(roll.restarted.length, nodes);
      const report = await checker.check(c.clientUrls()[0]!, 3);
      const before = p99(latencies.before!);
      const during = p99(latencies.during!);
      console.log(`    ${nodes} nodes: ${formatReport(report)}`);
      console.log(
        `    p99 before the roll ${before.toFixed(1)} ms (${latencies.before!.length} ops), during it ${during.toFixed(1)} ms (${latencies.during!.length} ops, ${(roll.durationMs / 1000).toFixed(1)} s); ratio ${(during / before).toFixed(2)}`,
      );
      assert.deepEqual(checker.errors, [], "failed requests");
      assert.equal(report.failures, 0);
      assert.deepEqual(report.lost, [], "acknowledged writes lost");
      assert.ok(latencies.during!.length > 50, `the clients kept working during the roll (${latencies.during!.length} operations)`);
    });
  }
});

function p99(samples: number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
