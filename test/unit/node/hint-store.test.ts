import assert from "node:assert/strict";
import { HintStore, hintKey } from "../../../node/handoff/hint-store.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

const LIMITS = { countMax: 1000, bytesMax: 1 << 30 };
const noEvents = { refused: () => undefined };

function ref(i: number, bytes: number, owner = "node-b") {
  return { owner, partition: i % 7, bucket: "default", key: Buffer.from(`key-${i}`), bytes };
}

/** The marker LevelDB holds for `r`, as the record bytes it counts. */
async function onDisk(temp: TempStore, r: ReturnType<typeof ref>): Promise<number | undefined> {
  return (await temp.store.getRaw(hintKey(r.owner, r.partition, r.bucket, r.key)))?.readUInt32BE(0);
}

describe("HintStore", function () {
  let temp: TempStore;

  beforeEach(async function () {
    temp = await openTempStore("dynamo-hints-");
  });

  afterEach(async function () {
    await removeTempStore(temp);
  });

  it("counts a key's marker once, however often it is added, and keeps its latest size on disk", async function () {
    const hints = new HintStore(temp.store, LIMITS, noEvents);
    assert.equal(await hints.add(ref(1, 100)), true);
    assert.equal(await hints.add(ref(1, 100)), true);
    assert.deepEqual(hints.stats(), { count: 1, bytes: 100, byOwner: { "node-b": { count: 1, bytes: 100 } } });
    assert.equal(await hints.add(ref(1, 250)), true);
    assert.deepEqual(hints.stats(), { count: 1, bytes: 250, byOwner: { "node-b": { count: 1, bytes: 250 } } });
    assert.equal(await onDisk(temp, ref(1, 0)), 250);
    await hints.remove(ref(1, 0));
    await hints.remove(ref(1, 0));
    assert.deepEqual(hints.stats(), { count: 0, bytes: 0, byOwner: {} });
    assert.equal(await onDisk(temp, ref(1, 0)), undefined);
  });

  it("reads back from disk the markers it no longer remembers, and keeps the counts exact", async function () {
    // Remembers two markers: the others are read back from LevelDB when added or removed again.
    const hints = new HintStore(temp.store, LIMITS, noEvents, 2);
    for (let i = 0; i < 6; i++) await hints.add(ref(i, 10 + i));
    assert.deepEqual(hints.stats().count, 6);
    assert.deepEqual(hints.stats().bytes, 10 + 11 + 12 + 13 + 14 + 15);
    // Key 0 was forgotten long ago; adding it again with a new size must not count a seventh marker.
    await hints.add(ref(0, 40));
    assert.equal(hints.stats().count, 6);
    assert.equal(hints.stats().bytes, 40 + 11 + 12 + 13 + 14 + 15);
    assert.equal(await onDisk(temp, ref(0, 0)), 40);
    for (let i = 0; i < 6; i++) await hints.remove(ref(i, 0));
    assert.deepEqual(hints.stats(), { count: 0, bytes: 0, byOwner: {} });
    for (let i = 0; i < 6; i++) assert.equal(await onDisk(temp, ref(i, 0)), undefined, `marker ${i} left on disk`);
  });

  it("counts the markers an earlier process left, and does not count them again when they are added", async function () {
    const first = new HintStore(temp.store, LIMITS, noEvents);
    await first.add(ref(1, 100));
    await first.add(ref(2, 200, "node-c"));
    const second = new HintStore(temp.store, LIMITS, noEvents);
    await second.load();
    assert.equal(second.stats().count, 2);
    await second.add(ref(1, 100));
    await second.add(ref(2, 300, "node-c"));
    assert.deepEqual(second.stats(), { count: 2, bytes: 400, byOwner: { "node-b": { count: 1, bytes: 100 }, "node-c": { count: 1, bytes: 300 } } });
  });

  it("refuses a new marker past its count bound but still updates one it holds", async function () {
    const refused: string[] = [];
    const hints = new HintStore(temp.store, { countMax: 2, bytesMax: 1 << 30 }, { refused: (_owner, reason) => refused.push(reason) });
    assert.equal(await hints.add(ref(1, 10)), true);
    assert.equal(await hints.add(ref(2, 10)), true);
    assert.equal(await hints.add(ref(3, 10)), false);
    assert.match(refused[0] ?? "", /holds 2 hints \(limit 2\)/);
    assert.equal(await hints.add(ref(2, 20)), true);
    assert.equal(hints.stats().count, 2);
    assert.equal(await onDisk(temp, ref(3, 0)), undefined);
  });
});
