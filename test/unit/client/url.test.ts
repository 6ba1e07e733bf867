import assert from "node:assert/strict";
import { encodePathSegment, kvPath, normalizeBaseUrl } from "../../../client/url.js";
import { DynamoClientError } from "../../../client/index.js";

function rejects(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => error instanceof DynamoClientError && error.code === code);
}

describe("client URL building", () => {
  it("leaves unreserved characters as they are", () => {
    assert.equal(encodePathSegment("AZaz09-._~"), "AZaz09-._~");
  });

  it("encodes '/' so a key with slashes stays one path segment", () => {
    assert.equal(encodePathSegment("a/b/c"), "a%2Fb%2Fc");
  });

  it("encodes multi-byte UTF-8 byte by byte", () => {
    assert.equal(encodePathSegment("é€"), "%C3%A9%E2%82%AC");
    assert.equal(decodeURIComponent(encodePathSegment("ключ/🔑 ?#%")), "ключ/🔑 ?#%");
  });

  it("encodes the bytes of a Buffer key, including ones that are not valid UTF-8", () => {
    assert.equal(encodePathSegment(Buffer.from([0x00, 0xff, 0x41])), "%00%FFA");
  });

  it("builds a kv path with only the quorum parameters that were given", () => {
    assert.equal(kvPath("default", "k 1", { r: 2, pr: undefined }), "/v1/kv/default/k%201?r=2");
    assert.equal(kvPath("default", "k"), "/v1/kv/default/k");
  });

  it("rejects empty and over-long keys and bad bucket names before sending", () => {
    rejects(() => kvPath("default", ""), "invalid_request");
    rejects(() => kvPath("default", "x".repeat(1025)), "invalid_request");
    assert.doesNotThrow(() => kvPath("default", "x".repeat(1024)));
    rejects(() => kvPath("Default", "k"), "invalid_request");
    rejects(() => kvPath("-x", "k"), "invalid_request");
  });

  it("rejects quorum values the server cannot accept, allowing pr and pw of 0", () => {
    rejects(() => kvPath("default", "k", { r: 0 }), "invalid_request");
    rejects(() => kvPath("default", "k", { w: 1.5 }), "invalid_request");
    rejects(() => kvPath("default", "k", { pw: -1 }), "invalid_request");
    assert.equal(kvPath("default", "k", { pr: 0 }), "/v1/kv/default/k?pr=0");
  });

  it("normalizes base URLs and refuses ones it cannot use", () => {
    assert.equal(normalizeBaseUrl("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
    assert.equal(normalizeBaseUrl("http://127.0.0.1:8080/prefix//"), "http://127.0.0.1:8080/prefix");
    assert.equal(normalizeBaseUrl("https://127.0.0.1:8443/"), "https://127.0.0.1:8443");
    rejects(() => normalizeBaseUrl("ftp://127.0.0.1"), "invalid_request");
    rejects(() => normalizeBaseUrl("not a url"), "invalid_request");
    rejects(() => normalizeBaseUrl("http://127.0.0.1/?a=1"), "invalid_request");
  });
});
