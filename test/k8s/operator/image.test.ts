// The storage image on a real kubelet, where an image must exist to run: a DynamoCluster naming no image runs the
// operator's default (this build's `ringkv/dynamo:<version>`, pulled only if missing); one naming an image the node
// cannot pull says so in its Degraded condition, naming the pod, the image and the kubelet's reason; and correcting
// spec.image brings it up without anyone deleting the stuck pods by hand.
import assert from "node:assert/strict";
import type { Operator } from "../../../operator/controller/index.js";
import { admin, createNamespace, deleteNamespace, dynamoImage, waitFor } from "../harness/index.js";
import { clusterPods, clustersPath, createCluster, installCrd, readCluster, startOperator, waitStable } from "./helpers.js";

describe("operator: the storage image", function () {
  this.timeout(300_000);
  let ns = "";
  let operator: Operator | undefined;

  before(async () => {
    await installCrd();
    ns = await createNamespace("op-image");
    operator = await startOperator(ns);
  });
  after(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
  });

  it("runs a cluster that names no image on the operator's default, this build's tagged image", async () => {
    await createCluster(ns, "plain", { replicas: 3, partitions: 16 });
    await waitStable(ns, "plain", 3);
    const pods = await admin().get<{ items: { spec: { containers: { image: string; imagePullPolicy: string }[] } }[] }>(
      `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent("app.kubernetes.io/instance=plain")}`,
    );
    assert.deepEqual([...new Set(pods.items.map((p) => `${p.spec.containers[0]?.image} ${p.spec.containers[0]?.imagePullPolicy}`))], [`${dynamoImage()} IfNotPresent`]);
  });

  it("reports an image that cannot be pulled in the Degraded condition, and recovers when spec.image is corrected", async () => {
    const missing = "registry.invalid/ringkv/dynamo:0.0.0-missing";
    await createCluster(ns, "typo", { replicas: 3, partitions: 16, image: missing });
    const degraded = await waitFor(
      "the cluster to report its image pull failure",
      async () => {
        const c = (await readCluster(ns, "typo")).status?.conditions?.find((x) => x.type === "Degraded");
        return c?.status === "True" && c.reason === "ImagePullFailed" ? c : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    assert.match(degraded.message ?? "", new RegExp(`^pod typo-\\d cannot pull image ${missing.replace(/[./]/g, "\\$&")}: (ErrImagePull|ImagePullBackOff)`));
    const stuck = (await clusterPods(ns, "typo")).map((p) => p.metadata.uid);

    await admin().patch(`${clustersPath(ns)}/typo`, { spec: { image: dynamoImage() } }, "merge");
    const stable = await waitStable(ns, "typo", 3, { timeoutMs: 180_000 });
    assert.equal(stable.status?.conditions?.find((c) => c.type === "Degraded")?.status, "False");
    const now = (await clusterPods(ns, "typo")).map((p) => p.metadata.uid);
    assert.ok(now.every((uid) => !stuck.includes(uid)), "every stuck pod was replaced by one with the corrected image");
  });
});
