import assert from "node:assert/strict";
import type { Member, Ring } from "../../../node/ring/index.js";
import { fallbackList, initialClaim, ownedPartitions, preferenceList } from "../../../node/ring/index.js";

function member(id: string): Member {
  return { id, peerUrl: `http://${id}:8081`, clientUrl: `http://${id}:8080`, incarnation: `inc-${id}`, state: "valid" };
}

function ringOf(owners: string[], extraMembers: string[] = []): Ring {
  const ids = [...new Set([...owners, ...extraMembers])];
  return {
    epoch: 1,
    partitions: owners.length,
    owners,
    pending: [],
    members: Object.fromEntries(ids.map((id) => [id, member(id)])),
  };
}

describe("preference lists and fallbacks", () => {
  const ring = ringOf(["a", "b", "a", "c", "b", "d", "a", "e"], ["z", "j"]);

  it("walks clockwise and keeps the first n distinct owners", () => {
    assert.deepEqual(preferenceList(ring, 0, 3), ["a", "b", "c"]);
    assert.deepEqual(preferenceList(ring, 2, 3), ["a", "c", "b"]);
    assert.deepEqual(preferenceList(ring, 4, 2), ["b", "d"]);
  });

  it("wraps around the end of the ring", () => {
    assert.deepEqual(preferenceList(ring, 6, 3), ["a", "e", "b"]);
    assert.deepEqual(preferenceList(ring, 7, 4), ["e", "a", "b", "c"]);
  });

  it("returns fewer members when the ring has fewer distinct owners than n", () => {
    assert.deepEqual(preferenceList(ringOf(["x", "y", "x", "y"]), 1, 3), ["y", "x"]);
    assert.deepEqual(preferenceList(ring, 0, 10), ["a", "b", "c", "d", "e"]);
  });

  it("answers the same list for the same ring, n and partition however often it is asked, and refuses a partition out of range", () => {
    const first = preferenceList(ring, 2, 3);
    assert.equal(preferenceList(ring, 2, 3), first, "the list is kept per ring");
    assert.deepEqual(preferenceList(ring, 2, 2), ["a", "c"], "another n is another list");
    // A copy of the ring with other owners is another ring, with lists of its own.
    assert.deepEqual(preferenceList({ ...ring, owners: ["e", "d", "c", "b", "a", "a", "a", "a"] }, 2, 3), ["c", "b", "a"]);
    assert.throws(() => preferenceList(ring, 8, 3), /outside 0\.\.7/);
    assert.throws(() => preferenceList(ring, -1, 3), /outside/);
    assert.throws(() => preferenceList(ring, 1.5, 3), /outside/);
    // Out of range for any ring: with the lists of n=4 kept, (n=3, 65536) must not be taken for (n=4, 0).
    preferenceList(ring, 0, 4);
    assert.throws(() => preferenceList(ring, 65536, 3), /outside/);
  });

  it("lists fallbacks in the same walk order, then members owning nothing sorted by id", () => {
    assert.deepEqual(fallbackList(ring, 0, 3), ["d", "e", "j", "z"]);
    assert.deepEqual(fallbackList(ring, 7, 2), ["b", "c", "d", "j", "z"]);
    assert.deepEqual(fallbackList(ring, 0, 10), ["j", "z"]);
  });

  it("keeps a ring's fallback lists apart from its preference lists and from other rings' lists", () => {
    const first = fallbackList(ring, 0, 3);
    assert.equal(fallbackList(ring, 0, 3), first, "the list is kept per ring");
    // The same (n, partition) names different lists in the two caches.
    assert.deepEqual(preferenceList(ring, 0, 3), ["a", "b", "c"]);
    assert.deepEqual(fallbackList(ring, 0, 3), ["d", "e", "j", "z"]);
    assert.deepEqual(fallbackList({ ...ring, owners: ["e", "d", "c", "b", "a", "a", "a", "a"] }, 0, 3), ["b", "a", "j", "z"]);
    assert.throws(() => fallbackList(ring, 8, 3), /outside 0\.\.7/);
    fallbackList(ring, 0, 4);
    assert.throws(() => fallbackList(ring, 65536, 3), /outside/);
  });

  it("never repeats a member and, together with the preference list, names every member once", () => {
    const members = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
    const claimed = ringOf(initialClaim(64, members, 3), ["spare"]);
    for (let p = 0; p < 64; p++) {
      for (const n of [1, 3, 5]) {
        const preferred = preferenceList(claimed, p, n);
        const fallbacks = fallbackList(claimed, p, n);
        assert.equal(preferred.length, n);
        assert.equal(preferred[0], claimed.owners[p], "the owner comes first");
        assert.deepEqual([...preferred, ...fallbacks].sort(), [...members, "spare"].sort(), `partition ${p}, n=${n}`);
        assert.equal(fallbacks.at(-1), "spare", "the member that owns nothing comes last");
      }
    }
  });

  it("finds a spaced ring's preference list within n consecutive partitions", () => {
    const claimed = ringOf(initialClaim(256, ["a", "b", "c", "d", "e", "f", "g", "h"], 3));
    for (let p = 0; p < 256; p++) {
      assert.deepEqual(preferenceList(claimed, p, 3), [0, 1, 2].map((d) => claimed.owners[(p + d) % 256]));
    }
  });

  it("lists a member's partitions in ascending order", () => {
    assert.deepEqual(ownedPartitions(ring, "a"), [0, 2, 6]);
    assert.deepEqual(ownedPartitions(ring, "z"), []);
  });

  it("rejects partitions outside the ring and non-positive n", () => {
    assert.throws(() => preferenceList(ring, 8, 3), /outside/);
    assert.throws(() => preferenceList(ring, -1, 3), /outside/);
    assert.throws(() => preferenceList(ring, 0, 0), /positive/);
    assert.throws(() => fallbackList(ring, 0, 0), /positive/);
  });
});
