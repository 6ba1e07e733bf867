import assert from "node:assert/strict";
import {
  initialClaim,
  minimumMoves,
  movedPartitions,
  partitionsPerMember,
  planClaim,
  spacingViolations,
  zoneSpread,
  zoneSpreadFeasible,
  zoneViolations,
} from "../../../node/ring/index.js";
import { blockPlan, zoneViolationsOf } from "../../../node/ring/zones.js";
import { splitRun } from "../../../node/ring/zone-claim.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

/** Members n0..n(count-1) with zones given round-robin from `names`, as `dynamo dev --zones` assigns them. */
function roundRobin(count: number, names: readonly string[] = ["a", "b", "c"]): { ids: string[]; zones: Record<string, string> } {
  const ids = Array.from({ length: count }, (_, i) => `n${i}`);
  return { ids, zones: Object.fromEntries(ids.map((id, i) => [id, names[i % names.length] as string])) };
}

function assertBalanced(owners: readonly string[], members: readonly string[], context: string): void {
  const counts = partitionsPerMember(owners);
  const low = Math.floor(owners.length / members.length);
  for (const id of Object.keys(counts)) assert.ok(members.includes(id), `${context}: ${id} is not a member but owns partitions`);
  for (const id of members) {
    const count = counts[id] ?? 0;
    assert.ok(count === low || count === low + 1, `${context}: ${id} owns ${count}, outside ${low}..${low + 1}`);
  }
}

/** Whether some balanced owners array over members of these zone sizes meets the rule for w zones (exhaustive). */
function balancedRingExists(partitions: number, zoneSizes: readonly number[], w: number): boolean {
  const zoneOf = Int32Array.from(zoneSizes.flatMap((size, zone) => Array.from({ length: size }, () => zone)));
  const memberCount = zoneOf.length;
  const lo = Math.floor(partitions / memberCount);
  const larger = partitions % memberCount;
  const ring = new Int32Array(partitions);
  const counts = new Int32Array(memberCount);
  let largerUsed = 0;
  const place = (p: number): boolean => {
    if (p === partitions) return counts.every((count) => count >= lo) && zoneViolationsOf(ring, zoneOf, w).length === 0;
    for (let m = 0; m < memberCount; m++) {
      const count = counts[m] as number;
      if (count > lo || (count === lo && largerUsed === larger)) continue;
      // Members of a zone are interchangeable: a member may take its first partition only after the one before it.
      if (count === 0 && m > 0 && zoneOf[m - 1] === zoneOf[m] && counts[m - 1] === 0) continue;
      ring[p] = m;
      counts[m] = count + 1;
      if (count === lo) largerUsed++;
      if (place(p + 1)) return true;
      counts[m] = count;
      if (count === lo) largerUsed--;
    }
    return false;
  };
  return place(0);
}

describe("zones", () => {
  describe("the zone rule", () => {
    const zones = { a1: "a", a2: "a", b1: "b", c1: "c" };

    it("finds preference lists whose first members share a zone, across the wrap too", () => {
      // From 4 the list is c1 a2 a1 and from 5 it is a2 a1 b1: a1 and a2 share zone a.
      const owners = ["a1", "b1", "c1", "b1", "c1", "a2"];
      assert.deepEqual(zoneViolations(owners, zones, 3), [4, 5]);
      assert.deepEqual(zoneViolations(["a1", "b1", "c1", "a2", "b1", "c1"], zones, 3), []);
    });

    it("skips a member met again, as preference lists do: a b a c is spread over three zones", () => {
      assert.deepEqual(zoneViolations(["a1", "b1", "a1", "c1"], zones, 3), []);
      assert.equal(zoneSpread(["a1", "b1", "a1", "c1"], zones, 3), 3);
    });

    it("asks for min(n, zones) zones: with two zones and n = 3 a list needs two", () => {
      const two = { a1: "a", a2: "a", b1: "b" };
      assert.deepEqual(zoneViolations(["a1", "b1", "a2", "b1"], two, 3), []);
      assert.deepEqual(zoneViolations(["a1", "a2", "b1", "b1"], two, 3), [0]);
      assert.equal(zoneSpread(["a1", "b1", "a2", "b1"], two, 3), 2);
    });

    it("treats members without a zone as one unnamed zone", () => {
      assert.equal(zoneSpread(["x", "y", "z"], {}, 3), 1);
      assert.deepEqual(zoneViolations(["x", "y", "z"], {}, 3), []);
    });
  });

  describe("when a balanced ring can meet it", () => {
    it("matches an exhaustive search of every balanced ring on small rings", function () {
      this.timeout(120_000);
      let checked = 0;
      const configurations: number[][] = [];
      const grow = (sizes: number[], left: number): void => {
        if (sizes.length >= 2) configurations.push([...sizes]);
        if (sizes.length === 4) return;
        for (let size = 1; size <= Math.min(left, sizes[sizes.length - 1] ?? 6); size++) grow([...sizes, size], left - size);
      };
      grow([], 7);
      for (const partitions of [4, 8]) {
        for (const sizes of configurations) {
          for (let w = 2; w <= sizes.length; w++) {
            const memberCount = sizes.reduce((a, b) => a + b, 0);
            if (memberCount ** partitions > 5_000_000) continue;
            const exists = balancedRingExists(partitions, sizes, w);
            assert.equal(blockPlan(partitions, sizes, w) !== undefined, exists, `Q=${partitions}, zones ${sizes.join("+")}, w=${w}`);
            checked++;
          }
        }
      }
      assert.ok(checked >= 80, `only ${checked} configurations checked`);
    });

    it("promises every zone up to targetN for even zones, and degrades for a zone too small to separate the others", () => {
      assert.equal(zoneSpreadFeasible(256, [2, 2, 2], 3), 3);
      assert.equal(zoneSpreadFeasible(256, [2, 2, 1], 3), 3);
      assert.equal(zoneSpreadFeasible(256, [10, 1, 1], 3), 3);
      assert.equal(zoneSpreadFeasible(256, [3, 3], 3), 2);
      assert.equal(zoneSpreadFeasible(256, [2, 2, 2, 2], 3), 3);
      // Q = 8 over 3 + 1 + 1 members: the lone members own 2 partitions each and cannot separate three others.
      assert.equal(zoneSpreadFeasible(8, [3, 1, 1], 3), 2);
      // Q = 8 over 5 + 1: one partition-pair of the small zone cannot sit between five members.
      assert.equal(zoneSpreadFeasible(8, [5, 1], 3), 1);
    });
  });

  describe("new rings", () => {
    it("are balanced and spread over min(targetN, zones) zones for many zone shapes", function () {
      this.timeout(120_000);
      const random = seededRandom(testSeed("zones: new rings"));
      for (const partitions of [8, 16, 64, 256, 1024, 4096]) {
        for (let trial = 0; trial < 12; trial++) {
          const zoneCount = random.between(2, 5);
          const sizes = Array.from({ length: zoneCount }, () => random.between(1, 5));
          const zones: Record<string, string> = {};
          const ids: string[] = [];
          sizes.forEach((size, z) => {
            for (let i = 0; i < size; i++) {
              ids.push(`z${z}m${i}`);
              zones[`z${z}m${i}`] = `zone-${z}`;
            }
          });
          for (const targetN of [2, 3, 4]) {
            const context = `seed ${random.seed}, Q=${partitions}, zones ${sizes.join("+")}, targetN=${targetN}`;
            const owners = initialClaim(partitions, ids, targetN, zones);
            assertBalanced(owners, ids, context);
            const w = zoneSpreadFeasible(partitions, sizes, targetN);
            assert.deepEqual(zoneViolations(owners, zones, targetN, w), [], `${context}: rule for ${w} zones broken`);
          }
        }
      }
    });

    it("lay out three even zones as frames: every list of three spans three zones, one repeat where Q mod 3 forces it", () => {
      const { ids, zones } = roundRobin(6);
      const owners = initialClaim(256, ids, 3, zones);
      assert.equal(zoneSpread(owners, zones, 3), 3);
      assert.ok(spacingViolations(owners, 3).length <= 1, `spacing violations: ${spacingViolations(owners, 3).length}`);
    });
  });

  describe("planning with zones", () => {
    it("moves the minimum when each zone gains or loses members alike (3 -> 6 -> 9, a replacement)", () => {
      for (const partitions of [256, 1024]) {
        const three = roundRobin(3);
        const six = roundRobin(6);
        const nine = roundRobin(9);
        const before = initialClaim(partitions, three.ids, 3, three.zones);
        const after6 = planClaim(before, six.ids, 3, six.zones);
        assert.equal(movedPartitions(before, after6).length, minimumMoves(before, six.ids));
        const after9 = planClaim(after6, nine.ids, 3, nine.zones);
        assert.equal(movedPartitions(after6, after9).length, minimumMoves(after6, nine.ids));
        assert.equal(zoneSpread(after9, nine.zones, 3), 3);
        // n4 (zone b) replaced by n9 in zone b.
        const replaced = [...nine.ids.filter((id) => id !== "n4"), "n9"];
        const zones = { ...nine.zones, n9: "b" };
        const after = planClaim(after9, replaced, 3, zones);
        assert.equal(movedPartitions(after9, after).length, minimumMoves(after9, replaced));
        assert.equal(zoneSpread(after, zones, 3), 3);
      }
    });

    it("keeps every list of three in three zones through single joins and leaves of uneven zones", () => {
      let current = roundRobin(3);
      let owners = initialClaim(256, current.ids, 3, current.zones);
      for (const count of [4, 5, 6, 7, 5, 4, 3]) {
        const next = roundRobin(count);
        const plan = planClaim(owners, next.ids, 3, next.zones);
        const context = `${current.ids.length} -> ${count}`;
        assertBalanced(plan, next.ids, context);
        assert.equal(zoneSpread(plan, next.zones, 3), 3, context);
        // The plan is settled: planning again from it changes nothing.
        assert.deepEqual(planClaim(plan, next.ids, 3, next.zones), plan, `${context}: not a fixed point`);
        owners = plan;
        current = next;
      }
    });

    it("does not depend on member order", () => {
      const { ids, zones } = roundRobin(7);
      const before = initialClaim(256, ids.slice(0, 5), 3, zones);
      assert.deepEqual(planClaim(before, [...ids].reverse(), 3, zones), planClaim(before, ids, 3, zones));
    });

    it("plans exactly as without zones when the members share one zone or carry none", () => {
      const ids = ["n0", "n1", "n2", "n3", "n4"];
      const before = initialClaim(256, ids.slice(0, 3), 3);
      const plain = planClaim(before, ids, 3);
      assert.deepEqual(planClaim(before, ids, 3, {}), plain);
      assert.deepEqual(planClaim(before, ids, 3, Object.fromEntries(ids.map((id) => [id, "only"]))), plain);
      assert.deepEqual(initialClaim(256, ids, 3, {}), initialClaim(256, ids, 3));
    });

    it("turns zones on for a ring planned without them, moving what the rule needs", () => {
      const { ids, zones } = roundRobin(6);
      // Without zones the striped layout of sorted ids happens to follow the zones; shuffle zones so it does not.
      const shuffled = { ...zones, n0: "b", n1: "a" };
      const plain = initialClaim(256, ids, 3);
      assert.ok(zoneViolations(plain, shuffled, 3).length > 0);
      const plan = planClaim(plain, ids, 3, shuffled);
      assertBalanced(plan, ids, "zones turned on");
      assert.equal(zoneSpread(plan, shuffled, 3), 3);
    });
  });

  describe("a run left by neighbouring members of several zones", () => {
    it("is handed out as one block per zone the window rule allows between its sides", () => {
      // ... C A B C ...: A and B leave together; no single zone fits between C and C, A then B (or B then A) does.
      const pieces = splitRun([2, 1], [2, 0], 170, 3, 3);
      assert.deepEqual(pieces?.map((p) => p.zone), [0, 1]);
      assert.deepEqual(pieces?.map((p) => p.size), [85, 85]);
      // Every window of w blocks, the sides included, holds w zones.
      const sequence = [1, 2, ...(pieces ?? []).map((p) => p.zone), 2, 0];
      for (let i = 0; i + 3 <= sequence.length; i++) assert.equal(new Set(sequence.slice(i, i + 3)).size, 3, `blocks ${sequence.join(",")}`);
    });

    it("is not split when no zones fit, nor into more blocks than it has partitions", () => {
      assert.equal(splitRun([0, 1], [0, 1], 4, 2, 3), undefined, "two zones cannot give three per window");
      assert.equal(splitRun([2, 1], [2, 0], 1, 3, 3), undefined, "one partition is one block");
    });
  });
});
