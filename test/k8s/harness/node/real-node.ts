/**
 * A real Kubernetes node inside the sandbox: containerd with its CRI plugin and runc, the CNI bridge, the kubelet and
 * kube-proxy, all pinned by the toolchain script. Images come from the local image cache and are loaded into
 * containerd before the kubelet starts, so nothing is ever pulled. The node's processes, its containers, their mounts
 * and network namespaces all belong to the sandbox and end with it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ApiClient } from "../api/api-client.js";
import { WaitAbortedError, waitFor } from "../api/wait.js";
import { writeKubeconfig } from "../control-plane/kubeconfig.js";
import { issue, readPem, type KeyPair } from "../control-plane/pki.js";
import type { ProcessGroup, ProcessSupervisor } from "../processes.js";
import type { NodeAddresses } from "../sandbox/network-plan.js";
import type { ImageArchive } from "../sandbox/sandbox-info.js";
import { cniConfig, containerdConfig, kubeProxyConfig, kubeletConfig, nodePaths, type NodePaths } from "./node-config.js";

export const DEFAULT_REAL_NODE = {
  startTimeoutMs: 120_000,
  /** The sandbox image containerd's CRI uses for every pod; system-images.ts builds it under this name. */
  sandboxImage: "registry.k8s.io/pause:3.10",
};

export interface RealNodeOptions {
  addresses: NodeAddresses;
  runDir: string;
  binDir: string;
  cgroupRoot: string;
  supervisor: ProcessSupervisor;
  /** The cluster CA, which signs the node's certificates. */
  ca: KeyPair;
  /** kube-proxy's client certificate (system:kube-proxy). */
  kubeProxy: KeyPair;
  /** The API server as the node reaches it. */
  server: string;
  images: ImageArchive[];
}

export class RealNode {
  readonly paths: NodePaths;
  private readonly groups: ProcessGroup[] = [];

  constructor(private readonly options: RealNodeOptions) {
    this.paths = nodePaths(options.runDir, options.addresses);
  }

  get name(): string {
    return this.options.addresses.name;
  }

  /** Starts containerd and loads the images into it; the API server need not be up yet. */
  async startRuntime(): Promise<void> {
    const { binDir, addresses } = this.options;
    for (const dir of [this.paths.dir, this.paths.cniConfDir, this.paths.pki]) mkdirSync(dir, { recursive: true });
    writeFileSync(
      this.paths.containerdConfig,
      containerdConfig(this.paths, { sandboxImage: DEFAULT_REAL_NODE.sandboxImage, runcBinary: which("runc"), cniBinDir: join(binDir, "cni") }),
    );
    writeFileSync(join(this.paths.cniConfDir, "10-dynamo-k8s.conflist"), JSON.stringify(cniConfig(this.paths, addresses), null, 2));
    this.run("containerd", join(binDir, "containerd"), ["--config", this.paths.containerdConfig, "--log-level", "warn"]);
    await waitFor("containerd to serve", () => this.failIfExited() || existsSync(this.paths.containerdSocket), { timeoutMs: DEFAULT_REAL_NODE.startTimeoutMs });
    // Imports run one after another: each is mostly decompression and unpacking, and two cores are all there is.
    for (const image of this.options.images) {
      execFileSync(join(binDir, "ctr"), ["--address", this.paths.containerdSocket, "--namespace", "k8s.io", "images", "import", "--platform", "linux/amd64", image.archive], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    }
  }

  /** Starts the kubelet and kube-proxy against the API server and waits until the Node is Ready and untainted. */
  async startKubelet(api: ApiClient): Promise<void> {
    const { binDir, addresses, ca, server, cgroupRoot } = this.options;
    const kubeletClient = issue(this.paths.pki, ca, "kubelet-client", `/O=system:nodes/CN=system:node:${addresses.name}`, "client");
    const kubeletServing = issue(this.paths.pki, ca, "kubelet-serving", `/CN=${addresses.name}`, "server", [`IP:${addresses.ip}`, `DNS:${addresses.name}`]);
    const caPem = readPem(ca.cert);
    writeKubeconfig(this.paths.kubeletKubeconfig, server, caPem, {
      name: `system:node:${addresses.name}`,
      clientCertPem: readPem(kubeletClient.cert),
      clientKeyPem: readPem(kubeletClient.key),
    });
    writeFileSync(
      this.paths.kubeletConfig,
      kubeletConfig(this.paths, addresses, { cgroupRoot, clientCaFile: ca.cert, tlsCertFile: kubeletServing.cert, tlsPrivateKeyFile: kubeletServing.key }),
    );
    this.run("kubelet", join(binDir, "kubelet"), [
      `--config=${this.paths.kubeletConfig}`,
      `--kubeconfig=${this.paths.kubeletKubeconfig}`,
      `--root-dir=${this.paths.kubeletRoot}`,
      `--hostname-override=${addresses.name}`,
      `--node-ip=${addresses.ip}`,
      "--v=1",
    ]);

    const kubeProxyPki = this.options.kubeProxy;
    writeKubeconfig(this.paths.kubeProxyKubeconfig, server, caPem, {
      name: "system:kube-proxy",
      clientCertPem: readPem(kubeProxyPki.cert),
      clientKeyPem: readPem(kubeProxyPki.key),
    });
    writeFileSync(this.paths.kubeProxyConfig, kubeProxyConfig(this.paths, addresses));
    this.run("kube-proxy", join(binDir, "kube-proxy"), [`--config=${this.paths.kubeProxyConfig}`, "--v=1"]);

    // The API server taints a new Node not-ready until the node lifecycle controller sees it Ready; pods created
    // before that would wait for the controller's next pass.
    await waitFor(
      `node ${addresses.name} to be Ready and untainted`,
      async () => {
        this.failIfExited();
        const node = await api.find<{ spec?: { taints?: unknown[] }; status?: { conditions?: { type: string; status: string }[] } }>(
          `/api/v1/nodes/${addresses.name}`,
        );
        const ready = node?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        return ready && (node?.spec?.taints?.length ?? 0) === 0;
      },
      { timeoutMs: DEFAULT_REAL_NODE.startTimeoutMs },
    );
  }

  /**
   * Pauses a container (`ctr tasks pause`, the cgroup freezer, as `docker pause` does) or resumes it: every process
   * in it stops where it is, holding its sockets open, which is how a stalled machine looks to its peers.
   */
  setPaused(containerId: string, paused: boolean): void {
    try {
      execFileSync(join(this.options.binDir, "ctr"), ["--address", this.paths.containerdSocket, "--namespace", "k8s.io", "tasks", paused ? "pause" : "resume", containerId], {
        stdio: ["ignore", "ignore", "pipe"],
      });
    } catch (err) {
      // A container frozen long enough to fail its liveness probe is killed and replaced by the kubelet (a CI run saw
      // it): its task is gone, so there is nothing left to resume.
      const stderr = String((err as { stderr?: Buffer }).stderr ?? "");
      if (paused || !/task .* not found/.test(stderr)) throw err;
    }
  }

  private run(name: string, command: string, args: string[]): void {
    const { binDir, runDir, supervisor } = this.options;
    this.groups.push(
      supervisor.start({
        name: `${this.name} ${name}`,
        command,
        args,
        // containerd finds its shim, and the kubelet its runtime helpers, on PATH.
        env: { PATH: `${binDir}:${process.env.PATH}`, HOME: process.env.HOME },
        cwd: this.paths.dir,
        logFile: join(runDir, "logs", `${this.name}-${name}.log`),
      }),
    );
  }

  private failIfExited(): false {
    for (const group of this.groups) {
      if (group.exit) {
        const log = join(this.options.runDir, "logs", `${group.name.replace(" ", "-")}.log`);
        throw new WaitAbortedError(`${group.name} exited (code ${group.exit.code}, signal ${group.exit.signal}); see ${log}`);
      }
    }
    return false;
  }
}

function which(program: string): string {
  return execFileSync("sh", ["-c", 'command -v "$1"', "sh", program], { encoding: "utf8" }).trim();
}
