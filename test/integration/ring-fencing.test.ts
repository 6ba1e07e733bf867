/**
 * Fencing ring commits: two RingDrivers that both believe they lead — an operator leader frozen past its Lease while
 * its successor moves the ring on — with real nodes. The successor's first commit claims the ring for its term; the
 * old leader, waking, can no longer commit anything (neither through a step nor by pushing a ring it had planned
 * before it froze), no node's ring ever goes back, and the old leader learns it was fenced.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FencedError, RingDriver, type AdminClient } from "../../driver/index.js";
import { ringHash } from "../../node/cluster/index.js";
import type { Ring } from "../../node/ring/types.js";
import { REPO_ROOT } from "../helpers/dev-cluster.js";
import { Fleet } from "../helpers/fleet.js";

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "handoff.yaml");
const PARTITIONS = 32;

describe("fenced ring commits", function () {
  this.timeout(180_000);
  let fleet: Fleet;

  afterEach(async function () {
    await fleet?.destroy();
  });

  /** Every node's (epoch, term), checked never to go back since the last look. */
  async function watchRings(admin: AdminClient, indices: number[], seen: Map<string, { epoch: number; term: number; hash: string }>): Promise<void> {
    for (const i of indices) {
      const ring = await admin.ring(fleet.describe(i).peerUrl).catch(() => undefined);
      if (!ring) continue;
      const id = `node-${i}`;
      const now = { epoch: ring.epoch, term: ring.term ?? 0, hash: ringHash(ring) };
      const before = seen.get(id);
      if (before) {
        assert.ok(now.epoch >= before.epoch, `${id}'s ring went back from epoch ${before.epoch} to ${now.epoch}`);
        assert.ok(now.term >= before.term, `${id}'s ring went back from term ${before.term} to ${now.term}`);
        if (now.epoch === before.epoch && now.term === before.term) assert.equal(now.hash, before.hash, `${id}'s ring of epoch ${now.epoch} changed content`);
      }
      seen.set(id, now);
    }
  }

  async function stepUntilDone(driver: RingDriver, nodes: number[], desired: number[], onStep: () => Promise<void>): Promise<Ring> {
    for (let i = 0; i < 300; i++) {
      const step = await driver.step(fleet.addresses(nodes), desired.map((n) => `node-${n}`));
      await onStep();
      if (step.done) return step.ring!;
      await new Promise((r) => setTimeout(r, Math.min(step.retryAfterMs, 200)));
    }
    throw new Error("the ring did not settle");
  }

  it("a leader superseded mid-rebalance cannot commit when it wakes, and no node's ring goes back", async function () {
    fleet = new Fleet(47, CONFIG);
    for (const i of [0, 1, 2, 3]) await fleet.start(i);
    const admin = await fleet.admin();
    const seen = new Map<string, { epoch: number; term: number; hash: string }>();
    const watch = () => watchRings(admin, [0, 1, 2, 3], seen);
    let oldTerm = 4;
    const oldLeader = new RingDriver({ admin, partitions: PARTITIONS, targetN: 3, term: () => oldTerm, log: () => undefined });
    await stepUntilDone(oldLeader, [0, 1, 2], [0, 1, 2], watch);

    // The old leader starts a rebalance onto node-3 and plans the next ring of it, then freezes before committing that.
    const planned = await oldLeader.step(fleet.addresses([0, 1, 2, 3]), ["node-0", "node-1", "node-2", "node-3"]);
    await watch();
    assert.ok(planned.ring && planned.ring.pending.length > 0, "the old leader committed a plan with transfers pending");
    const frozenView = planned.ring;
    const wouldCommit: Ring = { ...frozenView, epoch: frozenView.epoch + 1, pending: [], nextOwners: undefined, owners: frozenView.nextOwners!, term: oldTerm };

    // Its successor takes over with a newer term, claims the ring, changes course (back to three members) and settles.
    const newLeader = new RingDriver({ admin, partitions: PARTITIONS, targetN: 3, term: () => oldTerm + 1, log: () => undefined });
    const first = await newLeader.step(fleet.addresses([0, 1, 2, 3]), ["node-0", "node-1", "node-2"]);
    assert.match(first.action ?? "", /claimed the ring for leader term 5/);
    assert.equal(first.ring?.term, 5);
    await watch();
    const settled = await stepUntilDone(newLeader, [0, 1, 2, 3], [0, 1, 2], watch);
    assert.equal(settled.term, 5);
    assert.deepEqual(Object.keys(settled.members).sort(), ["node-0", "node-1", "node-2"]);

    // The old leader wakes. The ring it had planned is refused by every node, even at an epoch above theirs...
    for (const i of [0, 1, 2, 3]) {
      const answer = await admin.installRing(fleet.describe(i).peerUrl, { ...wouldCommit, epoch: settled.epoch + 5 });
      assert.equal(answer.installed, false, `node-${i} refused the fenced leader's ring`);
      assert.equal(answer.term, 5);
    }
    // ...and a step of its own finds it has been fenced instead of committing.
    await assert.rejects(oldLeader.step(fleet.addresses([0, 1, 2, 3]), ["node-0", "node-1", "node-2", "node-3"]), (err: unknown) => {
      assert.ok(err instanceof FencedError, String(err));
      assert.match((err as Error).message, /term 5, newer than this driver's 4/);
      return true;
    });
    await watch();
    for (const i of [0, 1, 2, 3]) assert.equal(seen.get(`node-${i}`)?.hash, ringHash(settled), `node-${i} runs the new leader's ring`);

    // A leader that comes back with a newer term still carries the ring forward from where it is.
    oldTerm = 9;
    const resumed = await stepUntilDone(oldLeader, [0, 1, 2, 3], [0, 1, 2, 3], watch);
    assert.equal(resumed.term, 9);
    assert.ok(resumed.epoch > settled.epoch);
  });
});
