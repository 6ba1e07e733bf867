// A HorizontalPodAutoscaler scaling a DynamoCluster on client requests per node, end to end on the real node: the
// operator serves custom.metrics.k8s.io/v1beta2 itself, registered with kube-apiserver's aggregation layer by an
// APIService; the HPA asks for dynamo_client_requests_per_second of the cluster's pods, which the operator computes
// from each node's own /metrics. Load through the client Service raises it over the target, the HPA raises
// spec.replicas through /scale, and the ring grows with the set checker's clients running and no acknowledged write
// lost; when the load stops, the HPA scales back. The API's guards are checked on the way: discovery, a clear 404 for
// an unknown metric, 403 for a user RBAC does not allow (asked by the operator itself), and nothing at all for a
// caller without the aggregator's client certificate. The example's stabilization windows (minutes) are shortened here.
//
// The operator runs in this process, as in the other operator tests, so the APIService points at a Service without a
// selector whose endpoint is this process's listening address on the node (kube-apiserver routes aggregated requests
// to endpoints directly). The last step hands over to the chart (customMetrics.enabled), whose operator pod serves the
// API with the certificate, Service and RBAC the chart makes.
import assert from "node:assert/strict";
import { request } from "node:https";
import { join } from "node:path";
import { createCa, issueCertificate } from "../../../node/pki/index.js";
import type { Operator } from "../../../operator/controller/index.js";
import { testSeed } from "../../helpers/random.js";
import { ApiClient, ApiError, admin, cluster, createNamespace, deleteNamespace, describePods, waitFor } from "../harness/index.js";
import { pkiPaths, readPem } from "../harness/control-plane/pki.js";
import { nodeAddresses } from "../harness/sandbox/network-plan.js";
import { ClusterLoad, assertBalanced, clusterClient, createCluster, installCrd, readCluster, startOperator, waitStable } from "../operator/helpers.js";
import { CHART_DIR, runHelmAsync } from "../../unit/packaging/helm.js";
import { ServiceLoad } from "./service-load.js";

const NAME = "kv";
const SERVICE = "dynamo-custom-metrics";
const API_SERVICE = "v1beta2.custom.metrics.k8s.io";
const METRIC = "dynamo_client_requests_per_second";
const API = "/apis/custom.metrics.k8s.io/v1beta2";
/** The chart's release in the last step; its own name keeps its cluster-scoped objects apart from the chart test's. */
const CHART_RELEASE = "dynamo-cm";

export const DEFAULT_CUSTOM_METRICS_TEST = {
  /**
   * Client requests per second per storage pod the HPA aims at. The checker alone (4 clients pausing 200 ms) makes
   * well under 10 per pod; the load's 12 clients make hundreds through the Service even on a busy machine. So the load
   * asks for the maximum of 4, and with it stopped, an average at 4 pods below three quarters of the target (15) lets
   * the HPA come back to 3.
   */
  targetRequestsPerSecond: "20",
  loadClients: 12,
  checkerPauseMs: 200,
  keysPerClient: 20,
  valueBytes: 512,
  scaleUpTimeoutMs: 240_000,
  scaleDownTimeoutMs: 240_000,
};

interface Hpa {
  status?: {
    currentMetrics?: { pods?: { current?: { averageValue?: string } } }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

interface MetricValueList {
  kind: string;
  items: { describedObject: { kind: string; name: string; namespace: string }; metric: { name: string }; value: string; windowSeconds: number }[];
}

/** A GET straight to the operator's custom metrics port, with the given client certificate (if any) and headers. */
function directGet(url: string, ca: string, client: { cert?: string; key?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, checkServerIdentity: () => undefined, cert: client.cert, key: client.key, headers: client.headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("autoscaling a DynamoCluster on requests per node through the custom metrics API", function () {
  this.timeout(DEFAULT_CUSTOM_METRICS_TEST.scaleUpTimeoutMs + DEFAULT_CUSTOM_METRICS_TEST.scaleDownTimeoutMs + 180_000);
  let ns = "";
  let operator: Operator | undefined;
  let checker: ClusterLoad | undefined;
  let load: ServiceLoad | undefined;
  let servingCa = "";
  let listening = "";
  let scaledUp = false;
  let chartInstalled = false;
  const hpaPath = () => `/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers/${NAME}`;
  const readHpa = () => admin().get<Hpa>(hpaPath());

  before(async function () {
    this.timeout(300_000);
    await cluster().waitForAddons();
    await installCrd();
    ns = await createNamespace("cmetrics");
    // The serving certificate the APIService's caBundle vouches for, for the name the aggregator checks.
    const ca = await createCa({ commonName: "dynamo custom metrics test CA" });
    servingCa = ca.cert;
    const serving = await issueCertificate(ca, { commonName: SERVICE, hosts: [`${SERVICE}.${ns}.svc`], serverOnly: true });
    const host = nodeAddresses(0).ip;
    operator = await startOperator(ns, { customMetrics: { port: 0, host, tls: () => serving } });
    const port = operator.customMetricsPort!;
    listening = `https://${host}:${port}`;
    await admin().post(`/api/v1/namespaces/${ns}/services`, {
      metadata: { name: SERVICE },
      spec: { ports: [{ name: "https", port: 443, targetPort: port, protocol: "TCP" }] },
    });
    await admin().post(`/api/v1/namespaces/${ns}/endpoints`, {
      metadata: { name: SERVICE },
      subsets: [{ addresses: [{ ip: host }], ports: [{ name: "https", port, protocol: "TCP" }] }],
    });
    await admin().post("/apis/apiregistration.k8s.io/v1/apiservices", {
      metadata: { name: API_SERVICE },
      spec: {
        service: { namespace: ns, name: SERVICE, port: 443 },
        group: "custom.metrics.k8s.io",
        version: "v1beta2",
        caBundle: Buffer.from(ca.cert).toString("base64"),
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    });
    await waitFor(
      `APIService ${API_SERVICE} to be Available`,
      async () => {
        const found = await admin().get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`);
        return found.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await createCluster(ns, NAME, {
      replicas: 3,
      partitions: 32,
      tuning: { gossipIntervalMs: 200, phiThreshold: 5, hintDeliveryIntervalMs: 300, requestTimeoutMs: 3000, peerTimeoutMs: 1500, dropDelayMs: 1000 },
    });
    await waitStable(ns, NAME, 3);
  });

  after(async function () {
    this.timeout(180_000);
    await load?.stop();
    await checker?.stop();
    if (chartInstalled) await runHelmAsync(["uninstall", CHART_RELEASE, "--namespace", ns, "--wait", "--kubeconfig", cluster().info.kubeconfig], 100_000);
    await admin().delete(`/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`).catch(() => undefined);
    await operator?.stop();
    await deleteNamespace(ns);
  });

  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    console.error(`    HPA at failure: ${JSON.stringify((await readHpa().catch(() => undefined))?.status)}`);
    console.error(`    cluster at failure: ${JSON.stringify((await readCluster(ns, NAME).catch(() => undefined))?.status)}`);
    console.error(`    pods at failure:\n${await describePods(ns).catch(() => "")}`);
  });

  it("serves the metrics of the cluster's pods through the aggregation layer, to authorized users only", async () => {
    const discovery = await admin().get<{ resources: { name: string }[] }>(API);
    assert.deepEqual(discovery.resources.map((r) => r.name), [`pods/${METRIC}`, "pods/dynamo_stored_bytes"]);

    const selector = encodeURIComponent(`app.kubernetes.io/instance=${NAME}`);
    const requests = await admin().get<MetricValueList>(`${API}/namespaces/${ns}/pods/*/${METRIC}?labelSelector=${selector}`);
    assert.equal(requests.kind, "MetricValueList");
    assert.deepEqual(requests.items.map((i) => i.describedObject.name), ["kv-0", "kv-1", "kv-2"]);
    assert.ok(requests.items.every((i) => i.metric.name === METRIC && i.windowSeconds >= 1), JSON.stringify(requests.items));
    const stored = await admin().get<MetricValueList>(`${API}/namespaces/${ns}/pods/kv-1/dynamo_stored_bytes`);
    assert.equal(stored.items.length, 1);
    assert.ok(Number(stored.items[0]!.value) > 0, `kv-1 stores ${stored.items[0]!.value} bytes`);

    await assert.rejects(admin().get(`${API}/namespaces/${ns}/pods/*/cpu_seconds`), (err: unknown) => {
      assert.ok(err instanceof ApiError && err.statusCode === 404, String(err));
      assert.match(err.message, /no metric 'cpu_seconds' for pods: the operator serves dynamo_client_requests_per_second, dynamo_stored_bytes/);
      return true;
    });

    // A service account with no role is refused (by kube-apiserver, which authorizes aggregated requests too).
    await admin().post(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "nobody" } });
    const token = await admin().post<{ status: { token: string } }>(`/api/v1/namespaces/${ns}/serviceaccounts/nobody/token`, { spec: { expirationSeconds: 600 } });
    const nobody = new ApiClient({ server: admin().credentials.server, caPem: admin().credentials.caPem, token: token.status.token });
    await assert.rejects(nobody.get(`${API}/namespaces/${ns}/pods/*/${METRIC}`), (err: unknown) => {
      assert.ok(err instanceof ApiError && err.statusCode === 403, String(err));
      return true;
    });

    // Straight to the operator's port. With the aggregator's own client certificate, the user it names is still
    // authorized, by the operator's SubjectAccessReview.
    const url = `${listening}${API}/namespaces/${ns}/pods/*/${METRIC}`;
    const pki = pkiPaths(join(cluster().runDir, "pki"));
    const frontProxy = { cert: readPem(pki.frontProxyClient.cert), key: readPem(pki.frontProxyClient.key) };
    const forbidden = await directGet(url, servingCa, { ...frontProxy, headers: { "X-Remote-User": `system:serviceaccount:${ns}:nobody`, "X-Remote-Group": "system:authenticated" } });
    assert.equal(forbidden.status, 403, forbidden.body);
    assert.match((JSON.parse(forbidden.body) as { message: string }).message, /nobody" cannot get dynamo_client_requests_per_second of pods in namespace/);
    const allowed = await directGet(url, servingCa, { ...frontProxy, headers: { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" } });
    assert.equal(allowed.status, 200, allowed.body);
    // Without that certificate (none, or the admin's, from the cluster CA): refused, whatever the headers say.
    for (const client of [{}, { cert: readPem(pki.admin.cert), key: readPem(pki.admin.key) }]) {
      const refused = await directGet(url, servingCa, { ...client, headers: { "X-Remote-User": "admin", "X-Remote-Group": "system:masters" } });
      assert.equal(refused.status, 401, refused.body);
      assert.match((JSON.parse(refused.body) as { message: string }).message, /answers only kube-apiserver's aggregation layer/);
    }
  });

  it("scales 3 → 4 on requests per node under load through the client Service, with no acknowledged write lost", async () => {
    await admin().post(`/apis/autoscaling/v2/namespaces/${ns}/horizontalpodautoscalers`, {
      metadata: { name: NAME },
      spec: {
        scaleTargetRef: { apiVersion: "dynamo.ringkv.dev/v1alpha1", kind: "DynamoCluster", name: NAME },
        minReplicas: 3,
        maxReplicas: 4,
        metrics: [{ type: "Pods", pods: { metric: { name: METRIC }, target: { type: "AverageValue", averageValue: DEFAULT_CUSTOM_METRICS_TEST.targetRequestsPerSecond } } }],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: "Pods", value: 1, periodSeconds: 15 }] },
          scaleDown: { stabilizationWindowSeconds: 20, policies: [{ type: "Pods", value: 1, periodSeconds: 15 }] },
        },
      },
    });
    checker = new ClusterLoad(ns, NAME, testSeed("custom-metrics-hpa"), { pauseMs: DEFAULT_CUSTOM_METRICS_TEST.checkerPauseMs });
    await checker.start();
    // The HPA reads the metric with only the checker running: proof the pipeline works, and the baseline.
    const idle = await waitFor(
      `the HPA to read ${METRIC} from custom.metrics.k8s.io`,
      async () => {
        const hpa = await readHpa();
        const value = hpa.status?.currentMetrics?.[0]?.pods?.current?.averageValue;
        return hpa.status?.conditions?.some((c) => c.type === "ScalingActive" && c.status === "True") && value ? value : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    console.error(`    [custom-metrics] idle: ${idle} requests/s per pod (target ${DEFAULT_CUSTOM_METRICS_TEST.targetRequestsPerSecond})`);
    assert.equal((await readCluster(ns, NAME)).spec.replicas, 3, "no scaling without load");

    const service = await admin().get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/${ns}/services/${NAME}`);
    const { loadClients, keysPerClient, valueBytes } = DEFAULT_CUSTOM_METRICS_TEST;
    const client = await clusterClient(ns, NAME, [`https://${service.spec.clusterIP}:8080`], { maxSockets: loadClients, timeoutMs: 5_000 });
    load = new ServiceLoad(client, { clients: loadClients, keysPerClient, valueBytes });
    const started = Date.now();
    load.start();
    const raised = await waitFor(
      "the HPA to raise spec.replicas to 4 through /scale",
      async () => ((await readCluster(ns, NAME)).spec.replicas === 4 ? readHpa() : undefined),
      { timeoutMs: DEFAULT_CUSTOM_METRICS_TEST.scaleUpTimeoutMs, intervalMs: 1_000 },
    );
    console.error(`    [custom-metrics] raised to 4 after ${Date.now() - started} ms of load at ${raised.status?.currentMetrics?.[0]?.pods?.current?.averageValue} requests/s per pod`);
    const scaled = await waitStable(ns, NAME, 4, { timeoutMs: DEFAULT_CUSTOM_METRICS_TEST.scaleUpTimeoutMs });
    assertBalanced(scaled, 4);
    console.error(`    [custom-metrics] Stable at 4 after ${Date.now() - started} ms; ${load.requests} requests through the Service, ${load.failures} failed`);
    await checker.assertNothingLost("scaled up by the HPA on requests per node");
    scaledUp = true;
  });

  it("scales back 4 → 3 once the load stops, with no acknowledged write lost", async () => {
    assert.ok(scaledUp, "the HPA never scaled up, so there is nothing to scale back");
    await load?.stop();
    load = undefined;
    const stopped = Date.now();
    await waitFor("the HPA to lower spec.replicas to 3", async () => (await readCluster(ns, NAME)).spec.replicas === 3, {
      timeoutMs: DEFAULT_CUSTOM_METRICS_TEST.scaleDownTimeoutMs,
      intervalMs: 1_000,
    });
    const hpa = await readHpa();
    console.error(`    [custom-metrics] lowered to 3 ${Date.now() - stopped} ms after the load stopped, at ${hpa.status?.currentMetrics?.[0]?.pods?.current?.averageValue} requests/s per pod`);
    const scaled = await waitStable(ns, NAME, 3, { timeoutMs: DEFAULT_CUSTOM_METRICS_TEST.scaleDownTimeoutMs });
    assertBalanced(scaled, 3);
    await checker?.stop();
    await checker?.assertNothingLost("scaled down by the HPA on requests per node");
    checker = undefined;
  });
  it("is served the same way by the chart's operator pod (customMetrics.enabled): its certificate, Service and RBAC", async () => {
    // The in-process operator hands the cluster and the API over to one the chart runs from the project's image.
    await admin().delete(`/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`);
    await operator?.stop();
    operator = undefined;
    const values = ["customMetrics.enabled=true", `watchNamespaces={${ns}}`, "crds.install=false", `fullnameOverride=${CHART_RELEASE}`, "metrics.service.enabled=false"];
    const args = ["install", CHART_RELEASE, CHART_DIR, "--namespace", ns, ...values.flatMap((v) => ["--set", v]), "--wait", "--timeout", "3m", "--kubeconfig", cluster().info.kubeconfig];
    const installed = await runHelmAsync(args, 200_000);
    assert.equal(installed.status, 0, `helm install failed: ${installed.stderr}`);
    chartInstalled = true;
    await waitFor(
      `the chart's APIService ${API_SERVICE} to be Available`,
      async () => {
        const found = await admin().get<{ spec: { service: { name: string } }; status?: { conditions?: { type: string; status: string }[] } }>(`/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`);
        return found.spec.service.name === `${CHART_RELEASE}-custom-metrics` && found.status?.conditions?.some((c) => c.type === "Available" && c.status === "True") ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    const selector = encodeURIComponent(`app.kubernetes.io/instance=${NAME}`);
    const stored = await admin().get<MetricValueList>(`${API}/namespaces/${ns}/pods/*/dynamo_stored_bytes?labelSelector=${selector}`);
    assert.deepEqual(stored.items.map((i) => i.describedObject.name), ["kv-0", "kv-1", "kv-2"]);
    // Requests per node too (a pod the chart's operator has not seen yet is scraped twice for its first rate).
    await waitFor(
      `${METRIC} of every pod from the chart's operator`,
      async () => {
        const found = await admin().get<MetricValueList>(`${API}/namespaces/${ns}/pods/*/${METRIC}?labelSelector=${selector}`);
        return found.items.length === 3 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
  });
});
