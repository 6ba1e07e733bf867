/**
 * Bounded work: a node past its limit of concurrently coordinated requests answers 503 at once, with a message
 * naming the limit, instead of queueing; once the burst has passed it serves normally again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";

describe("limits", function () {
  this.timeout(60_000);

  it("a burst past coordinatorInFlightMax is refused with 503 naming the limit, and nothing accepted is lost", async function () {
    const cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: join(REPO_ROOT, "test", "integration", "fixtures", "tiny-limits.yaml") });
    try {
      const url = cluster.clientUrls()[0]!;
      const replies = await Promise.all(Array.from({ length: 60 }, (_, i) => http("PUT", kvUrl(url, "default", `burst-${i}`), { body: `v${i}` })));
      const refused = replies.filter((r) => r.status === 503);
      const accepted = replies.map((r, i) => [r, i] as const).filter(([r]) => r.status === 204);
      assert.ok(refused.length > 0, "some of 60 simultaneous writes are refused");
      assert.ok(accepted.length > 0, "and some are served");
      assert.match((refused[0]!.json() as { message: string }).message, /limit 2/);
      for (const [, i] of accepted) assert.equal((await http("GET", kvUrl(url, "default", `burst-${i}`, "?r=3"))).text(), `v${i}`);
      assert.equal((await http("PUT", kvUrl(url, "default", "after"), { body: "calm" })).status, 204);
    } finally {
      await cluster.destroy();
    }
  });
});
