import assert from "node:assert/strict";
import { PEER_OPS } from "../../../node/protocol/index.js";
import { LocalReplica } from "../../../node/replication/index.js";
import { dataKey, recordId, Store } from "../../../node/storage/index.js";
import type { DynamoError } from "../../../node/errors/index.js";
import { encodeRecord, HybridClock, liveSiblings, merge, update, type VersionedRecord } from "../../../node/versioning/index.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

describe("merging a page of records", function () {
  let temp: TempStore;
  let store: Store;

  beforeEach(async function () {
    temp = await openTempStore("dynamo-mergemany-");
    store = temp.store;
  });
  afterEach(() => removeTempStore(temp));

  it("keeps local versions the page did not see, adds new keys, and reports each change once", async function () {
    const replica = new LocalReplica(store, new HybridClock(), { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 }, { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined });
    const seen: string[] = [];
    replica.onWrite((at) => seen.push(at.key.toString()));
    const ts = { ms: 1, logical: 0 };
    const { record: mine } = await replica.coordinate({ partition: 5, bucket: "b", key: Buffer.from("shared") }, "siblings", {}, { value: Buffer.from("local"), contentType: "text/plain" });
    const theirs = update(undefined, {}, { value: Buffer.from("remote"), contentType: "text/plain", timestamp: ts }, "other-actor");
    const fresh = update(undefined, {}, { value: Buffer.from("new"), contentType: "text/plain", timestamp: ts }, "other-actor");
    seen.length = 0;
    const changed = await replica.mergeMany(5, [
      { bucket: "b", key: Buffer.from("shared"), record: theirs, mode: "siblings" },
      { bucket: "b", key: Buffer.from("fresh"), record: fresh, mode: "siblings" },
      { bucket: "b", key: Buffer.from("same"), record: mine, mode: "siblings" },
    ]);
    assert.equal(changed, 3);
    const shared = (await store.get(5, "b", Buffer.from("shared")))!;
    assert.deepEqual(liveSiblings(shared).map((s) => s.value!.toString()).sort(), ["local", "remote"]);
    assert.equal(liveSiblings((await store.get(5, "b", Buffer.from("fresh")))!)[0]!.value!.toString(), "new");
    assert.deepEqual(seen.sort(), ["fresh", "same", "shared"]);
    assert.equal(await replica.mergeMany(5, [{ bucket: "b", key: Buffer.from("fresh"), record: fresh, mode: "siblings" }]), 0, "merging what is already there changes nothing");
  });

  it("tells whether a partition holds any record, for the janitor, and not once the partition is dropped", async function () {
    const replica = new LocalReplica(store, new HybridClock(), { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 }, { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined });
    await replica.coordinate({ partition: 5, bucket: "b", key: Buffer.from("k") }, "siblings", {}, { value: Buffer.from("v"), contentType: "text/plain" });
    assert.equal(await store.holdsPartition(5), true);
    assert.equal(await store.holdsPartition(4), false, "the partition before it");
    assert.equal(await store.holdsPartition(6), false, "the partition after it");
    await store.dropPartition(5);
    assert.equal(await store.holdsPartition(5), false);
  });

  describe("into a replica that holds nothing yet (the bulk load of a handoff page)", function () {
    const limits = { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 };
    const quiet = { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined };
    const at = (key: string) => ({ partition: 7, bucket: "b", key: Buffer.from(key) });
    const version = (value: string, actor: string, ms = 1) => update(undefined, {}, { value: Buffer.from(value), contentType: "text/plain", timestamp: { ms, logical: 0 } }, actor);
    const page = (records: [string, VersionedRecord][], mode: "siblings" | "lww" = "siblings") =>
      records.map(([key, record]) => ({ bucket: "b", key: Buffer.from(key), record, mode, encoded: encodeRecord(record) }));
    const values = async (key: string) => liveSiblings((await store.get(7, "b", Buffer.from(key)))!).map((s) => s.value!.toString()).sort();

    it("stores every record of the page as sent and reports each to the listeners", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      const seen: string[] = [];
      replica.onWrite((a, before, after) => seen.push(`${a.key.toString()}:${before === undefined}:${liveSiblings(after)[0]!.value!.toString()}`));
      const records = Array.from({ length: 300 }, (_, i): [string, VersionedRecord] => [`k${String(i).padStart(3, "0")}`, version(`v${i}`, "sender")]);
      assert.equal(await replica.mergeMany(7, page(records)), 300);
      for (const [key, record] of records) assert.deepEqual(await store.get(7, "b", Buffer.from(key)), record);
      assert.equal(seen.length, 300);
      assert.ok(seen.every((s) => s.includes(":true:")));
      assert.equal(await replica.mergeMany(7, page(records)), 0, "the same page again changes nothing");
    });

    it("skips a page sent again unchanged (a scale-in back onto old replicas) without writing it or caching it, and merges what differs", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      const records = Array.from({ length: 300 }, (_, i): [string, VersionedRecord] => [`k${String(i).padStart(3, "0")}`, version(`v${i}`, "sender")]);
      assert.equal(await replica.mergeMany(7, page(records)), 300);
      // Since the first copy, one key took a write here and another took one on the sender.
      const [hereKey, hereOld] = records[10]!;
      const here = update(hereOld, hereOld.clock, { value: Buffer.from("written here"), contentType: "text/plain", timestamp: { ms: 2, logical: 0 } }, "writer");
      await replica.merge(at(hereKey), "siblings", here);
      const [thereKey, thereOld] = records[200]!;
      const there = update(thereOld, thereOld.clock, { value: Buffer.from("written there"), contentType: "text/plain", timestamp: { ms: 2, logical: 0 } }, "sender");
      records[200] = [thereKey, there];
      const seen: string[] = [];
      replica.onWrite((a) => seen.push(a.key.toString()));
      const cachedBefore = store.cacheStats().entries;
      const writesBefore = store.writeStats().operations;
      assert.equal(await replica.mergeMany(7, page(records)), 1, "only the key written on the sender changes");
      assert.deepEqual(seen, [thereKey]);
      assert.equal(store.writeStats().operations - writesBefore, 1, "nothing else is written");
      assert.ok(store.cacheStats().entries - cachedBefore <= 1, "the page's unchanged records do not fill the record cache");
      assert.deepEqual(await values(hereKey), ["written here"]);
      assert.deepEqual(await values(thereKey), ["written there"]);
    });

    it("merges, rather than overwrites, keys the replica already holds, newer or concurrent", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      const old = version("old", "sender");
      // The receiver already holds a newer version of `newer` (a write that reached it during the transfer) and a
      // concurrent one of `both`.
      const newer = update(old, old.clock, { value: Buffer.from("newer"), contentType: "text/plain", timestamp: { ms: 2, logical: 0 } }, "writer");
      await replica.merge(at("newer"), "siblings", newer);
      await replica.merge(at("both"), "siblings", version("mine", "writer"));
      await replica.mergeMany(7, page([["both", version("theirs", "sender")], ["fresh", version("fresh", "sender")], ["newer", old]]));
      assert.deepEqual(await values("newer"), ["newer"]);
      assert.deepEqual(await values("both"), ["mine", "theirs"]);
      assert.deepEqual(await values("fresh"), ["fresh"]);
    });

    it("keeps no view into a streamed page's message in what it stores or caches", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      await replica.merge(at("held"), "siblings", version("mine", "writer"));
      // The page as it arrives: decoded from one message, its values views into it.
      const sent = page([["held", version("theirs", "sender")], ["fresh", version("fresh", "sender")]]);
      const message = PEER_OPS.scan.responseBody.encode(sent.map((e) => ({ bucket: e.bucket, key: e.key, record: e.encoded })))!;
      const received = PEER_OPS.scan.responseBody.decode(message).map((e) => Object.assign(e, { mode: "siblings" as const }));
      assert.equal(await replica.mergeMany(7, received), 2);
      // Nothing may depend on the message once the page is handled.
      message.fill(0);
      assert.deepEqual(await values("held"), ["mine", "theirs"], "the merged record, served from the cache, holds its own values");
      assert.deepEqual(await values("fresh"), ["fresh"]);
    });

    it("stores a received page without decoding its records, and decodes those it merges or a listener wants", async function () {
      // A clock whose wall time stands still, so what it observed shows.
      const replica = new LocalReplica(store, new HybridClock(() => 0), limits, quiet);
      await replica.merge(at("k005"), "siblings", version("mine", "writer"));
      const heard: string[] = [];
      let scoped = false;
      replica.onWrite((a) => heard.push(a.key.toString()), () => scoped);
      /** A page as it arrives, each entry counting the reads of its record. */
      const receive = (records: [string, VersionedRecord][]) => {
        const sent = page(records);
        const message = PEER_OPS.scan.responseBody.encode(sent.map((e) => ({ bucket: e.bucket, key: e.key, record: e.encoded })))!;
        const reads = new Set<string>();
        const entries = PEER_OPS.scan.responseBody.decode(message).map((e) => {
          const record = getterOf(e, "record");
          Object.defineProperty(e, "record", { get: () => (reads.add(e.key.toString()), record.call(e)) });
          return Object.assign(e, { mode: "siblings" as const });
        });
        return { entries, reads };
      };
      const records = Array.from({ length: 10 }, (_, i): [string, VersionedRecord] => [`k${String(i).padStart(3, "0")}`, version(`v${i}`, "sender", 50 + i)]);
      const first = receive(records);
      assert.equal(await replica.mergeMany(7, first.entries), 10);
      assert.deepEqual([...first.reads], ["k005"], "only the record merged with a held one is decoded");
      assert.deepEqual(heard, ["k005"], "a listener out of scope hears of merges only");
      assert.deepEqual(await values("k003"), ["v3"]);
      assert.deepEqual(await values("k005"), ["mine", "v5"]);
      assert.deepEqual(replica.clock.peek(), { ms: 59, logical: 0 }, "the clock observed the newest timestamp of the records stored as sent");
      // The same page again: the records held as sent are not decoded; k005, held merged, is decoded and stays as it is.
      const again = receive(records);
      assert.equal(await replica.mergeMany(7, again.entries), 0);
      assert.deepEqual([...again.reads], ["k005"]);
      // A listener in scope hears of records stored as sent, decoded for it.
      heard.length = 0;
      scoped = true;
      const fresh = receive([["k100", version("new", "sender")]]);
      assert.equal(await replica.mergeMany(7, fresh.entries), 1);
      assert.deepEqual(heard, ["k100"]);
      assert.deepEqual([...fresh.reads], ["k100"]);
    });

    it("loses no write that lands on a key of the page while the page is being merged", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      for (let round = 0; round < 20; round++) {
        const keys = Array.from({ length: 100 }, (_, i) => `r${round}-${String(i).padStart(3, "0")}`);
        const target = keys[round * 5]!;
        const sent = version(`sent-${round}`, "sender");
        const written = update(sent, sent.clock, { value: Buffer.from(`written-${round}`), contentType: "text/plain", timestamp: { ms: 2, logical: 0 } }, "writer");
        const concurrent = version(`concurrent-${round}`, "other");
        // The dual write and the page race; whichever takes the key's lock first, the result holds the newer write and
        // the concurrent one.
        const merges = [replica.mergeMany(7, page(keys.map((k): [string, VersionedRecord] => [k, k === target ? sent : version("x", "sender")]))), replica.merge(at(target), "siblings", merge(written, concurrent)!)];
        await Promise.all(round % 2 === 0 ? merges : merges.reverse());
        assert.deepEqual(await values(target), [`concurrent-${round}`, `written-${round}`], `round ${round}`);
      }
    });

    it("resolves a record that is not reconciled for the bucket before storing it", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      const two = merge(version("early", "a", 1), version("late", "b", 5))!;
      assert.equal(two.siblings.length, 2);
      await replica.mergeMany(7, page([["k", two]], "lww"));
      assert.deepEqual(await values("k"), ["late"]);
    });

    it("falls back to reading key by key when the page's range already holds many keys", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      for (let i = 0; i < 50; i++) await replica.merge(at(`k${String(i).padStart(2, "0")}-held`), "siblings", version("held", "writer"));
      await replica.merge(at("k10"), "siblings", version("mine", "writer"));
      await replica.mergeMany(7, page([["k00", version("a", "sender")], ["k10", version("theirs", "sender")], ["k40", version("b", "sender")]]));
      assert.deepEqual(await values("k10"), ["mine", "theirs"]);
      assert.deepEqual(await values("k40"), ["b"]);
    });
  });

  it("reads the stored bytes of a page's keys, in key order or not, in a sparse range or a dense one", async function () {
    const replica = new LocalReplica(store, new HybridClock(), { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 }, { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined });
    // Held: every third key of k00..k59, and 40 keys between k10 and k11 that no page names (a dense stretch).
    for (let i = 0; i < 60; i += 3) await replica.coordinate({ partition: 7, bucket: "b", key: Buffer.from(`k${String(i).padStart(2, "0")}`) }, "siblings", {}, { value: Buffer.from(`v${i}`), contentType: "x" });
    for (let i = 0; i < 40; i++) await replica.coordinate({ partition: 7, bucket: "b", key: Buffer.from(`k10-${i}`) }, "siblings", {}, { value: Buffer.from("x"), contentType: "x" });
    const raw = (key: string) => dataKey(7, "b", Buffer.from(key));
    const expect = async (keys: string[]) => {
      const held = await store.heldEncoded(keys.map(raw), keys.map((k) => recordId(raw(k))), keys.length * 2);
      const want = await store.level.getMany(keys.map(raw));
      assert.deepEqual(held.map((b) => b?.toString("hex")), want.map((b) => b?.toString("hex")), keys.join(","));
    };
    const sparse = ["k20", "k21", "k24", "k30", "k31", "k32", "k33", "k59", "k60"];
    await expect(sparse);
    await expect([...sparse].reverse());
    await expect(["k09", "k10", "k11", "k12"]);
    await expect(["k00"]);
    await expect(["k61", "k62"]);
    assert.deepEqual(await store.heldEncoded([], [], 0), []);
  });

  describe("a version replicated by its coordinator (replicate)", function () {
    const limits = { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 };
    const quiet = { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined };
    const at = (key: string) => ({ partition: 7, bucket: "b", key: Buffer.from(key) });
    const write = (record: VersionedRecord | undefined, value: string, actor: string, ms: number) =>
      update(record, record?.clock ?? {}, { value: Buffer.from(value), contentType: "text/plain", timestamp: { ms, logical: 0 } }, actor);
    const values = async (key: string) => liveSiblings((await store.get(7, "b", Buffer.from(key)))!).map((s) => s.value!.toString()).sort();
    /** The version as a replica receives it, with a count of the times its record was decoded. */
    const receive = (record: VersionedRecord) => {
      const message = Buffer.from(encodeRecord(record));
      const received = PEER_OPS.replicate.requestBody.decode(message);
      let decodes = 0;
      const decode = getterOf(received, "record");
      Object.defineProperty(received, "record", { get: () => (decodes++, decode.call(received)) });
      return { received, message, decodes: () => decodes };
    };

    it("stores a version that has seen the local one in the bytes it came in, decoding nothing", async function () {
      const replica = new LocalReplica(store, new HybridClock(() => 0), limits, quiet);
      const first = write(undefined, "one", "coordinator", 10);
      const absent = receive(first);
      assert.deepEqual(await replica.mergeReceived(at("k"), "siblings", absent.received), { changed: true });
      const second = write(first, "two", "coordinator", 20);
      const newer = receive(second);
      const writesBefore = store.writeStats().operations;
      assert.deepEqual(await replica.mergeReceived(at("k"), "siblings", newer.received), { changed: true });
      assert.equal(absent.decodes() + newer.decodes(), 0, "neither version was decoded");
      assert.equal(store.writeStats().operations - writesBefore, 1);
      assert.deepEqual(await store.getEncoded(7, "b", Buffer.from("k")), encodeRecord(second), "stored as sent");
      assert.deepEqual(replica.clock.peek(), { ms: 20, logical: 0 }, "the clock observed the version's newest timestamp");
      // Nothing stored or cached may view the message.
      newer.message.fill(0);
      assert.deepEqual(await values("k"), ["two"]);
      const again = receive(second);
      assert.deepEqual(await replica.mergeReceived(at("k"), "siblings", again.received), { changed: false }, "the same version again changes nothing");
      assert.equal(store.writeStats().operations - writesBefore, 1, "and writes nothing");
    });

    it("merges a concurrent version, and keeps the local one over an older one", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      const base = write(undefined, "base", "a", 1);
      await replica.merge(at("k"), "siblings", write(base, "local", "a", 2));
      const concurrent = receive(write(base, "remote", "b", 3));
      assert.deepEqual(await replica.mergeReceived(at("k"), "siblings", concurrent.received), { changed: true });
      assert.equal(concurrent.decodes(), 1, "a version that has not seen the local one is decoded and merged");
      assert.deepEqual(await values("k"), ["local", "remote"]);
      assert.deepEqual(await replica.mergeReceived(at("k"), "siblings", receive(base).received), { changed: false });
      assert.deepEqual(await values("k"), ["local", "remote"]);
    });

    it("resolves a last-write-wins version that arrives with siblings, and refuses one over the ceiling", async function () {
      const recordRefusals: number[] = [];
      const small = { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1000 };
      const replica = new LocalReplica(store, new HybridClock(), small, { ...quiet, recordRefusal: (_at, bytes) => recordRefusals.push(bytes) });
      const older = write(undefined, "older", "a", 1);
      const both = merge(older, write(undefined, "newer", "b", 2))!;
      assert.equal(both.siblings.length, 2);
      assert.deepEqual(await replica.mergeReceived(at("lww"), "lww", receive(both).received), { changed: true });
      assert.deepEqual(await values("lww"), ["newer"]);
      const huge = write(undefined, "x".repeat(2500), "a", 5);
      await assert.rejects(replica.mergeReceived(at("huge"), "siblings", receive(huge).received), (err: DynamoError) => err.code === "record_too_large");
      assert.equal(recordRefusals.length, 1);
      assert.equal(await store.get(7, "b", Buffer.from("huge")), undefined);
    });

    it("tells a listener that tracks the partition both versions, decoded", async function () {
      const replica = new LocalReplica(store, new HybridClock(), limits, quiet);
      let tracked = false;
      const heard: string[] = [];
      replica.onWrite(
        (a, before, after) => heard.push(`${a.key.toString()}:${before ? liveSiblings(before)[0]!.value!.toString() : "-"}>${liveSiblings(after)[0]!.value!.toString()}`),
        () => tracked,
      );
      const first = write(undefined, "one", "c", 1);
      await replica.mergeReceived(at("k"), "siblings", receive(first).received);
      assert.deepEqual(heard, [], "a listener out of scope is not told of versions stored as sent");
      tracked = true;
      await replica.mergeReceived(at("k"), "siblings", receive(write(first, "two", "c", 2)).received);
      assert.deepEqual(heard, ["k:one>two"]);
    });
  });

  describe("scanning a partition in pages", function () {
    it("returns every record once, in order, within the record and byte bounds of each page", async function () {
      const replica = new LocalReplica(store, new HybridClock(), { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 }, { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined });
      const keys = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(4, "0")}`);
      for (const key of keys) await replica.coordinate({ partition: 3, bucket: "b", key: Buffer.from(key) }, "siblings", {}, { value: Buffer.alloc(1000, 1), contentType: "x" });
      await replica.coordinate({ partition: 4, bucket: "b", key: Buffer.from("other") }, "siblings", {}, { value: Buffer.from("x"), contentType: "x" });
      for (const [limit, bytesMax] of [[64, 1 << 20], [4096, 50_000], [1000, 1 << 22], [999, 1 << 22]] as const) {
        const seen: string[] = [];
        let after: { bucket: string; key: Buffer } | undefined;
        for (let pages = 0; ; pages++) {
          assert.ok(pages < 1000);
          const p = await store.scanPartitionRaw(3, after, limit, bytesMax);
          assert.ok(p.entries.length <= limit);
          const bytes = p.entries.reduce((sum, e) => sum + e.key.length + e.record.length + 6, 0);
          assert.ok(bytes < bytesMax + 1100, `a page passes its byte bound by one record at most (${bytes})`);
          seen.push(...p.entries.map((e) => e.key.toString()));
          if (p.done) break;
          after = p.last;
        }
        assert.deepEqual(seen, keys, `limit ${limit}, ${bytesMax} bytes`);
      }
    });
  });
});

/** The getter `name` of `object`, wherever on its prototype chain it is defined. */
function getterOf(object: object, name: string): () => unknown {
  for (let proto: object | null = Object.getPrototypeOf(object); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const getter = Object.getOwnPropertyDescriptor(proto, name)?.get;
    if (getter) return getter;
  }
  throw new Error(`no getter '${name}'`);
}
