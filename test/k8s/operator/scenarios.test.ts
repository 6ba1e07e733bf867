// The operator's scale and replacement scenarios on the real control plane, with real `dynamo node` pods under
// continuous client load from the set checker: scaling 3 → 5 → 4 → 3 through /scale, a scale reversed while
// transfers are in flight, a pod whose claim was deleted (a wiped disk), the replace annotation, and a scale-down
// taken back mid-decommission. Every scenario ends Stable, with a balanced ring and every acknowledged write readable
// at r=n. One DynamoCluster is shared by the scenarios, in order, since each one starts from the Stable state the
// previous one ended in.
import assert from "node:assert/strict";
import type { Operator } from "../../../operator/controller/index.js";
import { testSeed } from "../../helpers/random.js";
import { admin, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";
import {
  ClusterLoad,
  assertBalanced,
  assertReplicaHolds,
  clusterEvents,
  clusterPods,
  createCluster,
  installCrd,
  newestRing,
  nodeInfo,
  readCluster,
  scaleTo,
  startOperator,
  waitStable,
  waitTransfersInFlight,
} from "./helpers.js";

const NAME = "kv";
const PARTITIONS = 32;

/**
 * Fast failure detection and clean-up, and handoff limited to 96 kB/s per receiving node (after a one-second burst):
 * with the bulk keys below, even a 4 → 3 step, whose hand-off is spread over three receivers, moves data for about
 * three seconds, long enough for the test (polling every 100 ms) to change course while transfers are in flight.
 */
const TUNING = {
  gossipIntervalMs: 200,
  phiThreshold: 5,
  hintDeliveryIntervalMs: 300,
  requestTimeoutMs: 3000,
  peerTimeoutMs: 1500,
  dropDelayMs: 1000,
  handoffBytesPerSecond: 96_000,
  handoffBatchMax: 50,
};
const BULK_KEYS = 1200;

describe("operator: scale and replacement under client load", function () {
  this.timeout(300_000);
  let ns = "";
  let operator: Operator | undefined;
  let load: ClusterLoad | undefined;

  before(async function () {
    this.timeout(240_000);
    await installCrd();
    ns = await createNamespace("op-scen");
    operator = await startOperator(ns);
    await createCluster(ns, NAME, { replicas: 3, partitions: PARTITIONS, tuning: TUNING });
    await waitStable(ns, NAME, 3);
    load = new ClusterLoad(ns, NAME, testSeed("operator scenarios"));
    await load.preload(BULK_KEYS);
    await load.start();
  });
  after(async () => {
    await load?.stop();
    await operator?.stop();
    await deleteNamespace(ns);
  });
  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    const c = await readCluster(ns, NAME).catch(() => undefined);
    console.error(`    status at failure: ${JSON.stringify(c?.status)}`);
  });

  /** Scales through /scale and asserts the step ends Stable, balanced, with nothing lost; returns its duration. */
  async function scaleStep(replicas: number): Promise<number> {
    const started = Date.now();
    await scaleTo(ns, NAME, replicas);
    const cluster = await waitStable(ns, NAME, replicas);
    const ms = Date.now() - started;
    assertBalanced(cluster, replicas);
    await load!.assertNothingLost(`scaled to ${replicas}`);
    return ms;
  }

  it("`kubectl scale` to 5, then 4, then 3: each step ends Stable and balanced with no acknowledged write lost", async () => {
    for (const replicas of [5, 4, 3]) {
      const ms = await scaleStep(replicas);
      console.error(`    [operator] scaled to ${replicas} in ${ms} ms`);
    }
    const pods = (await clusterPods(ns, NAME)).map((p) => p.metadata.name).sort();
    assert.deepEqual(pods, ["kv-0", "kv-1", "kv-2"], "scale-down removed the highest ordinals");
  });

  it("a scale 3 → 5 reversed to 4 while transfers are in flight re-plans and ends Stable at 4", async () => {
    const before = await readCluster(ns, NAME);
    await scaleTo(ns, NAME, 5);
    const inFlight = await waitTransfersInFlight(ns, NAME, before.status?.ringEpoch ?? 0);
    console.error(`    [operator] ${inFlight.status?.transfers?.pending} transfers pending at epoch ${inFlight.status?.ringEpoch}; scaling to 4`);
    const started = Date.now();
    await scaleTo(ns, NAME, 4);
    const cluster = await waitStable(ns, NAME, 4);
    console.error(`    [operator] reversed to 4 and Stable in ${Date.now() - started} ms`);
    assertBalanced(cluster, 4);
    const events = await clusterEvents(ns, NAME);
    assert.ok(
      events.some((e) => e.reason === "RingChanged" && /re-planned towards 4 members/.test(e.message)),
      `the plan towards 5 was replaced mid-way (events: ${events.map((e) => `${e.reason}: ${e.message}`).join(" | ")})`,
    );
    assert.deepEqual((await clusterPods(ns, NAME)).map((p) => p.metadata.name).sort(), ["kv-0", "kv-1", "kv-2", "kv-3"]);
    await load!.assertNothingLost("reversed to 4");
  });

  /**
   * Waits for `pod` to come back as a new pod with a new incarnation, rebuilt and recorded in the ring, and the cluster
   * Stable again; asserts nothing was lost.
   */
  async function assertRebuilt(pod: string, previous: { uid: string; incarnation: string }, claimUid: string): Promise<void> {
    const started = Date.now();
    const fresh = await waitFor(
      `${pod} to come back as a new incarnation`,
      async () => {
        const info = await nodeInfo(ns, NAME, pod);
        return info.uid !== previous.uid && info.incarnation !== previous.incarnation ? info : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const recorded = await waitFor(
      `the ring to record ${pod}'s new incarnation`,
      async () => {
        const ring = await newestRing(ns, NAME);
        return ring.members[pod]?.incarnation === fresh.incarnation && ring.pending.length === 0 ? ring : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const cluster = await waitStable(ns, NAME, 4, { minEpoch: recorded.epoch });
    console.error(`    [operator] ${pod} rebuilt as incarnation ${fresh.incarnation} and Stable in ${Date.now() - started} ms`);
    assertBalanced(cluster, 4);
    const claim = await admin().get<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${pod}`);
    assert.notEqual(claim.metadata.uid, claimUid, "the pod runs on a new claim");
    const held = await assertReplicaHolds(ns, NAME, pod, load!.bulk);
    console.error(`    [operator] ${pod}'s own copy holds all ${held} bulk keys it replicates`);
    await load!.assertNothingLost(`${pod} replaced`);
  }

  async function claimUidOf(pod: string): Promise<string> {
    return (await admin().get<{ metadata: { uid: string } }>(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${pod}`)).metadata.uid;
  }

  it("a pod whose claim is deleted (a wiped disk) comes back as a new incarnation, is rebuilt, and loses nothing", async () => {
    const pod = "kv-1";
    const previous = await nodeInfo(ns, NAME, pod);
    const claimUid = await claimUidOf(pod);
    // What losing a disk looks like: the claim goes (held back by its protection until the pod is gone), then the pod.
    await admin().delete(`/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${pod}`);
    await admin().delete(`/api/v1/namespaces/${ns}/pods/${pod}`);
    await assertRebuilt(pod, previous, claimUid);
  });

  it("the replace annotation makes the operator delete the pod's claim and pod; it is rebuilt and loses nothing", async () => {
    const pod = "kv-2";
    const previous = await nodeInfo(ns, NAME, pod);
    const claimUid = await claimUidOf(pod);
    await admin().patch(`/api/v1/namespaces/${ns}/pods/${pod}`, { metadata: { annotations: { "dynamo.ringkv.dev/replace": "true" } } }, "merge");
    await assertRebuilt(pod, previous, claimUid);
    const events = await clusterEvents(ns, NAME);
    assert.ok(events.some((e) => e.reason === "Replacing" && e.message.includes(pod)), "a Replacing event names the pod");
    assert.ok(events.some((e) => e.reason === "NewIncarnation" && e.message.includes(pod)), "a NewIncarnation event names the pod");
  });

  it("a scale-down 4 → 3 taken back to 4 mid-decommission does not get stuck: the leaving member stays, Stable at 4", async () => {
    const replans = async () => (await clusterEvents(ns, NAME)).filter((e) => e.reason === "RingChanged" && /re-planned towards 4 members/.test(e.message)).length;
    const replansBefore = await replans();
    const before = await readCluster(ns, NAME);
    await scaleTo(ns, NAME, 3);
    const inFlight = await waitTransfersInFlight(ns, NAME, before.status?.ringEpoch ?? 0);
    console.error(`    [operator] ${inFlight.status?.transfers?.pending} transfers pending while kv-3 leaves; scaling back to 4`);
    const started = Date.now();
    await scaleTo(ns, NAME, 4);
    const cluster = await waitStable(ns, NAME, 4);
    console.error(`    [operator] back to 4 and Stable in ${Date.now() - started} ms`);
    assertBalanced(cluster, 4);
    assert.deepEqual((await clusterPods(ns, NAME)).map((p) => p.metadata.name).sort(), ["kv-0", "kv-1", "kv-2", "kv-3"]);
    assert.equal(await replans(), replansBefore + 1, "the hand-off plan was replaced mid-way by one towards 4 members");
    await load!.assertNothingLost("scale-down taken back");
  });

  it("after all of it the final check of every acknowledged write passes with the clients stopped", async () => {
    await load!.stop();
    await load!.assertNothingLost("final");
  });
});
