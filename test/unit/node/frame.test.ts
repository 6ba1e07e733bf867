import assert from "node:assert/strict";
import { encodeFrame, FrameReader, FRAME_BYTES_MAX } from "../../../node/peer/index.js";

describe("peer frames", function () {
  it("reassemble whatever way the stream is split", function () {
    const frames = [encodeFrame(1, 0, { op: "fetch", k: "a" }), encodeFrame(2, 1, { ok: true }, Buffer.alloc(70_000, 3)), encodeFrame(3, 2, {})];
    const stream = Buffer.concat(frames);
    for (const chunkSize of [1, 3, 7, 4096, stream.length]) {
      const reader = new FrameReader();
      const out = [];
      for (let i = 0; i < stream.length; i += chunkSize) out.push(...reader.push(stream.subarray(i, i + chunkSize)));
      assert.deepEqual(out.map((f) => [f.id, f.kind, f.header, f.body.length]), [
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
});
