// The Kubernetes test layer's public surface: a local cluster (control plane, process kubelet,
// volume provisioner) to start and stop, the shared test fixture's accessor, and small helpers the
// test files use. Test files import from here, not from the individual modules.
export { LocalCluster, type LocalClusterInfo } from "./local-cluster.js";
export { ApiClient, ApiError, type ApiCredentials, type WatchEvent } from "./api-client.js";
export { PINNED_KUBERNETES_VERSION, toolchainBinDir } from "./control-plane.js";
export { LOCAL_PROVISIONER } from "./provisioner.js";
export { DEFAULT_KUBELET } from "./kubelet.js";
export { DYNAMO_MAIN } from "./images.js";
export { waitFor, sleep, WaitTimeoutError } from "./wait.js";
