import assert from "node:assert/strict";
import { parse } from "yaml";
import { collectionPath } from "../../k8s/harness/api/manifests.js";
import { cniConfig, containerdConfig, kubeProxyConfig, kubeletConfig, nodePaths } from "../../k8s/harness/node/node-config.js";
import { NETWORK_PLAN, nodeAddresses } from "../../k8s/harness/sandbox/network-plan.js";

const node = nodeAddresses(0);
const paths = nodePaths("/tmp/dynamo-k8s-run-1-abc", node);

describe("test ground: node configuration", () => {
  it("keeps every file of a node under the run directory", () => {
    for (const [key, value] of Object.entries(paths)) assert.ok(value.startsWith("/tmp/dynamo-k8s-run-1-abc/node-0"), `${key}: ${value}`);
    assert.ok(paths.containerdSocket.length < 100, "a Unix socket path fits sun_path");
  });

  it("configures containerd for a host without CAP_SYS_RESOURCE or systemd, with the local sandbox image", () => {
    const toml = containerdConfig(paths, { sandboxImage: "registry.k8s.io/pause:3.10", runcBinary: "/usr/sbin/runc", cniBinDir: "/cache/bin/cni" });
    assert.match(toml, /^version = 3$/m);
    assert.match(toml, /restrict_oom_score_adj = true/);
    assert.match(toml, /SystemdCgroup = false/);
    assert.match(toml, /BinaryName = "\/usr\/sbin\/runc"/);
    assert.match(toml, /sandbox = "registry\.k8s\.io\/pause:3\.10"/);
    assert.match(toml, /bin_dirs = \["\/cache\/bin\/cni"\]/);
    assert.ok(toml.includes(`address = "${paths.containerdSocket}"`));
    assert.ok(toml.includes(`conf_dir = "${paths.cniConfDir}"`));
  });

  it("puts the node's pods on its bridge and range, with nothing masqueraded", () => {
    const config = cniConfig(paths, node) as { plugins: Record<string, unknown>[] };
    const bridge = config.plugins[0] as { type: string; bridge: string; ipMasq: boolean; ipam: { ranges: { subnet: string; gateway: string }[][]; dataDir: string } };
    assert.equal(bridge.type, "bridge");
    assert.equal(bridge.bridge, node.bridge);
    assert.equal(bridge.ipMasq, false);
    assert.deepEqual(bridge.ipam.ranges, [[{ subnet: node.podCidr, gateway: node.podGateway }]]);
    assert.equal(bridge.ipam.dataDir, paths.cniDataDir);
  });

  it("configures the kubelet for cgroup v1 under the run's cgroup root, with cluster DNS and no eviction", () => {
    const config = parse(kubeletConfig(paths, node, { cgroupRoot: "/dynamo-k8s-run-1-abc", clientCaFile: "/ca.crt", tlsCertFile: "/k.crt", tlsPrivateKeyFile: "/k.key" }));
    assert.equal(config.kind, "KubeletConfiguration");
    assert.equal(config.cgroupRoot, "/dynamo-k8s-run-1-abc");
    assert.equal(config.failCgroupV1, false);
    assert.equal(config.oomScoreAdj, 0);
    assert.equal(config.address, node.ip);
    assert.deepEqual(config.clusterDNS, [NETWORK_PLAN.clusterDns]);
    assert.equal(config.containerRuntimeEndpoint, `unix://${paths.containerdSocket}`);
    assert.equal(config.authentication.anonymous.enabled, false);
    assert.equal(config.authorization.mode, "Webhook");
    assert.equal(config.imageGCHighThresholdPercent, 100, "locally loaded images are never collected");
  });

  it("configures kube-proxy in iptables mode for the pod range, leaving the machine's conntrack limits alone", () => {
    const config = parse(kubeProxyConfig(paths, node));
    assert.equal(config.mode, "iptables");
    assert.equal(config.clusterCIDR, NETWORK_PLAN.pods);
    assert.equal(config.hostnameOverride, node.name);
    assert.equal(config.conntrack.maxPerCore, 0);
  });

  it("creates manifests at their REST collection paths", () => {
    assert.equal(collectionPath({ apiVersion: "v1", kind: "Service", metadata: { name: "a", namespace: "kube-system" } }), "/api/v1/namespaces/kube-system/services");
    assert.equal(collectionPath({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "a", namespace: "x" } }), "/apis/apps/v1/namespaces/x/deployments");
    assert.equal(collectionPath({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "a" } }), "/apis/rbac.authorization.k8s.io/v1/clusterroles");
    assert.equal(collectionPath({ apiVersion: "apiregistration.k8s.io/v1", kind: "APIService", metadata: { name: "a" } }), "/apis/apiregistration.k8s.io/v1/apiservices");
    assert.throws(() => collectionPath({ apiVersion: "v1", kind: "Gizmo", metadata: { name: "a" } }), /does not know kind Gizmo/);
  });
});
