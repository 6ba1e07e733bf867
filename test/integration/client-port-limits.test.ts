/**
 * Hostile clients on the client port: oversized and endless bodies, bodies and headers that never finish, floods of
 * connections and of body bytes, and header lists long enough to push the context header out. Each is refused early
 * with a JSON error, nothing waits for minutes, and nothing stored changes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { contextOf, http, kvUrl } from "../helpers/http.js";
import { RawConnection, exchange, requestBytes, type RawResponse } from "../helpers/raw-http.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "hostile-client.yaml");
const MiB = 1024 * 1024;

function assertJsonError(reply: RawResponse | undefined, status: number, code: string, pattern?: RegExp): void {
  assert.ok(reply, `expected a ${status} answer, got none`);
  assert.equal(reply.status, status, `expected ${status}, got ${reply.status}: ${reply.body.toString()}`);
  assert.match(reply.headers["content-type"] ?? "", /^application\/json/);
  const body = reply.json();
  assert.equal(body.error, code);
  if (pattern) assert.match(String(body.message), pattern);
}

describe("client port limits against hostile clients", function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let url: string;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: CONFIG });
    url = cluster.clientUrls()[0]!;
    assert.equal((await http("PUT", kvUrl(url, "default", "precious"), { body: "original" })).status, 204);
  });
  after(async function () {
    await cluster?.destroy();
  });
  afterEach(async function () {
    const get = await http("GET", kvUrl(url, "default", "precious", "?r=3"));
    assert.equal(get.status, 200, `the stored value survives: ${get.status} ${get.text()}`);
    assert.equal(get.text(), "original");
  });

  it("a Content-Length over the limit is refused with 413 at the header, before any body is sent", async function () {
    const conn = await RawConnection.open(url);
    try {
      await conn.write(requestBytes("PUT", "/v1/kv/default/precious", { "Content-Length": String(64 * MiB) }));
      const [reply] = await conn.responses(1, 5000);
      assertJsonError(reply, 413, "value_too_large", /1048576-byte limit/);
      assert.equal(reply!.headers["connection"], "close");
      assert.ok(await conn.closedWithin(2000), "the connection is closed rather than left to read 64 MiB");
    } finally {
      conn.close();
    }
  });

  it("Expect: 100-continue over the limit gets 413 and never 100 Continue", async function () {
    const replies = await exchange(url, requestBytes("PUT", "/v1/kv/default/precious", { "Content-Length": String(2 * MiB), Expect: "100-continue" }), 1, 5000);
    assert.notEqual(replies[0]?.status, 100, "no 100 Continue for a body that will be refused");
    assertJsonError(replies[0], 413, "value_too_large");
  });

  it("Expect: 100-continue within the limit gets 100 Continue, then the write", async function () {
    const conn = await RawConnection.open(url);
    try {
      await conn.write(requestBytes("PUT", "/v1/kv/default/continued", { "Content-Length": "5", Expect: "100-continue" }));
      const [first] = await conn.responses(1, 5000);
      assert.equal(first?.status, 100);
      await conn.write("hello");
      const replies = await conn.responses(2, 5000);
      assert.equal(replies[1]?.status, 204);
      assert.equal((await http("GET", kvUrl(url, "default", "continued"))).text(), "hello");
    } finally {
      conn.close();
    }
  });

  it("Expect: 100-continue for a request refused on its headers gets that error and no 100 Continue", async function () {
    const replies = await exchange(url, requestBytes("PUT", "/v1/kv/nosuchbucket/k", { "Content-Length": "5", Expect: "100-continue" }), 1, 5000);
    assertJsonError(replies[0], 404, "unknown_bucket");
  });

  it("an endless chunked body is cut off at the limit with 413", async function () {
    const conn = await RawConnection.open(url);
    try {
      await conn.write(requestBytes("PUT", "/v1/kv/default/precious", { "Transfer-Encoding": "chunked" }));
      const chunk = Buffer.concat([Buffer.from(`${(64 * 1024).toString(16)}\r\n`), Buffer.alloc(64 * 1024, 0x61), Buffer.from("\r\n")]);
      // Before the fix the node read 7.4 GB of such a body before answering; now it answers once 1 MiB has passed.
      while (!conn.closed && conn.written < 256 * MiB && (await conn.responses(1, 1)).length === 0) await conn.write(chunk);
      const [reply] = await conn.responses(1, 5000);
      assertJsonError(reply, 413, "value_too_large", /chunked body passed it/);
      assert.ok(conn.written < 64 * MiB, `the node stopped reading early (the client wrote ${conn.written} bytes)`);
      assert.ok(await conn.closedWithin(2000), "and closed the connection");
    } finally {
      conn.close();
    }
  });

  it("a body shorter than its Content-Length gets 408 after the body deadline, not minutes later", async function () {
    const conn = await RawConnection.open(url);
    try {
      const started = Date.now();
      await conn.write(requestBytes("PUT", "/v1/kv/default/precious", { "Content-Length": "1000" }, "only this much"));
      const [reply] = await conn.responses(1, 20_000);
      const waitedMs = Date.now() - started;
      assertJsonError(reply, 408, "request_timeout", /1500 ms/);
      assert.ok(waitedMs < 10_000, `answered after ${waitedMs} ms`);
      assert.ok(await conn.closedWithin(2000));
    } finally {
      conn.close();
    }
  });

  it("headers that never finish get 408 after the header deadline", async function () {
    const conn = await RawConnection.open(url);
    try {
      await conn.write("GET /v1/kv/default/precious HTTP/1.1\r\nHost: test\r\nX-Slow: ");
      const [reply] = await conn.responses(1, 20_000);
      assertJsonError(reply, 408, "request_timeout");
      assert.ok(await conn.closedWithin(2000));
    } finally {
      conn.close();
    }
  });

  it("a context header pushed past the header-count cap refuses the write instead of making it blind", async function () {
    const context = contextOf(await http("GET", kvUrl(url, "default", "precious")));
    const junk = Object.fromEntries(Array.from({ length: 2100 }, (_, i) => [`x-${i}`, "1"]));
    const replies = await exchange(url, requestBytes("PUT", "/v1/kv/default/precious", { ...junk, "X-Dynamo-Context": context }, "overwritten"), 1);
    assertJsonError(replies[0], 431, "invalid_request", /header fields/);
  });

  it("a request without Host and an Expect other than 100-continue get the API's JSON errors, not bare statuses", async function () {
    const [noHost] = await exchange(url, "GET /v1/kv/default/precious HTTP/1.1\r\n\r\n", 1);
    assertJsonError(noHost, 400, "invalid_request", /Host/);
    const [expectation] = await exchange(url, requestBytes("PUT", "/v1/kv/default/precious", { Expect: "200-ok" }, "changed"), 1);
    assertJsonError(expectation, 417, "invalid_request", /100-continue/);
  });

  it("past clientConnectionsMax a new connection gets 503 and closes; once others close, requests work again", async function () {
    const held: RawConnection[] = [];
    try {
      for (let i = 0; i < 20; i++) held.push(await RawConnection.open(url));
      const replies = await exchange(url, requestBytes("GET", "/v1/kv/default/precious"), 1);
      assertJsonError(replies[0], 503, "unavailable", /clientConnectionsMax/);
    } finally {
      for (const c of held) c.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await http("GET", kvUrl(url, "default", "precious"))).status, 200);
  });

  it("bodies past the node-wide byte budget get 503 at once; the budget comes back when they end", async function () {
    const slow: RawConnection[] = [];
    try {
      // Three half-sent 1 MiB bodies take the whole 3 MiB budget; a fourth request is refused before it sends a byte.
      for (let i = 0; i < 3; i++) {
        const conn = await RawConnection.open(url);
        await conn.write(requestBytes("PUT", `/v1/kv/default/slow-${i}`, { "Content-Length": String(MiB) }, Buffer.alloc(1000)));
        slow.push(conn);
      }
      await new Promise((r) => setTimeout(r, 200));
      const replies = await exchange(url, requestBytes("PUT", "/v1/kv/default/fourth", { "Content-Length": String(MiB) }), 1, 5000);
      assertJsonError(replies[0], 503, "unavailable", /clientBodyBudgetBytes/);
    } finally {
      for (const c of slow) c.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await http("PUT", kvUrl(url, "default", "after-budget"), { body: Buffer.alloc(MiB, 1) })).status, 204);
  });
});
