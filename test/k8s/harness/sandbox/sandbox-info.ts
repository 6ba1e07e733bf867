/**
 * What the launcher tells the programs it runs inside a sandbox, through one environment variable: where the run
 * keeps its files, its cgroup root, and the images built for it. Inside, `sandboxInfo()` reads it, and fails with a
 * clear message when a program that needs the sandbox was started some other way.
 */
export const SANDBOX_ENV = "DYNAMO_K8S_SANDBOX";

export interface ImageArchive {
  reference: string;
  archive: string;
}

export interface SandboxInfo {
  /** `dynamo-k8s-run-<PID namespace>-<pid>-<random>`: the cgroup root's name and the run directory's. */
  name: string;
  /** The run's files: a tmpfs inside the sandbox (so nothing is left when it ends), a host directory with keep. */
  runDir: string;
  keep: boolean;
  /** The kubelet's cgroupRoot, created in every hierarchy by the launcher. */
  cgroupRoot: string;
  /** The Kubernetes binaries (test/k8s/toolchain/build.sh). */
  binDir: string;
  /** Images to load into the node's runtime: the project's own and the system images. */
  images: { dynamo: ImageArchive; system: ImageArchive[] };
  /** File descriptor of a listening socket in the host's network namespace, to forward the API server through. */
  apiForwardFd?: number;
  apiForwardAddress?: string;
}

export function sandboxInfo(): SandboxInfo {
  const raw = process.env[SANDBOX_ENV];
  if (!raw) {
    throw new Error(
      "the Kubernetes test layer runs inside its sandbox (network, mount and process namespaces of its own): " +
        "start it with `npm run test:k8s [-- FILES]` or `npm run k8s:up`, not with mocha directly",
    );
  }
  return JSON.parse(raw) as SandboxInfo;
}
