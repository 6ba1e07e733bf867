import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalReplica } from "../../../node/replication/index.js";
import { Store } from "../../../node/storage/index.js";
import { HybridClock, liveSiblings, update } from "../../../node/versioning/index.js";

describe("merging a page of records", function () {
  let dir: string;
  let store: Store;

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-mergemany-"));
    store = new Store(dir);
    await store.open();
  });
  afterEach(async function () {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps local versions the page did not see, adds new keys, and reports each change once", async function () {
    const replica = new LocalReplica(store, new HybridClock(), { siblingsWarn: 25, siblingsMax: 100, recordBytesMax: 1 << 20 }, { siblingWarning: () => undefined, siblingRefusal: () => undefined, recordRefusal: () => undefined });
    const seen: string[] = [];
    replica.onWrite((at) => seen.push(at.key.toString()));
    const ts = { ms: 1, logical: 0 };
    const mine = await replica.coordinate({ partition: 5, bucket: "b", key: Buffer.from("shared") }, "siblings", {}, { value: Buffer.from("local"), contentType: "text/plain" });
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
});
