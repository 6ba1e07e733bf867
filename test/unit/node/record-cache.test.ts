import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../../node/storage/index.js";
import { RecordCache } from "../../../node/storage/record-cache.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

function record(value: string): VersionedRecord {
  return { clock: { a: 1 }, siblings: [{ dot: { actor: "a", counter: 1 }, value: Buffer.from(value), contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }] };
}

describe("record cache", function () {
  it("evicts the oldest unread entries past its byte budget", function () {
    const cache = new RecordCache(2000);
    for (let i = 0; i < 20; i++) cache.set(`k${i}`, record("v"), 100);
    assert.ok(cache.usedBytes <= 2000);
    assert.equal(cache.get("k0"), "miss");
    assert.notEqual(cache.get("k19"), "miss");
  });

  it("keeps an entry read since it was cached over older and younger ones that were not, and stays within budget when every entry was read", function () {
    const cache = new RecordCache(2000);
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, record("v"), 100);
    // k0 is the oldest; a read gives it a second chance, so the next evictions take k1 and k2 instead.
    assert.notEqual(cache.get("k0"), "miss");
    cache.set("k10", record("v"), 100);
    cache.set("k11", record("v"), 100);
    assert.notEqual(cache.get("k0"), "miss", "a read entry survives the evictions its age would have made");
    assert.equal(cache.get("k1"), "miss");
    assert.equal(cache.get("k2"), "miss");
    assert.notEqual(cache.get("k3"), "miss");
    // With every entry read, an eviction walks the whole cache once, clearing marks, and then evicts the oldest.
    for (const key of ["k3", "k4", "k5", "k6", "k7", "k8", "k9", "k10", "k11"]) cache.get(key);
    cache.set("k12", record("v"), 100);
    assert.ok(cache.usedBytes <= 2000);
    assert.equal(cache.size, 10);
    assert.notEqual(cache.get("k12"), "miss");
  });

  it("remembers absent keys, and refuses entries too large to share the budget", function () {
    const cache = new RecordCache(8000);
    cache.set("gone", undefined, 0);
    assert.equal(cache.get("gone"), undefined);
    cache.set("huge", record("x"), 5000);
    assert.equal(cache.get("huge"), "miss");
  });

  it("forgets a dropped partition's entries and no others, its byte count true through sets, evictions and drops (randomised)", function () {
    const seed = testSeed("record cache groups");
    const rng = seededRandom(seed);
    const cache = new RecordCache(40_000);
    const groups = ["d\u0000\u0001", "d\u0000\u0002", "d\u0000\u0003", "d\u0001\u0000"];
    const keys = groups.flatMap((g) => Array.from({ length: 60 }, (_, i) => `${g}b\u0000k${i}`));
    const sizes = new Map<string, number>();
    const dropped = new Set<string>();
    for (let step = 0; step < 5000; step++) {
      const key = rng.pick(keys);
      const roll = rng.next();
      if (roll < 0.6) {
        const bytes = rng.int(rng.chance(0.02) ? 6000 : 600);
        cache.set(key, rng.chance(0.1) ? undefined : record("v"), bytes);
        sizes.set(key, bytes);
        dropped.delete(key);
      } else if (roll < 0.8) {
        cache.delete(key);
        dropped.add(key);
      } else if (roll < 0.82) {
        const group = rng.pick(groups);
        cache.deleteGroup(group);
        for (const k of keys) if (k.startsWith(group)) dropped.add(k);
      } else {
        cache.get(key);
      }
      assert.ok(cache.usedBytes <= 40_000, `seed ${seed}, step ${step}: over budget`);
    }
    let bytes = 0;
    let entries = 0;
    for (const key of keys) {
      if (cache.get(key) === "miss") continue;
      assert.ok(!dropped.has(key), `seed ${seed}: ${JSON.stringify(key)} was deleted but is still cached`);
      bytes += sizes.get(key)! + key.length + 96;
      entries += 1;
    }
    assert.ok(entries > 0, `seed ${seed}: something is cached`);
    assert.equal(cache.usedBytes, bytes, `seed ${seed}: the byte count is the sum of the entries held`);
    assert.equal(cache.size, entries);
    for (const group of groups) cache.deleteGroup(group);
    assert.equal(cache.size, 0);
    assert.equal(cache.usedBytes, 0);
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
