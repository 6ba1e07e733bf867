import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { rebalanceProgress } from "../../../../driver/index.js";
import type { Ring } from "../../../../node/ring/index.js";
import {
  AVAILABLE_REASONS,
  DEGRADED_REASONS,
  PROGRESSING_REASONS,
  RESTORED_REASONS,
  RESTORE_EVENT_REASONS,
  buildStatus,
  desiredObjects,
  observePod,
  rebalanceEvents,
  requeueAfterMs,
  type PassOutcome,
  type StepResult,
} from "../../../../operator/reconcile/index.js";
import { NOW, observation, pod, ring } from "./scenario.js";

const ids = (n: number) => Array.from({ length: n }, (_, i) => `kv-${i}`);
const done = (r = ring(ids(3))): StepResult => ({ ring: r, done: true, action: undefined, retryAfterMs: 0, removable: [], transfers: { pending: 0, active: 0, done: 0 } });
const outcome = (extra: Partial<PassOutcome> = {}): PassOutcome => ({
  problems: [],
  membership: undefined,
  step: done(),
  statefulSetReplicas: 3,
  replacement: { kind: "none" },
  ...extra,
});
const conditionOf = (status: ReturnType<typeof buildStatus>, type: string) => status.conditions?.find((c) => c.type === type);

describe("reconcile: status", () => {
  it("documents every condition reason in the operator guide, the list users rely on", () => {
    const guide = readFileSync(new URL("../../../../docs/operator.md", import.meta.url), "utf8");
    for (const reason of [...AVAILABLE_REASONS, ...DEGRADED_REASONS, ...PROGRESSING_REASONS, ...RESTORED_REASONS, ...RESTORE_EVENT_REASONS]) assert.ok(guide.includes(`\`${reason}\``), `docs/operator.md names ${reason}`);
  });

  it("reports a converged cluster Stable and Available, not Progressing, with observedGeneration", () => {
    const status = buildStatus(observation(), outcome());
    assert.equal(status.phase, "Stable");
    assert.equal(status.replicas, 3);
    assert.equal(status.readyReplicas, 3);
    assert.equal(status.ringEpoch, 5);
    assert.equal(status.selector, "app.kubernetes.io/component=storage,app.kubernetes.io/instance=kv,app.kubernetes.io/name=dynamo");
    assert.equal(conditionOf(status, "Available")?.status, "True");
    assert.equal(conditionOf(status, "Progressing")?.status, "False");
    assert.equal(conditionOf(status, "Degraded")?.status, "False");
    for (const c of status.conditions ?? []) assert.equal(c.observedGeneration, 1);
    assert.equal(status.observedGeneration, 1);
    assert.deepEqual(
      status.members?.map((m) => [m.id, m.state, m.partitions]),
      [
        ["kv-0", "valid", 6],
        ["kv-1", "valid", 5],
        ["kv-2", "valid", 5],
      ],
    );
  });

  it("reports Creating before the ring exists", () => {
    const status = buildStatus(observation({ ring: undefined }), outcome({ step: undefined, membership: { kind: "wait", reason: "x" } }));
    assert.equal(status.phase, "Creating");
    assert.equal(conditionOf(status, "Available")?.status, "False");
    assert.equal(conditionOf(status, "Progressing")?.status, "True");
    assert.equal(status.ringEpoch, undefined);
  });

  it("reports Rebalancing while transfers are pending, with the transfer counts", () => {
    const step: StepResult = { ...done(ring(ids(4))), done: false, transfers: { pending: 12, active: 2, done: 0 }, retryAfterMs: 500 };
    const status = buildStatus(observation({ spec: { replicas: 4 }, pods: [pod(0), pod(1), pod(2), pod(3)] }), outcome({ step }));
    assert.equal(status.phase, "Rebalancing");
    assert.deepEqual(status.transfers, { pending: 12, active: 2 });
    assert.equal(conditionOf(status, "Progressing")?.status, "True");
    assert.equal(conditionOf(status, "Available")?.status, "True");
    assert.equal(requeueAfterMs(outcome({ step }), status as { phase: "Rebalancing" }), 500);
  });

  it("looks again when a certificate falls due, sooner than a stable cluster's requeue but never in a busy loop", () => {
    const report = { status: { issuer: "Operator" as const }, ready: true, reason: "Ready", message: "", problems: [], events: [] };
    const stable = { phase: "Stable" as const };
    assert.equal(requeueAfterMs(outcome({ certificates: { ...report, recheckAfterMs: 12_000 } }), stable), 12_000);
    assert.equal(requeueAfterMs(outcome({ certificates: { ...report, recheckAfterMs: 3_600_000 } }), stable), 30_000);
    assert.equal(requeueAfterMs(outcome({ certificates: { ...report, recheckAfterMs: 0 } }), stable), 250);
    assert.equal(requeueAfterMs(outcome({ certificates: report }), stable), 30_000);
  });

  it("reports Rebalancing while the StatefulSet still has pods to remove", () => {
    const o = observation({ spec: { replicas: 3 }, pods: [0, 1, 2, 3].map((i) => pod(i)), stsReplicas: 4, ring: ring(ids(3)) });
    assert.equal(buildStatus(o, outcome()).phase, "Rebalancing");
  });

  it("reports Degraded when a member with data is unreachable, and holds Progressing false", () => {
    const o = observation({ pods: [pod(0), pod(1, { running: false, ready: false }), pod(2)] });
    const status = buildStatus(o, outcome({ membership: { kind: "step", desired: ids(3), dropped: [], held: true, reason: "" } }));
    assert.equal(status.phase, "Degraded");
    assert.equal(conditionOf(status, "Degraded")?.reason, "MemberUnreachable");
    assert.equal(conditionOf(status, "Available")?.status, "True", "two ready members still make the default quorum");
    assert.equal(status.members?.find((m) => m.id === "kv-1")?.reachable, false);
  });

  it("reports a pod that cannot pull its image in the Degraded condition, naming the pod, the image and the reason", () => {
    const stuck = pod(0, {
      ready: false,
      running: false,
      phase: "Pending",
      imagePull: { image: "ringkv/dynamo:9.9.9", reason: "ImagePullBackOff", message: 'Back-off pulling image "ringkv/dynamo:9.9.9"' },
    });
    const status = buildStatus(
      observation({ ring: undefined, pods: [stuck, pod(1, { ready: false, running: false })] }),
      outcome({ step: undefined, membership: { kind: "wait", reason: "pods" } }),
    );
    const degraded = conditionOf(status, "Degraded");
    assert.equal(degraded?.status, "True");
    assert.equal(degraded?.reason, "ImagePullFailed");
    assert.equal(degraded?.message, 'pod kv-0 cannot pull image ringkv/dynamo:9.9.9: ImagePullBackOff: Back-off pulling image "ringkv/dynamo:9.9.9"');
    assert.equal(conditionOf(status, "Available")?.status, "False");
  });

  it("reads an image pull failure from the pod's container status", () => {
    const observed = observePod("kv", {
      metadata: { name: "kv-2", uid: "u" },
      status: {
        phase: "Pending",
        containerStatuses: [
          { name: "dynamo", image: "example.com/dynamo:1", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ErrImagePull", message: "not found" } } },
        ],
      },
    });
    assert.deepEqual(observed?.imagePull, { image: "example.com/dynamo:1", reason: "ErrImagePull", message: "not found" });
    const waiting = observePod("kv", {
      metadata: { name: "kv-2", uid: "u" },
      status: { containerStatuses: [{ name: "dynamo", image: "x", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason: "ContainerCreating" } } }] },
    });
    assert.equal(waiting?.imagePull, undefined, "a container that is only being created is no pull failure");
  });

  it("reports an invalid spec in the Degraded condition", () => {
    const status = buildStatus(observation(), outcome({ problems: ["bucket a: n (4) must be <= replicas (3)"] }));
    assert.equal(status.phase, "Degraded");
    assert.equal(conditionOf(status, "Degraded")?.reason, "InvalidSpec");
    assert.match(conditionOf(status, "Degraded")?.message ?? "", /n \(4\)/);
  });

  it("reports Paused when paused", () => {
    const o = observation({ spec: { replicas: 3, paused: true } });
    const status = buildStatus(o, outcome({ step: undefined }));
    assert.equal(status.phase, "Paused");
    assert.equal(conditionOf(status, "Progressing")?.reason, "Paused");
  });

  it("keeps a condition's lastTransitionTime while its status holds", () => {
    const first = buildStatus(observation(), outcome());
    const later = observation();
    later.nowMs = NOW + 60_000;
    later.cluster.status = first;
    const second = buildStatus(later, outcome());
    assert.equal(conditionOf(second, "Available")?.lastTransitionTime, conditionOf(first, "Available")?.lastTransitionTime);
    const degraded = observation({ pods: [pod(0), pod(1, { running: false, ready: false }), pod(2)] });
    degraded.nowMs = NOW + 60_000;
    degraded.cluster.status = first;
    const third = buildStatus(degraded, outcome());
    assert.notEqual(conditionOf(third, "Degraded")?.lastTransitionTime, conditionOf(first, "Degraded")?.lastTransitionTime);
  });

  describe("rebalance progress", () => {
    const pending: Ring["pending"] = [0, 1, 2, 3].map((p) => ({ partition: p, from: "kv-0", to: "kv-3", kind: "ownership" }));
    const planned = ring(ids(4), { epoch: 6, pending, state: { "kv-3": "joining" } });
    const four = { spec: { replicas: 4 }, pods: [pod(0), pod(1), pod(2), pod(3)] };
    const stepAt = (moved: number, nowMs: number, r: Ring = planned): StepResult => {
      const reports = pending.slice(0, moved).map((t) => ({ partition: t.partition, to: t.to, state: "done", bytes: 1024 * 1024, startedAt: NOW }));
      return { ...done(r), done: false, transfers: { pending: 4 - moved, active: 1, done: moved }, rebalance: rebalanceProgress(planned, reports, nowMs) };
    };
    /** Runs one pass at `nowMs` on top of the previous status, as the controller does. */
    const pass = (previous: ReturnType<typeof buildStatus> | undefined, step: StepResult, nowMs: number) => {
      const o = observation({ ...four, ring: step.ring });
      o.nowMs = nowMs;
      o.cluster.status = previous;
      return buildStatus(o, outcome({ step }));
    };

    it("reports partitions and bytes moved, rate, ETA and a Progress percentage while a plan runs", () => {
      const status = pass(undefined, stepAt(1, NOW + 2000), NOW + 2000);
      assert.equal(status.phase, "Rebalancing");
      assert.deepEqual(
        { ...status.rebalance },
        {
          epoch: 6,
          partitionsTotal: 4,
          partitionsMoved: 1,
          bytesMoved: 1024 * 1024,
          bytesTotalEstimate: 4 * 1024 * 1024,
          bytesPerSecond: 512 * 1024,
          etaSeconds: 6,
          startTime: new Date(NOW).toISOString().replace(/\.\d{3}Z$/, "Z"),
          progress: "25%",
        },
      );
      assert.match(status.message ?? "", /moved 1\/4 partitions, 1\.0 MiB of ~4\.0 MiB at 512 KiB\/s, ETA 6s/);
    });

    it("finishes with the time taken, keeps the last rebalance while Stable, and records Started and Finished Events once", () => {
      const first = pass(undefined, stepAt(0, NOW), NOW);
      assert.deepEqual(rebalanceEvents(undefined, first.rebalance).map((e) => e.reason), ["RebalanceStarted"]);
      const middle = pass(first, stepAt(2, NOW + 4000), NOW + 4000);
      assert.deepEqual(rebalanceEvents(first.rebalance, middle.rebalance), [], "no Event while the same plan runs");
      const finalized = ring(ids(4), { epoch: 7 });
      const last = pass(middle, { ...stepAt(4, NOW + 8000), ring: finalized, done: true }, NOW + 8000);
      assert.equal(last.rebalance?.progress, "100%");
      assert.ok(last.rebalance?.finishTime, "a finalized plan has a finish time");
      const events = rebalanceEvents(middle.rebalance, last.rebalance);
      assert.deepEqual(events, [{ reason: "RebalanceFinished", message: "moved 4 partitions (4.0 MiB) in 8s" }]);
      const stable = pass(last, done(finalized), NOW + 20_000);
      assert.equal(stable.phase, "Stable");
      assert.deepEqual(stable.rebalance, last.rebalance, "the last rebalance stays in the status");
      assert.deepEqual(rebalanceEvents(last.rebalance, stable.rebalance), []);
      assert.match(stable.message ?? "", /ring balanced.*last rebalance: 4 partitions in 8s/);
    });

    it("marks a plan finished that another driver finalized, when the ring shows nothing pending", () => {
      const running = pass(undefined, stepAt(2, NOW + 4000), NOW + 4000);
      const o = observation({ ...four, ring: ring(ids(4), { epoch: 7 }) });
      o.nowMs = NOW + 9000;
      o.cluster.status = running;
      const status = buildStatus(o, outcome({ step: undefined }));
      assert.equal(status.rebalance?.progress, "100%");
      assert.equal(status.rebalance?.partitionsMoved, 4);
      assert.ok(status.rebalance?.finishTime);
    });

    it("puts what is wrong in the message before any progress", () => {
      const o = observation({ ...four, ring: planned, pods: [pod(0), pod(1, { running: false, ready: false }), pod(2), pod(3)] });
      const status = buildStatus(o, outcome({ step: stepAt(1, NOW + 2000) }));
      assert.match(status.message ?? "", /kv-1 did not answer/);
    });
  });

  it("applies what pods mount before the StatefulSet, the certificates right after the token", () => {
    const certificate = { apiVersion: "v1", kind: "Secret", metadata: { name: "kv-ca-key" } };
    const inputs = { token: "a-token-of-sixteen-chars", statefulSetReplicas: 3, certificateObjects: [certificate], operatorPods: undefined, defaultImage: "ringkv/dynamo:test" };
    const kinds = desiredObjects(observation().cluster, inputs).map((o) => `${o.kind}/${o.metadata?.name}`);
    assert.deepEqual(kinds, ["Secret/kv-token", "Secret/kv-ca-key", "ConfigMap/kv-config", "Service/kv-peers", "Service/kv", "PodDisruptionBudget/kv", "NetworkPolicy/kv", "StatefulSet/kv"]);
  });

  it("leaves the NetworkPolicy out when the spec turns it off", () => {
    const cluster = { ...observation().cluster, spec: { ...observation().cluster.spec, network: { policy: { enabled: false } } } };
    const kinds = desiredObjects(cluster, { token: "a-token-of-sixteen-chars", statefulSetReplicas: 3, certificateObjects: [], operatorPods: undefined, defaultImage: "ringkv/dynamo:test" }).map((o) => o.kind);
    assert.ok(!kinds.includes("NetworkPolicy"));
  });
});
