import assert from "node:assert/strict";
import type { ClusterView } from "../../../node/cluster/index.js";
import { PartitionJanitor } from "../../../node/handoff/janitor.js";
import type { HintStore } from "../../../node/handoff/hint-store.js";
import { createRing, preferenceList, type Member } from "../../../node/ring/index.js";
import { dataKey, recordId, Store } from "../../../node/storage/index.js";
import { encodeRecord, update } from "../../../node/versioning/index.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

describe("the partition janitor", function () {
  let temp: TempStore;
  let store: Store;

  beforeEach(async function () {
    temp = await openTempStore("dynamo-janitor-");
    store = temp.store;
  });
  afterEach(() => removeTempStore(temp));

  const members: Member[] = Array.from({ length: 4 }, (_, i) => ({
    id: `n${i}`,
    peerUrl: `http://127.0.0.1:${9001 + 2 * i}`,
    clientUrl: `http://127.0.0.1:${9000 + 2 * i}`,
    incarnation: `inc-${i}`,
    state: "valid" as const,
  }));
  const ring = createRing({ partitions: 16, members, targetN: 3 });
  const record = update(undefined, {}, { value: Buffer.from("v"), contentType: "text/plain", timestamp: { ms: 1, logical: 0 } }, "actor");

  function janitor(dropped: number[]): PartitionJanitor {
    const cluster: ClusterView = { self: "n0", ring: () => ring, isUp: () => true, phi: () => 0, peer: () => undefined };
    // No hint points anywhere: the store's data alone decides.
    const hints = { hasPartition: () => false } as unknown as HintStore;
    return new PartitionJanitor({ store, hints, cluster, targetN: 3, delayMs: 1000, intervalMs: 60_000, onDropped: (p) => dropped.push(p), log: () => undefined });
  }

  it("keeps a partition it does not hold now but will under the ring's planned owners, and only those", function () {
    const unkept = Array.from({ length: ring.partitions }, (_, p) => p).filter((p) => !preferenceList(ring, p, 3).includes("n0"));
    // The planned owners give n0 every partition; the ones it does not hold now are kept for the move to come.
    const planned = { ...ring, nextOwners: ring.owners.map(() => "n0") };
    const j = janitor([]);
    for (const p of unkept) {
      assert.equal(j.keeps(ring, p), false, `partition ${p} without a plan`);
      assert.equal(j.keeps(planned, p), true, `partition ${p} under the plan`);
      assert.equal(j.keeps(planned, p), true, `partition ${p} asked again`);
    }
  });

  it("drops what lands in a partition it does not keep after a sweep found that partition empty, looking only at partitions written since", async function () {
    const unkept = Array.from({ length: ring.partitions }, (_, p) => p).filter((p) => !preferenceList(ring, p, 3).includes("n0"));
    assert.ok(unkept.length >= 2, `n0 keeps all but ${unkept.length} partitions`);
    const [first, second] = unkept as [number, number];
    let looks = 0;
    const holdsPartition = store.holdsPartition.bind(store);
    store.holdsPartition = (p: number) => {
      looks += 1;
      return holdsPartition(p);
    };
    const dropped: number[] = [];
    const j = janitor(dropped);

    await j.sweep(0);
    assert.equal(looks, unkept.length, "the first sweep looks at every partition it does not keep");
    looks = 0;
    await j.sweep(100);
    assert.equal(looks, 0, "nothing was written since: no partition is looked at again");

    // A write by a node still routing by an older ring, and a page of a bulk load, each into a partition n0 does not keep.
    await store.put(first, "b", Buffer.from("k1"), record);
    const raw = dataKey(second, "b", Buffer.from("k2"));
    await store.putEncoded([{ type: "put", key: raw, id: recordId(raw), value: encodeRecord(record) }]);
    await j.sweep(200);
    assert.equal(looks, 2, "only the two partitions written since are looked at");
    assert.deepEqual(dropped, [], "not before the delay");
    await j.sweep(1300);
    assert.deepEqual(dropped.sort((a, b) => a - b), [first, second].sort((a, b) => a - b));
    assert.equal(await holdsPartition(first), false);
    assert.equal(await holdsPartition(second), false);
  });
});
