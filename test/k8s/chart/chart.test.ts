// The Helm chart on the local cluster, the way a user meets it: `helm install` with the chart's defaults runs the
// operator from the project's image (built from the Dockerfile, loaded on the node under the chart's appVersion tag)
// as a pod under the chart's own ServiceAccount and RBAC, reaching the API server through the `kubernetes` Service; it
// takes the leader Lease, the minimal example (which names no image) becomes Available on the operator's image, the HPA example can read the DynamoCluster's /scale, scaling
// through /scale ends Stable and balanced, `helm upgrade` rolls only the operator, and `helm uninstall` leaves the
// CRD, the cluster and its data behind. The steps build on each other, so they run in order on one release.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { V1Deployment, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { CHART_DIR, runHelmAsync, type HelmResult } from "../../unit/packaging/helm.js";
import { admin, cluster, createNamespace, deleteNamespace, describePods, dynamoImage, isReady, podLogs, waitFor } from "../harness/index.js";
import { clientRequest } from "../operator/helpers.js";

const RELEASE = "dynamo-operator";
const CLUSTER = "demo";
const CRD_NAME = "dynamoclusters.dynamo.ringkv.dev";
const GROUP_PATH = "/apis/dynamo.ringkv.dev/v1alpha1";

export const DEFAULT_CHART_TEST = {
  helmTimeout: "3m",
  helmProcessTimeoutMs: 200_000,
  availableTimeoutMs: 240_000,
  stableTimeoutMs: 360_000,
  hpaTimeoutMs: 90_000,
  rolloutTimeoutMs: 180_000,
};

type Condition = { type: string; status: string; reason?: string; message?: string };
type DynamoCluster = {
  metadata: { generation?: number };
  status?: {
    phase?: string;
    readyReplicas?: number;
    observedGeneration?: number;
    members?: { id: string; state: string; partitions: number }[];
    conditions?: Condition[];
    partitions?: number;
  };
};

/** Reads an example manifest as kubectl would (YAML 1.1). */
function example(file: string): Record<string, unknown>[] {
  const text = readFileSync(new URL(`../../../examples/${file}`, import.meta.url), "utf8");
  return parseAllDocuments(text, { version: "1.1" }).map((d) => d.toJS() as Record<string, unknown>);
}

async function helm(args: string[]): Promise<HelmResult> {
  const result = await runHelmAsync([...args, "--kubeconfig", cluster().info.kubeconfig], DEFAULT_CHART_TEST.helmProcessTimeoutMs);
  assert.equal(result.status, 0, `helm ${args.join(" ")} failed: ${result.stderr}`);
  return result;
}

function condition(conditions: Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

describe("helm chart on the local control plane", function () {
  // Each step needs the one before it; after a failure the rest would only repeat it.
  this.bail(true);
  this.timeout(DEFAULT_CHART_TEST.stableTimeoutMs + 60_000);
  let releaseNs = "";
  let appsNs = "";
  let installed = false;
  const clusterPath = () => `${GROUP_PATH}/namespaces/${appsNs}/dynamoclusters/${CLUSTER}`;
  const operatorPods = async () =>
    (await admin().get<{ items: V1Pod[] }>(`/api/v1/namespaces/${releaseNs}/pods?labelSelector=${encodeURIComponent("app.kubernetes.io/name=dynamo-operator")}`)).items;
  const storagePods = async () =>
    (await admin().get<{ items: V1Pod[] }>(`/api/v1/namespaces/${appsNs}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${CLUSTER}`)}`)).items;
  const readCluster = () => admin().get<DynamoCluster>(clusterPath());

  before(async () => {
    releaseNs = await createNamespace("chart-op");
    appsNs = await createNamespace("chart-apps");
  });

  // A failed step explains itself: what the cluster reported, its pods, and the end of the operator's log.
  afterEach(async function () {
    if (this.currentTest?.state !== "failed") return;
    const status = await admin().find<DynamoCluster>(clusterPath()).catch(() => undefined);
    console.error(`[chart test] DynamoCluster status: ${JSON.stringify(status?.status ?? null, null, 2)}`);
    console.error(`[chart test] pods:\n${await describePods(appsNs).catch(() => "")}`);
    for (const pod of await operatorPods().catch(() => [])) {
      const log = await podLogs(releaseNs, pod.metadata?.name ?? "", { tailLines: 40 }).catch(() => "");
      console.error(`[chart test] ${pod.metadata?.name} operator log (end):\n${log}`);
    }
  });

  after(async function () {
    this.timeout(120_000);
    if (installed) await runHelmAsync(["uninstall", RELEASE, "--namespace", releaseNs, "--wait", "--kubeconfig", cluster().info.kubeconfig], 100_000);
    await deleteNamespace(appsNs);
    await deleteNamespace(releaseNs);
  });

  it("helm install runs the operator under the chart's service account, and it becomes leader", async () => {
    // An earlier run or another test may have installed the CRD without Helm's ownership labels; adopt it.
    // The operator lives in one namespace and manages clusters in another, which takes the cluster-wide opt-in.
    await helm(["install", RELEASE, CHART_DIR, "--namespace", releaseNs, "--set", "clusterWide=true", "--take-ownership", "--wait", "--timeout", DEFAULT_CHART_TEST.helmTimeout]);
    installed = true;
    const [pod] = await operatorPods();
    assert.ok(pod && isReady(pod), "the operator pod is not ready");
    assert.equal(pod.spec?.serviceAccountName, RELEASE);
    assert.equal(pod.spec?.containers[0]?.image, dynamoImage(), "the chart's default image is the project's image at the chart's appVersion");
    const lease = await waitFor(
      "the operator to take the leader Lease",
      async () => {
        const found = await admin().find<{ spec: { holderIdentity?: string } }>(`/apis/coordination.k8s.io/v1/namespaces/${releaseNs}/leases/dynamo-operator`);
        return found?.spec.holderIdentity ? found : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.ok(lease.spec.holderIdentity);
    // The Lease proves the operator reached the API server; the metrics say this replica is the one leading.
    const metrics = await waitFor("the operator's metrics to report leadership", async () => {
      const response = await fetch(`http://${pod.status?.podIP}:8090/metrics`);
      const text = await response.text();
      return /^dynamo_operator_leader 1$/m.test(text) ? text : undefined;
    });
    assert.match(metrics, /dynamo_operator_reconciles_total|dynamo_operator_queue_depth/);
  });

  it("the service account gets the chart's rights and no more", async () => {
    const user = `system:serviceaccount:${releaseNs}:${RELEASE}`;
    const can = async (verb: string, resource: string, group = "", namespace = appsNs, subresource?: string) => {
      const review = await admin().post<{ status: { allowed: boolean } }>("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: { user, resourceAttributes: { verb, resource, group, namespace, subresource } },
      });
      return review.status.allowed;
    };
    assert.ok(await can("patch", "statefulsets", "apps"));
    assert.ok(await can("patch", "dynamoclusters", "dynamo.ringkv.dev", appsNs, "status"));
    assert.ok(await can("delete", "persistentvolumeclaims"));
    assert.ok(await can("update", "leases", "coordination.k8s.io", releaseNs));
    assert.ok(await can("patch", "networkpolicies", "networking.k8s.io"));
    assert.ok(!(await can("list", "secrets")), "the operator can list Secrets");
    assert.ok(!(await can("delete", "statefulsets", "apps")), "the operator can delete StatefulSets");
    assert.ok(!(await can("update", "dynamoclusters", "dynamo.ringkv.dev")), "the operator can rewrite a DynamoCluster's spec");
    assert.ok(!(await can("update", "leases", "coordination.k8s.io", appsNs)), "the operator can take Leases outside its namespace");
  });

  it("the CRD carries the keep policy and the minimal example becomes Available", async () => {
    const crd = await admin().get<{ metadata: { annotations?: Record<string, string> } }>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`);
    assert.equal(crd.metadata.annotations?.["helm.sh/resource-policy"], "keep");
    const [minimal] = example("minimal.yaml");
    await admin().post(`${GROUP_PATH}/namespaces/${appsNs}/dynamoclusters`, minimal);
    await waitFor(
      "the minimal cluster to be Available",
      async () => condition((await readCluster()).status?.conditions, "Available")?.status === "True",
      { timeoutMs: DEFAULT_CHART_TEST.availableTimeoutMs, intervalMs: 1_000 },
    );
    const pods = await storagePods();
    assert.deepEqual([...new Set(pods.map((p) => p.spec?.containers[0]?.image))], [dynamoImage()], "a cluster naming no image runs the operator's");
    // The client port serves TLS from the cluster's CA, which the operator publishes in ConfigMap X-ca.
    const ip = pods[0]?.status?.podIP;
    const put = await clientRequest(appsNs, CLUSTER, `https://${ip}:8080/v1/kv/default/greeting`, { method: "PUT", body: "hello", headers: { "Content-Type": "text/plain" } });
    assert.equal(put.status, 204, put.body);
  });

  it("the HPA example reads the cluster's scale subresource and its pods' CPU (AbleToScale, ScalingActive)", async () => {
    const [hpa] = example("hpa.yaml");
    await admin().post(`/apis/autoscaling/v2/namespaces/${appsNs}/horizontalpodautoscalers`, hpa);
    // The controller manager learns of a new CRD through discovery, which it refreshes on its own schedule, so the first
    // verdict may be FailedGetScale "no matches for kind"; AbleToScale must turn True once it knows the kind.
    // ScalingActive=True says it also got the pods' CPU from metrics.k8s.io (metrics-server).
    await cluster().waitForAddons();
    const hpaPath = `/apis/autoscaling/v2/namespaces/${appsNs}/horizontalpodautoscalers/${CLUSTER}`;
    let last: Condition[] | undefined;
    await waitFor(
      "the HPA to report AbleToScale=True and ScalingActive=True",
      async () => {
        last = (await admin().get<{ status?: { conditions?: Condition[] } }>(hpaPath)).status?.conditions ?? last;
        return condition(last, "AbleToScale")?.status === "True" && condition(last, "ScalingActive")?.status === "True";
      },
      { timeoutMs: DEFAULT_CHART_TEST.hpaTimeoutMs, intervalMs: 1_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last conditions: ${JSON.stringify(last)}`);
    });
    // An HPA owns spec.replicas: the hand scaling of the next step would be undone by it (on this idle cluster, back to
    // its minimum), so it goes. Scaling on load is tested in test/k8s/autoscaling/.
    await admin().delete(hpaPath);
  });

  it("scaling to 4 through /scale ends Stable with the partitions balanced", async () => {
    // What `kubectl scale dyn/demo --replicas=4` sends.
    await admin().patch(`${clusterPath()}/scale`, { spec: { replicas: 4 } });
    const scale = await admin().get<{ spec: { replicas: number }; status: { selector?: string } }>(`${clusterPath()}/scale`);
    assert.equal(scale.spec.replicas, 4);
    assert.equal(scale.status.selector, `app.kubernetes.io/component=storage,app.kubernetes.io/instance=${CLUSTER},app.kubernetes.io/name=dynamo`);
    const stable = await waitFor(
      "the cluster to be Stable with 4 ready members",
      async () => {
        const c = await readCluster();
        const s = c.status;
        return s?.phase === "Stable" && s.readyReplicas === 4 && s.observedGeneration === c.metadata.generation ? c : undefined;
      },
      { timeoutMs: DEFAULT_CHART_TEST.stableTimeoutMs, intervalMs: 2_000 },
    );
    const members = (stable.status?.members ?? []).filter((m) => m.state !== "absent");
    assert.equal(members.length, 4);
    const partitions = stable.status?.partitions ?? 256;
    for (const m of members) {
      assert.ok([Math.floor(partitions / 4), Math.ceil(partitions / 4)].includes(m.partitions), `${m.id} owns ${m.partitions} of ${partitions}`);
    }
  });

  it("helm upgrade with a changed value rolls the operator without disturbing the storage pods", async () => {
    const before = await storagePods();
    const stsBefore = await admin().get<V1StatefulSet>(`/apis/apps/v1/namespaces/${appsNs}/statefulsets/${CLUSTER}`);
    const operatorBefore = (await operatorPods()).map((p) => p.metadata?.uid);
    await helm([
      "upgrade", RELEASE, CHART_DIR, "--namespace", releaseNs, "--reuse-values",
      "--set", "podAnnotations.rolled=again", "--wait", "--timeout", DEFAULT_CHART_TEST.helmTimeout,
    ]);
    await waitFor(
      "the operator Deployment to finish rolling",
      async () => {
        const d = await admin().get<V1Deployment>(`/apis/apps/v1/namespaces/${releaseNs}/deployments/${RELEASE}`);
        const pods = await operatorPods();
        const rolled = pods.length === 1 && !operatorBefore.includes(pods[0]?.metadata?.uid) && isReady(pods[0]);
        return rolled && d.status?.updatedReplicas === 1 && d.status.observedGeneration === d.metadata?.generation;
      },
      { timeoutMs: DEFAULT_CHART_TEST.rolloutTimeoutMs, intervalMs: 1_000 },
    );
    const after = await storagePods();
    assert.deepEqual(
      after.map((p) => [p.metadata?.name, p.metadata?.uid, p.status?.containerStatuses?.[0]?.restartCount]).sort(),
      before.map((p) => [p.metadata?.name, p.metadata?.uid, p.status?.containerStatuses?.[0]?.restartCount]).sort(),
      "storage pods were replaced or restarted by an operator upgrade",
    );
    const stsAfter = await admin().get<V1StatefulSet>(`/apis/apps/v1/namespaces/${appsNs}/statefulsets/${CLUSTER}`);
    assert.equal(stsAfter.metadata?.generation, stsBefore.metadata?.generation, "the upgrade changed the StatefulSet");
    // The new operator takes over and still finds nothing to change.
    await waitFor("the new operator to lead and see the cluster Stable", async () => {
      const [pod] = await operatorPods();
      const text = await (await fetch(`http://${pod?.status?.podIP}:8090/metrics`)).text();
      return /^dynamo_operator_leader 1$/m.test(text) && (await readCluster()).status?.phase === "Stable";
    }, { timeoutMs: 90_000, intervalMs: 1_000 });
  });

  it("helm uninstall keeps the CRD, the cluster and its data", async () => {
    await helm(["uninstall", RELEASE, "--namespace", releaseNs, "--wait", "--timeout", DEFAULT_CHART_TEST.helmTimeout]);
    installed = false;
    // --wait covers the Deployment; its pods go afterwards, through the garbage collector.
    await waitFor("the operator pods to be gone", async () => (await operatorPods()).length === 0, { timeoutMs: 60_000, intervalMs: 1_000 });
    assert.ok(await admin().find(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`), "the CRD was deleted");
    assert.ok(await admin().find(clusterPath()), "the DynamoCluster was deleted");
    const claims = await admin().get<{ items: { metadata: { name: string } }[] }>(
      `/api/v1/namespaces/${appsNs}/persistentvolumeclaims?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${CLUSTER}`)}`,
    );
    assert.deepEqual(claims.items.map((c) => c.metadata.name).sort(), [0, 1, 2, 3].map((i) => `data-${CLUSTER}-${i}`));
    const pods = await storagePods();
    assert.equal(pods.filter((p) => isReady(p)).length, 4, "the storage nodes stopped serving");
    // The data is still served: the nodes answer on their own, with or without an operator.
    for (const pod of pods) {
      const got = await clientRequest(appsNs, CLUSTER, `https://${pod.status?.podIP}:8080/v1/kv/default/greeting`);
      assert.equal(got.status, 200, `${pod.metadata?.name}: ${got.status}`);
      assert.equal(got.body, "hello");
    }
  });
});
