/**
 * Progress of a ring change as `dynamo dev status` reports it: partitions and bytes moved advance while the plan
 * runs, and the finished plan stays in the status with its finish time.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DynamoClient } from "../../client/index.js";
import type { RebalanceSummary } from "../../driver/index.js";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";

const CONFIG = join(REPO_ROOT, "test/integration/fixtures/slow-handoff.yaml");

interface Status {
  epoch: number;
  transfers: { pending: number; active: number };
  rebalance?: RebalanceSummary & { summary?: string };
}

describe("rebalance progress", function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32, config: CONFIG });
  });
  after(async () => {
    await cluster?.destroy();
  });

  it("dynamo dev status shows partitions and bytes moved advancing during a scale, then the finished plan", async () => {
    const client = new DynamoClient(cluster.clientUrls());
    const value = Buffer.alloc(1000, "v");
    for (let i = 0; i < 1000; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => client.put("default", `key-${i + j}`, value)));

    const scaled = await cluster.dev("scale", "4");
    assert.equal(scaled.code, 0, scaled.stderr);
    const planned = Number(/planned (\d+) transfers/.exec(JSON.parse(scaled.stdout).action)?.[1]);
    assert.ok(planned > 0, scaled.stdout);

    const seen: Status[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await cluster.dev("status");
      assert.equal(r.code, 0, r.stderr);
      const status = JSON.parse(r.stdout) as Status;
      seen.push(status);
      if (status.rebalance?.finishTime) break;
      assert.ok(Date.now() < deadline, `the rebalance did not finish: ${JSON.stringify(status.rebalance)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const running = seen.filter((s) => s.rebalance && !s.rebalance.finishTime).map((s) => s.rebalance!);
    console.log(`    [progress] ${running.map((r) => `${r.partitionsMoved}/${r.partitionsTotal}`).join(" ")}`);
    assert.ok(running.every((r) => r.partitionsTotal === planned), "the total is the number of planned transfers");
    const moved = new Set(running.map((r) => r.partitionsMoved).filter((m) => m > 0 && m < planned));
    assert.ok(moved.size >= 2, `partitions moved advanced through intermediate values (saw ${[...moved].join(", ")})`);
    for (let i = 1; i < running.length; i++) {
      assert.ok(running[i]!.partitionsMoved >= running[i - 1]!.partitionsMoved, "partitions moved never goes back");
      assert.ok(running[i]!.bytesMoved >= running[i - 1]!.bytesMoved, "bytes moved never goes back");
    }
    const withEta = running.find((r) => r.partitionsMoved > 0);
    assert.ok(withEta?.etaSeconds !== undefined && withEta.bytesPerSecond !== undefined && withEta.startTime, `rate, ETA and start once a partition is done: ${JSON.stringify(withEta)}`);
    assert.match(running.at(-1)!.summary ?? "", /^moved \d+\/\d+ partitions/);

    const finished = seen.at(-1)!.rebalance!;
    assert.equal(finished.progress, "100%");
    assert.equal(finished.partitionsMoved, planned);
    // Each of the partitions moved holds about a thirty-second of the 1 MB, and each goes to one new replica.
    assert.ok(finished.bytesMoved > (planned * 1_000_000) / 32 / 2, `bytes moved: ${finished.bytesMoved}`);
    assert.match(cluster.log(), /rebalance finished: moved \d+ partitions \(.+\) in \d+/);
  });
});
