import assert from "node:assert/strict";
import { DEFAULT_BUCKET, parseNodeConfig } from "../../../node/config/index.js";
import { DynamoError } from "../../../node/errors/index.js";
import { parseKvPath, parseQuorum } from "../../../node/http/index.js";

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof DynamoError && err.code === "invalid_request" && pattern.test(err.message));
}

describe("client request validation", function () {
  it("decodes keys byte-wise, keeping slashes and unicode", function () {
    assert.deepEqual(parseKvPath("/v1/kv/default/a%2Fb/c%C3%A7"), { bucket: "default", key: Buffer.from("a/b/cç") });
    assert.deepEqual(parseKvPath("/v1/kv/my_bucket-1/x"), { bucket: "my_bucket-1", key: Buffer.from("x") });
  });

  it("rejects empty, oversized, non-UTF-8 and badly encoded keys", function () {
    invalid(() => parseKvPath("/v1/kv/default/"), /empty/);
    invalid(() => parseKvPath("/v1/kv/default/" + "a".repeat(1025)), /1025 bytes/);
    assert.equal(parseKvPath("/v1/kv/default/" + "a".repeat(1024)).key.length, 1024);
    invalid(() => parseKvPath("/v1/kv/default/%FF"), /UTF-8/);
    invalid(() => parseKvPath("/v1/kv/default/%4"), /percent-encoding/);
    invalid(() => parseKvPath("/v1/kv/default"), /\/v1\/kv\/\{bucket\}\/\{key\}/);
  });

  it("rejects bucket names outside the allowed pattern", function () {
    for (const bucket of ["", "A", "_x", "a.b", "a".repeat(64), "%00"]) invalid(() => parseKvPath(`/v1/kv/${bucket}/k`), /bucket name/);
    assert.equal(parseKvPath(`/v1/kv/${"a".repeat(63)}/k`).bucket.length, 63);
  });

  it("reads quorum parameters within 1..n and defaults to the bucket's", function () {
    assert.deepEqual(parseQuorum(new URLSearchParams(""), DEFAULT_BUCKET), { r: 2, w: 2, pr: 0, pw: 0 });
    assert.deepEqual(parseQuorum(new URLSearchParams("r=3&w=1&pr=2"), DEFAULT_BUCKET), { r: 3, w: 1, pr: 2, pw: 0 });
    invalid(() => parseQuorum(new URLSearchParams("r=0"), DEFAULT_BUCKET), /'r' must be between 1 and n=3/);
    invalid(() => parseQuorum(new URLSearchParams("w=4"), DEFAULT_BUCKET), /'w' must be between 1 and n=3/);
    invalid(() => parseQuorum(new URLSearchParams("w=2.0"), DEFAULT_BUCKET), /whole number/);
    invalid(() => parseQuorum(new URLSearchParams("r=1&r=2"), DEFAULT_BUCKET), /more than once/);
    invalid(() => parseQuorum(new URLSearchParams("n=1"), DEFAULT_BUCKET), /unknown query parameter 'n'/);
  });
});

describe("node configuration", function () {
  it("always has the default bucket and applies tuning defaults", function () {
    const config = parseNodeConfig({});
    assert.deepEqual(config.buckets.get("default"), DEFAULT_BUCKET);
    assert.equal(config.tuning.valueMaxBytes, 1024 * 1024);
  });

  it("rejects r or w above n, duplicate buckets, unknown tuning keys and bad names, naming the problem", function () {
    invalid(() => parseNodeConfig({ buckets: [{ name: "a", n: 2, r: 3, w: 1 }] }), /r must be <= n/);
    invalid(() => parseNodeConfig({ buckets: [{ name: "a", n: 2, r: 1, w: 3 }] }), /w must be <= n/);
    invalid(() => parseNodeConfig({ buckets: [{ name: "a", n: 1, r: 1, w: 1 }, { name: "a", n: 1, r: 1, w: 1 }] }), /defined twice/);
    invalid(() => parseNodeConfig({ tuning: { requestTimeoutMillis: 5 } }), /tuning/);
    invalid(() => parseNodeConfig({ buckets: [{ name: "Bad", n: 1, r: 1, w: 1 }] }), /buckets\.0\.name/);
    invalid(() => parseNodeConfig({ buckets: [{ name: "a", n: 1, r: 1, w: 1, reconciliation: "newest" }] }), /reconciliation/);
  });

  it("refuses a misspelt bucket field by name rather than silently defaulting it", function () {
    invalid(() => parseNodeConfig({ buckets: [{ name: "carts", n: 3, r: 2, w: 2, reconcilation: "lww" }] }), /buckets\.0.*"reconcilation"/);
    invalid(() => parseNodeConfig({ tuning: { valueMaxByte: 10 } }), /tuning.*"valueMaxByte"/);
  });

  it("refuses a value limit that the client body budget could never hold", function () {
    invalid(() => parseNodeConfig({ tuning: { valueMaxBytes: 2048, clientBodyBudgetBytes: 1024 } }), /clientBodyBudgetBytes/);
    assert.equal(parseNodeConfig({ tuning: { valueMaxBytes: 1024, clientBodyBudgetBytes: 1024 } }).tuning.clientBodyBudgetBytes, 1024);
  });
});
