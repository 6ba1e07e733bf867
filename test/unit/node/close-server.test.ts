// A stopping node's client port answers the requests that reached it in its last moments instead of cutting them:
// a write cut after it was sent looks to the client like one that may have been stored, which it does not retry.
// Real sockets, a real http.Server.
import assert from "node:assert/strict";
import { once } from "node:events";
import { Agent, createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { closeServer } from "../../../node/http/index.js";

/** Sends one PUT and resolves with its status, or with the error code when the connection fails. */
function put(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, method: "PUT", path: "/v1/kv/default/k", agent: false }, (res: IncomingMessage) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end("value");
  });
}

describe("closing the client port at the end of a stop", function () {
  let server: Server | undefined;
  afterEach(function () {
    server?.closeAllConnections();
    server?.close();
  });

  async function serve(answerAfterMs: number | undefined): Promise<{ port: number; arrived: Promise<unknown> }> {
    const s = createServer((req, res) => {
      s.emit("arrived");
      if (answerAfterMs === undefined) return; // never answers
      setTimeout(() => {
        res.writeHead(503, { "Retry-After": "1", Connection: "close" });
        res.end('{"error":"not_ready"}');
      }, answerAfterMs);
    });
    server = s;
    s.listen(0, "127.0.0.1");
    await once(s, "listening");
    return { port: (s.address() as AddressInfo).port, arrived: once(s, "arrived") };
  }

  it("answers a request already read instead of resetting its connection", async function () {
    const { port, arrived } = await serve(50);
    const answer = put(port);
    await arrived;
    await closeServer(server, 500);
    assert.equal(await answer, 503, "the client gets the retryable answer, not a reset after sending its write");
  });

  it("cuts a connection whose request is not answered within the grace", async function () {
    const { port, arrived } = await serve(undefined);
    const answer = put(port);
    await arrived;
    const started = performance.now();
    await closeServer(server, 200);
    const ms = performance.now() - started;
    assert.ok(ms >= 150 && ms < 2000, `the close waits for the grace and no longer, took ${ms.toFixed(0)} ms`);
    assert.equal(typeof (await answer), "string", "the unanswered request's connection is cut");
  });

  it("closes an idle kept-alive connection at once instead of waiting out the grace", async function () {
    const s = createServer((_req, res) => res.end("ok"));
    server = s;
    s.listen(0, "127.0.0.1");
    await once(s, "listening");
    const agent = new Agent({ keepAlive: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: (s.address() as AddressInfo).port, agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        });
        req.on("error", reject);
        req.end();
      });
      const open = await new Promise<number>((resolve, reject) => s.getConnections((err, n) => (err ? reject(err) : resolve(n))));
      assert.equal(open, 1, "keep-alive left the connection open");
      const started = performance.now();
      await closeServer(server, 5000);
      assert.ok(performance.now() - started < 1000, "a connection left open by keep-alive does not hold the stop for the grace");
    } finally {
      agent.destroy();
    }
  });
});
