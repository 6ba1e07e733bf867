/**
 * Anti-entropy on its own: with hints turned off, a replica that missed writes while it was down gets every key back
 * through hash-tree exchanges, without any client reading them. And tombstones past their grace period are reaped.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { eventually, localValues, metricSum } from "../helpers/replicas.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "no-hints.yaml");

describe("anti-entropy", function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  afterEach(async function () {
    await cluster?.destroy();
  });

  it("a replica that missed writes gets every key back through hash-tree exchanges alone", async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: CONFIG });
    const urls = cluster.clientUrls();
    await cluster.kill(2);
    const client = new DynamoClient(urls.slice(0, 2));
    const keys = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      await client.put("sets", `ae-${i}`, `v${i}`);
      keys.set(`ae-${i}`, `v${i}`);
    }
    client.close();
    assert.equal(await metricSum(urls.slice(0, 2), "dynamo_hints"), 0, "no hints were kept");
    await cluster.restart(2);
    const missing = await eventually(async () => {
      const out: string[] = [];
      for (const [key, value] of keys) if (!(await localValues(cluster, 2, "sets", key)).includes(value)) out.push(key);
      return out;
    }, 60_000, 1000);
    assert.deepEqual(missing, [], "node-2 holds every key again");
    assert.ok((await metricSum(cluster.clientUrls(), "dynamo_anti_entropy_keys_repaired_total")) >= keys.size);
    const metrics = await (await fetch(`${urls[2]}/metrics`)).text();
    assert.match(metrics, /dynamo_anti_entropy_tree_build_seconds_count [1-9]/);
  });

  it("tombstones are reaped once their grace period has passed", async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: CONFIG });
    const client = new DynamoClient(cluster.clientUrls());
    await client.put("sets", "doomed", "x");
    const read = await client.get("sets", "doomed");
    await client.delete("sets", "doomed", { context: read.context });
    assert.equal((await client.get("sets", "doomed", { r: 3 })).kind, "not_found");
    const left = await eventually(async () => {
      const out: string[] = [];
      for (let node = 0; node < 3; node++) if ((await cluster.localRecord(node, "sets", "doomed")).found) out.push(`node-${node}`);
      return out;
    }, 20_000, 300);
    assert.deepEqual(left, [], "no replica keeps the tombstone");
    assert.ok((await metricSum(cluster.clientUrls(), "dynamo_tombstones_reaped_total")) >= 3);
    client.close();
  });
});
