import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RingState, ringHash } from "../../../node/cluster/index.js";
import { createRing } from "../../../node/ring/index.js";
import type { Ring } from "../../../node/ring/types.js";
import { Store } from "../../../node/storage/index.js";

function members(ids: string[]) {
  return ids.map((id, i) => ({ id, peerUrl: `http://127.0.0.${i + 1}:8081`, clientUrl: `http://127.0.0.${i + 1}:8080`, incarnation: `inc-${id}`, state: "valid" as const }));
}

describe("ring state", function () {
  let dir: string;
  let store: Store;

  beforeEach(async function () {
    dir = mkdtempSync(join(tmpdir(), "dynamo-ringstate-"));
    store = new Store(dir);
    await store.open();
  });
  afterEach(async function () {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

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
      assert.equal(state.hash, ringHash(winner));
      assert.equal(await state.install(winner), false, "installing the same ring again changes nothing");
      state.closeAll();
      await store.putMeta("ring", Buffer.from(JSON.stringify(base)));
    }
  });

  it("hashes rings independently of key order", function () {
    const shuffled = JSON.parse(JSON.stringify({ members: base.members, owners: base.owners, pending: [], partitions: 8, epoch: 1 })) as Ring;
    assert.equal(ringHash(shuffled), ringHash(base));
  });
});
