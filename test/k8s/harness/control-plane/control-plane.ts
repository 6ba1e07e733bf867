/**
 * The control plane: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, from the binaries the
 * toolchain script builds, started inside the sandbox's network namespace. The API server listens on node 0's address
 * (which pods reach through the `kubernetes` Service that kube-proxy routes) and on loopback; RBAC and the Node
 * authorizer are on, certificates are fresh (pki.ts), and the aggregation layer is configured so metrics-server can
 * serve metrics.k8s.io. The controller manager runs every default controller (garbage collector, StatefulSet, HPA,
 * persistent-volume binder, ...) without leader election, so one process does all the work at once.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ApiClient, type ApiCredentials } from "../api/api-client.js";
import { WaitAbortedError, waitFor } from "../api/wait.js";
import type { ProcessGroup, ProcessSupervisor } from "../processes.js";
import { NETWORK_PLAN } from "../sandbox/network-plan.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { createPki, pkiPaths, readPem, type Pki } from "./pki.js";

export const DEFAULT_CONTROL_PLANE = {
  startTimeoutMs: 120_000,
  apiPort: 6443,
  etcdClientPort: 2379,
  etcdPeerPort: 2380,
  serviceAccountIssuer: "https://kubernetes.default.svc.cluster.local",
  /** How often the HPA controller looks at its targets; the upstream default (15 s) slows tests. */
  hpaSyncPeriod: "5s",
};

export interface ControlPlaneOptions {
  runDir: string;
  binDir: string;
  supervisor: ProcessSupervisor;
  /** The address the API server advertises: node 0's, where pods reach it. */
  advertiseAddress: string;
}

export interface ControlPlaneEndpoints {
  server: string;
  kubeconfig: string;
  pki: Pki;
}

export class ControlPlane {
  private readonly groups: ProcessGroup[] = [];
  private endpointsValue: ControlPlaneEndpoints | undefined;

  constructor(private readonly options: ControlPlaneOptions) {}

  get endpoints(): ControlPlaneEndpoints {
    if (!this.endpointsValue) throw new Error("the control plane is not started");
    return this.endpointsValue;
  }

  /** Admin credentials (system:masters) for the harness and the tests. */
  adminCredentials(): ApiCredentials {
    const { server, pki } = this.endpoints;
    return { server, caPem: readPem(pki.ca.cert), certPem: readPem(pki.admin.cert), keyPem: readPem(pki.admin.key) };
  }

  adminClient(): ApiClient {
    return new ApiClient(this.adminCredentials());
  }

  /** Where the endpoints are, whether or not this process started the control plane (see `attach`). */
  static endpointsOf(runDir: string): ControlPlaneEndpoints {
    return {
      server: `https://127.0.0.1:${DEFAULT_CONTROL_PLANE.apiPort}`,
      kubeconfig: join(runDir, "kubeconfig"),
      pki: pkiPaths(join(runDir, "pki")),
    };
  }

  /** Certificates and the admin kubeconfig only: cheap, and the node's configuration needs them early. */
  createPki(): ControlPlaneEndpoints {
    const { runDir, advertiseAddress } = this.options;
    const endpoints = ControlPlane.endpointsOf(runDir);
    mkdirSync(endpoints.pki.dir, { recursive: true });
    const pki = createPki(endpoints.pki.dir, { apiServerIps: [advertiseAddress, NETWORK_PLAN.kubernetesService, "127.0.0.1"] });
    writeKubeconfig(endpoints.kubeconfig, endpoints.server, readPem(pki.ca.cert), {
      name: "admin",
      clientCertPem: readPem(pki.admin.cert),
      clientKeyPem: readPem(pki.admin.key),
    });
    this.endpointsValue = endpoints;
    return endpoints;
  }

  /** Uses a control plane another process of this run started (the suite's workers share one cluster). */
  attach(): ControlPlaneEndpoints {
    this.endpointsValue = ControlPlane.endpointsOf(this.options.runDir);
    return this.endpointsValue;
  }

  /** Starts etcd and the API server and waits until it is ready. */
  async startApiServer(): Promise<void> {
    const { runDir, advertiseAddress } = this.options;
    const { pki } = this.endpoints;
    const etcdUrl = `http://127.0.0.1:${DEFAULT_CONTROL_PLANE.etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${DEFAULT_CONTROL_PLANE.etcdPeerPort}`;
    this.run("etcd", [
      "--name=default",
      `--data-dir=${join(runDir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Test data is thrown away with the run, so durability is traded for speed on a busy machine.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await waitFor("etcd to be healthy", () => this.healthy(`${etcdUrl}/health`), { timeoutMs: DEFAULT_CONTROL_PLANE.startTimeoutMs });

    this.run("kube-apiserver", [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${DEFAULT_CONTROL_PLANE.apiPort}`,
      "--bind-address=0.0.0.0",
      `--advertise-address=${advertiseAddress}`,
      `--tls-cert-file=${pki.apiServer.cert}`,
      `--tls-private-key-file=${pki.apiServer.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      `--cert-dir=${pki.dir}`,
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction",
      `--service-cluster-ip-range=${NETWORK_PLAN.services}`,
      `--service-account-issuer=${DEFAULT_CONTROL_PLANE.serviceAccountIssuer}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      // The API server talks to kubelets (logs, exec, port-forward) by their InternalIP, with a client certificate,
      // and checks their serving certificates against the cluster CA.
      `--kubelet-client-certificate=${pki.apiServerKubeletClient.cert}`,
      `--kubelet-client-key=${pki.apiServerKubeletClient.key}`,
      `--kubelet-certificate-authority=${pki.ca.cert}`,
      "--kubelet-preferred-address-types=InternalIP,Hostname",
      // The aggregation layer, for metrics-server's metrics.k8s.io; requests go to the aggregated server's endpoints.
      `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
      `--proxy-client-key-file=${pki.frontProxyClient.key}`,
      "--enable-aggregator-routing=true",
      "--allow-privileged=true",
      "--profiling=false",
      "--v=1",
    ]);
    const admin = this.adminClient();
    await waitFor("kube-apiserver to be ready", () => this.apiReady(admin), { timeoutMs: DEFAULT_CONTROL_PLANE.startTimeoutMs });
  }

  /** Starts the controller manager and the scheduler, and waits until the controllers work. */
  async startControllers(): Promise<void> {
    const { pki, kubeconfig } = this.endpoints;
    this.run("kube-controller-manager", [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--controllers=*",
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.ca.cert}`,
      "--use-service-account-credentials=false",
      "--secure-port=0",
      `--horizontal-pod-autoscaler-sync-period=${DEFAULT_CONTROL_PLANE.hpaSyncPeriod}`,
      "--v=1",
    ]);
    this.run("kube-scheduler", [`--kubeconfig=${kubeconfig}`, "--leader-elect=false", "--secure-port=0", "--v=1"]);
    // The service-account controller creating `default` proves the controller manager is working; pods cannot be
    // admitted in a namespace before its `default` ServiceAccount exists.
    const admin = this.adminClient();
    await waitFor(
      "the controller manager to create the default ServiceAccount",
      async () => {
        this.failIfExited();
        return (await admin.find("/api/v1/namespaces/default/serviceaccounts/default")) !== undefined;
      },
      { timeoutMs: DEFAULT_CONTROL_PLANE.startTimeoutMs },
    );
  }

  private run(name: string, args: string[]): void {
    const { runDir, binDir, supervisor } = this.options;
    this.groups.push(
      supervisor.start({
        name,
        command: join(binDir, name),
        args,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        cwd: runDir,
        logFile: join(runDir, "logs", `${name}.log`),
      }),
    );
  }

  private failIfExited(): void {
    for (const group of this.groups) {
      if (group.exit) {
        throw new WaitAbortedError(
          `${group.name} exited (code ${group.exit.code}, signal ${group.exit.signal}); see ${join(this.options.runDir, "logs", `${group.name}.log`)}`,
        );
      }
    }
  }

  private async healthy(url: string): Promise<boolean> {
    this.failIfExited();
    try {
      return (await fetch(url)).ok;
    } catch {
      return false;
    }
  }

  private async apiReady(admin: ApiClient): Promise<boolean> {
    this.failIfExited();
    return (await admin.get<string>("/readyz")) === "ok";
  }
}
