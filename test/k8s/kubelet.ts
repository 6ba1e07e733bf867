// The process kubelet: registers one Node with the API server and runs every pod the scheduler binds
// to it as local processes (see pod-runner.ts), each with a loopback pod IP of its own that its
// containers bind to (see pod-network.ts). It keeps the Node Ready with a Lease and status heartbeats, so the node
// lifecycle controller never evicts its pods, and follows its pods with list-then-watch.
// Differences from a real kubelet, on purpose: no isolation (processes share the host's filesystem,
// network namespace and users), resources are advertised but not enforced, there is no kubelet API
// (so no `kubectl logs/exec`; logs are files under the pod directory), and there is no cluster DNS or
// Service virtual IP — clients reach pods by pod IP.
import { mkdirSync } from "node:fs";
import { arch } from "node:os";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { ApiError, type ApiClient, type Watch } from "./api-client.js";
import { PINNED_KUBERNETES_VERSION } from "./control-plane.js";
import { PodNetwork } from "./pod-network.js";
import { PodRunner, type KubeletContext } from "./pod-runner.js";
import type { ProcessSupervisor } from "./processes.js";
import { sleep } from "./wait.js";

export const DEFAULT_KUBELET = {
  nodeName: "process-node",
  kubeletVersion: PINNED_KUBERNETES_VERSION,
  heartbeatMs: 10_000,
  leaseDurationSeconds: 40,
  watchRetryMs: 1_000,
  capacity: { cpu: "16", memory: "64Gi", pods: "110", "ephemeral-storage": "100Gi" },
};

export interface KubeletOptions {
  api: ApiClient;
  server: string;
  caPem: string;
  stateDir: string;
  supervisor: ProcessSupervisor;
  nodeName?: string;
}

export class ProcessKubelet {
  readonly nodeName: string;
  private readonly runners = new Map<string, PodRunner>();
  private readonly network = new PodNetwork();
  private readonly names = new Map<string, string>();
  private readonly context: KubeletContext;
  private heartbeat: NodeJS.Timeout | undefined;
  private watch: Watch | undefined;
  private stopped = false;
  private watching: Promise<void> | undefined;

  constructor(private readonly options: KubeletOptions) {
    this.nodeName = options.nodeName ?? DEFAULT_KUBELET.nodeName;
    mkdirSync(join(options.stateDir, "pods"), { recursive: true });
    this.context = {
      api: options.api,
      nodeName: this.nodeName,
      stateDir: options.stateDir,
      server: options.server,
      caPem: options.caPem,
      supervisor: options.supervisor,
    };
  }

  async start(): Promise<void> {
    await this.register();
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat().catch((err) => this.log(`heartbeat failed: ${String(err)}`)), DEFAULT_KUBELET.heartbeatMs);
    this.watching = this.followPods();
  }

  /** Kills every pod process at once (harness shutdown); pod objects are left to the API server. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.watch?.stop();
    await Promise.all([...this.runners.values()].map((r) => r.kill()));
    await this.watching?.catch(() => undefined);
    this.network.close();
  }

  /** The pod IP given to a running pod, by namespace/name. */
  podIp(namespace: string, name: string): string | undefined {
    for (const [uid, key] of this.names) if (key === `${namespace}/${name}`) return this.runners.get(uid)?.podIp;
    return undefined;
  }

  private async register(): Promise<void> {
    const node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: this.nodeName,
        labels: {
          "kubernetes.io/hostname": this.nodeName,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": arch() === "x64" ? "amd64" : arch(),
          "node.kubernetes.io/instance-type": "process",
        },
      },
      spec: {},
    };
    try {
      await this.options.api.post("/api/v1/nodes", node);
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    }
  }

  private async beat(): Promise<void> {
    const time = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const renewTime = new Date().toISOString().replace("Z", "000Z").replace(/(\.\d{6})\d*Z$/, "$1Z");
    const condition = (type: string, status: string, reason: string, message: string): Record<string, string> => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: time,
      lastTransitionTime: time,
    });
    const previous = await this.options.api.get<{ status?: { conditions?: { type: string; status: string; lastTransitionTime: string }[] } }>(
      `/api/v1/nodes/${this.nodeName}`,
    );
    const conditions = [
      condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
      condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
      condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
      condition("Ready", "True", "KubeletReady", "process kubelet is posting ready status"),
    ].map((c) => {
      const before = previous.status?.conditions?.find((p) => p.type === c.type);
      return before && before.status === c.status ? { ...c, lastTransitionTime: before.lastTransitionTime } : c;
    });
    await this.options.api.patch(
      `/api/v1/nodes/${this.nodeName}/status`,
      {
        status: {
          capacity: DEFAULT_KUBELET.capacity,
          allocatable: DEFAULT_KUBELET.capacity,
          conditions,
          addresses: [
            { type: "InternalIP", address: "127.0.0.1" },
            { type: "Hostname", address: this.nodeName },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
          nodeInfo: {
            machineID: "",
            systemUUID: "",
            bootID: "",
            kernelVersion: "",
            osImage: "process kubelet",
            containerRuntimeVersion: "process://dynamo-k8s",
            kubeletVersion: DEFAULT_KUBELET.kubeletVersion,
            kubeProxyVersion: "",
            operatingSystem: "linux",
            architecture: arch() === "x64" ? "amd64" : arch(),
          },
        },
      },
      "merge",
    );
    await this.renewLease(renewTime);
  }

  private async renewLease(renewTime: string): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.nodeName}`;
    const spec = { holderIdentity: this.nodeName, leaseDurationSeconds: DEFAULT_KUBELET.leaseDurationSeconds, renewTime };
    const existing = await this.options.api.find(path);
    if (existing) {
      await this.options.api.patch(path, { spec }, "merge");
    } else {
      await this.options.api.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.nodeName, namespace: "kube-node-lease" },
        spec,
      });
    }
  }

  // List, hand every pod to its runner, then watch from the list's resourceVersion; when the watch
  // ends (timeouts, compaction), list again. Pods missing from a fresh list have vanished.
  private async followPods(): Promise<void> {
    const selector = `fieldSelector=${encodeURIComponent(`spec.nodeName=${this.nodeName}`)}`;
    while (!this.stopped) {
      try {
        const list = await this.options.api.get<{ metadata: { resourceVersion: string }; items: V1Pod[] }>(`/api/v1/pods?${selector}`);
        const seen = new Set<string>();
        for (const pod of list.items) {
          seen.add(pod.metadata?.uid ?? "");
          this.observe(pod);
        }
        for (const [uid, runner] of this.runners) if (!seen.has(uid)) runner.vanish();
        this.watch = this.options.api.watch<V1Pod>(
          `/api/v1/pods?${selector}&resourceVersion=${list.metadata.resourceVersion}&allowWatchBookmarks=true`,
          (event) => {
            if (event.type === "ADDED" || event.type === "MODIFIED") this.observe(event.object);
            else if (event.type === "DELETED") this.runners.get(event.object.metadata?.uid ?? "")?.vanish();
          },
        );
        await this.watch.done;
      } catch (err) {
        if (!this.stopped) this.log(`pod watch failed: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (!this.stopped) await sleep(DEFAULT_KUBELET.watchRetryMs);
    }
  }

  private observe(pod: V1Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata?.uid ?? "";
    const existing = this.runners.get(uid);
    if (existing) {
      existing.update(pod);
      return;
    }
    // A finished pod the kubelet never ran (left from an earlier run) is not restarted.
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return;
    const ip = pod.spec?.hostNetwork ? "127.0.0.1" : this.network.allocate(uid);
    const runner = new PodRunner(this.context, pod, ip);
    this.runners.set(uid, runner);
    this.names.set(uid, `${pod.metadata?.namespace}/${pod.metadata?.name}`);
    void runner.done.finally(() => {
      this.runners.delete(uid);
      this.names.delete(uid);
      this.network.release(uid);
    });
  }

  private log(message: string): void {
    console.error(`[process-kubelet] ${message}`);
  }
}
