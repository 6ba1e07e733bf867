// The control plane itself: the API server reports the release the toolchain pins, and the process
// kubelet's Node is registered Ready with the capacity it advertises.
import assert from "node:assert/strict";
import { CoreV1Api, VersionApi } from "@kubernetes/client-node";
import { adminKubeConfig } from "./fixture.js";
import { DEFAULT_KUBELET, PINNED_KUBERNETES_VERSION } from "./index.js";

const pinnedVersion = PINNED_KUBERNETES_VERSION;


describe("control plane", () => {
  it("reports the Kubernetes release the toolchain pins on /version", async () => {
    const version = await adminKubeConfig().makeApiClient(VersionApi).getCode();
    assert.ok(pinnedVersion, "build.sh pins a version");
    assert.equal(version.gitVersion, pinnedVersion);
    assert.equal(`v${version.major}.${version.minor}`, pinnedVersion.split(".").slice(0, 2).join("."));
  });

  it("has the process kubelet's node registered Ready with its capacity", async () => {
    const node = await adminKubeConfig().makeApiClient(CoreV1Api).readNode({ name: DEFAULT_KUBELET.nodeName });
    const ready = node.status?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.status, "True");
    assert.equal(node.status?.allocatable?.pods, DEFAULT_KUBELET.capacity.pods);
    assert.equal(node.spec?.taints?.length ?? 0, 0, "the node carries no not-ready taint");
  });
});
