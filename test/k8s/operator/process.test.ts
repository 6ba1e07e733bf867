// The operator as the process it is in production (`dynamo operator`, here started from the built CLI with a
// kubeconfig), killed for real: SIGKILLed mid-rebalance (3 → 4) and restarted, it finishes the plan in flight; run as
// two replicas with --leader-elect, exactly one holds the Lease and reconciles, and when it is SIGKILLed mid-rebalance
// (4 → 5) the other takes the Lease over and converges. Client load from the set checker runs throughout; every step
// ends Stable, balanced, with every acknowledged write readable at r=n.
import assert from "node:assert/strict";
import { testSeed } from "../../helpers/random.js";
import { createNamespace, deleteNamespace, freePort, waitFor } from "../harness/index.js";
import {
  ClusterLoad,
  OperatorProcess,
  assertBalanced,
  createCluster,
  installCrd,
  newestRing,
  readCluster,
  readLease,
  scaleTo,
  waitStable,
  waitTransfersInFlight,
} from "./helpers.js";

const NAME = "kv";

/** Handoff limited to 200 kB/s per receiving node, so a scale step moves data for a few seconds (see the scenarios). */
const TUNING = {
  gossipIntervalMs: 200,
  phiThreshold: 5,
  hintDeliveryIntervalMs: 300,
  requestTimeoutMs: 3000,
  peerTimeoutMs: 1500,
  dropDelayMs: 1000,
  handoffBytesPerSecond: 200_000,
  handoffBatchMax: 50,
};
const BULK_KEYS = 1200;

async function leaderFlag(port: number): Promise<boolean | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { leader: boolean }).leader;
  } catch {
    return undefined;
  }
}

describe("operator: the process killed, and two replicas", function () {
  this.timeout(300_000);
  let ns = "";
  let load: ClusterLoad | undefined;
  const operators: OperatorProcess[] = [];

  before(async function () {
    this.timeout(240_000);
    await installCrd();
    ns = await createNamespace("op-proc");
  });
  after(async () => {
    await load?.stop();
    for (const o of operators) await o.stop();
    await deleteNamespace(ns);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    const c = await readCluster(ns, NAME).catch(() => undefined);
    console.error(`    status at failure: ${JSON.stringify(c?.status)}`);
    for (const o of operators) console.error(`    --- operator ${o.pid} log (tail) ---\n${o.log().split("\n").slice(-30).join("\n")}`);
  });

  it("an operator SIGKILLed mid-rebalance and restarted finishes the plan in flight and converges", async () => {
    const first = OperatorProcess.start(ns, "first");
    operators.push(first);
    await createCluster(ns, NAME, { replicas: 3, partitions: 32, tuning: TUNING });
    await waitStable(ns, NAME, 3);
    load = new ClusterLoad(ns, NAME, testSeed("operator process"));
    await load.preload(BULK_KEYS);
    await load.start();

    const before = await readCluster(ns, NAME);
    await scaleTo(ns, NAME, 4);
    await waitTransfersInFlight(ns, NAME, before.status?.ringEpoch ?? 0);
    await first.kill();
    const orphaned = await newestRing(ns, NAME);
    console.error(`    [operator] killed with ${orphaned.pending.length} transfers pending at ring epoch ${orphaned.epoch}`);
    assert.ok(orphaned.pending.length > 0, "the operator was killed while transfers were in flight");

    const second = OperatorProcess.start(ns, "second");
    operators.push(second);
    const started = Date.now();
    const cluster = await waitStable(ns, NAME, 4, { minEpoch: orphaned.epoch + 1 });
    console.error(`    [operator] restarted operator converged in ${Date.now() - started} ms`);
    assertBalanced(cluster, 4);
    // The restarted operator finished the plan it found in the ring instead of planning anew.
    assert.match(second.log(), /finalized \d+ transfers/);
    assert.doesNotMatch(second.log(), /planned \d+ transfers/);
    await load.assertNothingLost("operator restarted");
    await second.stop();
  });

  it("two replicas with --leader-elect: exactly one leads; SIGKILLed mid-rebalance, the other takes over and converges", async () => {
    const ports = [await freePort(), await freePort()];
    const replicas = ports.map((port, i) => OperatorProcess.start(ns, `replica-${i}`, { leaderElect: true, metricsPort: port }));
    operators.push(...replicas);
    const leaderIndex = await waitFor(
      "exactly one operator replica to lead, holding the Lease",
      async () => {
        const lease = await readLease(ns);
        const flags = await Promise.all(ports.map(leaderFlag));
        const holder = replicas.findIndex((r) => r.identity === lease?.spec.holderIdentity);
        return holder >= 0 && flags[holder] === true && flags[1 - holder] === false ? holder : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const leader = replicas[leaderIndex]!;
    const follower = replicas[1 - leaderIndex]!;
    const transitions = (await readLease(ns))?.spec.leaseTransitions ?? 0;
    // The follower stays a follower for as long as the leader renews.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await leaderFlag(ports[1 - leaderIndex]!), false, "the follower does not lead while the leader renews");
    assert.equal((await readLease(ns))?.spec.holderIdentity, leader.identity);
    assert.match(leader.log(), /operator started in namespace/);
    assert.doesNotMatch(follower.log(), /operator started|event Normal/, "the follower runs no controllers");

    // A scale-up, because its hand-off all goes to the one new node and so lasts long enough to kill the leader in it.
    const before = await readCluster(ns, NAME);
    await scaleTo(ns, NAME, 5);
    await waitTransfersInFlight(ns, NAME, before.status?.ringEpoch ?? 0);
    await leader.kill();
    const killedAt = Date.now();
    const orphaned = await newestRing(ns, NAME);
    console.error(`    [operator] leader killed with ${orphaned.pending.length} transfers pending at ring epoch ${orphaned.epoch}`);
    await waitFor(
      "the follower to take the Lease over",
      async () => ((await readLease(ns))?.spec.holderIdentity === follower.identity && (await leaderFlag(ports[1 - leaderIndex]!)) === true ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    console.error(`    [operator] follower took the Lease over ${Date.now() - killedAt} ms after the leader was SIGKILLed`);
    assert.ok(((await readLease(ns))?.spec.leaseTransitions ?? 0) > transitions, "the Lease counts the transition");
    // With a plan left in the ring, only a ring the new leader committed counts as converged.
    const cluster = await waitStable(ns, NAME, 5, { minEpoch: orphaned.pending.length > 0 ? orphaned.epoch + 1 : orphaned.epoch });
    console.error(`    [operator] Stable at 5 ${Date.now() - killedAt} ms after the kill`);
    assertBalanced(cluster, 5);
    assert.ok(!follower.exited, "the new leader keeps running");
    await load!.stop();
    await load!.assertNothingLost("leader failover");
  });
});
