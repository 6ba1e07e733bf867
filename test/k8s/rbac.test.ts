// In-cluster RBAC is real: a pod's service-account kubeconfig (token from the TokenRequest API,
// written by the process kubelet) is allowed exactly what its Role grants and refused the rest,
// when used through @kubernetes/client-node as the operator will use it.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { admin, createNamespace, deleteNamespace } from "./fixture.js";
import { getJson, isReady, waitForPod } from "./pods.js";
import { testContainer } from "./test-image.js";

async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

describe("RBAC for pods' service accounts", () => {
  let ns: string;

  before(async () => {
    ns = await createNamespace("rbac");
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  it("lets a pod's limited ServiceAccount read pods and refuses it everything else", async () => {
    const api = admin();
    await api.post(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: "limited" } });
    await api.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
      metadata: { name: "pod-reader" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
    });
    await api.post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
      metadata: { name: "limited-reads-pods" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "pod-reader" },
      subjects: [{ kind: "ServiceAccount", name: "limited", namespace: ns }],
    });
    await api.post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: "limited" },
      spec: { serviceAccountName: "limited", containers: [testContainer()] },
    });
    const pod = await waitForPod(ns, "limited", "to become Ready", isReady);
    const report = await getJson<{ env: Record<string, string> }>(`http://${pod.status?.podIP}:8080/`);
    const kubeconfigPath = report.env.KUBECONFIG ?? "";
    assert.ok(existsSync(kubeconfigPath), "the pod's KUBECONFIG names a file");
    const saDir = dirname(kubeconfigPath);
    assert.equal(readFileSync(join(saDir, "namespace"), "utf8"), ns);
    assert.ok(readFileSync(join(saDir, "ca.crt"), "utf8").includes("BEGIN CERTIFICATE"));
    assert.ok(readFileSync(join(saDir, "token"), "utf8").length > 100);

    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const asPod = kc.makeApiClient(CoreV1Api);
    const pods = await asPod.listNamespacedPod({ namespace: ns });
    assert.ok(pods.items.some((p) => p.metadata?.name === "limited"), "it may list pods in its namespace");
    assert.equal(await statusOf(asPod.listNamespacedSecret({ namespace: ns })), 403, "it may not list secrets");
    assert.equal(
      await statusOf(asPod.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "nope" } } })),
      403,
      "it may not create configmaps",
    );
    assert.equal(await statusOf(asPod.deleteNamespacedPod({ namespace: ns, name: "limited" })), 403, "it may not delete pods");
    assert.equal(await statusOf(asPod.listNamespacedPod({ namespace: "default" })), 403, "it may not read other namespaces");
  });
});
