/**
 * One whole Kubernetes inside the sandbox: the control plane, a real node (containerd, runc, CNI, kubelet,
 * kube-proxy) running the images built for the run, cluster DNS, metrics-server and a local-path volume provisioner,
 * sharing the sandbox's run directory (certificates, kubeconfig, logs, etcd data, the node's state, volumes). Both
 * `npm run k8s:up` and the test suite start exactly this; the suite's mocha workers attach to the one it started.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiClient } from "./api/api-client.js";
import { createAll } from "./api/manifests.js";
import { waitFor } from "./api/wait.js";
import { corednsManifests, COREDNS } from "./addons/coredns.js";
import { METRICS_SERVER, METRICS_SERVER_DNS_NAME, metricsServerManifests } from "./addons/metrics-server.js";
import { LocalProvisioner } from "./addons/provisioner.js";
import { ControlPlane, DEFAULT_CONTROL_PLANE } from "./control-plane/control-plane.js";
import { issue, readPem } from "./control-plane/pki.js";
import { RealNode } from "./node/real-node.js";
import { ProcessSupervisor } from "./processes.js";
import { nodeAddresses } from "./sandbox/network-plan.js";
import type { SandboxInfo } from "./sandbox/sandbox-info.js";

/** Written into the run directory once the cluster is up, for the processes that attach to it. */
const INFO_FILE = "cluster.json";

export const DEFAULT_LOCAL_CLUSTER = {
  addonReadyTimeoutMs: 120_000,
  stopGracePeriodMs: 2_000,
};

export interface LocalClusterInfo {
  runDir: string;
  kubeconfig: string;
  server: string;
  nodeName: string;
  nodeIp: string;
  /** The project's image as pods name it, e.g. `ringkv/dynamo:0.1.0`. */
  dynamoImage: string;
  startupMs: number;
}

export class LocalCluster {
  readonly supervisor = new ProcessSupervisor();
  readonly controlPlane: ControlPlane;
  readonly node: RealNode;
  private provisioner: LocalProvisioner | undefined;
  private infoValue: LocalClusterInfo | undefined;
  private attached = false;

  constructor(readonly sandbox: SandboxInfo) {
    const addresses = nodeAddresses(0);
    this.controlPlane = new ControlPlane({ runDir: sandbox.runDir, binDir: sandbox.binDir, supervisor: this.supervisor, advertiseAddress: addresses.ip });
    const { pki } = ControlPlane.endpointsOf(sandbox.runDir);
    this.node = new RealNode({
      addresses,
      runDir: sandbox.runDir,
      binDir: sandbox.binDir,
      cgroupRoot: sandbox.cgroupRoot,
      supervisor: this.supervisor,
      ca: pki.ca,
      kubeProxy: pki.kubeProxy,
      server: `https://${addresses.ip}:${DEFAULT_CONTROL_PLANE.apiPort}`,
      images: [...sandbox.images.system, sandbox.images.dynamo],
    });
  }

  get runDir(): string {
    return this.sandbox.runDir;
  }

  get info(): LocalClusterInfo {
    if (!this.infoValue) throw new Error("the local cluster is not started");
    return this.infoValue;
  }

  adminClient(): ApiClient {
    return this.controlPlane.adminClient();
  }

  async start(): Promise<LocalClusterInfo> {
    const started = Date.now();
    this.controlPlane.createPki();
    // The runtime loads its images (the slow part of a node's start) while the API server comes up.
    await Promise.all([this.controlPlane.startApiServer(), this.node.startRuntime()]);
    const api = this.controlPlane.adminClient();
    await createAll(api, [...corednsManifests(), ...this.metricsServerManifests()]);
    await Promise.all([this.controlPlane.startControllers(), this.node.startKubelet(api)]);
    this.provisioner = new LocalProvisioner(api, join(this.runDir, "volumes"), this.node.name);
    await this.provisioner.start();
    const { server, kubeconfig } = this.controlPlane.endpoints;
    this.infoValue = {
      runDir: this.runDir,
      kubeconfig,
      server,
      nodeName: this.node.name,
      nodeIp: nodeAddresses(0).ip,
      dynamoImage: this.sandbox.images.dynamo.reference,
      startupMs: Date.now() - started,
    };
    writeFileSync(join(this.runDir, INFO_FILE), JSON.stringify(this.infoValue));
    return this.infoValue;
  }

  /** Uses the cluster another process of this sandbox started; stopping it is that process's business. */
  attach(): LocalClusterInfo {
    this.controlPlane.attach();
    this.attached = true;
    this.infoValue = JSON.parse(readFileSync(join(this.runDir, INFO_FILE), "utf8")) as LocalClusterInfo;
    return this.infoValue;
  }

  /** Waits until cluster DNS answers (CoreDNS ready) and metrics.k8s.io is served; tests that use them call this. */
  async waitForAddons(): Promise<void> {
    const api = this.adminClient();
    await waitFor(
      "CoreDNS to be available",
      async () => {
        const d = await api.get<{ status?: { availableReplicas?: number } }>(`/apis/apps/v1/namespaces/${COREDNS.namespace}/deployments/${COREDNS.name}`);
        return (d.status?.availableReplicas ?? 0) > 0;
      },
      { timeoutMs: DEFAULT_LOCAL_CLUSTER.addonReadyTimeoutMs },
    );
    await waitFor(
      "the metrics.k8s.io API to be available",
      async () => {
        const s = await api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_SERVER.apiService}`);
        return s.status?.conditions?.some((c) => c.type === "Available" && c.status === "True");
      },
      { timeoutMs: DEFAULT_LOCAL_CLUSTER.addonReadyTimeoutMs },
    );
  }

  async stop(): Promise<void> {
    if (this.attached) {
      await this.supervisor.stopAll(DEFAULT_LOCAL_CLUSTER.stopGracePeriodMs);
      return;
    }
    await this.provisioner?.stop();
    // Whatever does not stop in time is killed with the sandbox when the run ends.
    await this.supervisor.stopAll(DEFAULT_LOCAL_CLUSTER.stopGracePeriodMs);
  }

  private metricsServerManifests() {
    const { pki } = this.controlPlane.endpoints;
    const serving = issue(pki.dir, pki.ca, "metrics-server", `/CN=${METRICS_SERVER_DNS_NAME}`, "server", [`DNS:${METRICS_SERVER_DNS_NAME}`]);
    return metricsServerManifests({ certPem: readPem(serving.cert), keyPem: readPem(serving.key), caPem: readPem(pki.ca.cert) });
  }
}
