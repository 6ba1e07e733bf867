import assert from "node:assert/strict";
import { RingState, ringHash } from "../../../node/cluster/index.js";
import { createRing } from "../../../node/ring/index.js";
import type { Ring } from "../../../node/ring/types.js";
import { Store } from "../../../node/storage/index.js";
import { openTempStore, removeTempStore, type TempStore } from "../../helpers/temp-store.js";

function members(ids: string[]) {
  return ids.map((id, i) => ({ id, peerUrl: `http://127.0.0.${i + 1}:8081`, clientUrl: `http://127.0.0.${i + 1}:8080`, incarnation: `inc-${id}`, state: "valid" as const }));
}

describe("ring state", function () {
  let temp: TempStore;
  let store: Store;

  beforeEach(async function () {
    temp = await openTempStore("dynamo-ringstate-");
    store = temp.store;
  });
  afterEach(() => removeTempStore(temp));

  const options = { token: "t".repeat(16), timeoutMs: 1000, inFlightMax: 10, reconnectDelayMs: 100 };
  const base = createRing({ partitions: 8, members: members(["a", "b", "c"]), targetN: 3 });
  const rivalA: Ring = { ...base, epoch: 2, members: { ...base.members, a: { ...base.members.a!, incarnation: "x" } } };
  const rivalB: Ring = { ...base, epoch: 2, members: { ...base.members, b: { ...base.members.b!, incarnation: "y" } } };
  const winner = ringHash(rivalA) > ringHash(rivalB) ? rivalA : rivalB;

  it("takes a higher epoch, never a lower one, and survives a restart", async function () {
    const state = new RingState(store, "a", options);
    assert.equal(await state.install(base), true);
    assert.equal(await state.install({ ...base, epoch: 3 }), true);
    assert.equal(await state.install(base), false);
    assert.equal(state.epoch, 3);
    state.closeAll();
    const reloaded = new RingState(store, "a", options);
    await reloaded.load();
    assert.equal(reloaded.epoch, 3);
    reloaded.closeAll();
  });

  it("settles two different rings of one epoch the same way whatever order they arrive in", async function () {
    for (const order of [
      [rivalA, rivalB],
      [rivalB, rivalA],
    ]) {
      const state = new RingState(store, "a", options);
      await state.install(base);
      for (const ring of order) await state.install(ring);
      assert.equal(ringHash(state.ring!), ringHash(winner));
      assert.equal(await state.install(winner), true, "installing the same ring again changes nothing and says it runs it");
      assert.equal(ringHash(state.ring!), ringHash(winner));
      state.closeAll();
      await store.putMeta("ring", Buffer.from(JSON.stringify(base)));
    }
  });

  it("says it runs a ring offered again, as a commit too and with its keys in another order, without writing it again", async function () {
    const state = new RingState(store, "a", options);
    const next: Ring = { ...base, epoch: 2 };
    assert.equal(await state.install(next, "commit"), true);
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(next).reverse()))) as Ring;
    await store.putMeta("ring", Buffer.from("not read again"));
    assert.equal(await state.install(reordered, "commit"), true);
    assert.equal(await state.install(reordered), true);
    assert.equal((await store.getMeta("ring"))!.toString(), "not read again", "the same ring is not written again");
    assert.equal(await state.install({ ...next, term: 1 }, "commit"), true, "a newer term at the same epoch is another ring");
    assert.equal(state.term, 1);
    state.closeAll();
  });

  it("never installs a ring of a lower term than its own, whatever its epoch: a superseded leader is fenced", async function () {
    const state = new RingState(store, "a", options);
    assert.equal(await state.install({ ...base, epoch: 5, term: 7 }, "commit"), true);
    assert.equal(await state.install({ ...rivalA, epoch: 9, term: 6 }, "commit"), false);
    assert.equal(await state.install({ ...rivalA, epoch: 9, term: 6 }, "gossip"), false);
    assert.equal(state.epoch, 5);
    assert.equal(state.term, 7);
    state.closeAll();
  });

  it("at one epoch, takes a newer term's ring over an older term's, never the other way", async function () {
    const state = new RingState(store, "a", options);
    await state.install({ ...rivalA, term: 3 });
    assert.equal(await state.install({ ...rivalB, term: 4 }, "commit"), true);
    assert.equal(ringHash(state.ring!), ringHash({ ...rivalB, term: 4 }));
    assert.equal(await state.install({ ...rivalA, term: 3 }, "gossip"), false);
    state.closeAll();
  });

  it("refuses a commit over another ring of its epoch and term (compare-and-set on the epoch it builds on)", async function () {
    const state = new RingState(store, "a", options);
    await state.install(base);
    assert.equal(await state.install(rivalA, "commit"), true);
    assert.equal(await state.install(rivalB, "commit"), false, "a second driver's commit of epoch 2 is refused");
    assert.equal(ringHash(state.ring!), ringHash(rivalA));
    state.closeAll();
  });

  it("orders gossip's digest by term before content, as install does", async function () {
    const low = new RingState(store, "a", options);
    await low.install({ ...base, term: 2 });
    const lowHash = low.hash;
    low.closeAll();
    await store.putMeta("ring", Buffer.from(JSON.stringify(base)));
    const high = new RingState(store, "a", options);
    await high.install({ ...base, term: 10 });
    assert.ok(high.hash > lowHash, "a higher term sorts higher whatever the content hash");
    high.closeAll();
  });

  it("hashes rings independently of key order", function () {
    const shuffled = JSON.parse(JSON.stringify({ members: base.members, owners: base.owners, pending: [], partitions: 8, epoch: 1 })) as Ring;
    assert.equal(ringHash(shuffled), ringHash(base));
  });
});
