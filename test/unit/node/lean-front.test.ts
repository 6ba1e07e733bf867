// The client port's own front for plain key-value requests: it answers as Node's server would, byte for byte but the
// Date, keeps a connection's requests in order when it hands the connection to Node's server, and closes, times out
// and reports a vanished client as Node's server does. Real sockets, the port's real server (createClientServer).
import assert from "node:assert/strict";
import { once } from "node:events";
import { ServerResponse, type IncomingMessage, type Server } from "node:http";
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { closeServer, createClientServer } from "../../../node/http/index.js";
import { sendJson } from "../../../node/http/boundary.js";
import { LeanFront } from "../../../node/http/lean-front.js";
import { createCa, issueCertificate, type CertificateAndKey } from "../../../node/pki/index.js";

/** What the test listener saw of one request: its method and URL, and whether Node's server gave it. */
interface Seen {
  what: string;
  byNode: boolean;
}

/** One answer as it came over the wire, and its head without the Date field. */
interface Answer {
  raw: string;
  status: number;
  withoutDate: string;
  body: string;
}

describe("the client port's lean front", function () {
  let server: Server | undefined;
  let sockets: Socket[] = [];
  let seen: Seen[] = [];
  let answered = 0;
  let closedEarly = 0;
  /** The client port's certificate and its CA, when the test serves HTTPS. */
  let tls: { ca: string; leaf: CertificateAndKey } | undefined;

  afterEach(async function () {
    for (const socket of sockets) socket.destroy();
    sockets = [];
    seen = [];
    tls = undefined;
    await closeServer(server);
  });

  /** The port's server with a listener whose answers use each way the key-value routes answer. */
  async function serve(headersTimeoutMs = 10_000): Promise<number> {
    server = createClientServer(
      (req: IncomingMessage, res: ServerResponse) => {
        seen.push({ what: `${req.method} ${req.url}`, byNode: res instanceof ServerResponse });
        res.once("close", () => {
          if (!res.writableEnded) closedEarly += 1;
        });
        const url = req.url ?? "";
        if (url.endsWith("/value")) {
          const value = Buffer.from("a value");
          res.writeHead(200, ["X-Dynamo-Context", "ctx", "Content-Type", "text/plain", "Content-Length", String(value.length)]);
          res.end(value);
        } else if (url.endsWith("/written")) {
          res.setHeader("X-Dynamo-Ring", "r1");
          res.writeHead(204, ["X-Dynamo-Context", "ctx2"]);
          res.end();
        } else if (url.endsWith("/missing")) {
          sendJson(res, 404, { error: "not_found", message: "no value is stored under this key" });
        } else if (url.endsWith("/closing")) {
          res.writeHead(503, { "Content-Type": "application/json", "Content-Length": "2", Connection: "close" });
          res.end("{}");
        } else if (url.endsWith("/bad")) {
          // A field value no answer may carry: writeHead throws, and the handler can still answer with an error.
          try {
            res.writeHead(200, ["X-Stored", "a\u0001b"]);
            res.end();
          } catch (err) {
            sendJson(res, 500, { error: (err as NodeJS.ErrnoException).code });
          }
        } else if (url.endsWith("/slow")) {
          setTimeout(() => res.end("slow"), 600);
        } else if (url.endsWith("/never")) {
          // Never answered: the client goes away first.
        } else {
          res.end("other");
        }
        res.once("finish", () => (answered += 1));
      },
      { connectionsMax: 100, headersTimeoutMs, bodyTimeoutMs: 1000, requestTimeoutMs: 1000, valueMaxBytes: 1024 },
      tls && { cert: tls.leaf.cert, key: tls.leaf.key },
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return (server.address() as AddressInfo).port;
  }

  async function open(port: number): Promise<{ socket: Socket; text: () => string; ended: Promise<unknown> }> {
    const socket = tls ? connectTls({ port, host: "127.0.0.1", ca: tls.ca }) : connect(port, "127.0.0.1");
    sockets.push(socket);
    await once(socket, tls ? "secureConnect" : "connect");
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    return { socket, text: () => text, ended: once(socket, "close") };
  }

  /** Waits until `count` whole answers have arrived, then parses them. */
  async function answers(text: () => string, count: number): Promise<Answer[]> {
    for (let waited = 0; waited < 200; waited++) {
      const parsed = parseAnswers(text());
      if (parsed.length >= count) return parsed;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`expected ${count} answers, got: ${JSON.stringify(text())}`);
  }

  const request = (method: string, path: string, body = "") =>
    `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${body ? `Content-Length: ${body.length}\r\n` : ""}\r\n${body}`;

  it("answers plain key-value requests itself, exactly as Node's server does but for the Date", async function () {
    const port = await serve();
    const lean = await open(port);
    lean.socket.write(request("GET", "/v1/kv/b/value") + request("PUT", "/v1/kv/b/written", "v") + request("GET", "/v1/kv/b/missing") + request("GET", "/v1/kv/b/bad"));
    const fromFront = await answers(lean.text, 4);
    // A request outside /v1/kv/ is not one the front serves: it hands the connection to Node's server, which answers
    // the rest.
    const node = await open(port);
    node.socket.write(
      request("GET", "/healthz") + request("GET", "/v1/kv/b/value") + request("PUT", "/v1/kv/b/written", "v") + request("GET", "/v1/kv/b/missing") + request("GET", "/v1/kv/b/bad"),
    );
    const fromNode = (await answers(node.text, 5)).slice(1);
    assert.deepEqual(
      seen.map((s) => s.byNode),
      [false, false, false, false, true, true, true, true, true],
      "the first connection's requests are the front's, the second's Node's",
    );
    assert.deepEqual(
      fromFront.map((a) => a.withoutDate),
      fromNode.map((a) => a.withoutDate),
    );
    assert.equal(fromFront[0]!.body, "a value");
    assert.equal(fromFront[3]!.body, '{"error":"ERR_INVALID_CHAR"}');
    assert.match(fromFront[0]!.raw, /\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT\r\n/);
  });

  it("keeps a connection's requests in order across the hand-over to Node's server", async function () {
    const port = await serve();
    const { socket, text } = await open(port);
    socket.write(
      request("PUT", "/v1/kv/b/1", "one") +
        request("GET", "/v1/kv/b/2") +
        // Chunked: Node's to read.
        "PUT /v1/kv/b/3 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
        request("GET", "/v1/kv/b/4"),
    );
    await answers(text, 4);
    assert.deepEqual(
      seen.map((s) => `${s.what}${s.byNode ? " (Node)" : ""}`),
      ["PUT /v1/kv/b/1", "GET /v1/kv/b/2", "PUT /v1/kv/b/3 (Node)", "GET /v1/kv/b/4 (Node)"],
    );
  });

  it("does the same on an HTTPS client port", async function () {
    const ca = await createCa({ commonName: "test client CA" });
    tls = { ca: ca.cert, leaf: await issueCertificate(ca, { commonName: "node", hosts: ["127.0.0.1"], serverOnly: true }) };
    const port = await serve();
    const { socket, text } = await open(port);
    socket.write(request("PUT", "/v1/kv/b/1", "one") + request("GET", "/v1/kv/b/value") + request("GET", "/healthz") + request("GET", "/v1/kv/b/value"));
    const got = await answers(text, 4);
    assert.deepEqual(
      seen.map((s) => `${s.what}${s.byNode ? " (Node)" : ""}`),
      ["PUT /v1/kv/b/1", "GET /v1/kv/b/value", "GET /healthz (Node)", "GET /v1/kv/b/value (Node)"],
    );
    assert.equal(got[1]!.withoutDate, got[3]!.withoutDate, "the front's answer over TLS is Node's");
  });

  it("leaves to Node's server every request outside the plain form, each on a connection of its own", async function () {
    const port = await serve();
    const odd = [
      "GET /v1/kv/b/1 HTTP/1.0\r\nHost: h\r\n\r\n",
      "get /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /v1/kv/b/1 HTTP/1.1\r\n\r\n",
      "GET /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nX-A: one\r\n two\r\n\r\n",
      "GET /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n",
      "GET /v1/kv/b/1 HTTP/1.1\r\nHost : h\r\n\r\n",
      "GET /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
      "GET /v1/kv/b/\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
      "GET /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
      "PUT /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx",
      // Node.js 20 refuses a tab around a length, later versions take it: either way it is Node's to judge.
      "PUT /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\t\r\n\r\nx",
      "PUT /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nContent-Length:\t1\r\n\r\nx",
      `PUT /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nContent-Length: 1025\r\n\r\n${"x".repeat(1025)}`,
      "PUT /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
      "GET /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
      `GET /v1/kv/b/1 HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 100 }, (_, i) => `X-${i}: v\r\n`).join("")}\r\n`,
    ];
    for (const raw of odd) {
      const { socket, text } = await open(port);
      socket.write(raw, "latin1");
      await answers(text, 1);
    }
    assert.deepEqual(
      seen.filter((s) => !s.byNode),
      [],
      "none of them reached the listener through the front",
    );
  });

  it("waits a moment for a request that arrives in pieces, head or body, and serves it itself", async function () {
    const port = await serve();
    const { socket, text } = await open(port);
    const get = request("GET", "/v1/kv/b/value");
    socket.write(get.slice(0, 3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(get.slice(3, 20));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(get.slice(20));
    const put = request("PUT", "/v1/kv/b/written", "a body that comes later");
    const bodyStart = put.indexOf("\r\n\r\n") + 4;
    await answers(text, 1);
    socket.write(put.slice(0, bodyStart + 2));
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.write(put.slice(bodyStart + 2));
    const got = await answers(text, 2);
    assert.deepEqual(
      got.map((a) => a.status),
      [200, 204],
    );
    assert.deepEqual(seen, [
      { what: "GET /v1/kv/b/value", byNode: false },
      { what: "PUT /v1/kv/b/written", byNode: false },
    ]);
  });

  it("hands a request dribbled in many small pieces to Node's server, which answers it", async function () {
    const port = await serve();
    const { socket, text } = await open(port);
    const put = request("PUT", "/v1/kv/b/written", "x".repeat(200));
    for (let at = 0; at < put.length; at += 20) {
      socket.write(put.slice(at, at + 20));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const [answer] = await answers(text, 1);
    assert.equal(answer!.status, 204);
    assert.deepEqual(seen, [{ what: "PUT /v1/kv/b/written", byNode: true }]);
  });

  it("hands a request still in pieces after the wait to Node's server, which answers it", async function () {
    // With a 400 ms header deadline the front waits 200 ms for the rest of a request.
    const port = await serve(400);
    const { socket, text } = await open(port);
    const whole = request("GET", "/v1/kv/b/value");
    socket.write(whole.slice(0, 10));
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.write(whole.slice(10));
    const [answer] = await answers(text, 1);
    assert.equal(answer!.status, 200);
    assert.equal(answer!.body, "a value");
    assert.deepEqual(seen, [{ what: "GET /v1/kv/b/value", byNode: true }]);
  });

  it("closes the connection after an answer that says so", async function () {
    const port = await serve();
    const { socket, text, ended } = await open(port);
    socket.write(request("GET", "/v1/kv/b/closing") + request("GET", "/v1/kv/b/value"));
    await ended;
    const got = parseAnswers(text());
    assert.deepEqual(
      got.map((a) => a.status),
      [503],
      "the request behind the closing answer is not served",
    );
    assert.match(got[0]!.raw, /\r\nConnection: close\r\n/);
    assert.doesNotMatch(got[0]!.raw, /Keep-Alive/);
  });

  it("answers every request of a client that ends its side after sending them, then closes", async function () {
    const port = await serve();
    const { socket, text, ended } = await open(port);
    socket.end(request("PUT", "/v1/kv/b/written", "v") + request("GET", "/v1/kv/b/value"));
    await ended;
    assert.deepEqual(
      parseAnswers(text()).map((a) => a.status),
      [204, 200],
    );
  });

  it("tells the listener when the client goes away before its answer", async function () {
    const port = await serve();
    const { socket } = await open(port);
    socket.write(request("GET", "/v1/kv/b/never"));
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.deepEqual(seen, [{ what: "GET /v1/kv/b/never", byNode: false }]);
    const before = closedEarly;
    // A reset: a client that only ends its side still gets its answer (the port allows half-open connections).
    socket.resetAndDestroy();
    for (let i = 0; i < 100 && closedEarly === before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(closedEarly, before + 1, "the response's close event fires, so in-flight counts come back down");
  });

  it("answers 408 on a connection that sends nothing within the header deadline", async function () {
    const port = await serve(300);
    const { text, ended } = await open(port);
    await ended;
    const [answer] = parseAnswers(text());
    assert.equal(answer?.status, 408);
    assert.equal(JSON.parse(answer.body).error, "request_timeout");
  });

  it("answers a request that takes longer than the header deadline, and keeps the connection idle past that deadline", async function () {
    const port = await serve(300);
    const { socket, text } = await open(port);
    socket.write(request("GET", "/v1/kv/b/slow"));
    assert.equal((await answers(text, 1))[0]?.body, "slow", "the header deadline passed while it was served, and it was answered");
    // The header deadline applies until a first request arrives; after one, only the keep-alive timeout does (65 s).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok(!socket.destroyed && !socket.readableEnded, "the connection is open after a second of idling");
    socket.write(request("GET", "/v1/kv/b/value"));
    const [, second] = await answers(text, 2);
    assert.equal(second?.status, 200, "and serves on");
    assert.deepEqual(
      seen.map((s) => s.byNode),
      [false, false],
    );
  });

  it("closes a connection that idles past the keep-alive timeout after its requests, however long they took", async function () {
    const keepAliveTimeoutMs = 800;
    const front = new LeanFront(
      (_req, res) => {
        setTimeout(() => res.end("late"), 500);
      },
      {
        bodyBytesMax: 1024,
        headersMax: 100,
        headersTimeoutMs: 300,
        keepAliveTimeoutMs,
        admits: () => true,
        handOver: (socket) => socket.destroy(),
        timedOut: (socket) => socket.destroy(),
      },
    );
    const plain = createNetServer((socket) => front.accept(socket));
    plain.listen(0, "127.0.0.1");
    await once(plain, "listening");
    try {
      const socket = connect((plain.address() as AddressInfo).port, "127.0.0.1");
      sockets.push(socket);
      await once(socket, "connect");
      let text = "";
      socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
      const ended = once(socket, "close");
      for (let i = 0; i < 2; i++) {
        socket.write(request("GET", "/v1/kv/b/k"));
        await answers(() => text, i + 1);
      }
      const idleFrom = performance.now();
      await ended;
      const idleMs = performance.now() - idleFrom;
      assert.ok(idleMs >= keepAliveTimeoutMs - 100, `closed after ${Math.round(idleMs)} ms idle, before the keep-alive timeout`);
      assert.ok(idleMs < 10_000, `still open ${Math.round(idleMs)} ms after the keep-alive timeout`);
      assert.equal(parseAnswers(text).length, 2, "with both answers and nothing more");
    } finally {
      front.closeAll();
      plain.close();
    }
  });

  it("closes its idle connections when the server closes, and the server finishes closing", async function () {
    const port = await serve();
    const { socket, text, ended } = await open(port);
    socket.write(request("GET", "/v1/kv/b/value"));
    await answers(text, 1);
    const started = performance.now();
    await closeServer(server, 5000);
    await ended;
    assert.ok(performance.now() - started < 2000, "the idle connection did not hold the close for the grace");
  });
});

function parseAnswers(text: string): Answer[] {
  const out: Answer[] = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf("\r\n\r\n");
    if (headEnd < 0) return out;
    const head = rest.slice(0, headEnd + 4);
    const status = Number(head.slice(9, 12));
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    if (rest.length < headEnd + 4 + length) return out;
    const body = rest.slice(headEnd + 4, headEnd + 4 + length);
    out.push({ raw: head + body, status, withoutDate: head.replace(/\r\nDate: [^\r]*/, ""), body });
    rest = rest.slice(headEnd + 4 + length);
  }
}
