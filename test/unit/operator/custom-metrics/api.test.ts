import assert from "node:assert/strict";
import { CUSTOM_METRICS, MetricsApiError, apiGroupList, apiResourceList, metricValueList, parseRequest, quantity, status } from "../../../../operator/custom-metrics/index.js";

const BASE = "/apis/custom.metrics.k8s.io/v1beta2";
const requests = CUSTOM_METRICS.find((m) => m.name === "dynamo_client_requests_per_second")!;

function apiError(fn: () => unknown): MetricsApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MetricsApiError) return err;
    throw err;
  }
  assert.fail("expected a MetricsApiError");
}

describe("custom metrics API: requests and answers", () => {
  it("parses the HPA's request for every pod a selector matches, and a request for one pod", () => {
    const selector = "app.kubernetes.io/component=storage,app.kubernetes.io/instance=kv,app.kubernetes.io/name=dynamo";
    const all = parseRequest(`${BASE}/namespaces/shop/pods/*/dynamo_client_requests_per_second?labelSelector=${encodeURIComponent(selector)}&metricLabelSelector=`);
    assert.deepEqual(all, { kind: "values", namespace: "shop", pod: "*", metric: requests, labelSelector: selector, metricLabelSelector: "" });
    const one = parseRequest(`${BASE}/namespaces/shop/pods/kv-2/dynamo_stored_bytes`);
    assert.equal(one.kind === "values" && one.pod, "kv-2");
    assert.equal(one.kind === "values" && one.metric.kind, "gauge");
    assert.deepEqual(parseRequest(BASE), { kind: "discovery" });
    assert.deepEqual(parseRequest(`${BASE}/`), { kind: "discovery" });
    assert.deepEqual(parseRequest("/apis/custom.metrics.k8s.io"), { kind: "group" });
    assert.deepEqual(parseRequest("/apis"), { kind: "groups" });
  });

  it("answers an unknown metric with 404 naming the metrics there are", () => {
    const err = apiError(() => parseRequest(`${BASE}/namespaces/shop/pods/*/cpu_usage`));
    assert.equal(err.code, 404);
    assert.match(err.message, /no metric 'cpu_usage' for pods: the operator serves dynamo_client_requests_per_second, dynamo_stored_bytes/);
  });

  it("answers other object kinds and root-scoped metrics with 404, malformed names and metric selectors with 400", () => {
    assert.equal(apiError(() => parseRequest(`${BASE}/namespaces/shop/services/*/dynamo_stored_bytes`)).code, 404);
    assert.equal(apiError(() => parseRequest(`${BASE}/nodes/*/dynamo_stored_bytes`)).code, 404);
    assert.equal(apiError(() => parseRequest(`${BASE}/namespaces/shop/metrics/dynamo_stored_bytes`)).code, 404);
    assert.equal(apiError(() => parseRequest("/apis/metrics.k8s.io/v1beta1")).code, 404);
    assert.equal(apiError(() => parseRequest(`${BASE}/namespaces/Shop/pods/*/dynamo_stored_bytes`)).code, 400);
    assert.equal(apiError(() => parseRequest(`${BASE}/namespaces/shop/pods/KV_0/dynamo_stored_bytes`)).code, 400);
    const selector = apiError(() => parseRequest(`${BASE}/namespaces/shop/pods/*/dynamo_stored_bytes?metricLabelSelector=op%3Dget`));
    assert.equal(selector.code, 400);
    assert.match(selector.message, /no metric labels/);
  });

  it("lists its group at /apis in the plain form, so the aggregator falls back to the version's document", () => {
    const version = { groupVersion: "custom.metrics.k8s.io/v1beta2", version: "v1beta2" };
    assert.deepEqual(apiGroupList(), { kind: "APIGroupList", apiVersion: "v1", groups: [{ name: "custom.metrics.k8s.io", versions: [version], preferredVersion: version }] });
  });

  it("lists one pods/<metric> resource per metric in discovery", () => {
    assert.deepEqual(apiResourceList(), {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: "custom.metrics.k8s.io/v1beta2",
      resources: [
        { name: "pods/dynamo_client_requests_per_second", singularName: "", namespaced: true, kind: "MetricValueList", verbs: ["get"] },
        { name: "pods/dynamo_stored_bytes", singularName: "", namespaced: true, kind: "MetricValueList", verbs: ["get"] },
      ],
    });
  });

  it("describes each pod's value as the HPA's client decodes it", () => {
    const list = metricValueList("shop", requests, [{ pod: "kv-0", value: 41.25, timestampMs: Date.parse("2026-01-02T03:04:05.678Z"), windowSeconds: 30 }]);
    assert.deepEqual(list, {
      kind: "MetricValueList",
      apiVersion: "custom.metrics.k8s.io/v1beta2",
      metadata: {},
      items: [
        {
          describedObject: { kind: "Pod", namespace: "shop", name: "kv-0", apiVersion: "/v1" },
          metric: { name: "dynamo_client_requests_per_second" },
          timestamp: "2026-01-02T03:04:05Z",
          windowSeconds: 30,
          value: "41250m",
        },
      ],
    });
  });

  it("writes values as Kubernetes quantities, in thousandths when not whole", () => {
    assert.equal(quantity(0), "0");
    assert.equal(quantity(1_073_741_824), "1073741824");
    assert.equal(quantity(12.5), "12500m");
    assert.equal(quantity(0.0004), "0");
    assert.equal(quantity(2.9999), "3");
    assert.throws(() => quantity(-1), RangeError);
    assert.throws(() => quantity(Number.NaN), RangeError);
  });

  it("makes errors Kubernetes Status objects", () => {
    assert.deepEqual(status(404, "no metric 'x'"), { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "no metric 'x'", reason: "NotFound", code: 404 });
    assert.equal(status(403, "no").reason, "Forbidden");
  });
});
