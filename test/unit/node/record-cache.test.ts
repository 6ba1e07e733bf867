import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Store } from "../../../node/storage/index.js";
import { ENTRY_OVERHEAD_BYTES, RecordCache } from "../../../node/storage/record-cache.js";
import { ClassicLevel } from "classic-level";
import { dataKey } from "../../../node/storage/keys.js";
import { CorruptRecordError, decodeRecord, encodeRecord } from "../../../node/versioning/codec.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

function record(value: string): VersionedRecord {
  return { clock: { a: 1 }, siblings: [{ dot: { actor: "a", counter: 1 }, value: Buffer.from(value), contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }] };
}

/** The cache's budget in these tests: segments of 1 KiB, three 200-byte records to a segment. */
const BUDGET = 32 * 1024;

function encoded(value: string): Buffer {
  return encodeRecord(record(value));
}

describe("record cache", function () {
  it("evicts the oldest entries past its byte budget and keeps the newest", function () {
    const cache = new RecordCache(BUDGET);
    const value = "v".repeat(200);
    for (let i = 0; i < 500; i++) {
      cache.set(`k${i}`, encoded(value));
      assert.ok(cache.usedBytes <= BUDGET, `over budget after ${i + 1} sets: ${cache.usedBytes}`);
    }
    assert.equal(cache.get("k0"), "miss");
    assert.ok(cache.size > 50, `most of the budget holds entries, not garbage: ${cache.size} entries`);
    for (let i = 500 - 50; i < 500; i++) assert.deepEqual(cache.get(`k${i}`), record(value), `k${i} is cached`);
  });

  it("keeps an entry read since it was cached over the unread ones of its segment, and stays within budget when every entry was read", function () {
    const cache = new RecordCache(BUDGET);
    const value = "v".repeat(200);
    let next = 0;
    cache.set(`k${next++}`, encoded(value));
    cache.set(`k${next++}`, encoded(value));
    // k0 and k1 share the oldest segment; a read gives k0 a second chance when that segment is evicted.
    assert.notEqual(cache.get("k0"), "miss");
    // Until the first eviction, every key set is still cached (a read here would mark the entry it reads).
    while (cache.size === next) cache.set(`k${next++}`, encoded(value));
    assert.equal(cache.get("k1"), "miss", "an unread entry goes with its segment");
    assert.deepEqual(cache.get("k0"), record(value), "a read entry survives the eviction its age would have made");
    // With every entry read, eviction moves them all, clearing their marks, and then evicts the oldest.
    const sets = next;
    for (let i = 0; i < 3 * sets; i++) {
      for (let k = 0; k < next; k++) cache.get(`k${k}`);
      cache.set(`k${next++}`, encoded(value));
      assert.ok(cache.usedBytes <= BUDGET, `over budget: ${cache.usedBytes}`);
    }
    assert.notEqual(cache.get(`k${next - 1}`), "miss");
  });

  it("remembers absent keys, caches a record larger than a segment, and refuses entries too large to share the budget", function () {
    const cache = new RecordCache(BUDGET);
    cache.set("gone", undefined);
    assert.equal(cache.get("gone"), undefined);
    cache.set("big", encoded("b".repeat(3000)));
    assert.deepEqual(cache.get("big"), record("b".repeat(3000)));
    cache.set("huge", encoded("x".repeat(BUDGET / 8)));
    assert.equal(cache.get("huge"), "miss");
    // A key written again with a record too large to cache is forgotten, not left with its old record.
    cache.set("big", encoded("y".repeat(BUDGET / 8)));
    assert.equal(cache.get("big"), "miss");
    cache.set("gone", encoded("back"));
    assert.deepEqual(cache.get("gone"), record("back"));
    assert.equal(cache.size, 1);
    assert.equal(cache.liveBytes, encoded("back").length + "gone".length + ENTRY_OVERHEAD_BYTES);
  });

  it("decodes a fresh record at each hit, which its reader may change without changing the cache", function () {
    const cache = new RecordCache(BUDGET);
    cache.set("k", encoded("one"));
    const first = cache.get("k") as VersionedRecord;
    first.siblings[0]!.value!.write("two");
    first.siblings.push(first.siblings[0]!);
    assert.deepEqual(cache.get("k"), record("one"));
  });

  it("forgets a dropped partition's entries and no others, its byte counts true through sets, forgets, evictions and drops (randomised)", function () {
    const seed = testSeed("record cache groups");
    const rng = seededRandom(seed);
    const cache = new RecordCache(BUDGET);
    const groups = ["d\u0000\u0001", "d\u0000\u0002", "d\u0000\u0003", "d\u0001\u0000"];
    const keys = groups.flatMap((g) => Array.from({ length: 60 }, (_, i) => `${g}b\u0000k${i}`));
    const values = new Map<string, string | undefined>();
    const dropped = new Set<string>();
    for (let step = 0; step < 5000; step++) {
      const key = rng.pick(keys);
      const roll = rng.next();
      if (roll < 0.6) {
        const value = rng.chance(0.1) ? undefined : `${step}:`.padEnd(rng.int(rng.chance(0.02) ? 3000 : 600), "v");
        cache.set(key, value === undefined ? undefined : encoded(value));
        values.set(key, value);
        dropped.delete(key);
      } else if (roll < 0.7) {
        cache.delete(key);
        dropped.add(key);
      } else if (roll < 0.8) {
        // What a write does first: the entry misses until the write sets it again.
        cache.forget(key);
        dropped.add(key);
      } else if (roll < 0.82) {
        const group = rng.pick(groups);
        cache.deleteGroup(group);
        for (const k of keys) if (k.startsWith(group)) dropped.add(k);
      } else {
        const got = cache.get(key);
        if (got !== "miss") {
          assert.ok(!dropped.has(key), `seed ${seed}, step ${step}: ${JSON.stringify(key)} was deleted but is still cached`);
          const value = values.get(key);
          assert.deepEqual(got, value === undefined ? undefined : record(value), `seed ${seed}, step ${step}: ${JSON.stringify(key)} holds its last value`);
        }
      }
      assert.ok(cache.usedBytes <= BUDGET, `seed ${seed}, step ${step}: over budget`);
    }
    let bytes = 0;
    let entries = 0;
    for (const key of keys) {
      if (cache.get(key) === "miss") continue;
      assert.ok(!dropped.has(key), `seed ${seed}: ${JSON.stringify(key)} was deleted but is still cached`);
      const value = values.get(key);
      bytes += (value === undefined ? 0 : encoded(value).length) + key.length + ENTRY_OVERHEAD_BYTES;
      entries += 1;
    }
    assert.ok(entries > 0, `seed ${seed}: something is cached`);
    assert.equal(cache.liveBytes, bytes, `seed ${seed}: the live byte count is the sum of the entries held`);
    assert.ok(cache.usedBytes >= cache.liveBytes, `seed ${seed}: the budget counts at least the entries held`);
    assert.equal(cache.size, entries);
    for (const group of groups) cache.deleteGroup(group);
    assert.equal(cache.size, 0);
    assert.equal(cache.liveBytes, 0);
  });

  it("gives a hit's stored bytes as a copy that outlives the segment they were read from", function () {
    const cache = new RecordCache(BUDGET);
    const value = "v".repeat(200);
    cache.set("k", encoded("one"));
    const bytes = cache.getEncoded("k") as Buffer;
    assert.deepEqual(bytes, encoded("one"));
    assert.equal(cache.getEncoded("nothing"), "miss");
    cache.set("gone", undefined);
    assert.equal(cache.getEncoded("gone"), undefined);
    // Enough sets to evict k's segment and reuse its memory for a later one.
    for (let i = 0; i < 500; i++) cache.set(`k${i}`, encoded(value));
    assert.equal(cache.getEncoded("k"), "miss");
    assert.deepEqual(decodeRecord(bytes), record("one"));
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

  it("in front of the store: stored bytes as they are, and bytes that are not a record refused and not cached", async function () {
    const dir = mkdtempSync(join(tmpdir(), "dynamo-cache-"));
    try {
      const store = new Store(dir, { cacheBytesMax: 1024 * 1024 });
      await store.open();
      await store.put(3, "b", Buffer.from("k"), record("one"));
      assert.deepEqual(await store.getEncoded(3, "b", Buffer.from("k")), encoded("one"), "from the cache");
      assert.equal(await store.getEncoded(3, "b", Buffer.from("absent")), undefined);
      await store.close();
      // A damaged record on disk: a replica must refuse it, not pass it on.
      const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
      await db.put(dataKey(3, "b", Buffer.from("bad")), Buffer.from([1, 9, 9]));
      await db.close();
      const reopened = new Store(dir, { cacheBytesMax: 1024 * 1024 });
      await reopened.open();
      assert.deepEqual(await reopened.getEncoded(3, "b", Buffer.from("k")), encoded("one"), "from LevelDB");
      assert.deepEqual(await reopened.getEncoded(3, "b", Buffer.from("k")), encoded("one"), "from the cache it filled");
      for (let i = 0; i < 2; i++) {
        await assert.rejects(reopened.getEncoded(3, "b", Buffer.from("bad")), CorruptRecordError);
        await assert.rejects(reopened.get(3, "b", Buffer.from("bad")), CorruptRecordError);
      }
      await reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
