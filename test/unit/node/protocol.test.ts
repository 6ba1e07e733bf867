import assert from "node:assert/strict";
import fc from "fast-check";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { DynamoError } from "../../../node/errors/index.js";
import { PeerClient, PEER_PROTOCOL } from "../../../node/peer/index.js";
import {
  decodeRequest,
  decodeResponse,
  encodeFrame,
  frameBody,
  encodeRequestBody,
  encodeRequestHeader,
  encodeResponse,
  FRAME_BYTES_MAX,
  FRAME_ERROR,
  FRAME_HEADER_BYTES_MAX,
  FRAME_OK,
  FrameReader,
  PEER_COMPACT_COORDINATE_HEADER,
  PEER_COMPACT_HEADER,
  PeerMessageError,
  type PeerOp,
  type PeerRequestOut,
  type ReceivedRecord,
} from "../../../node/protocol/index.js";
import { createRing } from "../../../node/ring/index.js";
import { encodeRecord } from "../../../node/versioning/index.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";
import { rawFrame } from "../../helpers/peer-wire.js";

const RECORD: VersionedRecord = {
  clock: { a1: 2 },
  siblings: [{ dot: { actor: "a1", counter: 2 }, value: Buffer.from("v"), contentType: "text/plain", timestamp: { ms: 1000, logical: 0 } }],
};
const RING = createRing({
  partitions: 8,
  targetN: 1,
  members: [{ id: "n1", peerUrl: "https://127.0.0.1:1", clientUrl: "http://127.0.0.1:2", incarnation: "i1", state: "valid" }],
});

function roundTrip<O extends PeerOp>(op: O, request: PeerRequestOut<O>, compact: boolean | number = false) {
  const frame = encodeFrame(1, 0, encodeRequestHeader(op, request.header, compact), encodeRequestBody(op, request));
  const [decoded] = new FrameReader().push(frame);
  return decodeRequest(decoded!.header, decoded!.body);
}

describe("peer frames", function () {
  it("reassemble whatever way the stream is split", function () {
    const frames = [encodeFrame(1, 0, { op: "fetch", k: "a" }), encodeFrame(2, 1, { ok: true }, Buffer.alloc(70_000, 3)), encodeFrame(3, 2, {})];
    const stream = Buffer.concat(frames);
    for (const chunkSize of [1, 3, 7, 4096, stream.length]) {
      const reader = new FrameReader();
      const out = [];
      for (let i = 0; i < stream.length; i += chunkSize) out.push(...reader.push(stream.subarray(i, i + chunkSize)));
      assert.deepEqual(out.map((f) => [f.id, f.kind, JSON.parse(f.header.toString()), f.body.length]), [
        [1, 0, { op: "fetch", k: "a" }, 0],
        [2, 1, { ok: true }, 70_000],
        [3, 2, {}, 0],
      ]);
      assert.ok(out[1]!.body.every((b) => b === 3));
    }
  });

  it("carry a body made with headroom as it is, once, and copy it for a second frame or a header too large for the room", function () {
    const body = frameBody(70_000).fill(5);
    const first = encodeFrame(7, 1, { page: 1 }, body);
    assert.equal(first.buffer, body.buffer, "the frame is written around the body, not copied");
    const second = encodeFrame(8, 1, { page: 2 }, body);
    assert.notEqual(second.buffer, body.buffer);
    const big = frameBody(10).fill(6);
    const third = encodeFrame(9, 1, { pad: "x".repeat(5000) }, big);
    assert.notEqual(third.buffer, big.buffer);
    const frames = new FrameReader().push(Buffer.concat([first, second, third]));
    assert.deepEqual(frames.map((f) => [f.id, JSON.parse(f.header.toString()).page, f.body.length]), [[7, 1, 70_000], [8, 2, 70_000], [9, undefined, 10]]);
    assert.ok(frames[0]!.body.every((b) => b === 5) && frames[1]!.body.every((b) => b === 5) && frames[2]!.body.every((b) => b === 6));
    assert.equal(first.readUInt32BE(4), 7, "the second frame left the first one's prefix alone");
  });

  it("keep no read's larger buffer: a read viewing a much larger one is copied, one of its own size is not", function () {
    const frame = encodeFrame(4, 1, { ok: true }, Buffer.alloc(1200, 9));
    // As Node.js 24 hands a TLS read over: the bytes at the start of a 64 KiB buffer made for that read.
    const large = Buffer.allocUnsafeSlow(64 * 1024);
    frame.copy(large);
    const [copied] = new FrameReader().push(large.subarray(0, frame.length));
    assert.ok(copied!.body.every((b) => b === 9) && copied!.body.length === 1200);
    assert.ok(copied!.body.buffer !== large.buffer, "a frame kept for long must not keep the 64 KiB with it");
    assert.equal(copied!.body.buffer.byteLength, frame.length);
    const own = Buffer.allocUnsafeSlow(frame.length);
    frame.copy(own);
    const [viewed] = new FrameReader().push(own);
    assert.ok(viewed!.body.buffer === own.buffer, "a read in a buffer of its own size is not copied again");
  });

  it("join a frame split across reads into one buffer of its own size, whatever buffers the reads viewed", function () {
    for (const bodyBytes of [1200, 70_000]) {
      const frame = encodeFrame(5, 1, { ok: true }, Buffer.alloc(bodyBytes, 8));
      const reader = new FrameReader();
      const out = [];
      // Reads as Node.js 24 hands TLS reads over, each at the start of a 64 KiB buffer of its own.
      for (let at = 0; at < frame.length; at += 1000) {
        const large = Buffer.allocUnsafeSlow(64 * 1024);
        const part = frame.subarray(at, at + 1000);
        part.copy(large);
        out.push(...reader.push(large.subarray(0, part.length)));
      }
      assert.equal(out.length, 1);
      assert.ok(out[0]!.body.length === bodyBytes && out[0]!.body.every((b) => b === 8), `${bodyBytes}-byte body`);
      assert.equal(out[0]!.body.buffer.byteLength, frame.length, `a ${bodyBytes}-byte body is neither a pool slice nor a view of a read`);
    }
  });

  it("refuse a length prefix beyond the frame limit instead of buffering it", function () {
    const evil = Buffer.alloc(8);
    evil.writeUInt32BE(FRAME_BYTES_MAX + 1, 0);
    assert.throws(() => new FrameReader().push(evil), /corrupt peer frame length/);
  });

  it("are refused before sending when the header or the whole frame is over its limit", function () {
    assert.throws(() => encodeFrame(1, 0, { pad: "x".repeat(FRAME_HEADER_BYTES_MAX) }), /header .* exceeds/);
    assert.throws(() => encodeFrame(1, 0, {}, Buffer.alloc(FRAME_BYTES_MAX)), (err: DynamoError) => err.code === "value_too_large");
  });
});

describe("peer messages", function () {
  it("decode to what was encoded, keys as bytes and records as records", function () {
    const key = Buffer.from([0, 255, 10, 47]);
    const fetch = roundTrip("fetch", { header: { partition: 3, bucket: "default", key } });
    assert.equal(fetch.op, "fetch");
    assert.deepEqual(fetch.request.header, { partition: 3, bucket: "default", key });

    const replicate = roundTrip("replicate", { header: { partition: 3, bucket: "b", key, hintFor: "node-2" }, body: RECORD });
    assert.deepEqual(replicate.request.header, { partition: 3, bucket: "b", key, hintFor: "node-2" });
    const received = replicate.request.body as ReceivedRecord;
    assert.deepEqual(received.record, RECORD);
    assert.deepEqual(received.encoded, encodeRecord(RECORD));
    assert.deepEqual(received.summary, { siblings: 1, newestMs: RECORD.siblings[0]!.timestamp.ms, newestLogical: RECORD.siblings[0]!.timestamp.logical });
    // A coordinator sends the bytes it stored; they arrive as the record does.
    const asStored = roundTrip("replicate", { header: { partition: 3, bucket: "b", key }, body: encodeRecord(RECORD) });
    assert.deepEqual((asStored.request.body as ReceivedRecord).record, RECORD);

    const scan = roundTrip("scan", { header: { partition: 1, limit: 10, after: { bucket: "b", key } } });
    assert.deepEqual(scan.request.header, { partition: 1, limit: 10, after: { bucket: "b", key } });

    const coordinate = roundTrip("coordinate", {
      header: { bucket: "b", key, context: { a1: 4 }, contentType: "text/plain", delete: false, w: 2, pw: 0 },
      body: Buffer.from("value"),
    });
    assert.deepEqual(coordinate.request.body, Buffer.from("value"));

    const ringPut = roundTrip("ring-put", { header: {}, body: RING });
    assert.deepEqual(ringPut.request.body, RING);
  });

  it("decode compact fetch and replicate headers to what the JSON ones decode to", function () {
    const key = Buffer.from([0, 255, 10, 47]);
    const requests: [PeerOp, PeerRequestOut<"fetch"> | PeerRequestOut<"replicate">][] = [
      ["fetch", { header: { partition: 65535, bucket: "default", key } }],
      ["replicate", { header: { partition: 3, bucket: "b_1-x", key, hintFor: "node-2.zone_a" }, body: RECORD }],
      ["replicate", { header: { partition: 0, bucket: "b", key: Buffer.alloc(1024, 7) }, body: RECORD }],
    ];
    for (const [op, request] of requests) {
      const header = encodeRequestHeader(op, request.header as never, true);
      assert.ok(Buffer.isBuffer(header) && header[0]! < 0x20, `${op} goes compact`);
      assert.deepEqual(roundTrip(op, request as never, true), roundTrip(op, request as never));
    }
    for (const [op, header] of [["fetch", { canVote: false }], ["replicate", { changed: true }]] as const) {
      const compact = encodeResponse(op, { header } as never, true);
      assert.ok(Buffer.isBuffer(compact.header));
      assert.deepEqual(decodeResponse(op, compact.header, Buffer.alloc(0)).header, header);
    }
    // Other operations stay JSON whatever the connection agreed.
    assert.ok(!Buffer.isBuffer(encodeRequestHeader("scan", { partition: 1, limit: 1 }, true)));
  });

  it("decode compact coordinate headers to what the JSON ones decode to, and send them only at level 2", function () {
    const key = Buffer.from([0, 255, 10, 47]);
    const base = { bucket: "default", key, contentType: "text/plain", delete: false, w: 2, pw: 0 };
    const headers: PeerRequestOut<"coordinate">["header"][] = [
      { ...base, context: {} },
      { ...base, context: { a1b2c3d4e5f60718: 3, "actor-ü": Number.MAX_SAFE_INTEGER }, stampedAt: { ms: 1_764_000_000_000, logical: 7 } },
      { ...base, bucket: "b_1-x", key: Buffer.alloc(1024, 7), contentType: "application/json; charset=utf-8 ✓", delete: true, w: 16, pw: 16, context: { a: 1 } },
      { ...base, contentType: "", context: Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`actor${i}`, i + 1])) },
    ];
    for (const header of headers) {
      const request = { header, body: Buffer.from("value") };
      const compact = encodeRequestHeader("coordinate", header, 2);
      assert.ok(Buffer.isBuffer(compact) && compact[0] === 3, "coordinate goes compact at level 2");
      assert.ok(!Buffer.isBuffer(encodeRequestHeader("coordinate", header, 1)), "a peer reading level 1 gets JSON");
      assert.deepEqual(roundTrip("coordinate", request, 2), roundTrip("coordinate", request));
    }
    const response = encodeResponse("coordinate", { header: {}, body: RECORD }, 2);
    assert.deepEqual(response.header, Buffer.from([3]));
    assert.deepEqual(decodeResponse("coordinate", response.header as Buffer, response.body!).header, {});
    assert.ok(!Buffer.isBuffer(encodeResponse("coordinate", { header: {}, body: RECORD }, 1).header));
    assert.throws(() => decodeResponse("coordinate", Buffer.from([3, 0]), response.body!), /tag alone/);
    assert.throws(() => decodeResponse("fetch", Buffer.from([3]), Buffer.alloc(0)), /another operation/);
    assert.throws(() => decodeResponse("coordinate", Buffer.from([1, 1]), response.body!), /another operation/);
  });

  it("refuse compact coordinate headers that do not fit, naming the problem", function () {
    const base = { bucket: "b", key: Buffer.from("k"), contentType: "t", delete: false, w: 2, pw: 1, context: { a: 1 }, stampedAt: { ms: 5, logical: 0 } };
    const good = encodeRequestHeader("coordinate", base, 2) as Buffer;
    assert.deepEqual(decodeRequest(good, Buffer.alloc(0)).request.header, base);
    // Offsets in `good`: tag 0, bucket 1-2, key 3-5, flags 6, w 7, pw 8, content type 9-11, stampedAt 12-27,
    // actors 28-29, actor length 30, actor 31, counter 32-39.
    const patched = (at: number, bytes: number[] | Buffer) => {
      const copy = Buffer.from(good);
      Buffer.from(bytes).copy(copy, at);
      return copy;
    };
    const double = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(n);
      return b;
    };
    const twoActors = Buffer.concat([good.subarray(0, 28), Buffer.from([0, 2]), good.subarray(30), good.subarray(30)]);
    const cases: [string, Buffer, RegExp][] = [
      ["truncated", good.subarray(0, 2), /truncated/],
      ["cut in the context", good.subarray(0, 35), /truncated context/],
      ["trailing bytes", Buffer.concat([good, Buffer.from([0])]), /after the header's fields/],
      ["a bad bucket", patched(2, [0x41]), /bucket names/],
      ["an empty key", Buffer.from([3, 1, 0x62, 0, 0]), /keys are 1 to 1024 bytes, got 0/],
      ["unknown flags", patched(6, [4]), /unknown flags/],
      ["w of 0", patched(7, [0]), /w is 1 to 16/],
      ["w over 16", patched(7, [17]), /w is 1 to 16/],
      ["pw over 16", patched(8, [17]), /pw is 0 to 16/],
      ["a fractional timestamp", patched(12, double(1.5)), /stampedAt/],
      ["a negative timestamp", patched(20, double(-1)), /stampedAt/],
      ["a counter of 0", patched(32, double(0)), /counters are whole numbers from 1/],
      ["a counter past 2^53", patched(32, double(2 ** 60)), /counters/],
      ["an empty actor id", Buffer.concat([good.subarray(0, 30), Buffer.from([0])]), /empty actor/],
      ["an actor named twice", twoActors, /named twice/],
      ["__proto__ as an actor", Buffer.concat([good.subarray(0, 30), Buffer.from([9]), Buffer.from("__proto__"), double(1)]), /not an actor id/],
      ["too many actors", patched(28, [0x03, 0xe9]), /at most 1000 actors, got 1001/],
    ];
    for (const [name, header, message] of cases) {
      assert.throws(() => decodeRequest(header, Buffer.alloc(0)), (err: Error) => err instanceof PeerMessageError && message.test(err.message), name);
    }
  });

  it("refuse compact headers that do not fit, naming the problem", function () {
    const good = encodeRequestHeader("replicate", { partition: 1, bucket: "b", key: Buffer.from("k"), hintFor: "n1" }, true) as Buffer;
    const cases: [string, Buffer, RegExp][] = [
      ["truncated", good.subarray(0, 3), /truncated/],
      ["cut in the key", good.subarray(0, 7), /truncated/],
      ["trailing bytes", Buffer.concat([good, Buffer.from([0])]), /after the header's fields/],
      ["a bad bucket", Buffer.from([2, 0, 1, 2, 0x41, 0x42, 0, 1, 0x6b, 0]), /bucket names/],
      ["an empty key", Buffer.from([1, 0, 1, 1, 0x62, 0, 0]), /keys are 1 to 1024 bytes, got 0/],
      ["a key over the limit", Buffer.concat([Buffer.from([1, 0, 1, 1, 0x62, 0x04, 0x01]), Buffer.alloc(1025)]), /got 1025/],
      ["a bad hintFor", Buffer.from([2, 0, 1, 1, 0x62, 0, 1, 0x6b, 2, 0x2e, 0x2e]), /hintFor/],
    ];
    for (const [name, header, message] of cases) {
      assert.throws(() => decodeRequest(header, Buffer.alloc(0)), (err: Error) => err instanceof PeerMessageError && message.test(err.message), name);
    }
    assert.throws(() => decodeResponse("fetch", Buffer.from([1, 2]), Buffer.alloc(0)), PeerMessageError);
    assert.throws(() => decodeResponse("fetch", Buffer.from([2, 1]), Buffer.alloc(0)), /another operation/);
    assert.throws(() => decodeResponse("scan", Buffer.from([1, 1]), Buffer.alloc(0)), PeerMessageError);
    assert.throws(() => decodeResponse("replicate", Buffer.from([2, 1, 0]), Buffer.alloc(0)), PeerMessageError);
  });

  it("never throw anything but a message error for any bytes after a compact tag", function () {
    fc.assert(
      fc.property(fc.constantFrom(1, 2, 3), fc.uint8Array({ maxLength: 80 }), (tag, rest) => {
        try {
          decodeRequest(Buffer.concat([Buffer.from([tag]), rest]), Buffer.alloc(0));
        } catch (err) {
          if (!(err instanceof PeerMessageError)) throw err;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("decode responses with their body codecs", function () {
    const key = Buffer.from("k");
    const scan = encodeResponse("scan", { header: { done: true }, body: [{ bucket: "b", key, record: encodeRecord(RECORD) }] });
    const [entry, ...rest] = decodeResponse("scan", Buffer.from(JSON.stringify(scan.header)), scan.body!).body;
    assert.equal(rest.length, 0);
    assert.deepEqual({ bucket: entry!.bucket, key: entry!.key, record: entry!.record, encoded: entry!.encoded }, { bucket: "b", key, record: RECORD, encoded: encodeRecord(RECORD) });
    assert.deepEqual(entry!.summary, { siblings: RECORD.siblings.length, newestMs: RECORD.siblings[0]!.timestamp.ms, newestLogical: RECORD.siblings[0]!.timestamp.logical });
    const keys = encodeResponse("ae-keys", { header: {}, body: [["b", key, "0123456789abcdef"]] });
    assert.deepEqual(decodeResponse("ae-keys", Buffer.from("{}"), keys.body!).body, [["b", key, "0123456789abcdef"]]);
    const absent = decodeResponse("fetch", Buffer.from('{"canVote":true}'), Buffer.alloc(0));
    assert.equal(absent.body, undefined);
  });

  it("refuse responses that do not fit the op", function () {
    for (const header of ["null", "[]", '{"canVote":"yes"}', "{"]) {
      assert.throws(() => decodeResponse("fetch", Buffer.from(header), Buffer.alloc(0)), PeerMessageError, header);
    }
    assert.throws(() => decodeResponse("fetch", Buffer.from('{"canVote":true}'), Buffer.from("junk")), PeerMessageError);
    assert.throws(() => decodeResponse("ae-leaves", Buffer.from("{}"), Buffer.alloc(5)), /8192 bytes/);
    assert.throws(() => decodeResponse("scan", Buffer.from('{"done":true}'), Buffer.from([0, 1])), PeerMessageError);
    // A page with one damaged record is refused whole, and the error says what is wrong with the record.
    const damaged = encodeRecord(RECORD);
    damaged[damaged.length - 2] = 0x04;
    const page = encodeResponse("scan", { header: { done: true }, body: [{ bucket: "b", key: Buffer.from("k1"), record: encodeRecord(RECORD) }, { bucket: "b", key: Buffer.from("k2"), record: damaged }] });
    assert.throws(() => decodeResponse("scan", Buffer.from(JSON.stringify(page.header)), page.body!), /'scan' response body does not decode: record is corrupt: /);
  });
});

/**
 * A fake peer that answers every request frame with whatever `answer` returns, to test the calling side. It says it
 * reads compact headers only when `compact` is set (as a node of an earlier version would not).
 */
async function fakePeer(answer: (id: number, header: Buffer) => Buffer, compact: boolean | number = false): Promise<{ server: Server; url: string }> {
  const server = createServer();
  const level = compact === true ? 1 : Number(compact);
  server.on("upgrade", (_req, socket: Duplex) => {
    const agreed = (level >= 1 ? `${PEER_COMPACT_HEADER}: 1\r\n` : "") + (level >= 2 ? `${PEER_COMPACT_COORDINATE_HEADER}: 1\r\n` : "");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${PEER_PROTOCOL}\r\n${agreed}\r\n`);
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) socket.write(answer(frame.id, frame.header));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe("the calling side of the peer protocol", function () {
  const answers: [string, (id: number) => Buffer, RegExp][] = [
    ["an OK frame with a null header", (id) => rawFrame(id, FRAME_OK, "null"), /malformed answer to 'fetch'/],
    ["an OK frame with a mistyped header", (id) => rawFrame(id, FRAME_OK, '{"canVote":1}'), /malformed answer/],
    ["an OK frame whose body is not a record", (id) => rawFrame(id, FRAME_OK, '{"canVote":true}', Buffer.from("??")), /malformed answer/],
    ["an error frame with a null header", (id) => rawFrame(id, FRAME_ERROR, "null"), /malformed error/],
    ["an error frame that is not JSON", (id) => rawFrame(id, FRAME_ERROR, "{{"), /malformed error/],
    ["a frame of an unknown kind", (id) => rawFrame(id, 77, "{}"), /unknown frame kind 77/],
  ];
  for (const [name, answer, message] of answers) {
    it(`turns ${name} into a failed request, not a crash`, async function () {
      const { server, url } = await fakePeer(answer);
      const client = new PeerClient(url, { token: "t".repeat(16), timeoutMs: 2000, inFlightMax: 10, reconnectDelayMs: 10, from: "test" });
      try {
        await assert.rejects(client.call("fetch", { header: { partition: 0, bucket: "default", key: Buffer.from("k") } }), (err: Error) => {
          assert.ok(err instanceof DynamoError);
          assert.match(err.message, message);
          return true;
        });
      } finally {
        client.close();
        server.closeAllConnections();
        server.close();
      }
    });
  }

  for (const compact of [false, true]) {
    it(`sends ${compact ? "compact headers to a peer that reads them" : "JSON headers to a peer that did not say it reads compact ones"}`, async function () {
      const seen: number[] = [];
      const { server, url } = await fakePeer((id, header) => {
        seen.push(header[0]!);
        return encodeFrame(id, FRAME_OK, header[0] === 0x7b ? { canVote: true } : Buffer.from([1, 1]), encodeRecord(RECORD));
      }, compact);
      const client = new PeerClient(url, { token: "t".repeat(16), timeoutMs: 2000, inFlightMax: 10, reconnectDelayMs: 10, from: "test" });
      try {
        const res = await client.call("fetch", { header: { partition: 0, bucket: "default", key: Buffer.from("k") } });
        assert.deepEqual(res.body?.record, RECORD);
        assert.deepEqual(res.body?.encoded, encodeRecord(RECORD), "the stored bytes as sent");
        assert.deepEqual(seen, [compact ? 1 : 0x7b]);
      } finally {
        client.close();
        server.closeAllConnections();
        server.close();
      }
    });
  }

  for (const level of [1, 2]) {
    it(`sends ${level === 2 ? "compact coordinate headers to a peer that reads them" : "JSON coordinate headers to a peer of an earlier version (compact fetch and replicate only)"}`, async function () {
      const seen: number[] = [];
      const { server, url } = await fakePeer((id, header) => {
        seen.push(header[0]!);
        return encodeFrame(id, FRAME_OK, header[0] === 0x7b ? {} : Buffer.from([3]), encodeRecord(RECORD));
      }, level);
      const client = new PeerClient(url, { token: "t".repeat(16), timeoutMs: 2000, inFlightMax: 10, reconnectDelayMs: 10, from: "test" });
      try {
        const header = { bucket: "default", key: Buffer.from("k"), context: { a1: 2 }, contentType: "text/plain", delete: false, w: 2, pw: 0 };
        const res = await client.call("coordinate", { header, body: Buffer.from("v") });
        assert.deepEqual(res.body, RECORD);
        assert.deepEqual(seen, [level === 2 ? 3 : 0x7b]);
      } finally {
        client.close();
        server.closeAllConnections();
        server.close();
      }
    });
  }

  it("keeps an error frame's code only when it is one of ours", async function () {
    const { server, url } = await fakePeer((id) => rawFrame(id, FRAME_ERROR, '{"code":"toString","message":"m"}'));
    const client = new PeerClient(url, { token: "t".repeat(16), timeoutMs: 2000, inFlightMax: 10, reconnectDelayMs: 10, from: "test" });
    try {
      await assert.rejects(client.call("ring-get", { header: {} }), (err: DynamoError) => err.code === "internal");
    } finally {
      client.close();
      server.closeAllConnections();
      server.close();
    }
  });
});
