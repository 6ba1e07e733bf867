// Rolling updates driven by the operator on the real control plane: a change to the pod template (here the tuning,
// which changes the config hash on the template) gives the StatefulSet a new revision, and the operator deletes one
// pod at a time (OnDelete), each only once the cluster has caught up from the last. Set-checker clients at r=w=2 with
// failover keep writing throughout; the promise is 0 failed requests and 0 acknowledged writes lost, for a roll of 3
// pods and then of 5. Status reports the progress (status.rollout) and the Updating phase while it runs.
import assert from "node:assert/strict";
import type { Operator } from "../../../operator/controller/index.js";
import { testSeed } from "../../helpers/random.js";
import type { ObservedOp } from "../../helpers/set-checker.js";
import { admin, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";
import { ClusterLoad, clusterEvents, clustersPath, createCluster, installCrd, readCluster, scaleTo, startOperator, waitStable } from "./helpers.js";

const NAME = "roll";
const TUNING = { gossipIntervalMs: 200, phiThreshold: 5, hintDeliveryIntervalMs: 300, dropDelayMs: 1000 };

describe("operator: rolling updates under client load", function () {
  this.timeout(600_000);
  let ns = "";
  let operator: Operator | undefined;
  let load: ClusterLoad | undefined;
  const latencies: { before: number[]; during: number[] } = { before: [], during: [] };
  let phase: "before" | "during" = "before";

  before(async function () {
    this.timeout(240_000);
    await installCrd();
    ns = await createNamespace("op-roll");
    operator = await startOperator(ns);
    await createCluster(ns, NAME, { replicas: 3, partitions: 32, tuning: TUNING });
    await waitStable(ns, NAME, 3);
    load = new ClusterLoad(ns, NAME, testSeed("operator rolling updates"), {
      r: 2,
      failover: true,
      observe: (op: ObservedOp) => {
        if (op.error === undefined) latencies[phase].push(op.latencyMs);
      },
    });
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

  /** Changes the pod template and waits until every pod runs the new revision and the cluster is Stable again. */
  async function roll(replicas: number, antiEntropyIntervalMs: number): Promise<void> {
    latencies.before = [];
    latencies.during = [];
    phase = "before";
    await new Promise((r) => setTimeout(r, 3000));
    const failuresBefore = load!.checker.failures;
    phase = "during";
    const started = Date.now();
    await admin().patch(`${clustersPath(ns)}/${NAME}`, { spec: { tuning: { ...TUNING, antiEntropyIntervalMs } } }, "merge");
    const updating = await waitFor(
      `${NAME} to report a rolling update`,
      async () => {
        const c = await readCluster(ns, NAME);
        return c.status?.rollout && c.status.rollout.updateRevision !== c.status.rollout.currentRevision ? c : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    assert.equal(updating.status?.rollout?.total, replicas);
    const done = await waitFor(
      `every pod of ${NAME} at the new revision`,
      async () => {
        const c = await readCluster(ns, NAME);
        const r = c.status?.rollout;
        return r && r.updated === replicas && r.currentRevision === r.updateRevision && c.status?.phase === "Stable" ? c : undefined;
      },
      { timeoutMs: 420_000, intervalMs: 500 },
    );
    const seconds = (Date.now() - started) / 1000;
    phase = "before";
    assert.equal(done.status?.rollout?.progress, `${replicas}/${replicas}`);
    const restarts = (await clusterEvents(ns, NAME)).filter((e) => e.reason === "RollingUpdate");
    assert.ok(restarts.length >= replicas, `one RollingUpdate Event per pod (${restarts.length})`);
    console.error(
      `    roll of ${replicas}: ${seconds.toFixed(1)} s; p99 before ${p99(latencies.before).toFixed(1)} ms (${latencies.before.length} ops), during ${p99(latencies.during).toFixed(1)} ms (${latencies.during.length} ops)`,
    );
    assert.deepEqual(load!.checker.errors, [], "failed requests");
    assert.equal(load!.checker.failures - failuresBefore, 0, "failed requests during the roll");
    await load!.assertNothingLost(`rolled ${replicas} pods`);
  }

  it("a roll of 3 pods, one at a time, fails no request at r=w=2 and loses no acknowledged write", async () => {
    await roll(3, 11_000);
  });

  it("a roll of 5 pods does the same", async () => {
    await scaleTo(ns, NAME, 5);
    await waitStable(ns, NAME, 5, { timeoutMs: 240_000 });
    await roll(5, 12_000);
  });
});

function p99(samples: number[]): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]!;
}
