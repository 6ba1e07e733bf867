import assert from "node:assert/strict";
import { RingDriver } from "../../../../driver/index.js";
import { createRing } from "../../../../node/ring/index.js";
import type { Ring } from "../../../../node/ring/types.js";
import { REPLACE_ANNOTATION, type DynamoClusterSpecInput } from "../../../../operator/api/index.js";
import { ScriptedNodes } from "../../driver/scripted-nodes.js";
import { NAME, ScriptedApi, ScriptedStepper, answersFor, clusterObject, controllerFor, podObject, statefulSetObject } from "./scripted-cluster.js";

const KEY = `ns/${NAME}`;
const ids = (n: number) => Array.from({ length: n }, (_, i) => `${NAME}-${i}`);
const peerUrl = (id: string) => `https://10.0.0.${10 + Number(id.split("-")[1])}:8081`;

function ringOf(members: string[], epoch = 5): Ring {
  const ring = createRing({
    partitions: 16,
    targetN: 3,
    members: members.map((id) => ({ id, peerUrl: peerUrl(id), clientUrl: peerUrl(id).replace(":8081", ":8080"), incarnation: `inc-${id}`, state: "valid" as const })),
  });
  return { ...ring, epoch };
}

/** A cluster of `pods` running pods whose nodes all hold `ring`, as the API server and the stepper see it. */
function scenario(options: { spec?: DynamoClusterSpecInput; pods?: number; ring?: Ring; revisions?: { update?: string }; podRevision?: (i: number) => string } = {}) {
  const count = options.pods ?? 3;
  const ring = options.ring ?? ringOf(ids(count));
  const api = new ScriptedApi();
  api.put(clusterObject(options.spec ?? { replicas: count }));
  api.put(statefulSetObject(count, options.revisions));
  for (let i = 0; i < count; i++) api.put(podObject(i, { revision: options.podRevision?.(i) ?? "r1" }));
  const stepper = new ScriptedStepper();
  stepper.answers = answersFor(ids(count), ring);
  return { api, stepper, ring, controller: controllerFor(api, stepper) };
}

describe("ClusterController: one pass, planned then executed", function () {
  it("observes the nodes once per pass and hands that same observation to the ring step", async function () {
    const { api, stepper, controller } = scenario();
    const result = await controller.reconcile(KEY);
    assert.equal(stepper.observed.length, 1, "one observation per pass");
    assert.deepEqual(stepper.observed[0]!.map((n) => n.id), ids(3));
    assert.equal(stepper.decided.length, 1);
    assert.equal(stepper.decided[0]!.observation, stepper.observations[0], "the ring step decides on the pass's own observation");
    assert.deepEqual(stepper.decided[0]!.desired, ids(3));
    assert.equal(api.cluster().status?.phase, "Stable");
    assert.equal(api.condition("Progressing")?.reason, "Stable");
    assert.ok((result?.requeueAfterMs ?? 0) >= 5_000, "a stable cluster is not looked at in a busy loop");
    assert.deepEqual(api.deleted, []);
  });

  it("asks each pod's node exactly once who it is and once for its ring in a pass (the RingDriver over scripted nodes)", async function () {
    const { api } = scenario();
    const ring = ringOf(ids(3));
    const nodes = new ScriptedNodes((id) => peerUrl(id));
    for (const id of ids(3)) nodes.add(id, ring);
    const driver = new RingDriver({ admin: nodes.client(), partitions: 16, targetN: 3, log: () => undefined });
    const controller = controllerFor(api, driver);
    for (let pass = 0; pass < 2; pass++) {
      nodes.reset();
      await controller.reconcile(KEY);
      assert.deepEqual(nodes.countsById(), Object.fromEntries(ids(3).map((id) => [id, { node: 1, ring: 1 }])), `pass ${pass}`);
    }
    assert.equal(api.cluster().status?.phase, "Stable");
  });

  it("replacing a pod deletes its claim, then the pod, and takes no ring step on the observation made before", async function () {
    const { api, stepper, controller } = scenario();
    api.put(podObject(1, { annotations: { [REPLACE_ANNOTATION]: "true" } }));
    await controller.reconcile(KEY);
    assert.deepEqual(api.deleted, [`persistentvolumeclaims/data-${NAME}-1`, `pods/${NAME}-1`]);
    assert.equal(stepper.decided.length, 0, "no ring step in a pass that deleted a pod");
    assert.equal(api.cluster().status?.lastAction, `replacing ${NAME}-1: deleted its claim and pod`);
    assert.equal(api.condition("Progressing")?.reason, "Replacing");
    assert.ok(api.events.some((e) => e.reason === "Replacing"));
  });

  it("a replacement that has to wait is a Degraded reason and an Event, and the ring still steps", async function () {
    const { api, stepper, controller } = scenario();
    api.put(podObject(1, { annotations: { [REPLACE_ANNOTATION]: "true" } }));
    delete stepper.answers[`${NAME}-2`];
    await controller.reconcile(KEY);
    assert.deepEqual(api.deleted, []);
    assert.equal(api.condition("Degraded")?.status, "True");
    assert.equal(api.condition("Degraded")?.reason, "MemberUnreachable", "the unreachable member is the more fundamental problem");
    assert.ok(api.events.some((e) => e.reason === "ReplacementBlocked" && /kv-2 is unreachable/.test(e.message)));
    assert.equal(stepper.decided.length, 1);
  });

  it("a rolling update restarts the highest outdated pod and takes no ring step in that pass", async function () {
    const { api, stepper, controller } = scenario({ revisions: { update: "r2" } });
    await controller.reconcile(KEY);
    assert.deepEqual(api.deleted, [`pods/${NAME}-2`]);
    assert.equal(stepper.decided.length, 0);
    assert.equal(api.cluster().status?.phase, "Updating");
    assert.equal(api.condition("Progressing")?.reason, "RollingUpdate");
    assert.match(api.cluster().status?.lastAction ?? "", /rolling update to r2: restarting kv-2 \(0 of 3 pods updated\)/);
  });

  it("a failed ring step is Degraded RingStepFailed with the driver's message, and an Event", async function () {
    const { api, stepper, controller } = scenario({ spec: { replicas: 4 } });
    stepper.result = () => {
      throw new Error("could not commit ring epoch 6: no node accepted it");
    };
    await controller.reconcile(KEY);
    assert.equal(api.condition("Degraded")?.reason, "RingStepFailed");
    assert.match(api.condition("Degraded")?.message ?? "", /no node accepted it/);
    assert.ok(api.events.some((e) => e.reason === "RingStepFailed"));
  });

  it("a committed ring change is the pass's last action and a RingChanged Event", async function () {
    const { api, stepper, controller, ring } = scenario();
    stepper.result = () => ({ ring: { ...ring, epoch: 6 }, done: false, action: "ring epoch 6: recorded new member addresses or incarnations", retryAfterMs: 200, removable: [], transfers: { pending: 0, active: 0, done: 0 } });
    const result = await controller.reconcile(KEY);
    assert.equal(api.cluster().status?.lastAction, "ring epoch 6: recorded new member addresses or incarnations");
    assert.equal(api.cluster().status?.ringEpoch, 6);
    assert.ok(api.events.some((e) => e.reason === "RingChanged"));
    assert.equal(result?.requeueAfterMs, 250);
  });

  it("a paused cluster is observed and reported, and nothing is applied, deleted or stepped", async function () {
    const { api, stepper, controller } = scenario({ spec: { replicas: 3, paused: true } });
    await controller.reconcile(KEY);
    assert.deepEqual(api.applied, []);
    assert.equal(stepper.observed.length, 1);
    assert.equal(stepper.decided.length, 0);
    assert.equal(api.cluster().status?.phase, "Paused");
    assert.equal(api.condition("Progressing")?.reason, "Paused");
  });

  it("a pass in which no node answers reports the cluster against the last ring it saw, and starts no member's unreachable clock", async function () {
    const { api, stepper, controller } = scenario();
    await controller.reconcile(KEY);
    assert.equal(api.condition("Available")?.reason, "QuorumReady");
    const answers = stepper.answers;
    stepper.answers = {};
    await controller.reconcile(KEY);
    const status = api.cluster().status;
    assert.equal(api.condition("Available")?.status, "True", "the pods are ready, so a pass that heard no node keeps the cluster Available");
    assert.equal(api.condition("Available")?.reason, "QuorumReady");
    assert.equal(status?.ringEpoch, 5);
    assert.deepEqual(status?.members?.map((m) => m.id), ids(3));
    assert.equal(api.condition("Degraded")?.reason, "MemberUnreachable");
    assert.ok(status?.members?.every((m) => m.unreachableSince === undefined), "no deadline runs on the operator's own failed calls");
    assert.equal(stepper.decided.length, 1, "no ring step is decided on an unknown ring");
    stepper.answers = answers;
    await controller.reconcile(KEY);
    assert.equal(api.condition("Degraded")?.reason, "Healthy");
    assert.equal(api.cluster().status?.phase, "Stable");
  });

  it("an operator that has never heard a node says so, instead of claiming the ring was never created", async function () {
    const { api, stepper, controller } = scenario();
    stepper.answers = {};
    await controller.reconcile(KEY);
    assert.equal(api.condition("Available")?.reason, "NoRing");
    assert.match(api.condition("Available")?.message ?? "", /no node answered the operator/);
  });

  it("announces a member's new incarnation once, however many passes see it", async function () {
    const { api, stepper, controller } = scenario();
    const wiped = stepper.answers[`${NAME}-1`]!;
    if (!("info" in wiped)) throw new Error("kv-1 answers");
    wiped.info = { ...wiped.info, incarnation: "inc-new", rebuild: "running" };
    await controller.reconcile(KEY);
    await controller.reconcile(KEY);
    assert.equal(api.events.filter((e) => e.reason === "NewIncarnation").length, 1);
    assert.equal(api.condition("Progressing")?.reason, "Replacing");
    assert.match(api.condition("Progressing")?.message ?? "", /rebuilding kv-1 \(new incarnation\)/);
  });
});
