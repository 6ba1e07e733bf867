import assert from "node:assert/strict";
import {
  desiredMembers,
  holdsData,
  memberAddress,
  newIncarnations,
  observePod,
  ordinalOf,
  replacementToStart,
  statefulSetReplicas,
} from "../../../../operator/reconcile/index.js";
import { NOW, observation, pod, ring } from "./scenario.js";

const ids = (n: number, from = 0) => Array.from({ length: n - from }, (_, i) => `kv-${i + from}`);

describe("reconcile: ring membership", () => {
  it("creates the first ring only once every initial pod answers", () => {
    const waiting = desiredMembers(observation({ ring: undefined, pods: [pod(0), pod(1), pod(2, { running: false, ready: false })] }));
    assert.equal(waiting.kind, "wait");
    assert.match((waiting as { reason: string }).reason, /kv-2/);
    const ready = desiredMembers(observation({ ring: undefined }));
    assert.deepEqual(ready, { kind: "step", desired: ids(3), dropped: [], held: false, reason: "creating the ring with 3 members" });
  });

  it("does not touch the ring when no node answered", () => {
    assert.equal(desiredMembers(observation({ ringKnown: false, ring: undefined })).kind, "wait");
  });

  it("is idempotent: a converged cluster asks for the members it has", () => {
    const decision = desiredMembers(observation());
    assert.equal(decision.kind, "step");
    assert.deepEqual(decision.kind === "step" && decision.desired, ids(3));
  });

  it("joins new pods only once they answer, and joins them together", () => {
    const young = pod(4, { running: false, ready: false, createdAtMs: NOW - 5_000 });
    const settling = desiredMembers(observation({ spec: { replicas: 5 }, pods: [pod(0), pod(1), pod(2), pod(3, { ready: false }), young], ring: ring(ids(3)) }));
    assert.deepEqual(settling.kind === "step" && settling.desired, ids(3), "waits for kv-4 before joining kv-3");
    const both = desiredMembers(observation({ spec: { replicas: 5 }, pods: [pod(0), pod(1), pod(2), pod(3, { ready: false }), pod(4, { ready: false })], ring: ring(ids(3)) }));
    assert.deepEqual(both.kind === "step" && both.desired, ids(5));
  });

  it("joins the pods that are up when a new pod stays down past the settle time", () => {
    const stuck = pod(4, { running: false, ready: false, createdAtMs: NOW - 120_000 });
    const decision = desiredMembers(observation({ spec: { replicas: 5 }, pods: [pod(0), pod(1), pod(2), pod(3, { ready: false }), stuck], ring: ring(ids(3)) }));
    assert.deepEqual(decision.kind === "step" && decision.desired, ids(4));
  });

  it("asks the highest ordinals to leave when replicas shrink, and re-plans when they grow back", () => {
    const five = { pods: [0, 1, 2, 3, 4].map((i) => pod(i)), ring: ring(ids(5)) };
    const down = desiredMembers(observation({ spec: { replicas: 3 }, ...five }));
    assert.deepEqual(down.kind === "step" && down.desired, ids(3));
    const leaving = ring(ids(5), { state: { "kv-3": "leaving", "kv-4": "leaving" } });
    const back = desiredMembers(observation({ spec: { replicas: 5 }, pods: five.pods, ring: leaving }));
    assert.deepEqual(back.kind === "step" && back.desired, ids(5));
  });

  it("never asks for fewer members than the largest bucket's n", () => {
    const decision = desiredMembers(observation({ spec: { replicas: 3, buckets: [{ name: "default", n: 1, r: 1, w: 1 }] }, pods: [0, 1, 2].map((i) => pod(i)) }));
    assert.deepEqual(decision.kind === "step" && decision.desired, ids(3));
    const raw = observation({ pods: [0, 1, 2].map((i) => pod(i)) });
    raw.cluster.spec.replicas = 2;
    const clamped = desiredMembers(raw);
    assert.deepEqual(clamped.kind === "step" && clamped.desired, ids(3), "the implicit default bucket has n=3");
  });

  it("holds membership while a member with data is unreachable, within its deadline", () => {
    const decision = desiredMembers(
      observation({
        spec: { replicas: 4 },
        pods: [pod(0), pod(1, { running: false, ready: false }), pod(2), pod(3, { ready: false })],
        ring: ring(ids(3)),
        unreachableSinceMs: { "kv-1": NOW - 10_000 },
      }),
    );
    assert.equal(decision.kind === "step" && decision.held, true);
    assert.deepEqual(decision.kind === "step" && decision.desired, ids(3));
  });

  it("reassigns the partitions of a member unreachable past the deadline", () => {
    const decision = desiredMembers(
      observation({
        spec: { replicas: 3, unreachableReplaceAfterSeconds: 60 },
        pods: [pod(0), pod(1, { running: false, ready: false }), pod(2)],
        unreachableSinceMs: { "kv-1": NOW - 61_000 },
      }),
    );
    assert.equal(decision.kind, "step");
    if (decision.kind !== "step") return;
    assert.deepEqual(decision.desired, ["kv-0", "kv-2"]);
    assert.deepEqual(decision.dropped, ["kv-1"]);
  });

  it("does not wait on an unreachable member that holds nothing", () => {
    const owners = Array.from({ length: 16 }, (_, i) => `kv-${i % 3}`);
    const decision = desiredMembers(observation({ pods: [0, 1, 2].map((i) => pod(i)), ring: ring(ids(4), { owners }) }));
    assert.equal(decision.kind === "step" && decision.held, false);
  });

  it("derives member addresses from the pod IP", () => {
    assert.deepEqual(memberAddress(pod(2), "https"), { id: "kv-2", peerUrl: "https://127.0.0.12:8081", clientUrl: "https://127.0.0.12:8080" });
    assert.deepEqual(memberAddress(pod(2), "http"), { id: "kv-2", peerUrl: "https://127.0.0.12:8081", clientUrl: "http://127.0.0.12:8080" });
    assert.equal(memberAddress(pod(2, { podIp: undefined }), "https"), undefined);
  });

  it("spots a node that answers with a new incarnation", () => {
    const o = observation({ probes: { "kv-1": { reachable: true, incarnation: "fresh", epoch: 0 } } });
    assert.deepEqual(newIncarnations(o), ["kv-1"]);
  });
});

describe("reconcile: StatefulSet replicas", () => {
  const five = ring(ids(5));

  it("grows at once", () => {
    assert.equal(statefulSetReplicas(5, 3, { known: true, ring: ring(ids(3)) }, "kv"), 5);
    assert.equal(statefulSetReplicas(3, undefined, { known: false, ring: undefined }, "kv"), 3);
  });

  it("never removes a pod that still owns data or takes part in a transfer", () => {
    assert.equal(statefulSetReplicas(3, 5, { known: true, ring: five }, "kv"), 5);
    const handedOff = ring(ids(5), { owners: Array.from({ length: 16 }, (_, i) => `kv-${i % 4}`) });
    assert.equal(statefulSetReplicas(3, 5, { known: true, ring: handedOff }, "kv"), 4, "kv-4 is empty, kv-3 is not");
    const inFlight = ring(ids(5), {
      owners: Array.from({ length: 16 }, (_, i) => `kv-${i % 3}`),
      pending: [{ partition: 1, from: "kv-1", to: "kv-4", kind: "ownership" }],
    });
    assert.equal(statefulSetReplicas(3, 5, { known: true, ring: inFlight }, "kv"), 5, "kv-4 is receiving a partition");
  });

  it("shrinks to the target once the highest ordinals hold nothing", () => {
    const handedOff = ring(ids(5), { owners: Array.from({ length: 16 }, (_, i) => `kv-${i % 3}`) });
    assert.equal(statefulSetReplicas(3, 5, { known: true, ring: handedOff }, "kv"), 3);
    assert.equal(statefulSetReplicas(3, 5, { known: true, ring: undefined }, "kv"), 3, "no ring: nothing to hand off");
  });

  it("does not shrink while the ring is unknown", () => {
    assert.equal(statefulSetReplicas(3, 5, { known: false, ring: undefined }, "kv"), 5);
  });

  it("knows who holds data", () => {
    assert.equal(holdsData(five, "kv-4"), true);
    assert.equal(holdsData(five, "kv-9"), false);
  });
});

describe("reconcile: replacement", () => {
  it("replaces an annotated pod from a healthy state, lowest ordinal first, one at a time", () => {
    const o = observation({ pods: [pod(0), pod(1, { replaceRequested: true }), pod(2, { replaceRequested: true })] });
    assert.deepEqual(replacementToStart(o), { kind: "replace", pod: "kv-1" });
  });

  it("holds a replacement while another member is down, a pod is going, or partitions move", () => {
    const down = observation({ pods: [pod(0, { running: false }), pod(1, { replaceRequested: true }), pod(2)] });
    assert.equal(replacementToStart(down).kind, "blocked");
    const going = observation({ pods: [pod(0, { deleting: true }), pod(1, { replaceRequested: true }), pod(2)] });
    assert.equal(replacementToStart(going).kind, "blocked");
    const moving = observation({
      pods: [pod(0), pod(1, { replaceRequested: true }), pod(2)],
      ring: ring(ids(3), { pending: [{ partition: 0, from: "kv-0", to: "kv-2", kind: "ownership" }] }),
    });
    assert.match((replacementToStart(moving) as { reason: string }).reason, /transfers/);
  });

  it("does nothing without the annotation, or once the pod is already going", () => {
    assert.deepEqual(replacementToStart(observation()), { kind: "none" });
    assert.deepEqual(replacementToStart(observation({ pods: [pod(0), pod(1, { replaceRequested: true, deleting: true }), pod(2)] })), { kind: "none" });
  });
});

describe("reconcile: observing pods", () => {
  it("reads ordinal, readiness, IP and the replace annotation", () => {
    const observed = observePod("kv", {
      metadata: { name: "kv-3", uid: "u", annotations: { "dynamo.ringkv.dev/replace": "true" }, creationTimestamp: new Date(NOW) },
      status: {
        phase: "Running",
        podIP: "127.0.0.40",
        conditions: [{ type: "Ready", status: "False" }],
        containerStatuses: [{ name: "dynamo", image: "i", imageID: "", ready: false, restartCount: 0, state: { running: {} } }],
      },
    });
    assert.deepEqual(observed, {
      name: "kv-3",
      ordinal: 3,
      uid: "u",
      phase: "Running",
      ready: false,
      running: true,
      podIp: "127.0.0.40",
      deleting: false,
      replaceRequested: true,
      createdAtMs: NOW,
    });
  });

  it("ignores pods that are not the StatefulSet's", () => {
    assert.equal(ordinalOf("kv", "kv-x"), undefined);
    assert.equal(ordinalOf("kv", "kv-01"), undefined);
    assert.equal(ordinalOf("kv", "kvx-1"), undefined);
    assert.equal(ordinalOf("kv", "kv-10"), 10);
    assert.equal(observePod("kv", { metadata: { name: "other-0" } }), undefined);
  });
});
