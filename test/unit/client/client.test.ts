import assert from "node:assert/strict";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { createCa, issueCertificate } from "../../../node/pki/index.js";
import { DynamoClient, DynamoClientError } from "../../../client/index.js";

/**
 * The client against in-process stub servers on loopback: what goes on the wire, which node each request reaches,
 * and how failures surface. The stubs answer from a handler so each test states the server behaviour it relies on.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Handler = (seen: Seen, res: http.ServerResponse) => void;

interface Stub {
  url: string;
  seen: Seen[];
  /** TCP connections accepted so far. */
  connections: () => number;
  close: () => Promise<void>;
}

async function stub(handler: Handler): Promise<Stub> {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(entry);
      handler(entry, res);
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A URL on which nothing listens: a port that was just bound and released. */
async function deadUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

const ok: Handler = (seen, res) => {
  if (seen.method === "GET") {
    res.writeHead(200, { "content-type": "text/plain", "x-dynamo-context": "ctx-get" }).end("value");
  } else {
    res.writeHead(204, { "x-dynamo-context": "ctx-put" }).end();
  }
};

async function expectClientError(promise: Promise<unknown>, code: string): Promise<DynamoClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DynamoClientError, `expected DynamoClientError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a ${code} error`);
}

describe("DynamoClient over HTTP", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function serve(handler: Handler): Promise<Stub> {
    const server = await stub(handler);
    cleanups.push(server.close);
    return server;
  }

  function client(urls: string | string[], options?: ConstructorParameters<typeof DynamoClient>[1]): DynamoClient {
    const c = new DynamoClient(urls, options);
    cleanups.push(() => c.close());
    return c;
  }

  it("sends the value, content type, context and quorum on a put and returns the new context", async () => {
    const server = await serve(ok);
    const result = await client(server.url).put("default", "a/b", Buffer.from([1, 2, 3]), {
      context: "ctx-0",
      contentType: "application/x-test",
      w: 3,
    });
    assert.deepEqual(result, { context: "ctx-put" });
    const [seen] = server.seen;
    assert.equal(seen?.method, "PUT");
    assert.equal(seen?.url, "/v1/kv/default/a%2Fb?w=3");
    assert.equal(seen?.headers["content-type"], "application/x-test");
    assert.equal(seen?.headers["x-dynamo-context"], "ctx-0");
    assert.deepEqual(seen?.body, Buffer.from([1, 2, 3]));
  });

  it("sends no context header on a blind write", async () => {
    const server = await serve(ok);
    await client(server.url).put("default", "k", "text");
    assert.equal(server.seen[0]?.headers["x-dynamo-context"], undefined);
    assert.equal(server.seen[0]?.headers["content-type"], "text/plain; charset=utf-8");
  });

  it("reads a value with r and pr on the query string", async () => {
    const server = await serve(ok);
    const result = await client(server.url).get("default", "k", { r: 1, pr: 1 });
    assert.deepEqual(result, { kind: "value", value: Buffer.from("value"), contentType: "text/plain", context: "ctx-get" });
    assert.equal(server.seen[0]?.url, "/v1/kv/default/k?r=1&pr=1");
  });

  it("spreads requests over its nodes round-robin", async () => {
    const a = await serve(ok);
    const b = await serve(ok);
    const c = client([a.url, b.url]);
    for (let i = 0; i < 4; i++) await c.get("default", `k${i}`);
    assert.equal(a.seen.length, 2);
    assert.equal(b.seen.length, 2);
  });

  it("fails a read over to the next node when a connection cannot be made", async () => {
    const live = await serve(ok);
    const c = client([await deadUrl(), live.url]);
    for (let i = 0; i < 3; i++) assert.equal((await c.get("default", "k")).kind, "value");
    assert.equal(live.seen.length, 3);
  });

  it("moves a write on to the next node when the connection was refused, since nothing reached the first", async () => {
    const live = await serve(ok);
    const c = client([await deadUrl(), live.url]);
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-put" });
    assert.equal(live.seen.length, 1);
  });

  it("moves a write on when a new connection does not come up in time (a vanished node), since nothing was sent", async () => {
    // A TCP listener that accepts and never speaks: the TLS handshake of an https URL hangs, as it would towards an
    // address nothing answers any more. The write must not wait out its whole deadline there, nor fail.
    const silent = net.createServer(() => undefined);
    const sockets: net.Socket[] = [];
    silent.on("connection", (socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      silent.close(() => resolve());
    }));
    const live = await serve(ok);
    const c = client([`https://127.0.0.1:${(silent.address() as AddressInfo).port}`, live.url], { connectTimeoutMs: 200, timeoutMs: 5_000 });
    const started = Date.now();
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-put" });
    assert.equal(live.seen.length, 1);
    assert.ok(Date.now() - started < 4_000, "the write waited out its deadline on the silent node");
    assert.equal(sockets.length, 1, "the silent node was tried first");
  });

  it("moves a write on when a new connection is reset mid-handshake (a pod shutting down), since nothing was sent", async () => {
    // A listener that resets each connection as it accepts it, as a stopping node's kernel does to the connections
    // still in its accept queue: the TLS handshake of an https URL fails with ECONNRESET before any byte of the request.
    const resetting = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetting.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => resetting.close(() => resolve())));
    const live = await serve(ok);
    const c = client([`https://127.0.0.1:${(resetting.address() as AddressInfo).port}`, live.url]);
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-put" });
    assert.equal(live.seen.length, 1);
  });

  it("moves a write on when a new connection is reset with the request unread (a stopping node's accept queue)", async () => {
    // A stopping node's kernel resets the connections still in its accept queue when the listener closes; over plain
    // TCP the client has sent its request on them by then. A connection closed with bytes unread is reset, so this
    // listener, which never reads, closes each connection once the request has had time to arrive: the node's
    // process never saw the write, and the client must move it on rather than fail it.
    const sockets: net.Socket[] = [];
    const unread = net.createServer({ pauseOnConnect: true }, (socket) => {
      sockets.push(socket);
      setTimeout(() => socket.destroy(), 250);
    });
    await new Promise<void>((resolve) => unread.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => unread.close(() => resolve())));
    const live = await serve(ok);
    const c = client([`http://127.0.0.1:${(unread.address() as AddressInfo).port}`, live.url]);
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-put" });
    assert.equal(sockets.length, 1, "the resetting node was tried first");
    assert.equal(live.seen.length, 1);
  });

  it("never retries a write that broke after it reached a node: it may be stored there", async () => {
    const broken = await serve((_seen, res) => res.destroy());
    const live = await serve(ok);
    const c = client([broken.url, live.url]);
    await expectClientError(c.put("default", "k", "v"), "network_error");
    assert.equal(broken.seen.length, 1);
    assert.equal(live.seen.length, 0);
  });

  it("moves a write on after a node's 503 not_ready (shutting down), but not after 503 unavailable", async () => {
    const answer = (code: string): Handler => (_seen, res) => {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" }).end(JSON.stringify({ error: code, message: "m" }));
    };
    const draining = await serve(answer("not_ready"));
    const live = await serve(ok);
    assert.deepEqual(await client([draining.url, live.url]).put("default", "k", "v"), { context: "ctx-put" });
    assert.equal(live.seen.length, 1);

    const quorumLost = await serve(answer("unavailable"));
    await expectClientError(client([quorumLost.url, live.url]).put("default", "k", "v"), "unavailable");
    assert.equal(live.seen.length, 1);
  });

  it("answers the last node's 503 not_ready when every node refuses", async () => {
    const draining = await serve((_seen, res) => res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_ready", message: "shutting down" })));
    const error = await expectClientError(client([draining.url, draining.url]).get("default", "k"), "not_ready");
    assert.equal(error.status, 503);
    assert.equal(draining.seen.length, 2);
  });

  it("reports network_error with no status when no node answers", async () => {
    const error = await expectClientError(client([await deadUrl(), await deadUrl()]).get("default", "k"), "network_error");
    assert.equal(error.status, undefined);
  });

  it("times out a request whose response never completes", async () => {
    const server = await serve((_seen, res) => {
      res.writeHead(200, { "x-dynamo-context": "c" });
      res.write("partial");
    });
    const started = Date.now();
    await expectClientError(client(server.url).get("default", "k", { timeoutMs: 100 }), "timeout");
    assert.ok(Date.now() - started < 2_000);
  });

  it("abandons a response larger than the configured bound", async () => {
    const server = await serve((_seen, res) => {
      res.writeHead(200, { "x-dynamo-context": "c" }).end(Buffer.alloc(64 * 1024));
    });
    await expectClientError(client(server.url, { responseBytesMax: 1024 }).get("default", "k"), "invalid_response");
  });

  it("surfaces the server's error code, status and message", async () => {
    const server = await serve((_seen, res) => {
      res.writeHead(503, { "content-type": "application/json" }).end(JSON.stringify({ error: "unavailable", message: "1 of 2 replies" }));
    });
    const error = await expectClientError(client(server.url).put("default", "k", "v"), "unavailable");
    assert.equal(error.status, 503);
    assert.equal(error.message, "1 of 2 replies");
  });

  it("reuses connections across sequential requests", async () => {
    const server = await serve(ok);
    const c = client(server.url);
    for (let i = 0; i < 5; i++) await c.get("default", "k");
    assert.equal(server.seen.length, 5);
    assert.equal(server.connections(), 1);
  });

  it("reads a chunked response written in pieces", async () => {
    const server = await serve((_seen, res) => {
      res.writeHead(200, { "content-type": "text/plain", "x-dynamo-context": "c" });
      res.write("val");
      setTimeout(() => res.end("ue"), 20);
    });
    assert.deepEqual(await client(server.url).get("default", "k"), { kind: "value", value: Buffer.from("value"), contentType: "text/plain", context: "c" });
  });

  it("opens no more than maxSockets connections per node; requests beyond them wait for one", async () => {
    const server = await serve((seen, res) => setTimeout(() => ok(seen, res), 10));
    const c = client(server.url, { maxSockets: 2 });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => c.put("default", `k${i}`, `v${i}`)));
    assert.equal(results.length, 10);
    assert.deepEqual(server.seen.map((s) => s.body.toString()).sort(), Array.from({ length: 10 }, (_, i) => `v${i}`).sort());
    assert.equal(server.connections(), 2);
  });

  it("refuses a maxSockets that would let no request through", () => {
    for (const maxSockets of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new DynamoClient("http://127.0.0.1:1", { maxSockets }), (error: unknown) => error instanceof DynamoClientError && error.code === "invalid_request" && /maxSockets/.test(error.message));
    }
  });

  it("times out a request still waiting for a connection, and serves the next one", async () => {
    let release: (() => void) | undefined;
    const server = await serve((seen, res) => {
      if (seen.url.includes("slow")) release = () => ok(seen, res);
      else ok(seen, res);
    });
    const c = client(server.url, { maxSockets: 1 });
    const slow = c.get("default", "slow", { timeoutMs: 2_000 });
    await expectClientError(c.get("default", "queued", { timeoutMs: 100 }), "timeout");
    release?.();
    assert.equal((await slow).kind, "value");
    assert.equal((await c.get("default", "after")).kind, "value");
    assert.deepEqual(server.seen.map((s) => s.url), ["/v1/kv/default/slow", "/v1/kv/default/after"]);
  });

  it("opens a new connection after a response that closes its own", async () => {
    const server = await serve((_seen, res) => res.writeHead(204, { "x-dynamo-context": "c", connection: "close" }).end());
    const c = client(server.url);
    for (let i = 0; i < 3; i++) await c.put("default", "k", "v");
    assert.equal(server.connections(), 3);
  });

  it("moves a write on when the node closed the kept-alive connection it was sent on, before answering", async () => {
    // The node answers the first request and then closes that connection without a word as the next request arrives,
    // as a node shutting down closes its idle connections: the write never reached its handlers.
    let requests = 0;
    const closing = http.createServer((req, res) => {
      requests++;
      if (requests > 1) {
        req.socket.destroy();
        return;
      }
      req.resume();
      req.on("end", () => res.writeHead(204, { "x-dynamo-context": "ctx-closing" }).end());
    });
    await new Promise<void>((resolve) => closing.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      closing.closeAllConnections();
      closing.close(() => resolve());
    }));
    const live = await serve(ok);
    const c = client([`http://127.0.0.1:${(closing.address() as AddressInfo).port}`, live.url]);
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-closing" }); // opens the connection
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-put" }); // round-robin: the live node
    assert.deepEqual(await c.put("default", "k", "v"), { context: "ctx-put" }); // dropped on the kept-alive connection
    assert.equal(requests, 2);
    assert.equal(live.seen.length, 2);
  });

  it("refuses header values that could end the header line, sending nothing", async () => {
    const server = await serve(ok);
    const c = client(server.url);
    await expectClientError(c.put("default", "k", "v", { contentType: "text/plain\r\nx-injected: 1" }), "invalid_request");
    await expectClientError(c.put("default", "k", "v", { context: "a\nb" }), "invalid_request");
    assert.equal(server.seen.length, 0);
  });

  it("checks an https node's certificate against servername, and resumes its TLS session on a new connection", async () => {
    const ca = await createCa({ commonName: "client test CA" });
    const leaf = await issueCertificate(ca, { commonName: "demo", hosts: ["demo.apps.svc"] });
    const resumed: boolean[] = [];
    const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      resumed.push((req.socket as TLSSocket).isSessionReused());
      req.resume();
      // Each answer closes its connection, so every request needs a new one.
      req.on("end", () => res.writeHead(204, { "x-dynamo-context": "c", connection: "close" }).end());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await expectClientError(client(url, { ca: ca.cert }).put("default", "k", "v"), "network_error");
    const c = client(url, { ca: ca.cert, servername: "demo.apps.svc" });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await c.put("default", "k", "v"), { context: "c" });
      // Let the closed connection go, so the next request finds no connection to the node at all.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(resumed, [false, true, true]);
  });

  it("sends the token, the host and the body's length", async () => {
    const server = await serve(ok);
    await client(server.url, { token: "secret" }).put("default", "k", "hello");
    const headers = server.seen[0]?.headers;
    assert.equal(headers?.authorization, "Bearer secret");
    assert.equal(headers?.host, new URL(server.url).host);
    assert.equal(headers?.["content-length"], "5");
  });
});

describe("DynamoClient with routing: ring", () => {
  it("goes round-robin until it has the ring, then sends each write to the key's first replica with its ring version", async () => {
    const { createRing, encodeRingView, replicasOf } = await import("../../../node/ring/index.js");
    const seenBy = new Map<string, Seen[]>();
    let view = "";
    const nodes = await Promise.all(
      [0, 1, 2].map(async () => {
        const node: Stub = await stub((seen, res) => {
          seenBy.get(node.url)!.push(seen);
          if (seen.url === "/v1/ring") res.writeHead(200, { "content-type": "application/json", etag: '"0.4-a"' }).end(view);
          else ok(seen, res);
        });
        seenBy.set(node.url, []);
        return node;
      }),
    );
    try {
      const members = nodes.map((n, i) => ({ id: `n${i}`, clientUrl: n.url, peerUrl: "http://127.0.0.1:1", incarnation: "i", state: "valid" as const }));
      // n=2 on three nodes, so that each key has a node that is not its replica.
      const ring = { ...createRing({ partitions: 16, members, targetN: 2 }), epoch: 4 };
      view = JSON.stringify(encodeRingView(ring, [{ name: "default", n: 2 }]));
      const c = new DynamoClient([nodes[0]!.url], { routing: "ring" });
      await c.put("default", "first", "v");
      // The first request started the ring fetch but did not wait for it: it went round-robin, to the one base URL.
      assert.ok(seenBy.get(nodes[0]!.url)!.some((s) => s.url === "/v1/kv/default/first" && s.headers["x-dynamo-ring-version"] === undefined));
      await c.refreshRing();
      assert.equal(c.ringVersion, "0.4");
      for (let i = 0; i < 20; i++) {
        const key = `key-${i}`;
        await c.put("default", key, "v");
        const first = nodes[Number(replicasOf(ring, "default", Buffer.from(key), 2)[0]!.slice(1))]!;
        const last = seenBy.get(first.url)!.at(-1)!;
        assert.equal(last.url, `/v1/kv/default/${key}`, `${key} went to its first replica`);
        assert.equal(last.headers["x-dynamo-ring-version"], "0.4");
      }
      c.close();
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  it("falls back to the next replica when the first refuses connections", async () => {
    const { createRing, encodeRingView, replicasOf } = await import("../../../node/ring/index.js");
    let view = "";
    const nodes = await Promise.all([0, 1].map(() => stub((seen, res) => (seen.url === "/v1/ring" ? res.writeHead(200).end(view) : ok(seen, res)))));
    const dead = await deadUrl();
    try {
      const urls = [dead, nodes[0]!.url, nodes[1]!.url];
      const members = urls.map((clientUrl, i) => ({ id: `n${i}`, clientUrl, peerUrl: "http://127.0.0.1:1", incarnation: "i", state: "valid" as const }));
      const ring = { ...createRing({ partitions: 16, members, targetN: 3 }), epoch: 2 };
      view = JSON.stringify(encodeRingView(ring, [{ name: "default", n: 3 }]));
      const c = new DynamoClient([nodes[0]!.url], { routing: "ring" });
      await c.refreshRing();
      const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => replicasOf(ring, "default", Buffer.from(k), 3)[0] === "n0")!;
      const before = nodes[0]!.seen.length + nodes[1]!.seen.length;
      await c.put("default", key, "v");
      await c.put("default", key, "v");
      assert.equal(nodes[0]!.seen.length + nodes[1]!.seen.length - before, 2, "both writes landed, once each");
      c.close();
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });
});
