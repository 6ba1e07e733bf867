import assert from "node:assert/strict";
import { MountTable } from "../../k8s/pod-volumes.js";

describe("process kubelet mount paths", function () {
  it("rewrites each container path to its host directory once, even when a host directory lies under another mount", function () {
    const mounts = new MountTable([
      { containerPath: "/tmp", hostPath: "/tmp/run-1/pod/tmp" },
      { containerPath: "/var/lib/dynamo", hostPath: "/tmp/run-1/pv/data" },
      { containerPath: "/etc/dynamo/token", hostPath: "/tmp/run-1/pod/token" },
      { containerPath: "/etc/dynamo", hostPath: "/tmp/run-1/pod/config" },
    ]);
    assert.equal(
      mounts.translate("--data-dir=/var/lib/dynamo --scratch /tmp/x --token-file=/etc/dynamo/token --config=/etc/dynamo/config.yaml"),
      "--data-dir=/tmp/run-1/pv/data --scratch /tmp/run-1/pod/tmp/x --token-file=/tmp/run-1/pod/token --config=/tmp/run-1/pod/config/config.yaml",
    );
    assert.equal(mounts.translate("/tmpfile"), "/tmpfile", "only whole path segments are rewritten");
  });
});
