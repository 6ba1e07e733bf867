import assert from "node:assert/strict";
import { canonicalMembers, minimumMoves, movedPartitions, partitionsPerMember, quotasFor } from "../../../node/ring/index.js";

describe("ring balance", () => {
  it("counts partitions per owner", () => {
    assert.deepEqual(partitionsPerMember(["a", "b", "a", "c", "a"]), { a: 3, b: 1, c: 1 });
    assert.deepEqual(partitionsPerMember([]), {});
  });

  it("puts members in one canonical order whatever order they come in", () => {
    assert.deepEqual(canonicalMembers(["c", "a", "b", "a"]), ["a", "b", "c"]);
    assert.deepEqual(canonicalMembers(["B", "a", "A"]), ["A", "B", "a"]);
    assert.throws(() => canonicalMembers(["a", ""]), /non-empty/);
  });

  it("gives the larger quotas to the members that own the most now", () => {
    // 10 partitions over 3 members: quotas 4, 3, 3. b owns most, so b keeps the 4.
    const owners = ["b", "b", "b", "b", "b", "a", "a", "c", "c", "x"];
    assert.deepEqual(quotasFor(owners, ["a", "b", "c"]), [3, 4, 3]);
    // Ties go to the smaller id.
    assert.deepEqual(quotasFor(["x", "x", "x", "x", "x"], ["a", "b", "c"]), [2, 2, 1]);
  });

  it("computes the minimum moves of the Riak 5 -> 6 example on 32 partitions as 5", () => {
    const five = Array.from({ length: 32 }, (_, p) => ["a", "b", "c", "d", "e"][p % 5] as string);
    assert.equal(minimumMoves(five, ["a", "b", "c", "d", "e", "f"]), 5);
  });

  it("counts every partition of a departing member plus the surplus of the others", () => {
    // a leaves (3 partitions); b owns 4 of 7 partitions with quota 4 over two members: nothing else must move.
    assert.equal(minimumMoves(["a", "b", "a", "b", "a", "b", "b"], ["b", "c"]), 3);
    // Already balanced: nothing moves.
    assert.equal(minimumMoves(["a", "b", "c", "a", "b", "c", "a", "b"], ["a", "b", "c"]), 0);
    // Everyone is new: everything moves.
    assert.equal(minimumMoves(["a", "a", "a", "a"], ["x", "y"]), 4);
  });

  it("lists the partitions whose owner changed", () => {
    assert.deepEqual(movedPartitions(["a", "b", "c", "d"], ["a", "x", "c", "y"]), [1, 3]);
    assert.throws(() => movedPartitions(["a"], ["a", "b"]), /length/);
  });
});
