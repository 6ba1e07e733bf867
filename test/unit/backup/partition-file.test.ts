import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { BackupError } from "../../../backup/index.js";
import { PartitionFileWriter, readPartitionFile, verifyFile } from "../../../backup/partition-file.js";
import type { RawEntry } from "../../../node/protocol/index.js";
import { decodeRecord, encodeRecord, update } from "../../../node/versioning/index.js";

function entries(count: number): RawEntry[] {
  return Array.from({ length: count }, (_, i) => {
    const first = update(undefined, {}, { value: Buffer.from(`v${i}`), contentType: "text/plain", timestamp: { ms: 1000 + i, logical: 0 } }, "a1");
    // Every third key gets a concurrent sibling, every fifth a tombstone over its value.
    let record = i % 3 === 0 ? update(first, {}, { value: Buffer.from(`w${i}`), contentType: "text/plain", timestamp: { ms: 2000, logical: 1 } }, "b2") : first;
    if (i % 5 === 0) record = update(record, record.clock, { value: null, contentType: "", timestamp: { ms: 3000, logical: 0 } }, "a1");
    return { bucket: "cart", key: Buffer.from(`key-${String(i).padStart(6, "0")}`), record: encodeRecord(record) };
  });
}

async function written(partition: number, list: RawEntry[]): Promise<{ bytes: Buffer; sha256: string; records: number }> {
  const writer = new PartitionFileWriter(partition);
  const chunks: Buffer[] = [];
  writer.stream.on("data", (c: Buffer) => chunks.push(c));
  for (const entry of list) await writer.write(entry);
  const file = await writer.end();
  const bytes = Buffer.concat(chunks);
  assert.equal(file.bytes, bytes.length);
  assert.equal(file.sha256, createHash("sha256").update(bytes).digest("hex"));
  return { bytes, sha256: file.sha256, records: file.records };
}

async function readAll(bytes: Buffer, expected: { partition: number; bytes: number; sha256: string }): Promise<RawEntry[]> {
  const out: RawEntry[] = [];
  for await (const entry of readPartitionFile(Readable.from([bytes]), { ...expected, object: "id/partitions/00007.dkv.gz" })) out.push(entry);
  return out;
}

function corruptError(pattern: RegExp) {
  return (err: unknown) => err instanceof BackupError && err.code === "corrupt_object" && err.object === "id/partitions/00007.dkv.gz" && pattern.test(err.message);
}

describe("backup partition files", function () {
  it("keep every entry, version vector, sibling and tombstone byte for byte", async function () {
    const list = entries(2000);
    const file = await written(7, list);
    assert.equal(file.records, 2000);
    const back = await readAll(file.bytes, { partition: 7, bytes: file.bytes.length, sha256: file.sha256 });
    assert.equal(back.length, list.length);
    back.forEach((entry, i) => {
      assert.equal(entry.bucket, list[i]!.bucket);
      assert.ok(entry.key.equals(list[i]!.key));
      assert.ok(entry.record.equals(list[i]!.record));
    });
    assert.equal(decodeRecord(back[3]!.record).siblings.length, 2);
    assert.equal(decodeRecord(back[5]!.record).siblings.some((s) => s.value === null), true);
  });

  it("an empty partition is a valid file", async function () {
    const file = await written(7, []);
    assert.deepEqual(await readAll(file.bytes, { partition: 7, bytes: file.bytes.length, sha256: file.sha256 }), []);
  });

  it("a flipped byte fails by name, in the verifying pass and in the reading pass", async function () {
    const file = await written(7, entries(300));
    const bad = Buffer.from(file.bytes);
    bad[Math.floor(bad.length / 2)]! ^= 0x40;
    const expected = { partition: 7, object: "id/partitions/00007.dkv.gz", bytes: bad.length, sha256: file.sha256 };
    await assert.rejects(verifyFile(Readable.from([bad]), expected), corruptError(/SHA-256/));
    await assert.rejects(readAll(bad, expected), corruptError(/corrupt|SHA-256/));
  });

  it("a truncated file fails by name", async function () {
    const file = await written(7, entries(300));
    const cut = file.bytes.subarray(0, file.bytes.length - 100);
    await assert.rejects(verifyFile(Readable.from([cut]), { partition: 7, object: "id/partitions/00007.dkv.gz", bytes: file.bytes.length, sha256: file.sha256 }), corruptError(/bytes, but the manifest says/));
    await assert.rejects(readAll(cut, { partition: 7, bytes: file.bytes.length, sha256: file.sha256 }), corruptError(/./));
  });

  it("a file of another partition, or not a backup file at all, is refused", async function () {
    const file = await written(8, entries(3));
    await assert.rejects(readAll(file.bytes, { partition: 7, bytes: file.bytes.length, sha256: file.sha256 }), corruptError(/holds partition 8, not 7/));
    const other = gzipSync(Buffer.from("hello, this is not a backup at all"));
    const sha = createHash("sha256").update(other).digest("hex");
    await assert.rejects(readAll(other, { partition: 7, bytes: other.length, sha256: sha }), corruptError(/not a partition file/));
  });
});
