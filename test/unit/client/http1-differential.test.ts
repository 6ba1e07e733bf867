// The client's HTTP/1.1 response reader against Node's own HTTP client, on random responses: a response the reader
// takes, Node takes too, with the same status, fields and body; where the two would frame a response differently (a
// length, a chunk, where the body ends), a client could hand one request's answer to the next, so any response the
// reader accepts must read the same in both. The reader may refuse more than Node does (it reads a subset of HTTP/1.1);
// those are counted, not compared. Node's side is a real client on a real socket; the responses are drawn from a seed,
// printed, which replays a failing run (SEED=...).
import assert from "node:assert/strict";
import { once } from "node:events";
import { get, type IncomingHttpHeaders } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { ResponseReader } from "../../../client/http1.js";
import { seededRandom, type SeededRandom } from "../../../lib/random.js";
import { headMutator } from "../../helpers/http-mutations.js";
import { pool } from "../../helpers/pool.js";
import { testSeed } from "../../helpers/random.js";

const CASES = 1500;
const PARALLEL = 20;
const BODY_BYTES_MAX = 1 << 20;

/**
 * One random response: half of them well formed (a status the store answers, fields in any case and spacing, a body
 * framed by its length, by chunks or by the connection's end), the other half the same with one to three mutations of
 * the status line, the fields, the line ends, the framing or the chunks.
 */
function randomResponse(random: SeededRandom): Buffer {
  const { odd, eol, blank, malformedField, head } = headMutator(random);
  const status = odd() ? random.pick([100, 101, 199, 600, 99, 1000]) : random.pick([200, 200, 204, 300, 304, 400, 404, 409, 503]);
  const version = odd() ? random.pick(["HTTP/1.0", "HTTP/2.0", "http/1.1", "HTTP/1.1 ", "HTTP/11"]) : "HTTP/1.1";
  const reason = odd() ? random.pick(["", " ", " \u0001", " Ok\u00ff", "  OK"]) : random.pick([" OK", " Bad Request", " ", ""]);
  const body = Buffer.from(Array.from({ length: random.between(0, random.chance(0.2) ? 300 : 40) }, () => random.int(256)));
  const framing = odd() ? random.pick(["both", "none-kept", "chunked-bad"] as const) : random.pick(["length", "length", "chunked", "close"] as const);
  const fields: string[] = [];
  const lengthName = () => (odd() ? random.pick(["Content-Length ", "Content_Length", "Content-Length\t"]) : random.pick(["Content-Length", "content-length", "CONTENT-LENGTH"]));
  const lengthValue = () => (odd() ? random.pick([`0${body.length}`, `+${body.length}`, `${body.length},${body.length}`, "-1", `0x${body.length.toString(16)}`, "", String(body.length + 1), "99999999999999999999"]) : String(body.length));
  const chunked = () => `Transfer-Encoding:${blank()}${odd() ? random.pick(["gzip, chunked", "chunked, gzip", "Chunked", "identity", "chunked, chunked"]) : "chunked"}${blank()}`;
  if (framing === "length" || framing === "both" || framing === "none-kept") fields.push(`${lengthName()}:${blank()}${lengthValue()}${blank()}`);
  if (framing === "chunked" || framing === "both" || framing === "chunked-bad") fields.push(chunked());
  if (odd()) fields.push(`Content-Length: ${random.pick([body.length, body.length + 1, 0])}`);
  const plain: Array<() => string> = [
    () => `Connection:${blank()}${random.pick(["keep-alive", "close", "Keep-Alive", "close, foo"])}`,
    () => `X-Dynamo-Context:${blank()}${random.pick(["abc", "a b", "a\tb", "\u0080\u00ff"])}`,
    () => `Content-Type: ${random.pick(["application/json", "application/octet-stream", "text/plain; charset=utf-8"])}`,
    () => `Set-Cookie: ${random.pick(["a=1", "b=2"])}`,
    () => `${random.pick(["X-A", "x-a", "X-Dup", "Vary", "Date"])}:${blank()}${random.pick(["v", "", "v, w"])}`,
    () => `Keep-Alive: timeout=65`,
  ];
  for (let i = random.between(0, 3); i > 0; i--) fields.push(random.pick(plain)());
  if (odd()) fields.push(malformedField());
  const text = head(`${version} ${status}${reason}`, fields);
  let payload: Buffer = body;
  if (framing === "chunked" || framing === "chunked-bad" || (framing === "both" && random.chance(0.5))) {
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; ) {
      const size = Math.min(body.length - at, random.between(1, 64));
      const sizeText = framing === "chunked-bad" && odd() ? random.pick([` ${size.toString(16)}`, `0x${size.toString(16)}`, `-${size}`, `${size.toString(16)} ;x`, `${size.toString(16)};a=b`, "", `${(size + 1).toString(16)}`]) : size.toString(16);
      parts.push(Buffer.from(`${sizeText}${random.chance(0.1) ? ";ext=1" : ""}\r\n`, "latin1"), body.subarray(at, at + size), Buffer.from(framing === "chunked-bad" && odd() ? "\n" : "\r\n", "latin1"));
      at += size;
    }
    const trailer = random.chance(0.2) ? `X-Trailer: t${eol()}` : "";
    parts.push(Buffer.from(`0\r\n${trailer}\r\n`, "latin1"));
    payload = Buffer.concat(parts);
  }
  return Buffer.concat([Buffer.from(text, "latin1"), payload]);
}

/** What a parser made of a response: its status, fields and body, or that it refused it. */
type Reading = { status: number; headers: Array<[string, unknown]>; body: string } | { refused: string };

/**
 * The reader's reading of `bytes`, delivered in random pieces and then the connection's end, and how many of the bytes
 * the response took: bytes after a whole response are not read (the client then closes the connection).
 */
function readByReader(bytes: Buffer, random: SeededRandom): { reading: Reading; taken: number } {
  const reader = new ResponseReader({ bodyBytesMax: BODY_BYTES_MAX });
  const reading = (response: { status: number; headers: object; body: Buffer }): Reading => ({
    status: response.status,
    headers: Object.entries(response.headers),
    body: response.body.toString("base64"),
  });
  try {
    let at = 0;
    while (at < bytes.length) {
      const size = random.chance(0.5) ? bytes.length - at : random.between(1, bytes.length - at);
      const done = reader.push(bytes.subarray(at, at + size));
      at += size;
      if (done !== undefined) return { reading: reading(done.response), taken: at - (done.rest?.length ?? 0) };
    }
    return { reading: reading(reader.end()), taken: bytes.length };
  } catch (err) {
    return { reading: { refused: (err as Error).message }, taken: bytes.length };
  }
}

describe("the client's response reader against Node's HTTP client, on random responses", function () {
  this.timeout(120_000);
  let server: Server | undefined;

  afterEach(async function () {
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  it("reads every response it takes as Node's client reads it", async function () {
    const seed = testSeed("response reader differential");
    const random = seededRandom(seed);
    const cases = Array.from({ length: CASES }, () => randomResponse(random));
    /** What the server sends for each case: the bytes the reader took as the response. */
    const served: Buffer[] = [];
    // Each connection is answered with the response its request names, and then closed, as a server closes after a
    // response without a length.
    server = createServer((socket: Socket) => {
      socket.on("error", () => undefined);
      let head = "";
      socket.on("data", (chunk: Buffer) => {
        head += chunk.toString("latin1");
        const match = /^GET \/(\d+) /.exec(head);
        if (match && head.includes("\r\n\r\n")) socket.end(served[Number(match[1])]!);
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;

    const readByNode = (index: number): Promise<Reading> =>
      new Promise((resolve) => {
        const request = get({ host: "127.0.0.1", port, path: `/${index}`, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve({ status: res.statusCode!, headers: Object.entries(res.headers as IncomingHttpHeaders), body: Buffer.concat(chunks).toString("base64") }));
          res.on("error", (err) => resolve({ refused: err.message }));
          res.on("aborted", () => resolve({ refused: "aborted" }));
        });
        request.on("error", (err) => resolve({ refused: err.message }));
      });

    let taken = 0;
    await pool([...cases.keys()], PARALLEL, async (index) => {
      const bytes = cases[index]!;
      const byReader = readByReader(bytes, random.fork());
      if ("refused" in byReader.reading) return;
      taken += 1;
      served[index] = bytes.subarray(0, byReader.taken);
      const byNode = await readByNode(index);
      assert.deepEqual(byReader.reading, byNode, `case ${index} (seed ${seed}) read otherwise; the response was ${JSON.stringify(served[index].toString("latin1"))}`);
    });
    assert.ok(taken > CASES / 3, `the reader took only ${taken} of ${CASES} responses`);
    assert.ok(taken < CASES, "the reader refused none of the responses: the mutations make nothing malformed");
  });
});
