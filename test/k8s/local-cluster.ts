// One whole Kubernetes on this machine: the control plane, the process kubelet and the local volume
// provisioner, sharing one run directory (certificates, kubeconfig, logs, etcd data, pod and volume
// directories) that is removed on stop unless DYNAMO_K8S_KEEP=1 asks to keep it for a post-mortem.
// Both `npm run k8s:up` and the test fixture start exactly this.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiClient } from "./api-client.js";
import { ControlPlane } from "./control-plane.js";
import { ProcessKubelet } from "./kubelet.js";
import { readPem } from "./pki.js";
import { LocalProvisioner } from "./provisioner.js";
import { waitFor } from "./wait.js";

export interface LocalClusterInfo {
  runDir: string;
  kubeconfig: string;
  server: string;
  nodeName: string;
  startupMs: number;
}

export class LocalCluster {
  readonly runDir: string;
  readonly controlPlane: ControlPlane;
  private kubeletValue: ProcessKubelet | undefined;
  private provisioner: LocalProvisioner | undefined;
  private infoValue: LocalClusterInfo | undefined;

  constructor(runDir?: string) {
    this.runDir = runDir ?? mkdtempSync(join(tmpdir(), "dynamo-k8s-"));
    this.controlPlane = new ControlPlane(this.runDir);
  }

  get info(): LocalClusterInfo {
    if (!this.infoValue) throw new Error("the local cluster is not started");
    return this.infoValue;
  }

  get kubelet(): ProcessKubelet {
    if (!this.kubeletValue) throw new Error("the local cluster is not started");
    return this.kubeletValue;
  }

  adminClient(): ApiClient {
    return this.controlPlane.adminClient();
  }

  async start(): Promise<LocalClusterInfo> {
    const started = Date.now();
    try {
      const endpoints = await this.controlPlane.start();
      const api = this.controlPlane.adminClient();
      this.kubeletValue = new ProcessKubelet({
        api,
        server: endpoints.server,
        caPem: readPem(endpoints.pki.caCert),
        stateDir: join(this.runDir, "kubelet"),
        supervisor: this.controlPlane.supervisor,
      });
      await this.kubeletValue.start();
      this.provisioner = new LocalProvisioner(api, join(this.runDir, "volumes"), this.kubeletValue.nodeName);
      await this.provisioner.start();
      // The API server taints a new Node not-ready until the node lifecycle controller sees it
      // Ready; pods created before that would wait for the controller's next pass.
      const nodePath = `/api/v1/nodes/${this.kubeletValue.nodeName}`;
      await waitFor("the process kubelet's node to be Ready and untainted", async () => {
        const node = await api.get<{ spec?: { taints?: unknown[] } }>(nodePath);
        return (node.spec?.taints?.length ?? 0) === 0;
      }, { timeoutMs: 60_000 });
      this.infoValue = {
        runDir: this.runDir,
        kubeconfig: endpoints.kubeconfig,
        server: endpoints.server,
        nodeName: this.kubeletValue.nodeName,
        startupMs: Date.now() - started,
      };
      return this.infoValue;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    await this.provisioner?.stop();
    await this.kubeletValue?.stop();
    await this.controlPlane.stop();
    if (process.env.DYNAMO_K8S_KEEP !== "1") rmSync(this.runDir, { recursive: true, force: true });
  }
}
