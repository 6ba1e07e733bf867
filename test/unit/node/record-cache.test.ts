import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../../node/storage/index.js";
import { RecordCache } from "../../../node/storage/record-cache.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";

function record(value: string): VersionedRecord {
  return { clock: { a: 1 }, siblings: [{ dot: { actor: "a", counter: 1 }, value: Buffer.from(value), contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }] };
}

describe("record cache", function () {
  it("evicts the least recently used entries past its byte budget", function () {
    const cache = new RecordCache(2000);
    for (let i = 0; i < 20; i++) cache.set(`k${i}`, record("v"), 100);
    assert.ok(cache.usedBytes <= 2000);
    assert.equal(cache.get("k0"), "miss");
    assert.notEqual(cache.get("k19"), "miss");
  });

  it("remembers absent keys, and refuses entries too large to share the budget", function () {
    const cache = new RecordCache(8000);
    cache.set("gone", undefined, 0);
    assert.equal(cache.get("gone"), undefined);
    cache.set("huge", record("x"), 5000);
    assert.equal(cache.get("huge"), "miss");
  });

  it("in front of the store: reads see every write, drops and reopening included", async function () {
    const dir = mkdtempSync(join(tmpdir(), "dynamo-cache-"));
    try {
      const store = new Store(dir, { cacheBytesMax: 1024 * 1024 });
      await store.open();
      const key = Buffer.from("k");
      assert.equal(await store.get(3, "b", key), undefined);
      await store.put(3, "b", key, record("one"));
      assert.equal((await store.get(3, "b", key))!.siblings[0]!.value!.toString(), "one");
      await store.put(3, "b", key, record("two"));
      assert.equal((await store.get(3, "b", key))!.siblings[0]!.value!.toString(), "two");
      await store.batch([{ type: "del", partition: 3, bucket: "b", key }]);
      assert.equal(await store.get(3, "b", key), undefined);
      await store.put(3, "b", key, record("three"));
      await store.dropPartition(3);
      assert.equal(await store.get(3, "b", key), undefined);
      await store.put(4, "b", key, record("four"));
      await store.close();
      const reopened = new Store(dir);
      await reopened.open();
      assert.equal((await reopened.get(4, "b", key))!.siblings[0]!.value!.toString(), "four");
      assert.equal(reopened.incarnation, store.incarnation);
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
