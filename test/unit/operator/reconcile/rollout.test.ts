import assert from "node:assert/strict";
import type { NodeInfo } from "../../../../node/protocol/index.js";
import { buildStatus, nextRollingRestart, planPass, podsStuckOnOldImage, rolloutProgress, type NodeProbe, type PassOutcome } from "../../../../operator/reconcile/index.js";
import { observation, pod, ring } from "./scenario.js";
import { healthyNodeInfo } from "../../../helpers/node-info.js";

const info = healthyNodeInfo;

/** Probes with each node's whole account of itself, as the controller records them. */
function probes(extra: Record<string, Partial<NodeInfo>> = {}): Record<string, NodeProbe> {
  return Object.fromEntries(["kv-0", "kv-1", "kv-2"].map((id) => [id, { reachable: true, incarnation: `inc-${id}`, epoch: 5, info: info(id, extra[id]) }]));
}

const members = ["kv-0", "kv-1", "kv-2"];

describe("reconcile: rolling updates", () => {
  it("does nothing while every pod runs the update revision", () => {
    assert.deepEqual(nextRollingRestart(observation({ probes: probes() })), { kind: "none" });
  });

  it("restarts the highest outdated ordinal first once the cluster is healthy", () => {
    const o = observation({ probes: probes(), updateRevision: "r2", pods: [pod(0), pod(1), pod(2)] });
    assert.deepEqual(nextRollingRestart(o), { kind: "restart", pod: "kv-2", uid: "uid-2" });
    const next = observation({ probes: probes(), updateRevision: "r2", pods: [pod(0), pod(1), pod(2, { revision: "r2" })] });
    assert.deepEqual(nextRollingRestart(next), { kind: "restart", pod: "kv-1", uid: "uid-1" });
  });

  const holds: [string, Parameters<typeof observation>[0], RegExp][] = [
    ["a pod still stopping", { pods: [pod(0), pod(1), pod(2, { deleting: true })] }, /kv-2 is stopping/],
    ["a pod not ready (the restarted one catching up)", { pods: [pod(0), pod(1), pod(2, { ready: false, revision: "r2" })] }, /kv-2 is not ready/],
    ["a missing pod", { pods: [pod(0), pod(1)], stsReplicas: 3 }, /waiting for 3 pods \(2 exist\)/],
    ["a ring change in flight", { ring: ring(members, { pending: [{ partition: 1, from: "kv-0", to: "kv-1", kind: "ownership" }] as never }) }, /ring change is in flight/],
    ["a node that still counts another as down", { probes: probes({ "kv-0": { down: ["kv-2"] } }) }, /kv-0 counts kv-2 as down/],
    ["hints not yet delivered", { probes: probes({ "kv-1": { hints: { count: 500, bytes: 1, byOwner: { "kv-2": { count: 500, bytes: 1 } } } } }) }, /500 hints wait/],
    ["a restarted pod whose new IP the ring has not recorded", { pods: [pod(0), pod(1), pod(2, { podIp: "127.0.0.99", revision: "r2" })] }, /kv-2's new address is not in the ring yet/],
    ["a node that has not installed the newest ring", { probes: { ...probes(), "kv-0": { reachable: true, incarnation: "inc-kv-0", epoch: 4, info: info("kv-0", { epoch: 4 }) } } }, /kv-0 has not installed ring epoch 5 yet/],
    ["a member that does not answer", { probes: { ...probes(), "kv-1": { reachable: false, error: "connection refused" } } }, /kv-1 does not answer: connection refused/],
  ];
  for (const [what, scenario, reason] of holds) {
    it(`holds the next pod for ${what}`, () => {
      const o = observation({ probes: probes(), updateRevision: "r2", ...scenario });
      const decision = nextRollingRestart(o);
      assert.equal(decision.kind, "wait");
      assert.match((decision as { reason: string }).reason, reason);
    });
  }

  it("reports progress in status, a Progressing condition and the Updating phase", () => {
    const o = observation({ probes: probes(), updateRevision: "r2", pods: [pod(0), pod(1), pod(2, { revision: "r2" })] });
    assert.deepEqual(rolloutProgress(o), { updated: 1, total: 3, currentRevision: "r1", updateRevision: "r2" });
    // The StatefulSet's own currentRevision stays behind under OnDelete; all pods updated means r2 is current.
    const all = observation({ probes: probes(), updateRevision: "r2", pods: [pod(0, { revision: "r2" }), pod(1, { revision: "r2" }), pod(2, { revision: "r2" })] });
    assert.deepEqual(rolloutProgress(all), { updated: 3, total: 3, currentRevision: "r2", updateRevision: "r2" });
    const outcome: PassOutcome = { problems: [], membership: undefined, step: undefined, statefulSetReplicas: 3, replacement: { kind: "none" }, rollout: { kind: "wait", reason: "kv-0 counts kv-2 as down" } };
    const status = buildStatus(o, outcome);
    assert.equal(status.phase, "Updating");
    assert.deepEqual(status.rollout, { updated: 1, total: 3, progress: "1/3", currentRevision: "r1", updateRevision: "r2", waiting: "kv-0 counts kv-2 as down" });
    const progressing = status.conditions?.find((c) => c.type === "Progressing");
    assert.equal(progressing?.status, "True");
    assert.equal(progressing?.reason, "RollingUpdate");
    assert.match(progressing?.message ?? "", /rolling update to r2: 1 of 3 pods updated; next pod waits: kv-0 counts kv-2 as down/);
  });
});

const pull = { image: "ringkv/dynamo:typo", reason: "ImagePullBackOff", message: "" };
const stuck = (ordinal: number, revision: string) => pod(ordinal, { ready: false, running: false, phase: "Pending", imagePull: pull, revision });

describe("reconcile: pods stuck on an image the cluster no longer names", () => {
  it("recreates pods that wait on an image pull from an older revision than the StatefulSet's current one", () => {
    const o = observation({ ring: undefined, pods: [stuck(0, "r0"), stuck(1, "r0"), pod(2, { revision: "r1" })] });
    assert.deepEqual(podsStuckOnOldImage(o).map((p) => p.name), ["kv-0", "kv-1"]);
  });

  it("leaves a pod alone whose revision is current (the image is still wrong), one already going, or one that runs", () => {
    assert.deepEqual(podsStuckOnOldImage(observation({ pods: [stuck(0, "r1")] })), [], "the current template's own image: nothing to gain");
    assert.deepEqual(podsStuckOnOldImage(observation({ pods: [{ ...stuck(0, "r0"), deleting: true }] })), []);
    assert.deepEqual(podsStuckOnOldImage(observation({ pods: [{ ...stuck(0, "r0"), running: true }] })), [], "a running store is never deleted for this");
    assert.deepEqual(podsStuckOnOldImage(observation({ pods: [pod(0, { revision: "r0" })] })), [], "an old revision that runs is the rolling update's to replace");
  });

  it("plans their deletion, and no ring step on an observation that still counts them", () => {
    const o = observation({ probes: probes(), pods: [stuck(0, "r0"), pod(1), pod(2)] });
    const plan = planPass(o, { announcedIncarnations: {} });
    assert.deepEqual(plan.actions.filter((a) => a.kind === "recreateStuckPod"), [{ kind: "recreateStuckPod", pod: "kv-0", uid: "uid-0", image: "ringkv/dynamo:typo" }]);
    assert.ok(!plan.actions.some((a) => a.kind === "stepRing"));
    assert.equal(plan.membership, undefined);
  });

  it("does nothing while the StatefulSet's current revision is unknown", () => {
    const o = observation({ pods: [stuck(0, "r0")] });
    assert.deepEqual(podsStuckOnOldImage({ ...o, statefulSet: undefined }), []);
  });
});
