import assert from "node:assert/strict";
import { HashTree, keyHash, LEAVES_BYTES, versionHash } from "../../../node/anti-entropy/hash-tree.js";
import { keyDigest } from "../../../node/ring/hash.js";
import { update } from "../../../node/versioning/index.js";
import type { VersionedRecord } from "../../../node/versioning/types.js";

const value = Buffer.from("v");
const first = update(undefined, {}, { value, contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }, "actor-b");
const other = update(undefined, {}, { value, contentType: "text/plain", timestamp: { ms: 2, logical: 0 } }, "actor-a");
const siblings: VersionedRecord = { clock: { ...first.clock, ...other.clock }, siblings: [...first.siblings, ...other.siblings] };
const deleted = update(first, first.clock, { value: null, contentType: "text/plain", timestamp: { ms: 3, logical: 0 } }, "actor-c");

describe("anti-entropy key hashes", function () {
  it("are the bytes every node compares: fixed values, so a node of another version agrees", function () {
    // Computed by the first implementation (Hash objects); a change here would make replicas of different versions
    // see every key as different and exchange them all.
    const key = Buffer.from("user1");
    const hex = (record: VersionedRecord): [number, string] => {
      const h = keyHash("default", key, record);
      return [h.segment, h.hash.toString("hex")];
    };
    assert.deepEqual(hex(first), [274, "10b44bd20c75c146"]);
    assert.deepEqual(hex(siblings), [274, "dbcfc1b5c1087e06"]);
    assert.deepEqual(hex(deleted), [274, "c3cb3a30950ef37b"]);
    const odd = keyHash("b-\u00e9", Buffer.from([0, 255, 1]), first);
    assert.deepEqual([odd.segment, odd.hash.toString("hex")], [87, "9ddc5f8c5476db51"]);
  });

  it("split into the key's digest and the version's hash, give what keyHash gives", function () {
    const digest = keyDigest("default", Buffer.from("user1"));
    for (const record of [first, siblings, deleted]) assert.deepEqual(versionHash(digest, record), keyHash("default", Buffer.from("user1"), record));
  });

  it("fold out what they folded in: a tree of one version rewritten is the tree of the new version alone", function () {
    const key = Buffer.from("user1");
    const rewritten = new HashTree();
    rewritten.fold(keyHash("default", key, first));
    rewritten.fold(keyHash("default", key, first));
    rewritten.fold(keyHash("default", key, deleted));
    const fresh = new HashTree();
    fresh.fold(keyHash("default", key, deleted));
    assert.equal(rewritten.leaves.length, LEAVES_BYTES);
    assert.deepEqual(rewritten.leaves, fresh.leaves);
    assert.notDeepEqual(fresh.leaves, new HashTree().leaves);
  });
});
