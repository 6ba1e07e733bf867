import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { accessReview, allowedClient, nodeSample, parseRequest, podTargets, requestHeaderConfig, userFromHeaders } from "../../../../operator/custom-metrics/index.js";

// As kube-apiserver publishes it in kube-system/extension-apiserver-authentication.
const DATA = {
  "client-ca-file": "CLIENT CA",
  "requestheader-client-ca-file": "FRONT PROXY CA",
  "requestheader-allowed-names": '["front-proxy-client"]',
  "requestheader-username-headers": '["X-Remote-User"]',
  "requestheader-group-headers": '["X-Remote-Group"]',
  "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
};

describe("custom metrics API: who may ask", () => {
  it("reads the aggregation layer's settings, and refuses to run without a front-proxy CA", () => {
    const config = requestHeaderConfig(DATA);
    assert.deepEqual(config, {
      ca: "FRONT PROXY CA",
      allowedNames: ["front-proxy-client"],
      usernameHeaders: ["X-Remote-User"],
      groupHeaders: ["X-Remote-Group"],
      extraHeaderPrefixes: ["X-Remote-Extra-"],
      uidHeaders: [],
    });
    assert.throws(() => requestHeaderConfig({ "client-ca-file": "CLIENT CA" }), /no requestheader-client-ca-file/);
    assert.throws(() => requestHeaderConfig({ ...DATA, "requestheader-allowed-names": '"front-proxy-client"' }), /not a JSON list/);
  });

  it("trusts only the allowed common names of the front-proxy CA (any, when the list is empty)", () => {
    const config = requestHeaderConfig(DATA);
    assert.equal(allowedClient("front-proxy-client", config), true);
    assert.equal(allowedClient("system:admin", config), false);
    assert.equal(allowedClient(undefined, config), false);
    assert.equal(allowedClient("anyone", { ...config, allowedNames: [] }), true);
  });

  it("takes the user, groups and extra attributes from the headers the aggregator sets", () => {
    const config = requestHeaderConfig(DATA);
    const user = userFromHeaders(
      { "x-remote-user": "system:serviceaccount:kube-system:horizontal-pod-autoscaler", "x-remote-group": ["system:serviceaccounts", "system:authenticated"], "x-remote-extra-authentication.kubernetes.io%2fpod-name": "hpa-1" },
      config,
    );
    assert.deepEqual(user, {
      user: "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
      groups: ["system:serviceaccounts", "system:authenticated"],
      extra: { "authentication.kubernetes.io/pod-name": ["hpa-1"] },
    });
    // The aggregator's own discovery requests name a user and no group: like every authenticated user, it is in
    // system:authenticated, which RBAC's discovery role is granted to.
    assert.deepEqual(userFromHeaders({ "x-remote-user": "system:kube-aggregator" }, config), { user: "system:kube-aggregator", groups: ["system:authenticated"], extra: {} });
    assert.deepEqual(userFromHeaders({ "x-remote-user": "system:anonymous", "x-remote-group": "system:unauthenticated" }, config)?.groups, ["system:unauthenticated"]);
    assert.equal(userFromHeaders({ "x-remote-group": "system:masters" }, config), undefined, "groups without a user are no one");
  });

  it("asks RBAC about a metric as kube-apiserver would see the request, and about discovery as a path", () => {
    const user = { user: "alice", groups: ["dev"], extra: {} };
    const values = parseRequest("/apis/custom.metrics.k8s.io/v1beta2/namespaces/shop/pods/*/dynamo_stored_bytes");
    assert.deepEqual(accessReview(user, values, "/ignored"), {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: {
        user: "alice",
        groups: ["dev"],
        extra: {},
        resourceAttributes: { namespace: "shop", verb: "get", group: "custom.metrics.k8s.io", version: "v1beta2", resource: "pods", subresource: "dynamo_stored_bytes", name: "*" },
      },
    });
    const discovery = accessReview(user, parseRequest("/apis/custom.metrics.k8s.io/v1beta2"), "/apis/custom.metrics.k8s.io/v1beta2") as { spec: unknown };
    assert.deepEqual((discovery.spec as { nonResourceAttributes: unknown }).nonResourceAttributes, { path: "/apis/custom.metrics.k8s.io/v1beta2", verb: "get" });
  });
});

describe("custom metrics API: which pods, and their numbers", () => {
  const pod = (name: string, overrides: { labels?: Record<string, string>; phase?: string; ip?: string; deleting?: boolean } = {}): V1Pod => ({
    metadata: {
      name,
      uid: `uid-${name}`,
      labels: overrides.labels ?? { "app.kubernetes.io/name": "dynamo", "app.kubernetes.io/instance": "kv", "app.kubernetes.io/component": "storage", "app.kubernetes.io/managed-by": "dynamo-operator" },
      ...(overrides.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: { phase: overrides.phase ?? "Running", podIP: overrides.ip ?? "198.19.64.5" },
  });

  it("scrapes running storage pods of DynamoClusters only, over the scheme their label names", () => {
    const plain = pod("kv-1", { ip: "198.19.64.6" });
    plain.metadata!.labels!["dynamo.ringkv.dev/client-scheme"] = "http";
    const targets = podTargets([
      pod("kv-0"),
      plain,
      pod("kv-2", { phase: "Pending" }),
      pod("kv-3", { deleting: true }),
      pod("backup-x", { labels: { "app.kubernetes.io/instance": "kv", "app.kubernetes.io/component": "backup", "app.kubernetes.io/managed-by": "dynamo-operator" } }),
      pod("web", { labels: { "app.kubernetes.io/instance": "kv" } }),
    ]);
    assert.deepEqual(targets, [
      { name: "kv-0", uid: "uid-kv-0", cluster: "kv", url: "https://198.19.64.5:8080/metrics" },
      { name: "kv-1", uid: "uid-kv-1", cluster: "kv", url: "http://198.19.64.6:8080/metrics" },
    ]);
  });

  it("reads requests and stored bytes from a node's exposition, and says when they are missing", () => {
    const text = 'dynamo_requests_total{op="get",status="200"} 10\ndynamo_requests_total{op="put",status="200"} 5\ndynamo_storage_bytes 2048\n';
    assert.deepEqual(nodeSample(text), { requests: 15, storedBytes: 2048 });
    // A node that has served no request yet declares dynamo_requests_total with no samples (prom-client prints none).
    assert.deepEqual(nodeSample("# HELP dynamo_requests_total x\n# TYPE dynamo_requests_total counter\ndynamo_storage_bytes 1\n"), { requests: 0, storedBytes: 1 });
    assert.throws(() => nodeSample("dynamo_storage_bytes 1\n"), /no dynamo_requests_total/);
    assert.throws(() => nodeSample("# TYPE dynamo_requests_total counter\n"), /dynamo_storage_bytes/);
  });
});
