/**
 * A node writes records in one LevelDB batch per event-loop turn and acknowledges each only once its batch is written.
 * This kills a node with SIGKILL while many writes are in flight through it and to it, then opens its data directory
 * (the node stays dead, so nothing could have been repaired into it) and finds there every write it acknowledged:
 * each write acknowledged at w=3 on three nodes was acknowledged by the killed node, as coordinator or as replica.
 */
import assert from "node:assert/strict";
import { Store } from "../../node/storage/index.js";
import { TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";

describe("a replica killed mid-load", function () {
  let cluster: TestCluster | undefined;

  afterEach(async function () {
    await cluster?.destroy();
  });

  it("holds on disk every write it acknowledged before SIGKILL", async function () {
    this.timeout(180_000);
    cluster = await TestCluster.start({ nodes: 3, partitions: 16 });
    const urls = cluster.clientUrls();
    const victim = 1;
    const acknowledged = new Map<string, string>();
    const failures: string[] = [];
    let killed = false;
    let stop = false;
    const padding = "x".repeat(1000);
    // 24 writers, 8 through each node: the victim takes client writes (it coordinates them) and replicates the others'.
    const writer = async (w: number) => {
      const url = urls[w % urls.length]!;
      for (let i = 0; !stop; i++) {
        const key = `w${w}-k${i}`;
        const value = `${key} ${padding}`;
        try {
          const reply = await http("PUT", kvUrl(url, "default", key, "?w=3"), { body: value, headers: { "content-type": "text/plain" } });
          if (reply.status === 204 || reply.status === 200) {
            acknowledged.set(key, value);
            // The kill follows at once a write the victim coordinated and answered, with the other writers' requests
            // in flight: a node that answered before its batch was written would lose that write.
            if (!killed && acknowledged.size >= 500 && w % urls.length === victim) kill();
          }
          else if (!killed) failures.push(`${key}: ${reply.status} ${reply.text().slice(0, 100)}`);
        } catch (err) {
          if (!killed) failures.push(`${key}: ${(err as Error).message}`);
        }
        // Writers of the dead node stop; the others go on writing (and failing at w=3) until the end.
        if (killed && w % urls.length === victim) return;
      }
    };
    let beforeKill = 0;
    const kill = () => {
      beforeKill = acknowledged.size;
      cluster!.signal(victim, "SIGKILL");
      killed = true;
    };
    const writers = Array.from({ length: 24 }, (_, w) => writer(w));
    const loading = Date.now() + 60_000;
    while (!killed && Date.now() < loading) await new Promise((r) => setTimeout(r, 50));
    if (!killed) kill();
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(writers);
    assert.deepEqual(failures, [], "writes failed before the kill");
    assert.ok(beforeKill > 100, `only ${beforeKill} writes were acknowledged before the kill`);

    await waitForExit(cluster, victim);
    const store = new Store(cluster.nodes()[victim]!.dataDir);
    await store.open();
    const held = new Map<string, string | undefined>();
    try {
      for await (const entry of store.scanAll()) {
        if (entry.bucket === "default") held.set(entry.key.toString("utf8"), entry.record.siblings[0]?.value?.toString("utf8"));
      }
    } finally {
      await store.close();
    }
    const missing = [...acknowledged].filter(([key, value]) => held.get(key) !== value).map(([key]) => key);
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} of ${acknowledged.size} acknowledged writes are not on the killed node's disk`);
  });
});

/** The dev supervisor notices the exit and records the node as stopped; until then its LevelDB lock may be held. */
async function waitForExit(cluster: TestCluster, index: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (cluster.nodes()[index]!.pid) {
    if (Date.now() > deadline) throw new Error(`node ${index} still has a pid 30 s after SIGKILL`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
