/**
 * Acknowledged writes survive a node killed with SIGKILL in the middle of a load, and a full stop and start of the
 * cluster: after recovery every acknowledged key is readable at r=n through every node.
 */
import assert from "node:assert/strict";
import { DynamoClient } from "../../client/index.js";
import { TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";
import { eventually } from "../helpers/replicas.js";

async function readAllEverywhere(urls: string[], keys: Map<string, string>): Promise<string[]> {
  const missing: string[] = [];
  for (const [key, value] of keys) {
    const url = urls[key.length % urls.length]!;
    const get = await http("GET", kvUrl(url, "default", key, "?r=3"));
    if (get.status !== 200 || get.text() !== value) missing.push(`${key}: ${get.status} ${get.text().slice(0, 60)}`);
  }
  return missing;
}

describe("durability", function () {
  let cluster: TestCluster;

  afterEach(async function () {
    await cluster?.destroy();
  });

  it("a node killed with SIGKILL mid-load loses no acknowledged write", async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
    const urls = cluster.clientUrls();
    // Clients talk to the nodes that stay up; the killed node is a replica of every key (n=3 on 3 nodes).
    const clients = [new DynamoClient(urls[0]!), new DynamoClient(urls[2]!)];
    const acknowledged = new Map<string, string>();
    const failures: string[] = [];
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const key = `w${w}-k${i}`;
        try {
          await clients[w % 2]!.put("default", key, `value-${w}-${i}`, { w: 2 });
          acknowledged.set(key, `value-${w}-${i}`);
        } catch (err) {
          failures.push(`${key}: ${(err as Error).message}`);
        }
      }
    };
    const writers = [0, 1, 2, 3].map((w) => writer(w));
    await new Promise((r) => setTimeout(r, 1000));
    await cluster.kill(1);
    await new Promise((r) => setTimeout(r, 1500));
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.size > 50, `only ${acknowledged.size} writes were acknowledged`);
    assert.deepEqual(failures, [], "writes at w=2 with two of three replicas up must not fail");

    await cluster.restart(1);
    // A restart returns once the others count the node as up again (it waits 15 s at most), and until then a read at
    // r=3 through them fails. On a loaded machine one may still doubt it a moment longer, or again after a heartbeat
    // came late (a clean-clone CI run saw that once), so the check waits for both, for as long again.
    const doubts = await eventually(async () => {
      const doubting: string[] = [];
      for (const other of [0, 2]) for (const id of (await cluster.nodeInfo(other)).down ?? []) doubting.push(`node ${other} counts ${id} as down`);
      return doubting;
    }, 15_000);
    assert.deepEqual(doubts, [], "after the restart, every node counts every member as up");
    const missing = await readAllEverywhere(cluster.clientUrls(), acknowledged);
    assert.deepEqual(missing, [], `${missing.length} of ${acknowledged.size} acknowledged writes are missing`);
  });

  it("data survives a full cluster restart", async function () {
    // Stopping three nodes gracefully and starting them again takes seconds each on a quiet machine, but a cold CI
    // run, with the Kubernetes binaries building beside it, once took this test past mocha's default 60 s.
    this.timeout(180_000);
    cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
    const client = new DynamoClient(cluster.clientUrls());
    const written = new Map<string, string>();
    for (let i = 0; i < 200; i++) {
      await client.put("default", `restart-${i}`, `v${i}`);
      written.set(`restart-${i}`, `v${i}`);
    }
    const epochBefore = ((await client.cluster()) as { epoch: number }).epoch;
    const restartStarted = performance.now();
    await cluster.restartAll();
    console.log(`    the full restart took ${((performance.now() - restartStarted) / 1000).toFixed(1)} s`);
    const missing = await readAllEverywhere(cluster.clientUrls(), written);
    assert.deepEqual(missing, []);
    const after = (await new DynamoClient(cluster.clientUrls()).cluster()) as { epoch: number };
    assert.equal(after.epoch, epochBefore, "a restart with the same ports keeps the ring as it was");
  });
});
