import assert from "node:assert/strict";
import type { Member, Ring } from "../../../node/ring/index.js";
import { createRing, newestRing, parseRing, partitionsPerMember, spacingViolations } from "../../../node/ring/index.js";
import { DynamoError } from "../../../node/errors/index.js";

function member(id: string): Member {
  return { id, peerUrl: `http://127.0.0.2:${8081}`, clientUrl: `http://127.0.0.2:${8080}`, incarnation: `inc-${id}`, state: "valid" };
}

function goodRing(): Ring {
  return createRing({ partitions: 16, members: ["a", "b", "c", "d"].map(member), targetN: 3 });
}

/** Asserts that parseRing rejects `input` with an invalid_request error whose message matches every pattern. */
function assertRejected(input: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseRing(input),
    (error: unknown) => {
      assert.ok(error instanceof DynamoError, "a DynamoError");
      assert.equal(error.code, "invalid_request");
      assert.equal(error.httpStatus, 400);
      for (const pattern of patterns) assert.match(error.message, pattern);
      return true;
    },
  );
}

describe("ring values", () => {
  it("creates epoch 1 with a balanced, spaced layout, no transfers and every member valid", () => {
    const ring = createRing({ partitions: 64, members: ["d", "a", "c", "b", "e"].map((id) => ({ ...member(id), state: "joining" as const })), targetN: 3 });
    assert.equal(ring.epoch, 1);
    assert.equal(ring.owners.length, 64);
    assert.deepEqual(ring.pending, []);
    assert.deepEqual(Object.keys(ring.members).sort(), ["a", "b", "c", "d", "e"]);
    assert.ok(Object.values(ring.members).every((m) => m.state === "valid"));
    assert.deepEqual(Object.values(partitionsPerMember(ring.owners)).sort(), [12, 13, 13, 13, 13]);
    assert.deepEqual(spacingViolations(ring.owners, 3), []);
  });

  it("accepts a ring it created, and one that went through JSON", () => {
    const ring = goodRing();
    assert.deepEqual(parseRing(ring), ring);
    assert.deepEqual(parseRing(JSON.parse(JSON.stringify(ring))), ring);
  });

  it("rejects partition counts that are not powers of two, naming the field", () => {
    const ring = goodRing();
    assertRejected({ ...ring, partitions: 12, owners: ring.owners.slice(0, 12) }, /partitions/, /power of two/);
    assertRejected({ ...ring, partitions: 131072 }, /partitions/);
  });

  it("rejects an owners array whose length is not the partition count", () => {
    const ring = goodRing();
    assertRejected({ ...ring, owners: ring.owners.slice(1) }, /owners/, /15 entries for 16 partitions/);
  });

  it("rejects owners and transfer targets that are not members", () => {
    const ring = goodRing();
    const owners = [...ring.owners];
    owners[3] = "ghost";
    assertRejected({ ...ring, owners }, /not members: ghost/);
    assertRejected({ ...ring, pending: [{ partition: 1, from: "a", to: "phantom", kind: "ownership" }] }, /phantom/);
  });

  it("rejects transfers of partitions outside the ring", () => {
    assertRejected({ ...goodRing(), pending: [{ partition: 16, from: "a", to: "b", kind: "ownership" }] }, /partition 16/);
  });

  it("rejects a member listed under another id, bad URLs and unknown fields", () => {
    const ring = goodRing();
    assertRejected({ ...ring, members: { ...ring.members, a: member("z") } }, /members\.a/);
    assertRejected({ ...ring, members: { ...ring.members, a: { ...member("a"), peerUrl: "not a url" } } }, /peerUrl/);
    assertRejected({ ...ring, surprise: true }, /surprise|unrecognized/i);
  });

  it("keeps members' zones, accepts rings without them, and rejects a zone that is not a label value", () => {
    const zoned = createRing({ partitions: 16, members: ["a", "b", "c"].map((id, i) => ({ ...member(id), zone: ["z1", "z2", "z3"][i] })), targetN: 3 });
    assert.deepEqual(parseRing(JSON.parse(JSON.stringify(zoned))).members.b?.zone, "z2");
    assert.equal(parseRing(goodRing()).members.a?.zone, undefined);
    assertRejected({ ...zoned, members: { ...zoned.members, a: { ...zoned.members.a, zone: "eu west" } } }, /members\.a\.zone/, /zone names/);
  });

  it("rejects things that are not rings at all", () => {
    assertRejected(null);
    assertRejected("ring");
    assertRejected({ ...goodRing(), epoch: 0 }, /epoch/);
  });
});

describe("creating a ring", () => {
  const create = (partitions: number, ids: string[], targetN = 3): Ring => createRing({ partitions, members: ids.map(member), targetN });

  it("refuses partition counts that are not powers of two, no members, repeated ids and a bad targetN", () => {
    const invalid = (fn: () => unknown, pattern: RegExp): void => {
      assert.throws(fn, (error: unknown) => error instanceof DynamoError && error.code === "invalid_request" && pattern.test(error.message));
    };
    invalid(() => create(100, ["a"]), /power of two/);
    invalid(() => create(131072, ["a"]), /power of two/);
    invalid(() => create(16, []), /at least one member/);
    invalid(() => create(16, ["a", "b", "a"]), /'a' appears more than once/);
    invalid(() => create(16, ["a"], 0), /targetN/);
  });
});

describe("the newest ring the nodes hold", () => {
  const base = goodRing();
  const at = (epoch: number, term?: number): Ring => ({ ...base, epoch, ...(term !== undefined && { term }) });

  it("is the highest epoch among rings of one term, whoever answered", () => {
    assert.equal(newestRing([at(3), undefined, at(5), at(4)])?.epoch, 5);
    assert.equal(newestRing([undefined, undefined]), undefined);
    assert.equal(newestRing([]), undefined);
  });

  it("is the ring of the highest term even at a lower epoch: a fenced driver's later epochs do not count", () => {
    const picked = newestRing([at(9, 1), at(7, 2), at(8, 1)]);
    assert.deepEqual([picked?.epoch, picked?.term], [7, 2]);
  });
});
