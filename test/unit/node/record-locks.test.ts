import assert from "node:assert/strict";
import { dataKey, recordId, Store } from "../../../node/storage/index.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

describe("record locks", function () {
  let temp: TempStore;
  let store: Store;
  beforeEach(async function () {
    temp = await openTempStore("dynamo-locks-");
    store = temp.store;
  });
  afterEach(() => removeTempStore(temp));

  const item = (key: string) => recordId(dataKey(7, "b", Buffer.from(key)));
  const turns = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  /** A holder that keeps its lock until `release` is called, and logs when it runs. */
  function holder(log: string[], name: string) {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    return {
      release,
      run: async () => {
        log.push(`${name} runs`);
        await released;
        log.push(`${name} done`);
      },
    };
  }

  it("makes a page wait for a key someone holds, and a later caller of any of its keys wait for the page", async function () {
    const log: string[] = [];
    const single = holder(log, "single k2");
    const page = holder(log, "page");
    const first = store.withRecordLock(7, "b", Buffer.from("k2"), single.run);
    const paged = store.withRecordLocks([item("k1"), item("k2"), item("k3")], page.run);
    const later = store.withRecordLock(7, "b", Buffer.from("k3"), async () => void log.push("later k3 runs"));
    const other = store.withRecordLock(7, "b", Buffer.from("k9"), async () => void log.push("k9 runs"));
    await turns(5);
    assert.deepEqual(log, ["single k2 runs", "k9 runs"], "the page waits for k2; k3 waits for the page; k9 is free");
    single.release();
    await first;
    await turns(5);
    assert.deepEqual(log.slice(2), ["single k2 done", "page runs"]);
    page.release();
    await Promise.all([paged, later, other]);
    assert.deepEqual(log.slice(4), ["page done", "later k3 runs"]);
  });

  it("runs two pages that share keys one after the other, whatever order each names its keys in", async function () {
    const log: string[] = [];
    const a = holder(log, "a");
    const b = holder(log, "b");
    const pageA = store.withRecordLocks([item("k1"), item("k2"), item("k3")], a.run);
    const pageB = store.withRecordLocks([item("k3"), item("k2"), item("k1")], b.run);
    await turns(5);
    assert.deepEqual(log, ["a runs"]);
    a.release();
    await pageA;
    await turns(5);
    assert.deepEqual(log, ["a runs", "a done", "b runs"]);
    b.release();
    await pageB;
  });

  it("hands a key on when the holder fails", async function () {
    await assert.rejects(
      store.withRecordLocks([item("k1")], async () => {
        throw new Error("merge failed");
      }),
      /merge failed/,
    );
    let ran = false;
    await store.withRecordLock(7, "b", Buffer.from("k1"), async () => void (ran = true));
    assert.ok(ran);
  });

  it("takes a key a page names twice once, and leaves every key free for the next caller", async function () {
    const log: string[] = [];
    const page = holder(log, "page");
    const paged = store.withRecordLocks([item("k1"), item("k2"), item("k1")], page.run);
    const waiting = store.withRecordLock(7, "b", Buffer.from("k1"), async () => void log.push("k1 runs"));
    await turns(5);
    assert.deepEqual(log, ["page runs"], "the page holds k1, once");
    page.release();
    await Promise.all([paged, waiting]);
    assert.deepEqual(log, ["page runs", "page done", "k1 runs"]);
    // With every holder gone, another page and a single caller take the keys at once.
    const again: string[] = [];
    await Promise.all([
      store.withRecordLocks([item("k2"), item("k3")], async () => void again.push("page")),
      store.withRecordLock(7, "b", Buffer.from("k4"), async () => void again.push("k4")),
    ]);
    assert.deepEqual(again.sort(), ["k4", "page"]);
  });
});
