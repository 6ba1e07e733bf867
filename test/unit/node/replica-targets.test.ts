import assert from "node:assert/strict";
import type { Member, Ring, Transfer } from "../../../node/ring/index.js";
import { createRing, fallbackList, preferenceList } from "../../../node/ring/index.js";
import { planReplicas, readOrder, type ReplicaTarget } from "../../../node/replication/targets.js";

/** Six members n0..n5 in zones a, b, c round-robin (as `dynamo dev --nodes 6 --zones a,b,c` assigns them). */
function zonedRing(zones: boolean): Ring {
  const members: Member[] = Array.from({ length: 6 }, (_, i) => ({
    id: `n${i}`,
    peerUrl: `http://127.0.0.${i + 1}:8081`,
    clientUrl: `http://127.0.0.${i + 1}:8080`,
    incarnation: `inc-${i}`,
    state: "valid" as const,
    ...(zones ? { zone: ["a", "b", "c"][i % 3] } : {}),
  }));
  return createRing({ partitions: 256, members, targetN: 3 });
}

const zoneOf = (ring: Ring, id: string): string => ring.members[id]?.zone ?? "";

describe("replica targets with zones", () => {
  it("spreads the fallbacks of a whole failed zone over both surviving zones", () => {
    const ring = zonedRing(true);
    const down = new Set(["n0", "n3"]);
    const standInZones = new Map<string, number>();
    for (let p = 0; p < ring.partitions; p++) {
      const plan = planReplicas(ring, p, 3, (id) => !down.has(id));
      const zones = plan.primaries.map((id) => zoneOf(ring, id));
      assert.deepEqual([...zones].sort(), ["a", "b", "c"], `partition ${p}: preference list ${plan.primaries.join(",")} spans ${zones.join(",")}`);
      const standIns = plan.targets.filter((t) => t.hintFor !== undefined);
      assert.equal(standIns.length, 1, `partition ${p}: one primary of zone a is down`);
      const zone = zoneOf(ring, standIns[0]!.id);
      assert.notEqual(zone, "a", `partition ${p}: the stand-in ${standIns[0]!.id} is in the failed zone`);
      standInZones.set(zone, (standInZones.get(zone) ?? 0) + 1);
    }
    // Walk order alone sends almost every hint to one zone; the choice splits them about evenly.
    const b = standInZones.get("b") ?? 0;
    const c = standInZones.get("c") ?? 0;
    assert.ok(Math.min(b, c) >= 0.4 * (b + c), `stand-ins per surviving zone: b ${b}, c ${c}`);
  });

  it("prefers a fallback in another zone than the down primary's when only that member is down", () => {
    const ring = zonedRing(true);
    for (let p = 0; p < ring.partitions; p++) {
      const primary = preferenceList(ring, p, 3)[0]!;
      const plan = planReplicas(ring, p, 3, (id) => id !== primary);
      const standIn = plan.targets.find((t) => t.hintFor === primary);
      assert.ok(standIn, `partition ${p}: no stand-in for ${primary}`);
      assert.notEqual(zoneOf(ring, standIn.id), zoneOf(ring, primary), `partition ${p}: ${standIn.id} stands in for ${primary} in its own zone`);
    }
  });

  it("takes the first live fallback in walk order when members carry no zones", () => {
    const ring = zonedRing(false);
    for (let p = 0; p < ring.partitions; p += 7) {
      const primary = preferenceList(ring, p, 3)[1]!;
      const plan = planReplicas(ring, p, 3, (id) => id !== primary);
      assert.equal(plan.targets.find((t) => t.hintFor === primary)?.id, fallbackList(ring, p, 3)[0]);
    }
  });

  it("still finds a stand-in in the failed zone's members when no other zone has a live one", () => {
    const ring = zonedRing(true);
    // Zones b and c are down except for the primaries themselves; n3 (zone a) is the only live fallback.
    const p = 0;
    const primaries = preferenceList(ring, p, 3);
    const a = primaries.find((id) => zoneOf(ring, id) === "a")!;
    const live = new Set([...primaries.filter((id) => id !== a), ...["n0", "n3"].filter((id) => id !== a)]);
    const plan = planReplicas(ring, p, 3, (id) => live.has(id));
    const standIn = plan.targets.find((t) => t.hintFor === a);
    assert.equal(zoneOf(ring, standIn?.id ?? ""), "a");
  });
});

describe("the order a read asks replicas in", () => {
  const ids = (targets: ReplicaTarget[]) => targets.map((t) => t.id);

  it("asks this node first when it is a primary, then the live primaries in preference order", () => {
    const targets: ReplicaTarget[] = [
      { id: "a", primary: true },
      { id: "b", primary: true },
      { id: "c", primary: true },
    ];
    assert.deepEqual(ids(readOrder(targets, "b", () => true)), ["b", "a", "c"]);
    assert.deepEqual(ids(readOrder(targets, "z", () => true)), ["a", "b", "c"]);
  });

  it("puts stand-ins and receiving members after the primaries, and members believed down last", () => {
    const targets: ReplicaTarget[] = [
      { id: "a", primary: true },
      { id: "d", primary: false, hintFor: "b" },
      { id: "c", primary: true },
      { id: "e", primary: false },
    ];
    const up = (id: string) => id !== "c";
    // This node ("e") receives the partition and may not hold it yet: the live primary goes first.
    assert.deepEqual(ids(readOrder(targets, "e", up)), ["a", "e", "d", "c"]);
    assert.deepEqual(ids(readOrder(targets, "a", up)), ["a", "d", "e", "c"]);
  });

  it("keeps every target, so a read can still go down the whole list", () => {
    const ring = zonedRing(false);
    for (let p = 0; p < 32; p++) {
      const plan = planReplicas(ring, p, 3, (id) => id !== "n1");
      assert.deepEqual(ids(readOrder(plan.targets, "n0", (id) => id !== "n1")).sort(), ids(plan.targets).sort());
    }
  });
});

describe("replica targets while transfers are pending", () => {
  it("adds a partition's receiving member after its primaries, and only for that partition's own transfers", () => {
    const ring = zonedRing(false);
    // Every third partition moves from its first primary to a member outside its preference list; a transfer whose
    // sender is not a primary (left over from another plan) adds nobody.
    const pending: Transfer[] = [];
    for (let p = 0; p < ring.partitions; p += 3) {
      const primaries = preferenceList(ring, p, 3);
      const outsiders = Object.keys(ring.members).filter((id) => !primaries.includes(id));
      pending.push({ partition: p, from: primaries[0]!, to: outsiders[0]!, kind: "ownership" });
      if (p % 2 === 0) pending.push({ partition: p, from: outsiders[1]!, to: outsiders[2]!, kind: "ownership" });
    }
    const moving: Ring = { ...ring, epoch: ring.epoch + 1, pending };
    for (let p = 0; p < ring.partitions; p++) {
      const plan = planReplicas(moving, p, 3, () => true);
      const primaries = preferenceList(ring, p, 3);
      const expected: readonly string[] = p % 3 === 0 ? [...primaries, pending.find((t) => t.partition === p)!.to] : primaries;
      assert.deepEqual(plan.targets.map((t) => t.id), expected, `partition ${p}`);
      assert.deepEqual(plan.targets.map((t) => t.primary), expected.map((_, i) => i < 3), `partition ${p}`);
    }
    // The same ring without its transfers plans the primaries alone, even after the ring with them was planned.
    for (let p = 0; p < ring.partitions; p++) assert.deepEqual(planReplicas(ring, p, 3, () => true).targets.map((t) => t.id), preferenceList(ring, p, 3));
  });
  it("still targets a down primary when no member is left to stand in for it, and keeps a transfer's receiver", () => {
    // Three members at n=3: every member is a primary of every partition, so none can stand in for another.
    const ring = zonedRing(false);
    const three: Ring = createRing({ partitions: 64, members: Object.values(ring.members).slice(0, 3), targetN: 3 });
    for (let p = 0; p < three.partitions; p++) {
      const plan = planReplicas(three, p, 3, (id) => id !== "n1");
      assert.deepEqual(plan.targets, preferenceList(three, p, 3).map((id) => ({ id, primary: true })), `partition ${p}`);
    }
    // A fourth member joining takes partition 0: with n1 down it stands in for n1 and, being that partition's receiver
    // too, is not listed twice; for partition 1 it is the stand-in alone.
    const joined: Ring = { ...three, epoch: three.epoch + 1, members: { ...three.members, n3: ring.members["n3"]! }, pending: [{ partition: 0, from: preferenceList(three, 0, 3)[0]!, to: "n3", kind: "ownership" }] };
    for (const p of [0, 1]) {
      const plan = planReplicas(joined, p, 3, (id) => id !== "n1");
      assert.deepEqual(plan.targets.map((t) => [t.id, t.hintFor]), preferenceList(three, p, 3).map((id) => (id === "n1" ? ["n3", "n1"] : [id, undefined])), `partition ${p}`);
    }
  });
});
