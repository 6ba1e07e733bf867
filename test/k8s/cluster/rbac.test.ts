// In-cluster access is real: a pod of the project's image loads its in-cluster configuration with
// @kubernetes/client-node exactly as the operator does (the service-account token, CA and namespace the kubelet
// projects into the pod, and the `kubernetes` Service that kube-proxy routes to the API server), and RBAC allows it
// exactly what its Role grants.
import assert from "node:assert/strict";
import { admin, createNamespace, deleteNamespace, dynamoImage, podLogs, waitForPod } from "../harness/index.js";

// Runs in the pod: each call's HTTP status (200 when allowed), as one JSON line on stdout.
const IN_CLUSTER_SCRIPT = `
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
const kc = new KubeConfig();
kc.loadFromCluster();
const api = kc.makeApiClient(CoreV1Api);
const ns = process.env.POD_NAMESPACE;
const status = (call) => call.then(() => 200, (err) => err.code ?? String(err));
console.log(JSON.stringify({
  server: kc.getCurrentCluster().server,
  listPods: await status(api.listNamespacedPod({ namespace: ns })),
  listSecrets: await status(api.listNamespacedSecret({ namespace: ns })),
  createConfigMap: await status(api.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: "nope" } } })),
  deletePod: await status(api.deleteNamespacedPod({ namespace: ns, name: process.env.POD_NAME })),
  otherNamespace: await status(api.listNamespacedPod({ namespace: "default" })),
}));
`;

describe("RBAC for pods' service accounts", () => {
  let ns: string;

  before(async () => {
    ns = await createNamespace("rbac");
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  it("lets a pod's limited ServiceAccount read pods through its in-cluster configuration and refuses it everything else", async () => {
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
      spec: {
        serviceAccountName: "limited",
        restartPolicy: "Never",
        containers: [
          {
            name: "client",
            image: dynamoImage(),
            // The image's own dependencies, resolved from its application directory.
            workingDir: "/app",
            command: ["node", "--input-type=module", "-e", IN_CLUSTER_SCRIPT],
            env: [
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
            ],
          },
        ],
      },
    });
    const done = await waitForPod(ns, "limited", "to finish", (p) => p.status?.phase === "Succeeded" || p.status?.phase === "Failed", { timeoutMs: 90_000 });
    const log = await podLogs(ns, "limited");
    assert.equal(done.status?.phase, "Succeeded", log);
    const result = JSON.parse(log.trim().split("\n").pop() ?? "{}") as Record<string, unknown>;
    assert.match(String(result.server), /^https:\/\/198\.19\.128\.1:443$/, "in-cluster configuration goes through the kubernetes Service");
    assert.equal(result.listPods, 200, "it may list pods in its namespace");
    assert.equal(result.listSecrets, 403, "it may not list secrets");
    assert.equal(result.createConfigMap, 403, "it may not create configmaps");
    assert.equal(result.deletePod, 403, "it may not delete pods");
    assert.equal(result.otherNamespace, 403, "it may not read other namespaces");
  });
});
