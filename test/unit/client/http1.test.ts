import assert from "node:assert/strict";
import { HEADER_BYTES_MAX, ResponseFramingError, ResponseReader, ResponseTooLargeError, type ParsedResponse } from "../../../client/http1.js";

/**
 * The client's HTTP/1.1 response reader with literal bytes: every framing the store's nodes, a proxy in front of them
 * or a broken server can produce, fed whole and split at every byte, since a socket may deliver a response in any
 * pieces.
 */

function reader(bodyBytesMax = 1 << 20): ResponseReader {
  return new ResponseReader({ bodyBytesMax });
}

/** Feeds `bytes` in the given pieces; returns the response and any bytes after it, or undefined if incomplete. */
function feed(r: ResponseReader, pieces: Buffer[]): { response: ParsedResponse; rest: Buffer | undefined } | undefined {
  for (let i = 0; i < pieces.length; i++) {
    const done = r.push(pieces[i] as Buffer);
    if (done !== undefined) {
      const later = pieces.slice(i + 1);
      const rest = later.length === 0 ? done.rest : Buffer.concat([done.rest ?? Buffer.alloc(0), ...later]);
      return { response: done.response, rest };
    }
  }
  return undefined;
}

/** The same bytes cut in two at every position, and one byte at a time. */
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text, "latin1");
  const ways: Buffer[][] = [[bytes]];
  for (let at = 1; at < bytes.length; at++) ways.push([bytes.subarray(0, at), bytes.subarray(at)]);
  ways.push([...bytes].map((byte) => Buffer.from([byte])));
  return ways;
}

function readAll(text: string): ParsedResponse[] {
  return splits(text).map((pieces) => {
    const done = feed(reader(), pieces);
    assert.ok(done !== undefined, "the response completes");
    assert.equal(done.rest, undefined, "nothing follows it");
    return done.response;
  });
}

function rejects(text: string, error: new (message: string) => Error, message: RegExp, bodyBytesMax?: number): void {
  for (const pieces of splits(text)) {
    const r = reader(bodyBytesMax);
    assert.throws(() => {
      feed(r, pieces);
      r.end();
    }, (thrown: unknown) => thrown instanceof error && message.test((thrown as Error).message));
  }
}

describe("client HTTP/1.1 response reader", () => {
  it("reads a body framed by Content-Length, in any pieces, and keeps the connection", () => {
    for (const response of readAll("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Dynamo-Context: abc\r\nContent-Length: 5\r\n\r\nvalue")) {
      assert.equal(response.status, 200);
      assert.equal(response.headers["content-type"], "text/plain");
      assert.equal(response.headers["x-dynamo-context"], "abc");
      assert.equal(response.body.toString(), "value");
      assert.equal(response.keepAlive, true);
    }
  });

  it("reads a chunked body with extensions and trailers, in any pieces", () => {
    const text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
    for (const response of readAll(text)) {
      assert.equal(response.body.toString(), "abc0123456789");
      assert.equal(response.keepAlive, true);
    }
  });

  it("skips interim 1xx responses", () => {
    for (const response of readAll("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 204 No Content\r\nX-Dynamo-Context: c\r\n\r\n")) {
      assert.equal(response.status, 204);
      assert.equal(response.headers["link"], undefined);
      assert.equal(response.body.length, 0);
    }
  });

  it("has no body for 204 and 304 whatever the headers say", () => {
    for (const status of ["204 No Content", "304 Not Modified"]) {
      for (const response of readAll(`HTTP/1.1 ${status}\r\nETag: "e"\r\n\r\n`)) assert.equal(response.body.length, 0);
    }
  });

  it("does not keep a connection the server closes, or an HTTP/1.0 one without keep-alive", () => {
    assert.equal(readAll("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")[0]?.keepAlive, false);
    assert.equal(readAll("HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n")[0]?.keepAlive, false);
    assert.equal(readAll("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[0]?.keepAlive, false);
    assert.equal(readAll("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")[0]?.keepAlive, true);
  });

  it("reads a body framed by the connection's end only when the connection ends", () => {
    for (const pieces of splits("HTTP/1.1 200 OK\r\n\r\nuntil the end")) {
      const r = reader();
      assert.equal(feed(r, pieces), undefined);
      const response = r.end();
      assert.equal(response.body.toString(), "until the end");
      assert.equal(response.keepAlive, false);
    }
  });

  it("joins repeated headers as node:http does: a list, set-cookie as an array, single-valued ones keep the first", () => {
    const [response] = readAll("HTTP/1.1 200 OK\r\nVary: a\r\nVary: b\r\nSet-Cookie: x\r\nSet-Cookie: y\r\nETag: 1\r\nETag: 2\r\nContent-Length: 0\r\n\r\n");
    assert.equal(response?.headers["vary"], "a, b");
    assert.deepEqual(response?.headers["set-cookie"], ["x", "y"]);
    assert.equal(response?.headers["etag"], "1");
  });

  it("hands back the bytes that follow a response", () => {
    const done = feed(reader(), [Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")]);
    assert.equal(done?.response.body.toString(), "ok");
    assert.equal(done?.rest?.toString(), "HTTP/1.1 200 OK\r\n");
  });

  it("refuses malformed responses, naming what is wrong", () => {
    rejects("HTTP/2 200 OK\r\n\r\n", ResponseFramingError, /malformed status line/);
    rejects("HTTP/1.1 20 OK\r\n\r\n", ResponseFramingError, /malformed status line/);
    rejects("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ResponseFramingError, /malformed header line/);
    rejects("HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n", ResponseFramingError, /malformed header line/);
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", ResponseFramingError, /more than one Content-Length/);
    rejects("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ResponseFramingError, /malformed Content-Length/);
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ResponseFramingError, /malformed chunk size/);
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n", ResponseFramingError, /not followed by CRLF/);
    rejects("HTTP/1.1 101 Switching Protocols\r\n\r\n", ResponseFramingError, /101/);
  });

  // Each of these frames a response one way to a lenient parser and another way to a strict one (Node.js 20's, found
  // by test/unit/client/http1-differential.test.ts), so the reader takes none of them.
  it("refuses what parsers could frame differently: control characters, both framings, framing fields spelled oddly", () => {
    rejects("HTTP/1.1 200 OK\r\nX-A: v\rContent-Length: 0\r\n\r\nab", ResponseFramingError, /malformed header line/);
    rejects("HTTP/1.1 200 OK\r\nX-A: v\nContent-Length: 0\r\n\r\nab", ResponseFramingError, /malformed header line/);
    rejects("HTTP/1.1 200 O\u0001K\r\nContent-Length: 0\r\n\r\n", ResponseFramingError, /malformed status line/);
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab", ResponseFramingError, /more than one Content-Length/);
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", ResponseFramingError, /both Transfer-Encoding and Content-Length/);
    rejects("HTTP/1.1 200 OK\r\nContent-Length:\t2\r\n\r\nab", ResponseFramingError, /malformed content-length header line/);
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n2\r\nab\r\n0\r\n\r\n", ResponseFramingError, /malformed transfer-encoding header line/);
    rejects("HTTP/1.1 304 Not Modified\r\nContent-Length: 0x2\r\n\r\n", ResponseFramingError, /malformed Content-Length/);
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;x\r\nab\r\n0\r\n\r\n", ResponseFramingError, /malformed chunk size/);
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nX-T: t\r\r\n\r\n", ResponseFramingError, /malformed trailer line/);
    const [chunked] = readAll("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;name=value\r\nab\r\n0\r\nX-T: t\r\n\r\n");
    assert.equal(chunked?.body.toString(), "ab", "a chunk extension and a trailer field in their plain form are read");
  });

  it("refuses a header section, chunk line or trailer section beyond its bound", () => {
    const r = reader();
    assert.throws(() => r.push(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${"a".repeat(HEADER_BYTES_MAX)}`)), /header section exceeds/);
    const chunkLine = reader();
    chunkLine.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
    assert.throws(() => chunkLine.push(Buffer.from("1".padEnd(2_000, " "))), /chunk line too long/);
    const trailers = reader();
    trailers.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"));
    assert.throws(() => {
      for (let i = 0; i < 1_000; i++) trailers.push(Buffer.from(`X-T: ${"t".repeat(100)}\r\n`));
    }, /trailer section too long/);
  });

  it("refuses a body beyond the caller's bound, announced or not", () => {
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", ResponseTooLargeError, /exceeds 10/, 10);
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n", ResponseTooLargeError, /exceeds 10/, 10);
    rejects("HTTP/1.1 200 OK\r\n\r\n0123456789A", ResponseTooLargeError, /exceeds 10/, 10);
  });

  it("reports a connection that ends mid-response or before one", () => {
    const none = reader();
    assert.throws(() => none.end(), /closed before a response/);
    assert.equal(none.started, false);
    const partial = reader();
    partial.push(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
    assert.equal(partial.started, true);
    assert.throws(() => partial.end(), /closed mid-response/);
  });
});
