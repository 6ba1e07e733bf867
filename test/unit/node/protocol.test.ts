import assert from "node:assert/strict";
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
  encodeRequestBody,
  encodeRequestHeader,
  encodeResponse,
  FRAME_BYTES_MAX,
  FRAME_ERROR,
  FRAME_HEADER_BYTES_MAX,
  FRAME_OK,
  FrameReader,
  PeerMessageError,
  type PeerOp,
  type PeerRequestOut,
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

function roundTrip<O extends PeerOp>(op: O, request: PeerRequestOut<O>) {
  const frame = encodeFrame(1, 0, encodeRequestHeader(op, request.header), encodeRequestBody(op, request));
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
    assert.deepEqual(replicate.request, { header: { partition: 3, bucket: "b", key, hintFor: "node-2" }, body: RECORD });

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

  it("decode responses with their body codecs", function () {
    const key = Buffer.from("k");
    const scan = encodeResponse("scan", { header: { done: true }, body: [{ bucket: "b", key, record: encodeRecord(RECORD) }] });
    assert.deepEqual(decodeResponse("scan", Buffer.from(JSON.stringify(scan.header)), scan.body!).body, [{ bucket: "b", key, record: RECORD, encoded: encodeRecord(RECORD) }]);
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
  });
});

/** A fake peer that answers every request frame with whatever `answer` returns, to test the calling side. */
async function fakePeer(answer: (id: number) => Buffer): Promise<{ server: Server; url: string }> {
  const server = createServer();
  server.on("upgrade", (_req, socket: Duplex) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${PEER_PROTOCOL}\r\n\r\n`);
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) socket.write(answer(frame.id));
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
