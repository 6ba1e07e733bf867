// The flow both autoscaling tests share: a HorizontalPodAutoscaler on a DynamoCluster of 3 (maximum 4), the set
// checker writing throughout, client load through the cluster's client Service until the HPA raises spec.replicas to
// 4 and the operator grows the ring, then the load stopped until the HPA lowers it back to 3. The tests differ only in
// the metric the HPA reads (CPU from metrics-server, or requests per node from the operator's custom metrics API) and
// in how much load it takes.
import assert from "node:assert/strict";
import { testSeed } from "../../helpers/random.js";
import { admin, describePods, waitFor } from "../harness/index.js";
import { ClusterLoad, assertBalanced, clusterClient, readCluster, waitStable, type ClusterObject } from "../operator/helpers.js";
import { ServiceLoad } from "./service-load.js";

/** The DynamoCluster both tests scale: small (32 partitions), with a fast failure detector so a scale step is quick. */
export const HPA_CLUSTER = {
  replicas: 3,
  partitions: 32,
  tuning: { gossipIntervalMs: 200, phiThreshold: 5, hintDeliveryIntervalMs: 300, requestTimeoutMs: 3000, peerTimeoutMs: 1500, dropDelayMs: 1000 },
};

/** What an HPA's status says about its one metric. */
export interface HpaStatus {
  status?: {
    currentMetrics?: { resource?: { current?: { averageValue?: string } }; pods?: { current?: { averageValue?: string } } }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface HpaFlowOptions {
  /** The label the flow's log lines and the set checker's reports carry. */
  label: string;
  /** The seed name of the set checker (testSeed). */
  seed: string;
  /** The HPA's one entry of spec.metrics. */
  metric: Record<string, unknown>;
  /** How a reading of the metric is printed ("CPU per pod", "requests/s per pod"). */
  unit: string;
  /** The load through the client Service: clients, each cycling over a few small keys (requests, not data). */
  load: { clients: number; keysPerClient: number; valueBytes: number };
  /** The checker's pause between writes: slow enough that it alone stays well under the target. */
  checkerPauseMs: number;
  scaleUpTimeoutMs: number;
  scaleDownTimeoutMs: number;
}

/**
 * How fast the HPA may move, shorter than the example's minutes. Scale-up has no stabilization (the load is there at
 * once); scale-down has none either: the test stops the load itself, so no flapping load has to be smoothed over, and
 * the metric's own window (metrics-server's 10 s resolution, the custom metrics' 30 s rate) is the wait left.
 */
export const HPA_BEHAVIOR = {
  scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 1, periodSeconds: 15 }] },
  scaleDown: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 1, periodSeconds: 15 }] },
};

/** One autoscaling test's HPA, load and checker, in namespace `ns()` (known once the file's `before` ran). */
export class HpaFlow {
  private checker: ClusterLoad | undefined;
  private load: ServiceLoad | undefined;
  private scaledUp = false;

  constructor(
    private readonly ns: () => string,
    private readonly name: string,
    private readonly options: HpaFlowOptions,
  ) {}

  readHpa(): Promise<HpaStatus> {
    return admin().get<HpaStatus>(`/apis/autoscaling/v2/namespaces/${this.ns()}/horizontalpodautoscalers/${this.name}`);
  }

  /** The metric's current average as the HPA last read it. */
  private static reading(hpa: HpaStatus): string | undefined {
    const metric = hpa.status?.currentMetrics?.[0];
    return metric?.resource?.current?.averageValue ?? metric?.pods?.current?.averageValue;
  }

  /**
   * Creates the HPA and starts the checker; once the HPA reads the metric without load (proof the pipeline works, and
   * the baseline), loads the client Service until the HPA raises spec.replicas to 4, and checks the ring Stable and
   * balanced at 4 with no acknowledged write lost.
   */
  async scaleUp(): Promise<void> {
    const ns = this.ns();
    const { label, metric, load: shape } = this.options;
    await admin().post(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`, {
      metadata: { name: this.name },
      spec: {
        scaleTargetRef: { apiVersion: "dynamo.ringkv.dev/v1alpha1", kind: "DynamoCluster", name: this.name },
        minReplicas: 3,
        maxReplicas: 4,
        metrics: [metric],
        behavior: HPA_BEHAVIOR,
      },
    });
    // The checker writes throughout, slowly enough that its own requests do not hold the HPA above its target.
    this.checker = new ClusterLoad(ns, this.name, testSeed(this.options.seed), { pauseMs: this.options.checkerPauseMs });
    await this.checker.start();
    const idle = await waitFor(
      `the HPA to read its metric (${this.options.unit})`,
      async () => {
        const hpa = await this.readHpa();
        const value = HpaFlow.reading(hpa);
        return hpa.status?.conditions?.some((c) => c.type === "ScalingActive" && c.status === "True") && value ? value : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    console.error(`    [${label}] idle: ${idle} ${this.options.unit}`);
    assert.equal((await readCluster(ns, this.name)).spec.replicas, 3, "no scaling without load");

    const service = await admin().get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/${ns}/services/${this.name}`);
    // Over TLS from the cluster's published CA, as a user's client would, with the Service's name as the server name.
    const client = await clusterClient(ns, this.name, [`https://${service.spec.clusterIP}:8080`], { maxSockets: shape.clients, timeoutMs: 5_000 });
    const load = new ServiceLoad(client, shape);
    this.load = load;
    const started = Date.now();
    load.start();
    const raised = await waitFor(
      "the HPA to raise spec.replicas to 4 through /scale",
      async () => ((await readCluster(ns, this.name)).spec.replicas === 4 ? this.readHpa() : undefined),
      { timeoutMs: this.options.scaleUpTimeoutMs, intervalMs: 1_000 },
    );
    console.error(`    [${label}] raised to 4 after ${Date.now() - started} ms of load at ${HpaFlow.reading(raised)} ${this.options.unit}`);
    const scaled = await waitStable(ns, this.name, 4, { timeoutMs: this.options.scaleUpTimeoutMs });
    assertBalanced(scaled, 4);
    console.error(`    [${label}] Stable at 4 after ${Date.now() - started} ms; ${load.requests} requests through the Service, ${load.failures} failed`);
    await this.checker.assertNothingLost(`scaled up by the HPA (${label})`);
    this.scaledUp = true;
  }

  /** Stops the load; once the HPA lowers spec.replicas to 3, checks the ring Stable and balanced and the checker. */
  async scaleDown(): Promise<ClusterObject> {
    assert.ok(this.scaledUp, "the HPA never scaled up, so there is nothing to scale back");
    const ns = this.ns();
    await this.load?.stop();
    this.load = undefined;
    const stopped = Date.now();
    await waitFor("the HPA to lower spec.replicas to 3", async () => (await readCluster(ns, this.name)).spec.replicas === 3, {
      timeoutMs: this.options.scaleDownTimeoutMs,
      intervalMs: 1_000,
    });
    console.error(`    [${this.options.label}] lowered to 3 ${Date.now() - stopped} ms after the load stopped, at ${HpaFlow.reading(await this.readHpa())} ${this.options.unit}`);
    const scaled = await waitStable(ns, this.name, 3, { timeoutMs: this.options.scaleDownTimeoutMs });
    assertBalanced(scaled, 3);
    await this.checker?.stop();
    await this.checker?.assertNothingLost(`scaled down by the HPA (${this.options.label})`);
    this.checker = undefined;
    return scaled;
  }

  /** For a failed test: the HPA's status, the cluster's and the pods'. */
  async describeFailure(): Promise<void> {
    console.error(`    HPA at failure: ${JSON.stringify((await this.readHpa().catch(() => undefined))?.status)}`);
    console.error(`    cluster at failure: ${JSON.stringify((await readCluster(this.ns(), this.name).catch(() => undefined))?.status)}`);
    console.error(`    pods at failure:\n${await describePods(this.ns()).catch(() => "")}`);
  }

  async stop(): Promise<void> {
    await this.load?.stop();
    await this.checker?.stop();
  }
}
