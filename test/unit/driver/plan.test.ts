import assert from "node:assert/strict";
import { finalize, isSettled, planStillWanted, refreshMembers, replan, transferLimitFor, transfersFor, type NodeReport } from "../../../driver/index.js";
import { createRing, preferenceList } from "../../../node/ring/index.js";
import type { Ring } from "../../../node/ring/types.js";

const Q = 64;
const N = 3;

function report(id: string, extra: Partial<NodeReport> = {}): NodeReport {
  return { id, peerUrl: `http://${id}:8081`, clientUrl: `http://${id}:8080`, incarnation: `inc-${id}`, rebuild: "none", ...extra };
}

function reports(ids: string[]): Map<string, NodeReport> {
  return new Map(ids.map((id) => [id, report(id)]));
}

function ring(ids: string[]): Ring {
  return createRing({ partitions: Q, members: ids.map((id) => ({ ...report(id), state: "valid" as const })), targetN: N });
}

describe("RingDriver decisions", function () {
  const three = ring(["a", "b", "c"]);

  it("a join plans one transfer for every partition whose replica set gains the new member, from a current replica", function () {
    const next = replan(three, ["a", "b", "c", "d"], reports(["a", "b", "c", "d"]), N)!;
    assert.equal(next.epoch, 2);
    assert.deepEqual(next.owners, three.owners, "owners stay authoritative until the plan is finalized");
    assert.equal(next.members.d!.state, "joining");
    const future = { ...next, owners: next.nextOwners! };
    for (let p = 0; p < Q; p++) {
      const gained = preferenceList(future, p, N).filter((id) => !preferenceList(three, p, N).includes(id));
      const planned = next.pending.filter((t) => t.partition === p);
      assert.deepEqual(planned.map((t) => t.to).sort(), gained.sort(), `partition ${p}`);
      for (const t of planned) assert.ok(preferenceList(three, p, N).includes(t.from), "sources are current replicas");
    }
    assert.ok(next.pending.every((t) => t.to === "d"));
  });

  it("splits the cluster's transfer budget between the receiving members", function () {
    const pending = transfersFor(three, replan(three, ["a", "b", "c", "d"], reports(["a", "b", "c", "d"]), N)!.nextOwners!, N);
    assert.equal(transferLimitFor(pending, 8), 8, "one receiver gets the whole budget");
    assert.equal(transferLimitFor([...pending, { partition: 0, from: "a", to: "e", kind: "ownership" }], 8), 4);
    assert.equal(transferLimitFor([...pending, { partition: 0, from: "a", to: "e", kind: "ownership" }], 1), 1, "never below one");
  });

  it("finalizing makes the plan the owners, keeps members that are desired, drops what is done, and settles", function () {
    const planned = replan(three, ["a", "b", "c", "d"], reports(["a", "b", "c", "d"]), N)!;
    const done = finalize(planned, ["a", "b", "c", "d"]);
    assert.equal(done.epoch, 3);
    assert.deepEqual(done.owners, planned.nextOwners);
    assert.equal(done.nextOwners, undefined);
    assert.equal(done.transferLimit, undefined);
    assert.deepEqual(done.pending, []);
    assert.equal(done.members.d!.state, "valid");
    assert.ok(isSettled(done, ["a", "b", "c", "d"], N));
    assert.ok(!isSettled(planned, ["a", "b", "c", "d"], N));
  });

  it("a change of mind re-plans from the current owners instead of finishing the abandoned plan", function () {
    const toFive = replan(three, ["a", "b", "c", "d", "e"], reports(["a", "b", "c", "d", "e"]), N)!;
    assert.ok(planStillWanted(toFive, ["a", "b", "c", "d", "e"], N));
    assert.ok(!planStillWanted(toFive, ["a", "b", "c", "d"], N));
    const toFour = replan(toFive, ["a", "b", "c", "d"], reports(["a", "b", "c", "d", "e"]), N)!;
    assert.deepEqual(toFour.owners, three.owners);
    assert.equal(toFour.members.e, undefined, "a member that owns nothing and is not wanted leaves at once");
    assert.ok(toFour.pending.every((t) => t.to === "d"));
  });

  it("a leaving member is marked leaving while it still owns partitions", function () {
    const four = finalize(replan(three, ["a", "b", "c", "d"], reports(["a", "b", "c", "d"]), N)!, ["a", "b", "c", "d"]);
    const shrinking = replan(four, ["a", "b", "c"], reports(["a", "b", "c", "d"]), N)!;
    assert.equal(shrinking.members.d!.state, "leaving");
    assert.ok(shrinking.pending.length > 0);
    assert.ok(!shrinking.nextOwners!.includes("d"));
    const after = finalize(shrinking, ["a", "b", "c"]);
    assert.equal(after.members.d, undefined);
  });

  it("records a new incarnation only once that node has rebuilt, and new addresses at once", function () {
    assert.equal(refreshMembers(three, new Map([["a", report("a", { incarnation: "fresh", rebuild: "running" })]])), undefined);
    const rebuilt = refreshMembers(three, new Map([["a", report("a", { incarnation: "fresh", rebuild: "done" })]]))!;
    assert.equal(rebuilt.members.a!.incarnation, "fresh");
    assert.equal(rebuilt.epoch, 2);
    const moved = refreshMembers(three, new Map([["b", report("b", { peerUrl: "http://10.0.0.9:8081" })]]))!;
    assert.equal(moved.members.b!.peerUrl, "http://10.0.0.9:8081");
    assert.deepEqual(moved.owners, three.owners);
  });

  describe("zones", function () {
    const zoneOf: Record<string, string> = { a: "z1", b: "z2", c: "z3", d: "z1", e: "z2", f: "z3" };
    const zoned = (ids: string[]): Map<string, NodeReport> => new Map(ids.map((id) => [id, report(id, { zone: zoneOf[id] })]));
    const zonesOfList = (r: Ring, owners: string[], p: number): string[] => preferenceList({ ...r, owners }, p, N).map((id) => r.members[id]!.zone!);

    it("records the zones nodes report and plans every preference list over three zones", function () {
      const next = replan(three, ["a", "b", "c", "d", "e", "f"], zoned(["a", "b", "c", "d", "e", "f"]), N)!;
      assert.deepEqual(Object.values(next.members).map((m) => m.zone), ["z1", "z2", "z3", "z1", "z2", "z3"]);
      for (let p = 0; p < Q; p++) assert.equal(new Set(zonesOfList(next, next.nextOwners!, p)).size, 3, `partition ${p}`);
      const done = finalize(next, ["a", "b", "c", "d", "e", "f"]);
      assert.equal(done.members.d!.zone, "z1", "finalizing keeps zones");
      assert.ok(isSettled(done, ["a", "b", "c", "d", "e", "f"], N));
    });

    it("records a zone a member reports later, which unsettles the ring until it is re-planned with it", function () {
      const six = ["a", "b", "c", "d", "e", "f"];
      const plain = finalize(replan(three, six, reports(six), N)!, six);
      assert.ok(isSettled(plain, six, N));
      const refreshed = refreshMembers(plain, zoned(six))!;
      assert.ok(refreshed, "new zones are recorded");
      assert.equal(refreshed.members.e!.zone, "z2");
      assert.deepEqual(refreshed.owners, plain.owners, "recording zones moves nothing by itself");
      const settledBefore = isSettled(refreshed, six, N);
      const zonesBroken = Array.from({ length: Q }, (_, p) => new Set(zonesOfList(refreshed, refreshed.owners, p)).size).some((n) => n < 3);
      assert.equal(settledBefore, !zonesBroken, "a ring whose lists already span three zones needs no re-plan");
      const next = replan(refreshed, six, zoned(six), N)!;
      const finished = next.pending.length > 0 ? finalize(next, six) : next;
      for (let p = 0; p < Q; p++) assert.equal(new Set(zonesOfList(finished, finished.owners, p)).size, 3, `partition ${p}`);
      assert.equal(refreshMembers(finished, new Map([["e", report("e")]])), undefined, "a report without a zone keeps the recorded one");
    });
  });
});
