import assert from "node:assert/strict";
import { InternTable } from "../../../node/versioning/bytes.js";
import { checkRecord, decodeRecord, encodeRecord } from "../../../node/versioning/codec.js";
import { decodeContext, encodeContext } from "../../../node/versioning/context.js";
import { update } from "../../../node/versioning/record.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";
import { put } from "./fixtures.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

describe("interned text of repeated bytes (actor ids, content types)", function () {
  it("gives what a UTF-8 decode gives, for repeated, new, malformed and evicted byte runs (seeded)", function () {
    const seed = testSeed("intern table");
    const random = seededRandom(seed);
    const table = new InternTable(8);
    // A pool larger than the table, so runs are evicted and read again; some bytes are not valid UTF-8.
    const pool = Array.from({ length: 20 }, (_, i) => {
      const length = random.int(24);
      const bytes = Buffer.alloc(length);
      for (let k = 0; k < length; k++) bytes[k] = i % 4 === 0 ? random.int(256) : 0x61 + random.int(26);
      return bytes;
    });
    for (let i = 0; i < 5000; i++) {
      const run = pool[random.int(pool.length)]!;
      // The run sits at a random place inside a larger buffer, as an actor inside a record does.
      const before = random.int(5);
      const buf = Buffer.concat([Buffer.alloc(before, 0x7e), run, Buffer.alloc(random.int(5), 0x7e)]);
      assert.equal(table.text(buf, before, run.length), run.toString("utf8"), `run ${pool.indexOf(run)} at step ${i} (seed ${seed})`);
    }
  });

  it("keeps its own copy of the bytes, so a buffer reused for other bytes later cannot change what it answers", function () {
    const table = new InternTable(4);
    const buf = Buffer.from("node-a");
    assert.equal(table.text(buf, 0, buf.length), "node-a");
    buf.write("node-b");
    assert.equal(table.text(buf, 0, buf.length), "node-b");
    assert.equal(table.text(Buffer.from("node-a"), 0, 6), "node-a");
  });
});

describe("clocks with more actors than are interned", function () {
  it("decode the same past the interned ones, in a record and in a context", function () {
    let record: VersionedRecord | undefined;
    // 40 writes by 40 actors: the clock names all of them, more than the 16 a clock looks up in the table.
    for (let i = 0; i < 40; i++) {
      const actor = `node-${String(i).padStart(2, "0")}@incarnation`;
      record = update(record, record?.clock ?? {}, put(`v${i}`), actor);
    }
    const encoded = encodeRecord(record!);
    assert.deepEqual(decodeRecord(encoded), record);
    assert.equal(Object.keys(decodeRecord(encoded).clock).length, 40);
    assert.ok(checkRecord(encoded), "the check accepts it");
    const secret = Buffer.from("a secret of the cluster");
    const context = encodeContext(record!.clock, "b", Buffer.from("k"), secret);
    assert.deepEqual(decodeContext(context, "b", Buffer.from("k"), secret), record!.clock);
  });
});
