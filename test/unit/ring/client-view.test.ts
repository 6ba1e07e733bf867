import assert from "node:assert/strict";
import type { Member, Ring } from "../../../node/ring/index.js";
import { compareRingVersions, createRing, decodeRingView, encodeRingView, parseRingVersion, partitionOf, replicasOf, ringVersion } from "../../../node/ring/index.js";
import { planReplicas } from "../../../node/replication/targets.js";

function member(id: string, zone?: string): Member {
  return { id, peerUrl: `http://${id}:8081`, clientUrl: `http://${id}:8080`, incarnation: `inc-${id}`, state: "valid", ...(zone ? { zone } : {}) };
}

/** A ring as the nodes hold it: a claim over six members in three zones, with a later epoch and a term. */
function sixNodeRing(): Ring {
  const members = ["n0", "n1", "n2", "n3", "n4", "n5"].map((id, i) => member(id, ["a", "b", "c"][i % 3]));
  return { ...createRing({ partitions: 64, members, targetN: 3 }), epoch: 9, term: 2 };
}

describe("the ring view clients route by", () => {
  it("round-trips through JSON and gives every key the replicas the nodes' coordinator plans", () => {
    const ring = sixNodeRing();
    const view = encodeRingView(ring, [{ name: "default", n: 3 }, { name: "wide", n: 5 }]);
    const decoded = decodeRingView(JSON.parse(JSON.stringify(view)));
    assert.deepEqual(decoded.version, { term: 2, epoch: 9 });
    assert.equal(view.version, "2.9");
    assert.deepEqual(decoded.buckets, new Map([["default", 3], ["wide", 5]]));
    for (let i = 0; i < 500; i++) {
      const key = Buffer.from(`key-${i}`);
      for (const [bucket, n] of [["default", 3], ["wide", 5]] as const) {
        const primaries = planReplicas(ring, partitionOf(bucket, key, ring.partitions), n, () => true).primaries;
        assert.deepEqual(replicasOf(decoded.ring, bucket, key, n), primaries, `${bucket}/key-${i}`);
      }
    }
    assert.equal(decoded.ring.members["n1"]!.zone, "b");
    assert.equal(decoded.ring.members["n1"]!.clientUrl, "http://n1:8080");
  });

  it("is compact: owners are indexes into the member list, and peer addresses stay inside the cluster", () => {
    const text = JSON.stringify(encodeRingView(sixNodeRing(), [{ name: "default", n: 3 }]));
    assert.ok(text.length < 1_000, `${text.length} bytes`);
    assert.ok(!text.includes("8081") && !text.includes("inc-"), text);
  });

  it("refuses a view it cannot fully trust, naming the problem", () => {
    const good = encodeRingView(sixNodeRing(), [{ name: "default", n: 3 }]);
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, owners: good.owners.slice(1) }, /63 owners for 64 partitions/],
      [{ ...good, owners: good.owners.map(() => 6) }, /owner index 6 names no member/],
      [{ ...good, partitions: 48, owners: good.owners.slice(0, 48) }, /power of two/],
      [{ ...good, members: [...good.members, good.members[0]] }, /appears twice/],
      [{ ...good, buckets: [{ name: "default", n: 0 }] }, /buckets\.0\.n/],
      ["not a view", /invalid ring view/],
    ];
    for (const [input, message] of cases) assert.throws(() => decodeRingView(input), message);
  });

  it("orders versions as the nodes order rings: term first, then epoch; garbled versions are ignored", () => {
    assert.equal(ringVersion({ epoch: 4 }), "0.4");
    assert.deepEqual(parseRingVersion("3.17"), { term: 3, epoch: 17 });
    for (const bad of [undefined, "", "17", "1.2.3", "a.b", "-1.2"]) assert.equal(parseRingVersion(bad), undefined, String(bad));
    assert.ok(compareRingVersions({ term: 1, epoch: 2 }, { term: 0, epoch: 90 }) > 0);
    assert.ok(compareRingVersions({ term: 1, epoch: 2 }, { term: 1, epoch: 3 }) < 0);
    assert.equal(compareRingVersions({ term: 1, epoch: 3 }, { term: 1, epoch: 3 }), 0);
  });
});
