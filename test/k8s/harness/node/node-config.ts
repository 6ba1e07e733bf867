/**
 * The configuration files of one node, as pure functions of where the node keeps its files and its addresses:
 * containerd's (with its CRI plugin), the CNI network, the kubelet's and kube-proxy's. Each setting that departs from
 * the upstream defaults says why; most come from what this kind of host cannot do (see docs/kubernetes-test-layer.md):
 * no CAP_SYS_RESOURCE (so no lowering of OOM scores), cgroup v1, no systemd, nothing but its own namespace to talk to.
 */
import { join } from "node:path";
import { stringify } from "yaml";
import { NETWORK_PLAN, type NodeAddresses } from "../sandbox/network-plan.js";

/** Where one node keeps everything, under the run directory. */
export interface NodePaths {
  dir: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  cniConfDir: string;
  cniDataDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  kubeProxyConfig: string;
  kubeProxyKubeconfig: string;
  containerdConfig: string;
  pki: string;
}

export function nodePaths(runDir: string, node: NodeAddresses): NodePaths {
  const dir = join(runDir, node.name);
  return {
    dir,
    containerdRoot: join(dir, "containerd", "root"),
    containerdState: join(dir, "containerd", "state"),
    containerdSocket: join(dir, "containerd", "containerd.sock"),
    cniConfDir: join(dir, "cni", "net.d"),
    cniDataDir: join(dir, "cni", "ipam"),
    kubeletRoot: join(dir, "kubelet"),
    kubeletConfig: join(dir, "kubelet.yaml"),
    kubeletKubeconfig: join(dir, "kubelet.kubeconfig"),
    kubeProxyConfig: join(dir, "kube-proxy.yaml"),
    kubeProxyKubeconfig: join(dir, "kube-proxy.kubeconfig"),
    containerdConfig: join(dir, "containerd.toml"),
    pki: join(dir, "pki"),
  };
}

export interface RuntimeSettings {
  /** The pod sandbox image, loaded locally and never pulled. */
  sandboxImage: string;
  runcBinary: string;
  cniBinDir: string;
}

const quote = (s: string) => JSON.stringify(s);

export function containerdConfig(paths: NodePaths, settings: RuntimeSettings): string {
  const cri = 'plugins."io.containerd.cri.v1';
  return `# containerd for node ${paths.dir} (written by test/k8s/harness/node/node-config.ts)
version = 3
root = ${quote(paths.containerdRoot)}
state = ${quote(paths.containerdState)}
# Snapshotters and tracing this node never uses; each would only add start-up time and warnings.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs", "io.containerd.differ.v1.erofs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = ${quote(paths.containerdSocket)}

[ttrpc]
  address = ${quote(`${paths.containerdSocket}.ttrpc`)}

[${cri}.images"]
  snapshotter = "overlayfs"
  [${cri}.images".pinned_images]
    sandbox = ${quote(settings.sandboxImage)}

[${cri}.runtime"]
  enable_selinux = false
  # Without CAP_SYS_RESOURCE no process may lower an OOM score below its own; containers get at least containerd's.
  restrict_oom_score_adj = true
  [${cri}.runtime".containerd]
    default_runtime_name = "runc"
    [${cri}.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [${cri}.runtime".containerd.runtimes.runc.options]
        # cgroupfs: there is no systemd to ask for cgroups.
        SystemdCgroup = false
        BinaryName = ${quote(settings.runcBinary)}
  [${cri}.runtime".cni]
    bin_dirs = [${quote(settings.cniBinDir)}]
    conf_dir = ${quote(paths.cniConfDir)}
`;
}

/** The pod network of one node: a bridge in the node's namespace, the node's /24, and portmap for hostPorts. */
export function cniConfig(paths: NodePaths, node: NodeAddresses): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "dynamo-k8s",
    plugins: [
      {
        type: "bridge",
        bridge: node.bridge,
        isGateway: true,
        // Pods talk to nothing outside the namespace, so there is nothing to masquerade for.
        ipMasq: false,
        // A pod reaching itself through a Service's address comes back in on its own port.
        hairpinMode: true,
        ipam: {
          type: "host-local",
          ranges: [[{ subnet: node.podCidr, gateway: node.podGateway }]],
          routes: [{ dst: "0.0.0.0/0" }],
          dataDir: paths.cniDataDir,
        },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

export interface KubeletSettings {
  cgroupRoot: string;
  clientCaFile: string;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
}

export function kubeletConfig(paths: NodePaths, node: NodeAddresses, settings: KubeletSettings): string {
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: node.ip,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 10248,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: settings.clientCaFile } },
    authorization: { mode: "Webhook" },
    tlsCertFile: settings.tlsCertFile,
    tlsPrivateKeyFile: settings.tlsPrivateKeyFile,
    containerRuntimeEndpoint: `unix://${paths.containerdSocket}`,
    // containerd 2 tells the kubelet its cgroup driver; this is the fallback for runtimes that do not.
    cgroupDriver: "cgroupfs",
    // Every pod's cgroups go under the run's own root, which the launcher created and removes (sandbox/cgroups.ts).
    cgroupRoot: settings.cgroupRoot,
    cgroupsPerQOS: true,
    // cgroup v1 is deprecated, but it is what hybrid hosts offer; the kubelet refuses it unless told otherwise.
    failCgroupV1: false,
    failSwapOn: false,
    // The kubelet would lower its own OOM score to -999, which needs CAP_SYS_RESOURCE.
    oomScoreAdj: 0,
    clusterDNS: [NETWORK_PLAN.clusterDns],
    clusterDomain: NETWORK_PLAN.clusterDomain,
    // No upstream resolver exists in the namespace; pods get cluster DNS only.
    resolvConf: "",
    // The node's disks are the run's tmpfs and the machine's shared disk: never evict for their fill level, never
    // delete the locally loaded images (they cannot be pulled back).
    evictionHard: { "imagefs.available": "0%", "nodefs.available": "0%", "nodefs.inodesFree": "0%" },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    maxPods: 110,
    // Status and the lease at the upstream pace; pod status changes are reported as they happen regardless.
    nodeStatusUpdateFrequency: "10s",
    // A pod's mounted Secrets follow their object on each pod sync; the operator-security test runs leaves of 60 s
    // (renewed with 20 s left), which the upstream default of one minute would let expire inside the pods.
    syncFrequency: "10s",
  });
}

export function kubeProxyConfig(paths: NodePaths, node: NodeAddresses): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: paths.kubeProxyKubeconfig },
    mode: "iptables",
    clusterCIDR: NETWORK_PLAN.pods,
    hostnameOverride: node.name,
    bindAddress: node.ip,
    metricsBindAddress: "127.0.0.1:10249",
    healthzBindAddress: "127.0.0.1:10256",
    // 0 leaves the machine-wide conntrack table size alone; it is not ours to change.
    conntrack: { maxPerCore: 0 },
    nodePortAddresses: [NETWORK_PLAN.nodes],
  });
}
