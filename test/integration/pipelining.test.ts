/**
 * HTTP/1.1 pipelining: requests sent back to back on one connection take effect in the order they were sent, whatever
 * their bodies, so a client that pipelines sees the same store as one that waits for each answer.
 */
import assert from "node:assert/strict";
import { TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";
import { RawConnection, exchange, requestBytes } from "../helpers/raw-http.js";

describe("pipelined requests on one connection", function () {
  let cluster: TestCluster;
  let url: string;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16 });
    url = cluster.clientUrls()[0]!;
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("PUT then DELETE: the value is gone, every time", async function () {
    for (let i = 0; i < 20; i++) {
      const path = `/v1/kv/default/pipelined-delete-${i}`;
      const replies = await exchange(url, Buffer.concat([requestBytes("PUT", path, {}, "doomed"), requestBytes("DELETE", path)]), 2);
      assert.deepEqual(replies.map((r) => r.status), [204, 204]);
      const after = await http("GET", kvUrl(url, "default", `pipelined-delete-${i}`, "?r=3"));
      assert.equal(after.status, 404, `round ${i}: the DELETE sent after the PUT must win, got ${after.status} ${after.body}`);
    }
  });

  it("GET right after PUT sees the PUT", async function () {
    for (let i = 0; i < 20; i++) {
      const path = `/v1/kv/default/pipelined-read-${i}`;
      const replies = await exchange(url, Buffer.concat([requestBytes("PUT", path, {}, `value ${i}`), requestBytes("GET", path)]), 2);
      assert.equal(replies[0]?.status, 204);
      assert.equal(replies[1]?.status, 200, `round ${i}: GET after PUT answered ${replies[1]?.status}`);
      assert.equal(replies[1]!.body.toString(), `value ${i}`);
    }
  });

  it("a client that ends its side after pipelining still gets every answer, then the connection closes", async function () {
    const conn = await RawConnection.open(url);
    try {
      await conn.write(Buffer.concat([requestBytes("PUT", "/v1/kv/default/half-closed", {}, "sent, then EOF"), requestBytes("GET", "/v1/kv/default/half-closed")]));
      conn.finish();
      assert.ok(await conn.closedWithin(10_000), "the node closes once it has answered");
      const replies = await conn.responses(2, 0);
      assert.deepEqual(replies.map((r) => r.status), [204, 200]);
      assert.equal(replies[1]!.body.toString(), "sent, then EOF");
    } finally {
      conn.close();
    }
  });

  it("a chain of writes to one key ends with the last one sent", async function () {
    const path = "/v1/kv/default/pipelined-chain";
    const writes = Array.from({ length: 10 }, (_, i) => requestBytes("PUT", path, { "Content-Type": "text/plain" }, "x".repeat(1000 * (10 - i)) + `#${i}`));
    const replies = await exchange(url, Buffer.concat([...writes, requestBytes("GET", path)]), 11);
    assert.equal(replies.length, 11);
    assert.ok(replies.slice(0, 10).every((r) => r.status === 204));
    // Each blind write is concurrent with the others, so all ten are siblings; what matters is that the read came last.
    assert.equal(replies[10]!.status, 300, `the read sees all ten writes, got ${replies[10]!.status}`);
    const siblings = (replies[10]!.json() as { siblings: unknown[] }).siblings;
    assert.equal(siblings.length, 10);
  });
});
