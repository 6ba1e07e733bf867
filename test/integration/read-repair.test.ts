/**
 * Reads ask r replicas, not all n (node/replication/coordinator.ts): with a replica that missed a write (cut off
 * while it was made, with hints and anti-entropy off), a read through any node still answers the newest acknowledged
 * write, a read that asks the stale replica repairs it, and the share of reads that ask every replica
 * (`readRepairChance`) repairs a replica that the r-replica reads through the other nodes never ask.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { contextOf, http, kvUrl } from "../helpers/http.js";
import { currentRing, eventually, localValues, replicasOf } from "../helpers/replicas.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "read-repair.yaml");

describe("read repair with reads that ask r replicas", function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  after(async function () {
    await cluster?.destroy();
  });

  it("answers the newest write through every node and repairs the replica that missed it", async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: CONFIG, env: { DYNAMO_FAULT_INJECTION: "1" } });
    const urls = cluster.clientUrls();
    const token = cluster.token;
    const headers = { Authorization: `Bearer ${token}` };
    const contexts = new Map<string, string>();
    // Each write replaces the version before it (the bucket keeps siblings of concurrent writes only).
    const put = async (url: string, key: string, value: string) => {
      const context = contexts.get(key);
      const reply = await http("PUT", kvUrl(url, "sets", key), { body: value, headers: { ...headers, "Content-Type": "text/plain", ...(context && { "X-Dynamo-Context": context }) } });
      assert.equal(reply.status, 204, `PUT ${key}: ${reply.status} ${reply.text()}`);
      contexts.set(key, contextOf(reply));
    };
    const get = async (url: string, key: string) => {
      const reply = await http("GET", kvUrl(url, "sets", key), { headers });
      assert.equal(reply.status, 200, `GET ${key}: ${reply.status} ${reply.text()}`);
      return reply.text();
    };
    // A key whose preference list ends with node 2: reads through nodes 0 and 1 that ask r=2 replicas ask those two.
    const ring = await currentRing(cluster);
    const stale = cluster.nodes()[2]!.id;
    const others = Array.from({ length: 100 }, (_, i) => `through-others-${i}`).find((key) => replicasOf(ring, "sets", key, 3)[2] === stale)!;
    const keys = ["through-stale", others];
    for (const key of keys) await put(urls[0]!, key, "old");
    for (const key of keys) assert.deepEqual(await eventuallyValues(cluster, 2, key, "old"), [], `${key} reached node 2`);

    // Node 2 misses the second version of both keys.
    await cluster.isolate(2);
    for (const key of keys) await put(urls[0]!, key, "new");
    await cluster.heal();
    for (const key of keys) assert.deepEqual(await localValues(cluster, 2, "sets", key), ["old"], `node 2 missed the write of ${key}`);

    // A read through the stale node asks itself and one other replica: it answers the newer version and repairs itself.
    assert.equal(await get(urls[2]!, "through-stale"), "new");
    assert.deepEqual(await eventuallyValues(cluster, 2, "through-stale", "new"), [], "the read through node 2 repaired it");

    // Reads through the up-to-date nodes answer the newer version; the ones that ask every replica repair node 2.
    const repaired = await eventually(async () => {
      for (const url of urls.slice(0, 2)) assert.equal(await get(url, others), "new");
      const values = await localValues(cluster, 2, "sets", others);
      return values.length === 1 && values[0] === "new" ? [] : [`node 2 holds ${JSON.stringify(values)}`];
    }, 30_000, 100);
    assert.deepEqual(repaired, [], "a read that asked every replica repaired node 2");
  });
});

function eventuallyValues(cluster: TestCluster, index: number, key: string, value: string): Promise<string[]> {
  return eventually(async () => {
    const values = await localValues(cluster, index, "sets", key);
    return values.length === 1 && values[0] === value ? [] : [`node ${index} holds ${JSON.stringify(values)} for ${key}`];
  }, 15_000, 100);
}
