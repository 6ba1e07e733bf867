import assert from "node:assert/strict";
import { DynamoError } from "../../../node/errors/index.js";
import { ClientTokens, generateClientToken, hashClientToken, parseClientTokens } from "../../../node/http/index.js";
import { authorize } from "../../../node/http/client-auth.js";
import { bearerToken } from "../../../node/peer/index.js";

const writer = generateClientToken();
const reader = generateClientToken();
const tokens = new ClientTokens({
  tokens: [
    { name: "writer", sha256: hashClientToken(writer), grants: { carts: "rw", "*": "r" } },
    { name: "reader", sha256: hashClientToken(reader), grants: { carts: "r", audit: "r" } },
  ],
});
const bearer = (token: string) => `Bearer ${token}`;

function refusal(err: DynamoError | undefined, code: string, pattern?: RegExp): void {
  assert.ok(err, `expected ${code}`);
  assert.equal(err.code, code);
  if (pattern) assert.match(err.message, pattern);
}

describe("client tokens", function () {
  it("are random, prefixed and never equal", function () {
    assert.match(writer, /^dyn_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(writer, reader);
  });

  it("identify the holder of a listed token and nobody else", function () {
    assert.equal(tokens.identify(writer)?.name, "writer");
    assert.equal(tokens.identify(reader)?.name, "reader");
    assert.equal(tokens.identify(writer.slice(0, -1)), undefined);
    assert.equal(tokens.identify(hashClientToken(writer)), undefined, "the digest in the file is not a token");
    assert.equal(tokens.identify(""), undefined);
  });

  it("401 without a token or with an unknown one; probes stay open", function () {
    refusal(authorize(tokens, undefined, { kind: "any" }), "unauthorized", /Authorization: Bearer/);
    refusal(authorize(tokens, "Basic dXNlcjpwYXNz", { kind: "any" }), "unauthorized");
    refusal(authorize(tokens, bearer("dyn_nope"), { kind: "bucket", bucket: "carts", scope: "r" }), "unauthorized", /not valid/);
    assert.equal(authorize(tokens, undefined, { kind: "open" }), undefined);
    assert.equal(authorize(tokens, bearer(reader), { kind: "any" }), undefined);
  });

  it("403 when the token's grants do not cover the bucket or the write; a bucket grant overrides '*'", function () {
    assert.equal(authorize(tokens, bearer(writer), { kind: "bucket", bucket: "carts", scope: "rw" }), undefined);
    assert.equal(authorize(tokens, bearer(writer), { kind: "bucket", bucket: "anything", scope: "r" }), undefined);
    refusal(authorize(tokens, bearer(writer), { kind: "bucket", bucket: "anything", scope: "rw" }), "forbidden", /token 'writer' may not write to bucket 'anything' \(it has read access only\)/);
    assert.equal(authorize(tokens, bearer(reader), { kind: "bucket", bucket: "carts", scope: "r" }), undefined);
    refusal(authorize(tokens, bearer(reader), { kind: "bucket", bucket: "carts", scope: "rw" }), "forbidden");
    refusal(authorize(tokens, bearer(reader), { kind: "bucket", bucket: "sessions", scope: "r" }), "forbidden", /no access/);
  });

  it("read the Authorization header's bearer token case-insensitively and nothing else", function () {
    assert.equal(bearerToken("Bearer abc"), "abc");
    assert.equal(bearerToken("bearer  abc "), "abc");
    assert.equal(bearerToken("Bearer a b"), undefined);
    assert.equal(bearerToken("Bearerabc"), undefined);
    assert.equal(bearerToken(undefined), undefined);
  });

  it("files are validated, naming each problem and where it is", function () {
    const digest = hashClientToken("x");
    assert.equal(parseClientTokens(`tokens:\n  - { name: a, sha256: ${digest}, grants: { "*": rw } }\n`, "f").tokens.length, 1);
    assert.equal(parseClientTokens("", "f").tokens.length, 0);
    const bad = (text: string, pattern: RegExp) =>
      assert.throws(() => parseClientTokens(text, "tokens.yaml"), (e: unknown) => e instanceof DynamoError && pattern.test(e.message));
    bad(`tokens:\n  - { name: a, sha256: ${digest}, grants: { carts: write } }`, /tokens\.0\.grants\.carts/);
    bad(`tokens:\n  - { name: a, sha256: abc, grants: { carts: r } }`, /tokens\.0\.sha256/);
    bad(`tokens:\n  - { name: a, sha256: ${digest}, grants: {} }`, /at least one grant/);
    bad(`tokens:\n  - { name: a, sha256: ${digest}, grants: { Carts: r } }`, /bucket name/);
    bad(`tokens:\n  - { name: a, token: plain, sha256: ${digest}, grants: { carts: r } }`, /Unrecognized key.*"token"/);
    bad(`tokens:\n  - { name: a, sha256: ${digest}, grants: { c: r } }\n  - { name: a, sha256: ${hashClientToken("y")}, grants: { c: r } }`, /listed twice/);
    bad("tokens: [", /tokens\.yaml is not valid YAML/);
  });
});
