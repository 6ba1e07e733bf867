import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AdminClient } from "../../../driver/index.js";
import { DynamoError } from "../../../node/errors/index.js";

/** An admin port that answers every request with `status` and `body`, to see how the client takes it. */
async function answering(status: number, body: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(status, { "Content-Type": "application/json" }).end(body));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("AdminClient", function () {
  const cases: [string, number, string, (c: AdminClient, url: string) => Promise<unknown>, RegExp, string][] = [
    ["node info without an incarnation", 200, '{"id":"n1","epoch":1}', (c, u) => c.node(u), /malformed: .*incarnation/, "unavailable"],
    ["node info that is null", 200, "null", (c, u) => c.node(u), /malformed/, "unavailable"],
    ["a ring that breaks its invariants", 200, '{"epoch":0}', (c, u) => c.ring(u), /malformed ring/, "unavailable"],
    ["a transfer report with a bad state", 200, '{"epoch":1,"transfers":[{"partition":1,"from":"a","to":"b","kind":"ownership","state":"lost","keys":0,"bytes":0}]}', (c, u) => c.transfers(u), /transfers\.0\.state/, "unavailable"],
    ["an error whose code is not ours", 400, '{"error":"constructor","message":"m"}', (c, u) => c.node(u), /HTTP 400: m/, "invalid_request"],
    ["an error that is not JSON", 503, "<html>", (c, u) => c.node(u), /HTTP 503: <html>/, "unavailable"],
  ];
  for (const [name, status, body, call, message, code] of cases) {
    it(`refuses ${name} with a clear error`, async function () {
      const { server, url } = await answering(status, body);
      try {
        await assert.rejects(call(new AdminClient("t".repeat(16)), url), (err: Error) => {
          assert.ok(err instanceof DynamoError);
          assert.equal(err.code, code);
          assert.match(err.message, message);
          return true;
        });
      } finally {
        server.close();
      }
    });
  }

  it("answers undefined for a node without a ring", async function () {
    const { server, url } = await answering(404, '{"error":"not_found","message":"this node has no ring yet"}');
    try {
      assert.equal(await new AdminClient("t".repeat(16)).ring(url), undefined);
    } finally {
      server.close();
    }
  });
});
