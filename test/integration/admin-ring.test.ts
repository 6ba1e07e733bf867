/**
 * The admin API names each ring by an ETag, its content hash: a driver that holds a node's ring already gets 304 and no
 * body, and sees a new ring as soon as the node runs one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ringHash } from "../../node/cluster/index.js";
import { TestCluster, REPO_ROOT } from "../helpers/dev-cluster.js";
import { http } from "../helpers/http.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "config.yaml");

describe("the admin API's ring and its ETag", function () {
  this.timeout(60_000);
  let cluster: TestCluster;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, config: CONFIG, partitions: 32 });
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("answers 304 without a body to the ETag of the ring the node runs, and the ring to any other", async function () {
    const peerUrl = cluster.nodes()[0]!.peerUrl;
    const auth = { Authorization: `Bearer ${cluster.token}` };
    const first = await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: auth });
    assert.equal(first.status, 200, first.text());
    const tag = String(first.headers.etag);
    assert.equal(tag, `"${ringHash(first.json() as Parameters<typeof ringHash>[0])}"`, "the ETag is the ring's content hash");
    const again = await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: { ...auth, "If-None-Match": tag } });
    assert.equal(again.status, 304);
    assert.equal(again.text(), "");
    const other = await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: { ...auth, "If-None-Match": '"another"' } });
    assert.equal(other.status, 200);
    assert.deepEqual(other.json(), first.json());
    const unauthorized = await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: { "If-None-Match": tag } });
    assert.equal(unauthorized.status, 401, "the ETag reveals nothing without the token");
  });

  it("the admin client reuses the ring it holds while a node runs it, shares it between nodes, and sees a new one at once", async function () {
    const admin = cluster.adminClient();
    const [a, b] = cluster.nodes().map((n) => n.peerUrl) as [string, string];
    const ring = (await admin.ring(a))!;
    assert.ok(ring);
    assert.equal(await admin.ring(a), ring, "the same ring, answered 304, is the object already parsed");
    assert.equal(await admin.ring(b), ring, "another node running the same ring shares the parsed copy");
    const next = { ...ring, epoch: ring.epoch + 1 };
    assert.equal((await admin.installRing(a, next)).installed, true);
    const seen = (await admin.ring(a))!;
    assert.equal(seen.epoch, next.epoch, "the new ring, not the one held");
    assert.equal(ringHash(seen), ringHash(next));
  });
});
