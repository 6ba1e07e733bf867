// The test ground itself: the API server reports the release the toolchain pins, and the real node is registered
// Ready with the machine's capacity, the pinned kubelet and containerd, and addresses from the test ground's block.
import assert from "node:assert/strict";
import { cpus } from "node:os";
import { CoreV1Api, VersionApi } from "@kubernetes/client-node";
import { adminKubeConfig, cluster, inCidr, NETWORK_PLAN, PINNED_KUBERNETES_VERSION } from "../harness/index.js";

describe("control plane and node", () => {
  it("reports the Kubernetes release the toolchain pins on /version", async () => {
    const version = await adminKubeConfig().makeApiClient(VersionApi).getCode();
    assert.equal(version.gitVersion, PINNED_KUBERNETES_VERSION);
    assert.equal(`v${version.major}.${version.minor}`, PINNED_KUBERNETES_VERSION.split(".").slice(0, 2).join("."));
  });

  it("has the real node registered Ready, untainted, with the machine's capacity and the pinned kubelet and runtime", async () => {
    const node = await adminKubeConfig().makeApiClient(CoreV1Api).readNode({ name: cluster().info.nodeName });
    const ready = node.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True");
    assert.equal(node.spec?.taints?.length ?? 0, 0, "the node carries no not-ready taint");
    assert.equal(node.status?.capacity?.cpu, String(cpus().length), "the kubelet reports the machine's CPUs");
    assert.equal(node.status?.nodeInfo?.kubeletVersion, PINNED_KUBERNETES_VERSION);
    assert.match(node.status?.nodeInfo?.containerRuntimeVersion ?? "", /^containerd:\/\/2\.\d+\.\d+$/);
    const internal = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address ?? "";
    assert.equal(internal, cluster().info.nodeIp);
    assert.ok(inCidr(internal, NETWORK_PLAN.nodes), `${internal} is in the nodes' range ${NETWORK_PLAN.nodes}`);
  });

  it("serves the `kubernetes` Service from the Service range, pointing at the node's address", async () => {
    const api = adminKubeConfig().makeApiClient(CoreV1Api);
    const service = await api.readNamespacedService({ name: "kubernetes", namespace: "default" });
    assert.equal(service.spec?.clusterIP, NETWORK_PLAN.kubernetesService);
    assert.ok(inCidr(NETWORK_PLAN.kubernetesService, NETWORK_PLAN.services));
    const endpoints = await api.readNamespacedEndpoints({ name: "kubernetes", namespace: "default" });
    assert.deepEqual(endpoints.subsets?.[0]?.addresses?.map((a) => a.ip), [cluster().info.nodeIp]);
    for (const range of [NETWORK_PLAN.nodes, NETWORK_PLAN.pods, NETWORK_PLAN.services]) {
      assert.ok(inCidr(range.split("/")[0] ?? "", NETWORK_PLAN.block) && inCidr(NETWORK_PLAN.block.split("/")[0] ?? "", "198.18.0.0/15"), `${range} lies in the test ground's block`);
    }
  });
});
