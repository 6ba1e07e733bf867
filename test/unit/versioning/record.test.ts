import assert from "node:assert/strict";
import {
  DEFAULT_SIBLING_LIMITS,
  forgotOwnWrites,
  isReapable,
  isTombstoneOnly,
  liveSiblings,
  merge,
  reconcile,
  resolveLww,
  sameVersion,
  siblingCheck,
  update,
  type VersionedRecord,
} from "../../../node/versioning/index.js";
import { cloneRecord, del, dots, put, values } from "./fixtures.js";

describe("versioning: update", () => {
  it("gives a first write the dot (actor, 1)", () => {
    const record = update(undefined, {}, put("v1"), "A");
    assert.deepEqual(record.clock, { A: 1 });
    assert.deepEqual(dots(record), ["A:1"]);
    assert.deepEqual(values(record), ["v1"]);
  });

  it("replaces the siblings a context covers", () => {
    const first = update(undefined, {}, put("v1"), "A");
    const second = update(first, first.clock, put("v2"), "A");
    assert.deepEqual(dots(second), ["A:2"]);
    assert.deepEqual(second.clock, { A: 2 });
  });

  it("keeps a blind write as a sibling of everything", () => {
    const first = update(undefined, {}, put("v1"), "A");
    const blind = update(first, {}, put("v2"), "A");
    assert.deepEqual(dots(blind), ["A:1", "A:2"]);
    assert.deepEqual(values(blind), ["v1", "v2"]);
  });

  it("keeps siblings the context has not seen and replaces those it has", () => {
    const a = update(undefined, {}, put("a"), "A");
    const ab = merge(a, update(undefined, {}, put("b"), "B")) as VersionedRecord;
    const readOfA = { A: 1 };
    const next = update(ab, readOfA, put("c"), "C");
    assert.deepEqual(dots(next), ["B:1", "C:1"]);
    assert.deepEqual(next.clock, { A: 1, B: 1, C: 1 });
  });

  it("takes the new counter past both the local clock and the context", () => {
    const local = update(undefined, {}, put("v1"), "A");
    const next = update(local, { A: 7, B: 3 }, put("v2"), "A");
    assert.deepEqual(dots(next), ["A:8"]);
    assert.deepEqual(next.clock, { A: 8, B: 3 });
  });

  it("honours a counter floor so a forgotten key never reuses a counter", () => {
    const record = update(undefined, {}, put("v"), "A", { counterFloor: 41 });
    assert.deepEqual(dots(record), ["A:42"]);
    assert.throws(() => update(undefined, {}, put("v"), "A", { counterFloor: Number.NaN }), /not usable/);
    assert.throws(() => update(undefined, {}, put("v"), "A", { counterFloor: Number.MAX_SAFE_INTEGER }), /not usable/);
  });

  it("stores a delete as a tombstone sibling", () => {
    const first = update(undefined, {}, put("v1"), "A");
    const deleted = update(first, first.clock, del(), "B");
    assert.deepEqual(values(deleted), [null]);
    assert.ok(isTombstoneOnly(deleted));
    assert.deepEqual(liveSiblings(deleted), []);
  });

  it("does not modify its inputs", () => {
    const local = update(undefined, {}, put("v1"), "A");
    const context = { ...local.clock };
    const snapshot = cloneRecord(local);
    update(local, context, put("v2"), "B");
    assert.deepEqual(local, snapshot);
    assert.deepEqual(context, { A: 1 });
  });

  it("refuses an unusable actor id", () => {
    assert.throws(() => update(undefined, {}, put("v"), ""), /invalid actor/);
    assert.throws(() => update(undefined, {}, put("v"), "__proto__"), /invalid actor/);
  });

  it("treats actors named like Object.prototype members as ordinary actors", () => {
    const first = update(undefined, {}, put("v1"), "constructor");
    const second = update(first, {}, put("v2"), "toString");
    assert.deepEqual(dots(second), ["constructor:1", "toString:1"]);
    assert.deepEqual(second.clock, { constructor: 1, toString: 1 });
  });
});

describe("versioning: merge", () => {
  it("treats a missing record as the empty state", () => {
    const record = update(undefined, {}, put("v"), "A");
    assert.equal(merge(record, undefined), record);
    assert.equal(merge(undefined, record), record);
    assert.equal(merge(undefined, undefined), undefined);
  });

  it("keeps concurrent writes from two replicas as siblings in dot order", () => {
    const b = update(undefined, {}, put("b"), "B");
    const a = update(undefined, {}, put("a"), "A");
    const merged = merge(b, a) as VersionedRecord;
    assert.deepEqual(dots(merged), ["A:1", "B:1"]);
    assert.deepEqual(merged.clock, { A: 1, B: 1 });
  });

  it("drops a sibling the other side has seen and replaced", () => {
    const old = update(undefined, {}, put("old"), "A");
    const replaced = update(undefined, old.clock, put("new"), "B");
    assert.deepEqual(dots(merge(old, replaced)), ["B:1"]);
    assert.deepEqual(dots(merge(replaced, old)), ["B:1"]);
  });

  it("keeps a sibling both sides hold once", () => {
    const record = update(undefined, {}, put("v"), "A");
    const copy = cloneRecord(record);
    assert.deepEqual(merge(record, copy), record);
  });
});

describe("versioning: last writer wins", () => {
  const concurrent = (): VersionedRecord => {
    const a = update(undefined, {}, put("a", 2000), "A");
    const b = update(undefined, {}, put("b", 1000), "B");
    const c = update(undefined, {}, put("c", 2000, 1), "C");
    return merge(merge(a, b), c) as VersionedRecord;
  };

  it("keeps the sibling with the greatest timestamp and leaves the clock alone", () => {
    const record = concurrent();
    const resolved = resolveLww(record);
    assert.deepEqual(values(resolved), ["c"]);
    assert.deepEqual(resolved.clock, record.clock);
  });

  it("breaks timestamp ties by actor, then counter", () => {
    const a = update(undefined, {}, put("a", 5000), "A");
    const b = update(undefined, {}, put("b", 5000), "B");
    assert.deepEqual(values(resolveLww(merge(b, a) as VersionedRecord)), ["b"]);
    const a2 = update(a, {}, put("a2", 5000), "A");
    assert.deepEqual(values(resolveLww(a2)), ["a2"]);
  });

  it("lets a newer tombstone win", () => {
    const value = update(undefined, {}, put("v", 1000), "A");
    const tombstone = update(undefined, {}, del(3000), "B");
    const resolved = resolveLww(merge(value, tombstone) as VersionedRecord);
    assert.ok(isTombstoneOnly(resolved));
  });

  it("does not bring a discarded sibling back on a later sync", () => {
    const record = concurrent();
    const resolved = resolveLww(record);
    assert.deepEqual(dots(merge(resolved, record)), dots(resolved));
  });

  it("is applied by reconcile only for lww buckets", () => {
    const record = concurrent();
    assert.equal(reconcile(record, "siblings"), record);
    assert.deepEqual(reconcile(record, "lww"), resolveLww(record));
  });
});

describe("versioning: reads and read repair", () => {
  it("lists live siblings without tombstones", () => {
    const value = update(undefined, {}, put("v"), "A");
    const both = update(value, {}, del(), "B");
    assert.deepEqual(
      liveSiblings(both).map((sibling) => sibling.value?.toString()),
      ["v"],
    );
    assert.equal(isTombstoneOnly(both), false);
  });

  it("treats a record with no siblings as holding no value", () => {
    assert.ok(isTombstoneOnly({ clock: { A: 1 }, siblings: [] }));
  });

  it("recognizes the same version regardless of clock key order or copies", () => {
    const a = merge(update(undefined, {}, put("a"), "A"), update(undefined, {}, put("b"), "B")) as VersionedRecord;
    const copy: VersionedRecord = { clock: { B: 1, A: 1 }, siblings: cloneRecord(a).siblings.reverse() };
    assert.ok(sameVersion(a, copy));
    assert.ok(sameVersion(undefined, undefined));
  });

  it("tells a stale or missing replica from a current one", () => {
    const old = update(undefined, {}, put("v1"), "A");
    const current = update(old, old.clock, put("v2"), "A");
    assert.equal(sameVersion(old, current), false);
    assert.equal(sameVersion(undefined, current), false);
    assert.equal(sameVersion(current, undefined), false);
    const sameClockFewerSiblings: VersionedRecord = { clock: current.clock, siblings: [] };
    assert.equal(sameVersion(sameClockFewerSiblings, current), false);
  });
});

describe("versioning: sibling limits", () => {
  const withSiblings = (count: number): VersionedRecord => {
    let record: VersionedRecord | undefined;
    for (let index = 0; index < count; index++) record = update(record, {}, put(`v${index}`), "A");
    return record as VersionedRecord;
  };

  it("defaults to warn above 25 and refuse above 100", () => {
    assert.deepEqual({ ...DEFAULT_SIBLING_LIMITS }, { warn: 25, max: 100 });
    assert.equal(siblingCheck(withSiblings(25)), "ok");
    assert.equal(siblingCheck(withSiblings(26)), "warn");
    assert.equal(siblingCheck(withSiblings(100)), "warn");
    assert.equal(siblingCheck(withSiblings(101)), "refuse");
  });

  it("counts tombstones as siblings", () => {
    let record = withSiblings(2);
    record = update(record, {}, del(), "B");
    assert.equal(siblingCheck(record, { warn: 1, max: 2 }), "refuse");
  });

  it("lets a write with a covering context bring a key back under the limit", () => {
    const crowded = withSiblings(101);
    assert.equal(siblingCheck(update(crowded, crowded.clock, put("resolved"), "A")), "ok");
  });
});

describe("versioning: tombstone reaping", () => {
  const deletedAt = (ms: number): VersionedRecord => {
    const value = update(undefined, {}, put("v", ms - 10), "A");
    return update(value, value.clock, del(ms), "A");
  };

  it("reaps a tombstone-only record once the grace period has passed", () => {
    assert.equal(isReapable(deletedAt(1000), 1000 + 5000, 5000), false);
    assert.equal(isReapable(deletedAt(1000), 1000 + 5001, 5000), true);
  });

  it("measures the grace period from the newest tombstone", () => {
    const older = deletedAt(1000);
    const both = update(older, {}, del(9000), "B");
    assert.equal(isReapable(both, 7000, 5000), false);
    assert.equal(isReapable(both, 14001, 5000), true);
  });

  it("never reaps a record that still holds a value, or one with no siblings", () => {
    const mixed = update(deletedAt(1000), {}, put("alive", 1000), "B");
    assert.equal(isReapable(mixed, 1e12, 0), false);
    assert.equal(isReapable({ clock: {}, siblings: [] }, 1e12, 0), false);
  });
});

describe("versioning: a node that forgets its writes (Riak kv679)", () => {
  // Replica X coordinates two writes under actor "X"; replica Y has both. X's disk is then wiped.
  const history = (): { y: VersionedRecord } => {
    const first = update(undefined, {}, put("v1"), "X");
    const second = update(first, first.clock, put("v2"), "X");
    return { y: second };
  };

  it("loses an acknowledged write if the wiped node keeps its actor id", () => {
    const { y } = history();
    const reborn = update(undefined, {}, put("after wipe"), "X");
    assert.deepEqual(dots(reborn), ["X:1"]);
    const synced = merge(y, reborn);
    assert.deepEqual(values(synced), ["v2"], "Y has seen X:1, so the new write is taken for an old one and erased");
  });

  it("keeps the write when the wiped node comes back under a new actor id", () => {
    const { y } = history();
    const reborn = update(undefined, {}, put("after wipe"), "X'");
    assert.deepEqual(values(merge(y, reborn)), ["v2", "after wipe"]);
  });

  it("detects the loss when a client's context names a dot the node no longer has", () => {
    const { y } = history();
    assert.equal(forgotOwnWrites(undefined, y.clock, "X"), true);
    assert.equal(forgotOwnWrites(y, y.clock, "X"), false);
    assert.equal(forgotOwnWrites(undefined, {}, "X"), false);
  });
});
