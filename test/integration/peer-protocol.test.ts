/**
 * The peer protocol against hostile frames on a real node's peer port: every malformed message (a null header, wrong
 * types, an unknown op, a body that does not decode) gets an `invalid_request` error frame and changes nothing; only a
 * stream that cannot be cut into frames is closed; the node never crashes.
 */
import assert from "node:assert/strict";
import { FRAME_ERROR, FRAME_OK, FRAME_REQUEST } from "../../node/protocol/index.js";
import { TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";
import { headerOf, RawPeerConnection } from "../helpers/peer-wire.js";

const KEY = Buffer.from("x").toString("base64");

const MALFORMED: [name: string, header: string, body?: Buffer][] = [
  ["a null header", "null"],
  ["an array header", "[]"],
  ["a string header", '"fetch"'],
  ["a header that is not JSON", "{op: fetch"],
  ["a header without an op", "{}"],
  ["an unknown op", '{"op":"drop-everything"}'],
  ["an op named after an object property", '{"op":"__proto__"}'],
  ["an op named after a prototype method", '{"op":"toString"}'],
  ["a partition of the wrong type", `{"op":"fetch","partition":"zero","bucket":"default","key":"${KEY}"}`],
  ["a partition out of range", `{"op":"fetch","partition":70000,"bucket":"default","key":"${KEY}"}`],
  ["a missing key", '{"op":"fetch","partition":0,"bucket":"default"}'],
  ["an empty key", '{"op":"fetch","partition":0,"bucket":"default","key":""}'],
  ["a bad bucket name", `{"op":"fetch","partition":0,"bucket":"../etc","key":"${KEY}"}`],
  ["a record body that does not decode", `{"op":"replicate","partition":0,"bucket":"default","key":"${KEY}"}`, Buffer.from("garbage")],
  ["a replicate without a body", `{"op":"replicate","partition":0,"bucket":"default","key":"${KEY}"}`],
  ["a body where none belongs", `{"op":"fetch","partition":0,"bucket":"default","key":"${KEY}"}`, Buffer.from("extra")],
  ["a ring that is not a ring", '{"op":"ring-put"}', Buffer.from('{"epoch":99999}')],
  ["heartbeats of the wrong shape", '{"op":"gossip","epoch":1,"ringHash":"","heartbeats":{"node-1":"soon"}}'],
  ["a segment out of range", '{"op":"ae-keys","partition":0,"segments":[5000]}'],
  ["a scan limit of a million", '{"op":"scan","partition":0,"limit":1000000}'],
  ["a context with a non-integer counter", `{"op":"coordinate","bucket":"default","key":"${KEY}","context":{"a":1.5},"contentType":"x","delete":false,"w":2,"pw":0}`],
];

describe("peer protocol under malformed frames", function () {
  let cluster: TestCluster;
  let peerUrl: string;
  let url: string;

  before(async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 32 });
    peerUrl = cluster.nodes()[0]!.peerUrl;
    url = cluster.clientUrls()[0]!;
    assert.equal((await http("PUT", kvUrl(url, "default", "sentinel"), { body: "kept" })).status, 204);
  });
  after(async function () {
    await cluster?.destroy();
  });

  afterEach(async function () {
    const health = await http("GET", `${url}/healthz`);
    assert.equal(health.status, 200, "the node still runs");
    const get = await http("GET", kvUrl(url, "default", "sentinel", "?r=3"));
    assert.equal(get.status, 200, get.text());
    assert.equal(get.text(), "kept");
  });

  for (const [name, header, body] of MALFORMED) {
    it(`answers ${name} with invalid_request and keeps the connection`, async function () {
      const conn = await RawPeerConnection.open(peerUrl, cluster.token, cluster.peerTls);
      try {
        conn.sendRaw(7, FRAME_REQUEST, header, body);
        const reply = await conn.reply(7);
        assert.ok(reply, "an error reply, not a closed connection");
        assert.equal(reply.kind, FRAME_ERROR);
        const error = headerOf(reply) as { code: string; message: string };
        assert.equal(error.code, "invalid_request", error.message);
        assert.ok(error.message.length > 0);
        // The same connection still serves a well-formed request.
        conn.sendRaw(8, FRAME_REQUEST, `{"op":"fetch","partition":0,"bucket":"default","key":"${KEY}"}`);
        const ok = await conn.reply(8);
        assert.equal(ok?.kind, FRAME_OK, ok && ok.header.toString());
      } finally {
        conn.close();
      }
    });
  }

  it("answers a frame that is not a request with an error", async function () {
    const conn = await RawPeerConnection.open(peerUrl, cluster.token, cluster.peerTls);
    try {
      conn.sendRaw(9, FRAME_OK, "{}");
      const reply = await conn.reply(9);
      assert.equal(reply?.kind, FRAME_ERROR);
    } finally {
      conn.close();
    }
  });

  it("closes a stream whose frame length cannot be right, and serves the next connection", async function () {
    const conn = await RawPeerConnection.open(peerUrl, cluster.token, cluster.peerTls);
    const evil = Buffer.alloc(16);
    evil.writeUInt32BE(0xfffffff0, 0);
    conn.socket.write(evil);
    assert.equal(await conn.reply(1, 5000), undefined);
    assert.ok(conn.closed, "the node closed the corrupt stream");
    const next = await RawPeerConnection.open(peerUrl, cluster.token, cluster.peerTls);
    try {
      next.sendRaw(2, FRAME_REQUEST, `{"op":"fetch","partition":0,"bucket":"default","key":"${KEY}"}`);
      assert.equal((await next.reply(2))?.kind, FRAME_OK);
    } finally {
      next.close();
    }
  });
});
