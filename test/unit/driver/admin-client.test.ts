import assert from "node:assert/strict";
import { once } from "node:events";
import { Agent, createServer, type Server } from "node:http";
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

  describe("over kept-alive connections", function () {
    /**
     * An admin port that answers `{"epoch":N}` with N its count of requests, and cuts the connection, unanswered,
     * of every request that `cut` picks (by the request's number on its connection): a node that closes an idle
     * connection just as the next request goes out on it.
     */
    async function cutting(cut: (onConnection: number) => boolean): Promise<{ server: Server; url: string; requests: () => number; connections: () => number }> {
      let requests = 0;
      let connections = 0;
      const server = createServer((req, res) => {
        requests += 1;
        const socket = req.socket as typeof req.socket & { requestsSeen?: number };
        socket.requestsSeen = (socket.requestsSeen ?? 0) + 1;
        if (cut(socket.requestsSeen)) socket.destroy();
        else res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ epoch: requests, transfers: [] }));
      });
      server.on("connection", () => (connections += 1));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests, connections: () => connections };
    }

    it("sends a call once more on a new connection when its reused one is cut before any answer", async function () {
      const node = await cutting((n) => n === 2);
      const agent = new Agent({ keepAlive: true });
      try {
        const admin = new AdminClient("t".repeat(16), 5000, undefined, agent);
        assert.equal((await admin.transfers(node.url)).epoch, 1);
        assert.equal((await admin.transfers(node.url)).epoch, 3, "the second call was answered on its second try");
        assert.equal(node.connections(), 2);
      } finally {
        agent.destroy();
        node.server.close();
      }
    });

    it("does not repeat a call whose new connection is cut", async function () {
      const node = await cutting(() => true);
      const agent = new Agent({ keepAlive: true });
      try {
        const admin = new AdminClient("t".repeat(16), 5000, undefined, agent);
        await assert.rejects(admin.transfers(node.url), (err: Error) => err instanceof DynamoError && err.code === "unavailable" && /socket hang up/.test(err.message));
        assert.equal(node.requests(), 1, "a call cut on a fresh connection is not sent again");
      } finally {
        agent.destroy();
        node.server.close();
      }
    });
  });

  it("answers undefined for a node without a ring", async function () {
    const { server, url } = await answering(404, '{"error":"not_found","message":"this node has no ring yet"}');
    try {
      assert.equal(await new AdminClient("t".repeat(16)).ring(url), undefined);
    } finally {
      server.close();
    }
  });
});
