/**
 * The Kubernetes test layer's harness, for the test files: the shared cluster (fixture), the API client, pods, waits
 * and the pinned toolchain. Test files import from here, not from the individual modules. What runs where:
 *
 *   sandbox/        namespaces, cgroups and the address plan of a run; the launcher the npm scripts go through
 *   control-plane/  etcd, kube-apiserver, kube-controller-manager, kube-scheduler and their certificates
 *   node/           containerd, runc, CNI, the kubelet and kube-proxy, and their configuration files
 *   addons/         CoreDNS, metrics-server and the local-path volume provisioner
 *   api/            a small API client, manifests and bounded waits
 */
export { LocalCluster, type LocalClusterInfo } from "./local-cluster.js";
export { ApiClient, ApiError, type ApiCredentials, type WatchEvent } from "./api/api-client.js";
export { PINNED_KUBERNETES_VERSION, toolchainBinDir } from "./toolchain.js";
export { LOCAL_PROVISIONER } from "./addons/provisioner.js";
export { NETWORK_PLAN, inCidr } from "./sandbox/network-plan.js";
export { waitFor, sleep, WaitTimeoutError } from "./api/wait.js";
export { freePort } from "./api/ports.js";
export { admin, adminKubeConfig, cluster, createNamespace, deleteNamespace, dynamoImage } from "./fixture.js";
export { describePods, freezePod, getPod, isReady, podLogs, waitForPod, waitForPodGone, getJson } from "./pods.js";
