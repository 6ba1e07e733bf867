// A HorizontalPodAutoscaler scaling a DynamoCluster on measured CPU, end to end on the real node: client load through
// the cluster's client Service drives the storage pods' CPU up, metrics-server reports it from the kubelet, the HPA
// raises spec.replicas through the DynamoCluster's /scale, and the operator grows the ring with the set checker's
// clients running and no acknowledged write lost; when the load stops, the HPA scales back down and the operator
// hands the leaving node's partitions off first. The example's stabilization windows (minutes) are shortened here.
import assert from "node:assert/strict";
import type { Operator } from "../../../operator/controller/index.js";
import { testSeed } from "../../helpers/random.js";
import { admin, cluster, createNamespace, deleteNamespace, describePods, waitFor } from "../harness/index.js";
import { ClusterLoad, assertBalanced, clusterClient, createCluster, installCrd, readCluster, startOperator, waitStable } from "../operator/helpers.js";
import { ServiceLoad } from "./service-load.js";

const NAME = "kv";

export const DEFAULT_HPA_TEST = {
  /**
   * CPU per storage pod the HPA aims at. Idle with the checker's slow writes, a node uses 15 to 20m; under this test's
   * load, well over 100m even on a busy two-core machine. So the load asks for the maximum of 4 with room to spare
   * (also once a fourth pod shares it), and scale-down to 3 (an average of 4 at most three quarters of the target,
   * 37.5m) follows once it stops, with the checker still writing.
   */
  targetCpu: "50m",
  loadClients: 32,
  checkerPauseMs: 200,
  /** Each client cycles through a few small keys: the load is requests, not data, so a scale step moves little. */
  keysPerClient: 20,
  valueBytes: 1024,
  scaleUpTimeoutMs: 240_000,
  scaleDownTimeoutMs: 240_000,
};

interface Hpa {
  status?: {
    currentReplicas?: number;
    desiredReplicas?: number;
    currentMetrics?: { resource?: { current?: { averageValue?: string } } }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

describe("autoscaling a DynamoCluster on CPU with a HorizontalPodAutoscaler", function () {
  this.timeout(DEFAULT_HPA_TEST.scaleUpTimeoutMs + DEFAULT_HPA_TEST.scaleDownTimeoutMs + 120_000);
  let ns = "";
  let operator: Operator | undefined;
  let checker: ClusterLoad | undefined;
  let load: ServiceLoad | undefined;
  const hpaPath = () => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${NAME}`;
  const readHpa = () => admin().get<Hpa>(hpaPath());

  before(async function () {
    this.timeout(300_000);
    await cluster().waitForAddons();
    await installCrd();
    ns = await createNamespace("hpa");
    operator = await startOperator(ns);
    await createCluster(ns, NAME, {
      replicas: 3,
      partitions: 32,
      tuning: { gossipIntervalMs: 200, phiThreshold: 5, hintDeliveryIntervalMs: 300, requestTimeoutMs: 3000, peerTimeoutMs: 1500, dropDelayMs: 1000 },
    });
    await waitStable(ns, NAME, 3);
  });

  after(async () => {
    await load?.stop();
    await checker?.stop();
    await operator?.stop();
    await deleteNamespace(ns);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    console.error(`    HPA at failure: ${JSON.stringify((await readHpa().catch(() => undefined))?.status)}`);
    console.error(`    cluster at failure: ${JSON.stringify((await readCluster(ns, NAME).catch(() => undefined))?.status)}`);
    console.error(`    pods at failure:\n${await describePods(ns).catch(() => "")}`);
  });

  it("scales 3 → 4 under load through the client Service, with no acknowledged write lost", async () => {
    await admin().post(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`, {
      metadata: { name: NAME },
      spec: {
        scaleTargetRef: { apiVersion: "dynamo.ringkv.dev/v1alpha1", kind: "DynamoCluster", name: NAME },
        minReplicas: 3,
        maxReplicas: 4,
        metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "AverageValue", averageValue: DEFAULT_HPA_TEST.targetCpu } } }],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 1, periodSeconds: 15 }] },
          scaleDown: { stabilizationWindowSeconds: 20, policies: [{ type: "Pods", value: 1, periodSeconds: 15 }] },
        },
      },
    });
    // The HPA reads the pods' CPU before any load: proof that the metrics pipeline works, and the baseline.
    const idle = await waitFor(
      "the HPA to read the pods' CPU from metrics.k8s.io",
      async () => {
        const hpa = await readHpa();
        const value = hpa.status?.currentMetrics?.[0]?.resource?.current?.averageValue;
        return hpa.status?.conditions?.some((c) => c.type === "ScalingActive" && c.status === "True") && value ? value : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    console.error(`    [hpa] idle: ${idle} CPU per pod (target ${DEFAULT_HPA_TEST.targetCpu})`);
    assert.equal((await readCluster(ns, NAME)).spec.replicas, 3, "no scaling without load");

    // The checker writes throughout, slowly enough that its own CPU does not hold the HPA above its target.
    checker = new ClusterLoad(ns, NAME, testSeed("hpa"), { pauseMs: DEFAULT_HPA_TEST.checkerPauseMs });
    await checker.start();
    const service = await admin().get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/${ns}/services/${NAME}`);
    // Over TLS from the cluster's published CA, as a user's client would, with the Service's name as the server name.
    const client = await clusterClient(ns, NAME, [`https://${service.spec.clusterIP}:8080`], { maxSockets: DEFAULT_HPA_TEST.loadClients, timeoutMs: 5_000 });
    load = new ServiceLoad(client, { clients: DEFAULT_HPA_TEST.loadClients, keysPerClient: DEFAULT_HPA_TEST.keysPerClient, valueBytes: DEFAULT_HPA_TEST.valueBytes });
    const started = Date.now();
    load.start();
    const raised = await waitFor(
      "the HPA to raise spec.replicas to 4 through /scale",
      async () => ((await readCluster(ns, NAME)).spec.replicas === 4 ? readHpa() : undefined),
      { timeoutMs: DEFAULT_HPA_TEST.scaleUpTimeoutMs, intervalMs: 1_000 },
    );
    console.error(`    [hpa] raised to 4 after ${Date.now() - started} ms of load at ${raised.status?.currentMetrics?.[0]?.resource?.current?.averageValue} per pod`);
    const scaled = await waitStable(ns, NAME, 4, { timeoutMs: DEFAULT_HPA_TEST.scaleUpTimeoutMs });
    assertBalanced(scaled, 4);
    console.error(`    [hpa] Stable at 4 after ${Date.now() - started} ms; ${load.requests} requests through the Service, ${load.failures} failed`);
    await checker.assertNothingLost("scaled up by the HPA");
  });

  it("scales back 4 → 3 once the load stops, handing the partitions off first, with no acknowledged write lost", async () => {
    await load?.stop();
    load = undefined;
    const stopped = Date.now();
    await waitFor("the HPA to lower spec.replicas to 3", async () => (await readCluster(ns, NAME)).spec.replicas === 3, {
      timeoutMs: DEFAULT_HPA_TEST.scaleDownTimeoutMs,
      intervalMs: 1_000,
    });
    console.error(`    [hpa] lowered to 3 ${Date.now() - stopped} ms after the load stopped`);
    const scaled = await waitStable(ns, NAME, 3, { timeoutMs: DEFAULT_HPA_TEST.scaleDownTimeoutMs });
    assertBalanced(scaled, 3);
    assert.deepEqual((scaled.status?.members ?? []).filter((m) => m.state !== "absent").map((m) => m.id), ["kv-0", "kv-1", "kv-2"]);
    await checker?.stop();
    await checker?.assertNothingLost("scaled down by the HPA");
    checker = undefined;
  });
});
