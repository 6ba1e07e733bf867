/**
 * The client API against a real three-node cluster: every node serves every key, quorums are honoured per request,
 * concurrent writes become siblings that a context-carrying write resolves, and lww buckets never show siblings.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { join } from "node:path";
import { TestCluster, REPO_ROOT } from "../helpers/dev-cluster.js";
import { contextOf, http, kvUrl } from "../helpers/http.js";
import { metricSum } from "../helpers/replicas.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "config.yaml");

describe("client API on a three-node cluster", function () {
  let cluster: TestCluster;
  let urls: string[];

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, config: CONFIG, partitions: 64 });
    urls = cluster.clientUrls();
  });
  after(async function () {
    await cluster?.destroy();
  });

  it("a value written through one node is read back through every node", async function () {
    for (const [i, writer] of urls.entries()) {
      const key = `greeting-${i}`;
      const put = await http("PUT", kvUrl(writer, "default", key), { body: `hello ${i}`, headers: { "Content-Type": "text/plain" } });
      assert.equal(put.status, 204, put.text());
      assert.ok(contextOf(put).length > 0);
      for (const reader of urls) {
        const get = await http("GET", kvUrl(reader, "default", key));
        assert.equal(get.status, 200, get.text());
        assert.equal(get.text(), `hello ${i}`);
        assert.match(String(get.headers["content-type"]), /^text\/plain/);
      }
    }
  });

  it("plain key-value requests are served by the port's own reader; other requests move their connection to Node's server", async function () {
    const url = new URL(urls[0]!);
    const handedOver = () => metricSum([urls[0]!], "dynamo_client_connections_handed_over_total");
    /** Sends `requests` on a connection of its own and waits for `answers` answers; returns what came back. */
    const exchange = async (requests: string, answers: number): Promise<string> => {
      const socket = connect(Number(url.port), url.hostname);
      await once(socket, "connect");
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
      socket.write(requests);
      for (let i = 0; i < 500 && (text.match(/HTTP\/1\.1 /g) ?? []).length < answers; i++) await new Promise((r) => setTimeout(r, 10));
      socket.destroy();
      return text;
    };
    const head = `Host: ${url.host}\r\n`;
    const connections = 20;
    // Other clients (the supervisor's probes, this test's metric reads) may add a few; twenty connections cannot hide.
    const before = await handedOver();
    for (let i = 0; i < connections; i++) {
      const key = `front-${i}`;
      const text = await exchange(`PUT /v1/kv/default/${key} HTTP/1.1\r\n${head}Content-Length: 5\r\n\r\nfront` + `GET /v1/kv/default/${key} HTTP/1.1\r\n${head}\r\n`, 2);
      assert.match(text, /^HTTP\/1\.1 204 No Content\r\n[\s\S]*HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfront$/);
    }
    const afterPlain = await handedOver();
    assert.ok(afterPlain - before < connections / 2, `plain key-value requests stayed with the port's reader (${afterPlain - before} hand-overs)`);
    for (let i = 0; i < connections; i++) {
      const text = await exchange(`GET /healthz HTTP/1.1\r\n${head}\r\n` + `GET /v1/kv/default/front-${i} HTTP/1.1\r\n${head}\r\n`, 2);
      assert.match(text, /\{"status":"ok"\}HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nfront$/, "the probe and the read after it are answered in order");
    }
    assert.ok((await handedOver()) - afterPlain >= connections, "each probe moved its connection to Node's server");
  });

  it("binary values and keys with slashes and unicode round-trip exactly", async function () {
    const value = Buffer.from([0, 255, 1, 254, 10, 13]);
    const key = "a/b/ç/🙂 with space";
    const put = await http("PUT", kvUrl(urls[1]!, "default", key), { body: value });
    assert.equal(put.status, 204);
    const get = await http("GET", kvUrl(urls[2]!, "default", key));
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, value);
    assert.equal(get.headers["content-type"], "application/octet-stream");
  });

  it("per-request r and w up to n are accepted and read-your-write holds at r=n after w=n", async function () {
    for (const w of [1, 2, 3]) {
      const put = await http("PUT", kvUrl(urls[0]!, "default", `quorum-${w}`, `?w=${w}`), { body: `w${w}` });
      assert.equal(put.status, 204, put.text());
    }
    const get = await http("GET", kvUrl(urls[1]!, "default", "quorum-3", "?r=3"));
    assert.equal(get.status, 200);
    assert.equal(get.text(), "w3");
    const single = await http("GET", kvUrl(urls[2]!, "default", "quorum-1", "?r=1&pr=1"));
    assert.ok(single.status === 200, single.text());
  });

  it("two concurrent blind writes become two siblings, and a write with their context resolves them", async function () {
    const key = "cart-42";
    assert.equal((await http("PUT", kvUrl(urls[0]!, "cart", key), { body: "apples" })).status, 204);
    assert.equal((await http("PUT", kvUrl(urls[1]!, "cart", key), { body: "pears" })).status, 204);
    const conflicted = await http("GET", kvUrl(urls[2]!, "cart", key));
    assert.equal(conflicted.status, 300, conflicted.text());
    const doc = conflicted.json() as { context: string; siblings: { value: string; contentType: string }[] };
    const values = doc.siblings.map((s) => Buffer.from(s.value, "base64").toString()).sort();
    assert.deepEqual(values, ["apples", "pears"]);
    assert.equal(doc.context, contextOf(conflicted));

    const resolved = await http("PUT", kvUrl(urls[0]!, "cart", key), { body: "apples,pears", headers: { "X-Dynamo-Context": doc.context } });
    assert.equal(resolved.status, 204);
    for (const url of urls) {
      const get = await http("GET", kvUrl(url, "cart", key, "?r=3"));
      assert.equal(get.status, 200, get.text());
      assert.equal(get.text(), "apples,pears");
    }
  });

  it("causally ordered writes through different nodes never produce siblings", async function () {
    const key = "counter";
    let context: string | undefined;
    for (let i = 0; i < 12; i++) {
      const url = urls[i % urls.length]!;
      const headers: Record<string, string> = context ? { "X-Dynamo-Context": context } : {};
      const put = await http("PUT", kvUrl(url, "default", key), { body: String(i), headers });
      assert.equal(put.status, 204);
      const get = await http("GET", kvUrl(urls[(i + 1) % urls.length]!, "default", key));
      assert.equal(get.status, 200, `write ${i} produced ${get.status}: ${get.text()}`);
      assert.equal(get.text(), String(i));
      context = contextOf(get);
    }
  });

  it("an lww bucket never returns siblings: the last write wins", async function () {
    const key = "session-7";
    for (let i = 0; i < 6; i++) {
      const put = await http("PUT", kvUrl(urls[i % 3]!, "sessions", key), { body: `v${i}` });
      assert.equal(put.status, 204);
    }
    for (const url of urls) {
      const get = await http("GET", kvUrl(url, "sessions", key, "?r=3"));
      assert.equal(get.status, 200, get.text());
      assert.equal(get.text(), "v5");
    }
  });

  it("a delete with context makes the key 404 everywhere, and a later write brings it back", async function () {
    const key = "to-delete";
    await http("PUT", kvUrl(urls[0]!, "default", key), { body: "x" });
    const read = await http("GET", kvUrl(urls[1]!, "default", key));
    const del = await http("DELETE", kvUrl(urls[2]!, "default", key), { headers: { "X-Dynamo-Context": contextOf(read) } });
    assert.equal(del.status, 204);
    for (const url of urls) {
      const get = await http("GET", kvUrl(url, "default", key, "?r=3"));
      assert.equal(get.status, 404);
      assert.deepEqual(get.json(), { error: "not_found", message: "no value is stored under this key" });
    }
    const again = await http("PUT", kvUrl(urls[0]!, "default", key), { body: "back" });
    assert.equal(again.status, 204);
    assert.equal((await http("GET", kvUrl(urls[1]!, "default", key))).text(), "back");
  });

  it("a delete without context removes what a quorum sees", async function () {
    const key = "blind-delete";
    await http("PUT", kvUrl(urls[0]!, "default", key), { body: "x" });
    assert.equal((await http("DELETE", kvUrl(urls[1]!, "default", key))).status, 204);
    assert.equal((await http("GET", kvUrl(urls[2]!, "default", key, "?r=3"))).status, 404);
  });

  it("past the sibling limit further concurrent writes are refused with a clear error, and a resolving write still works", async function () {
    const key = "hot";
    let refused: Awaited<ReturnType<typeof http>> | undefined;
    for (let i = 0; i < 12 && !refused; i++) {
      const put = await http("PUT", kvUrl(urls[i % 3]!, "cart", key), { body: `v${i}` });
      if (put.status !== 204) refused = put;
    }
    assert.ok(refused, "expected a write past the limit of 8 siblings to be refused");
    assert.equal(refused.status, 409);
    assert.equal((refused.json() as { error: string }).error, "too_many_siblings");
    const current = await http("GET", kvUrl(urls[0]!, "cart", key, "?r=3"));
    assert.equal(current.status, 300);
    const fix = await http("PUT", kvUrl(urls[1]!, "cart", key), { body: "merged", headers: { "X-Dynamo-Context": contextOf(current) } });
    assert.equal(fix.status, 204, fix.text());
    assert.equal((await http("GET", kvUrl(urls[2]!, "cart", key, "?r=3"))).text(), "merged");
    const metrics = await http("GET", `${urls[0]}/metrics`);
    assert.match(metrics.text(), /dynamo_sibling_refusals_total \d/);
  });

  it("cluster, health, readiness and metrics endpoints answer", async function () {
    const clusterDoc = (await http("GET", `${urls[0]}/v1/cluster`)).json() as { epoch: number; members: { id: string; partitions: number; liveness: string }[] };
    assert.ok(clusterDoc.epoch >= 1);
    assert.deepEqual(clusterDoc.members.map((m) => m.id), ["node-0", "node-1", "node-2"]);
    assert.equal(clusterDoc.members.reduce((sum, m) => sum + m.partitions, 0), 64);
    assert.ok(clusterDoc.members.every((m) => m.liveness === "self" || m.liveness === "up"));
    assert.equal((await http("GET", `${urls[1]}/healthz`)).status, 200);
    assert.equal((await http("GET", `${urls[1]}/readyz`)).status, 200);
    const metrics = (await http("GET", `${urls[0]}/metrics`)).text();
    assert.match(metrics, /dynamo_requests_total\{op="put",status="204"\} \d+/);
    assert.match(metrics, /dynamo_request_duration_seconds_bucket\{le="[0-9.]+",op="get"\}/);
  });
});
