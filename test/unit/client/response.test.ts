import assert from "node:assert/strict";
import {
  parseClusterResponse,
  parseDeleteResponse,
  parseGetResponse,
  parsePutResponse,
  type RawResponse,
} from "../../../client/response.js";
import { DynamoClientError } from "../../../client/index.js";

function response(status: number, headers: Record<string, string> = {}, body: string | Buffer = ""): RawResponse {
  return { status, headers, body: typeof body === "string" ? Buffer.from(body) : body };
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: code, message });
}

function assertClientError(fn: () => unknown, code: string, status?: number): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DynamoClientError);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

describe("client response parsing", () => {
  it("reads a single value with its content type and context", () => {
    const result = parseGetResponse(response(200, { "content-type": "text/plain", "x-dynamo-context": "c1" }, "hi"));
    assert.deepEqual(result, { kind: "value", value: Buffer.from("hi"), contentType: "text/plain", context: "c1" });
  });

  it("treats a 200 without a context header as a broken response", () => {
    assertClientError(() => parseGetResponse(response(200, {}, "hi")), "invalid_response", 200);
  });

  it("decodes siblings from a 300 JSON document", () => {
    const body = JSON.stringify({
      context: "c2",
      siblings: [
        { value: Buffer.from("a").toString("base64"), contentType: "text/plain" },
        { value: "", contentType: "application/octet-stream" },
      ],
    });
    const result = parseGetResponse(response(300, { "content-type": "application/json" }, body));
    assert.deepEqual(result, {
      kind: "siblings",
      context: "c2",
      siblings: [
        { value: Buffer.from("a"), contentType: "text/plain" },
        { value: Buffer.alloc(0), contentType: "application/octet-stream" },
      ],
    });
  });

  it("rejects a 300 whose body is not a siblings document", () => {
    assertClientError(() => parseGetResponse(response(300, {}, "{}")), "invalid_response", 300);
    assertClientError(() => parseGetResponse(response(300, {}, "nope")), "invalid_response", 300);
  });

  it("reports an absent key as not_found, keeping a tombstone context when there is one", () => {
    assert.deepEqual(parseGetResponse(response(404, {}, errorBody("not_found", "no such key"))), { kind: "not_found" });
    assert.deepEqual(parseGetResponse(response(404, { "x-dynamo-context": "t" }, "")), { kind: "not_found", context: "t" });
  });

  it("does not mistake an unknown bucket for an absent key", () => {
    assertClientError(() => parseGetResponse(response(404, {}, errorBody("unknown_bucket", "no bucket"))), "unknown_bucket", 404);
  });

  it("turns contract error bodies into errors with the server's code and message", () => {
    assert.throws(
      () => parseGetResponse(response(503, {}, errorBody("unavailable", "quorum not reached"))),
      (error: unknown) =>
        error instanceof DynamoClientError && error.code === "unavailable" && error.status === 503 && error.message === "quorum not reached",
    );
  });

  it("gives non-contract error bodies the http_error code", () => {
    assertClientError(() => parsePutResponse(response(502, {}, "<html>bad gateway</html>")), "http_error", 502);
  });

  it("returns the new context of a write and requires it", () => {
    assert.deepEqual(parsePutResponse(response(204, { "x-dynamo-context": "c3" })), { context: "c3" });
    assertClientError(() => parsePutResponse(response(204)), "invalid_response", 204);
    assertClientError(() => parsePutResponse(response(413, {}, errorBody("value_too_large", "too big"))), "value_too_large", 413);
  });

  it("accepts a delete with or without a tombstone context", () => {
    assert.deepEqual(parseDeleteResponse(response(204)), {});
    assert.deepEqual(parseDeleteResponse(response(204, { "x-dynamo-context": "t" })), { context: "t" });
  });

  it("requires the cluster view to be a JSON object", () => {
    assert.deepEqual(parseClusterResponse(response(200, {}, '{"epoch":3}')), { epoch: 3 });
    assertClientError(() => parseClusterResponse(response(200, {}, "[]")), "invalid_response", 200);
  });
});
