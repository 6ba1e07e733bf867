// A HorizontalPodAutoscaler scaling a DynamoCluster on client requests per node, end to end on the real node: the
// operator serves custom.metrics.k8s.io/v1beta2 itself, registered with kube-apiserver's aggregation layer by an
// APIService; the HPA asks for dynamo_client_requests_per_second of the cluster's pods, which the operator computes
// from each node's own /metrics. Load through the client Service raises it over the target, the HPA raises
// spec.replicas through /scale, and the ring grows with the set checker's clients running and no acknowledged write
// lost; when the load stops, the HPA scales back. The API's guards are checked on the way: discovery, a clear 404 for
// an unknown metric, 403 for a user RBAC does not allow (asked by the operator itself), and nothing at all for a
// caller without the aggregator's client certificate. The scale-up and scale-down flow is hpa-flow.ts's, shared with
// the CPU test.
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
import { ApiClient, ApiError, admin, cluster, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";
import { pkiPaths, readPem } from "../harness/control-plane/pki.js";
import { nodeAddresses } from "../harness/sandbox/network-plan.js";
import { createCluster, installCrd, startOperator, waitStable } from "../operator/helpers.js";
import { CHART_DIR, runHelmAsync } from "../../unit/packaging/helm.js";
import { HPA_CLUSTER, HpaFlow } from "./hpa-flow.js";

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
  let servingCa = "";
  let listening = "";
  let chartInstalled = false;
  const { loadClients, keysPerClient, valueBytes } = DEFAULT_CUSTOM_METRICS_TEST;
  const flow = new HpaFlow(() => ns, NAME, {
    label: "custom-metrics",
    seed: "custom-metrics-hpa",
    metric: { type: "Pods", pods: { metric: { name: METRIC }, target: { type: "AverageValue", averageValue: DEFAULT_CUSTOM_METRICS_TEST.targetRequestsPerSecond } } },
    unit: "requests/s per pod",
    load: { clients: loadClients, keysPerClient, valueBytes },
    checkerPauseMs: DEFAULT_CUSTOM_METRICS_TEST.checkerPauseMs,
    scaleUpTimeoutMs: DEFAULT_CUSTOM_METRICS_TEST.scaleUpTimeoutMs,
    scaleDownTimeoutMs: DEFAULT_CUSTOM_METRICS_TEST.scaleDownTimeoutMs,
  });

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
    await createCluster(ns, NAME, HPA_CLUSTER);
    await waitStable(ns, NAME, 3);
  });

  after(async function () {
    this.timeout(180_000);
    await flow.stop();
    if (chartInstalled) await runHelmAsync(["uninstall", CHART_RELEASE, "--namespace", ns, "--wait", "--kubeconfig", cluster().info.kubeconfig], 100_000);
    await admin().delete(`/apis/apiregistration.k8s.io/v1/apiservices/${API_SERVICE}`).catch(() => undefined);
    await operator?.stop();
    await deleteNamespace(ns);
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") await flow.describeFailure();
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
    await flow.scaleUp();
  });

  it("scales back 4 → 3 once the load stops, with no acknowledged write lost", async () => {
    await flow.scaleDown();
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
