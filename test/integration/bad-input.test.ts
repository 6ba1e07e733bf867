/**
 * Every bad input gets its documented error, as JSON naming the problem, and changes nothing that is stored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { TestCluster, REPO_ROOT } from "../helpers/dev-cluster.js";
import { contextOf, http, kvUrl, type RawReply } from "../helpers/http.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "config.yaml");

function assertError(reply: RawReply, status: number, code: string, messagePattern?: RegExp): void {
  assert.equal(reply.status, status, `expected ${status} ${code}, got ${reply.status}: ${reply.text()}`);
  assert.match(String(reply.headers["content-type"]), /^application\/json/);
  const body = reply.json() as { error: string; message: string };
  assert.equal(body.error, code);
  assert.equal(typeof body.message, "string");
  assert.ok(body.message.length > 0);
  assert.doesNotMatch(body.message, /at .*\.(js|ts):\d+/, "no stack traces in error messages");
  if (messagePattern) assert.match(body.message, messagePattern);
}

describe("bad input", function () {
  let cluster: TestCluster;
  let url: string;
  let peerUrl: string;
  let storedContext: string;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, config: CONFIG, partitions: 32 });
    url = cluster.clientUrls()[0]!;
    peerUrl = cluster.nodes()[0]!.peerUrl;
    const put = await http("PUT", kvUrl(url, "default", "precious"), { body: "original" });
    assert.equal(put.status, 204);
    storedContext = contextOf(await http("GET", kvUrl(url, "default", "precious")));
  });
  after(async function () {
    await cluster?.destroy();
  });

  afterEach(async function () {
    // Whatever the bad request was, the stored value is untouched.
    const get = await http("GET", kvUrl(url, "default", "precious", "?r=3"));
    assert.equal(get.status, 200, get.text());
    assert.equal(get.text(), "original");
  });

  it("an empty key is 400", async function () {
    assertError(await http("PUT", `${url}/v1/kv/default/`, { body: "x" }), 400, "invalid_request", /key is empty/);
  });

  it("a 1025-byte key is 400, and a 1024-byte key is fine", async function () {
    assertError(await http("PUT", kvUrl(url, "default", "k".repeat(1025)), { body: "x" }), 400, "invalid_request", /1025 bytes/);
    assert.equal((await http("PUT", kvUrl(url, "default", "k".repeat(1024)), { body: "x" })).status, 204);
  });

  it("invalid bucket names are 400", async function () {
    for (const bucket of ["Upper", "-dash", "has.dot", "x".repeat(64), "sp%20ace"]) {
      assertError(await http("PUT", `${url}/v1/kv/${bucket}/k`, { body: "x" }), 400, "invalid_request", /bucket name/);
    }
  });

  it("an unknown bucket is 404 unknown_bucket", async function () {
    assertError(await http("PUT", kvUrl(url, "nosuchbucket", "k"), { body: "x" }), 404, "unknown_bucket", /nosuchbucket/);
    assertError(await http("GET", kvUrl(url, "nosuchbucket", "k")), 404, "unknown_bucket");
  });

  it("r or w of 0, above n, or not a number are 400", async function () {
    for (const query of ["?r=0", "?r=4", "?r=abc", "?r=1.5", "?r=-1", "?r="]) {
      assertError(await http("GET", kvUrl(url, "default", "precious", query)), 400, "invalid_request", /'r'/);
    }
    for (const query of ["?w=0", "?w=4", "?w=two"]) {
      assertError(await http("PUT", kvUrl(url, "default", "precious", query), { body: "changed" }), 400, "invalid_request", /'w'/);
    }
    assertError(await http("PUT", kvUrl(url, "single", "k", "?w=2"), { body: "x" }), 400, "invalid_request", /n=1/);
    assertError(await http("GET", kvUrl(url, "default", "precious", "?rr=1")), 400, "invalid_request", /unknown query parameter/);
  });

  it("a value of 1 MiB + 1 byte is 413, and exactly 1 MiB is stored", async function () {
    const tooBig = Buffer.alloc(1024 * 1024 + 1, 7);
    assertError(await http("PUT", kvUrl(url, "default", "precious"), { body: tooBig }), 413, "value_too_large", /1048576/);
    const exact = Buffer.alloc(1024 * 1024, 9);
    assert.equal((await http("PUT", kvUrl(url, "default", "big"), { body: exact })).status, 204);
    const back = await http("GET", kvUrl(url, "default", "big", "?r=3"));
    assert.deepEqual(back.body, exact);
  });

  it("a malformed context is 400", async function () {
    for (const context of ["garbage", "!!!", "a".repeat(9000), storedContext.slice(0, 5)]) {
      assertError(await http("PUT", kvUrl(url, "default", "precious"), { body: "changed", headers: { "X-Dynamo-Context": context } }), 400, "invalid_request", /context/);
    }
  });

  it("headers too large for the HTTP parser get a JSON 431", async function () {
    assertError(await http("PUT", kvUrl(url, "default", "precious"), { body: "changed", headers: { "X-Dynamo-Context": "a".repeat(20000) } }), 431, "invalid_request", /16 KiB/);
  });

  it("a context whose integrity check fails is 400", async function () {
    const chars = storedContext.split("");
    const i = Math.floor(chars.length / 2);
    chars[i] = chars[i] === "A" ? "B" : "A";
    const tampered = chars.join("");
    assertError(await http("PUT", kvUrl(url, "default", "precious"), { body: "changed", headers: { "X-Dynamo-Context": tampered } }), 400, "invalid_request", /context/);
  });

  it("a context from another key is 400", async function () {
    await http("PUT", kvUrl(url, "default", "other"), { body: "y" });
    const foreign = contextOf(await http("GET", kvUrl(url, "default", "other")));
    assertError(await http("PUT", kvUrl(url, "default", "precious"), { body: "changed", headers: { "X-Dynamo-Context": foreign } }), 400, "invalid_request", /context/);
    assertError(await http("DELETE", kvUrl(url, "default", "precious"), { headers: { "X-Dynamo-Context": foreign } }), 400, "invalid_request", /context/);
  });

  it("non-UTF-8 key bytes and broken percent-encoding are 400", async function () {
    assertError(await http("PUT", url, { rawPath: "/v1/kv/default/%FF%FE", body: "x" }), 400, "invalid_request", /UTF-8/);
    assertError(await http("GET", url, { rawPath: "/v1/kv/default/%C3" }), 400, "invalid_request", /UTF-8/);
    assertError(await http("GET", url, { rawPath: "/v1/kv/default/%zz" }), 400, "invalid_request", /percent-encoding/);
  });

  it("unknown routes are a JSON 404", async function () {
    assertError(await http("GET", `${url}/v2/nothing`), 404, "not_found");
    assertError(await http("POST", kvUrl(url, "default", "precious"), { body: "x" }), 404, "not_found");
  });

  it("the peer port refuses requests without the token or with a wrong one", async function () {
    assertError(await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls }), 401, "unauthorized");
    assertError(await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: { Authorization: "Bearer wrong-token-wrong-token" } }), 401, "unauthorized");
    const badRing = { epoch: 999, partitions: 3, owners: [], pending: [], members: {} };
    assertError(await http("PUT", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, body: JSON.stringify(badRing), headers: { "Content-Type": "application/json" } }), 401, "unauthorized");
    const upgrade = await http("GET", `${peerUrl}/v1/peer/stream`, { tls: cluster.peerTls, headers: { Connection: "Upgrade", Upgrade: "dynamo-peer/2", Authorization: "Bearer nope-nope-nope-nope" } });
    assert.equal(upgrade.status, 401);
    const ok = await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: { Authorization: `Bearer ${cluster.token}` } });
    assert.equal(ok.status, 200);
  });

  it("a malformed ring pushed with the right token is 400 and the ring is unchanged", async function () {
    const auth = { Authorization: `Bearer ${cluster.token}`, "Content-Type": "application/json" };
    const before = (await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: auth })).json() as { epoch: number };
    const badRing = { epoch: before.epoch + 10, partitions: 3, owners: ["x"], pending: [], members: {} };
    assertError(await http("PUT", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, body: JSON.stringify(badRing), headers: auth }), 400, "invalid_request");
    assertError(await http("PUT", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, body: "{not json", headers: auth }), 400, "invalid_request");
    const after = (await http("GET", `${peerUrl}/v1/admin/ring`, { tls: cluster.peerTls, headers: auth })).json() as { epoch: number };
    assert.equal(after.epoch, before.epoch);
  });
});
