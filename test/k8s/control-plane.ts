// Starts and stops a real Kubernetes control plane on loopback: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, from the binaries the toolchain script builds. The API
// server has RBAC on and fresh certificates; the controller manager runs every default controller
// (garbage collector, StatefulSet, HPA, persistent-volume binder, ...) without leader election, so
// one process does all the work immediately. There is no kubelet here: see kubelet.ts.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ApiClient, type ApiCredentials } from "./api-client.js";
import { writeKubeconfig } from "./kubeconfig.js";
import { createPki, readPem, type Pki } from "./pki.js";
import { freePort } from "./ports.js";
import { ProcessSupervisor, type ProcessGroup } from "./processes.js";
import { WaitAbortedError, waitFor } from "./wait.js";

export const DEFAULT_CONTROL_PLANE = {
  startTimeoutMs: 120_000,
  serviceClusterIpRange: "10.0.0.0/24",
  serviceAccountIssuer: "https://kubernetes.default.svc.cluster.local",
  /** How often the HPA controller looks at its targets; the upstream default (15 s) slows tests. */
  hpaSyncPeriod: "5s",
};

const toolchainScript = fileURLToPath(new URL("./toolchain/build.sh", import.meta.url));

/** The Kubernetes release the toolchain script pins (its K8S_VERSION), the one source of truth. */
export const PINNED_KUBERNETES_VERSION = (() => {
  const match = /^K8S_VERSION="(v[^"]+)"$/m.exec(readFileSync(toolchainScript, "utf8"));
  if (!match?.[1]) throw new Error(`${toolchainScript} does not pin K8S_VERSION`);
  return match[1];
})();

/**
 * The directory holding the pinned binaries, or a clear error telling how to build them.
 * DYNAMO_K8S_BIN_DIR points elsewhere (binaries built another way), at the caller's risk.
 */
export function toolchainBinDir(): string {
  if (process.env.DYNAMO_K8S_BIN_DIR) return process.env.DYNAMO_K8S_BIN_DIR;
  try {
    return execFileSync("bash", [toolchainScript, "--print"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    throw new Error("the Kubernetes toolchain is not built; run `npm run k8s:toolchain` once (it takes a while)");
  }
}

export interface ControlPlaneEndpoints {
  server: string;
  etcdUrl: string;
  kubeconfig: string;
  pki: Pki;
}

export class ControlPlane {
  readonly supervisor: ProcessSupervisor;
  private readonly groups: ProcessGroup[] = [];
  private endpointsValue: ControlPlaneEndpoints | undefined;

  constructor(readonly runDir: string) {
    this.supervisor = new ProcessSupervisor(runDir);
  }

  get endpoints(): ControlPlaneEndpoints {
    if (!this.endpointsValue) throw new Error("the control plane is not started");
    return this.endpointsValue;
  }

  /** Admin credentials (system:masters) for the harness and the tests. */
  adminCredentials(): ApiCredentials {
    const { server, pki } = this.endpoints;
    return { server, caPem: readPem(pki.caCert), certPem: readPem(pki.adminCert), keyPem: readPem(pki.adminKey) };
  }

  adminClient(): ApiClient {
    return new ApiClient(this.adminCredentials());
  }

  async start(): Promise<ControlPlaneEndpoints> {
    const bin = toolchainBinDir();
    const pkiDir = join(this.runDir, "pki");
    const logDir = join(this.runDir, "logs");
    mkdirSync(pkiDir, { recursive: true });
    mkdirSync(logDir, { recursive: true });
    const pki = createPki(pkiDir);
    const [etcdClientPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = join(this.runDir, "kubeconfig");
    this.endpointsValue = { server, etcdUrl, kubeconfig, pki };
    writeKubeconfig(kubeconfig, server, readPem(pki.caCert), {
      name: "admin",
      clientCertPem: readPem(pki.adminCert),
      clientKeyPem: readPem(pki.adminKey),
    });

    const run = (name: string, args: string[]): ProcessGroup => {
      const group = this.supervisor.start({
        name,
        command: join(bin, name),
        args,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        cwd: this.runDir,
        logFile: join(logDir, `${name}.log`),
      });
      this.groups.push(group);
      return group;
    };

    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    run("etcd", [
      "--name=default",
      `--data-dir=${join(this.runDir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // Test data is thrown away with the run, so durability is traded for speed on a busy machine.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    await waitFor("etcd to be healthy", () => this.healthy(`${etcdUrl}/health`), {
      timeoutMs: DEFAULT_CONTROL_PLANE.startTimeoutMs,
    });

    run("kube-apiserver", [
      `--etcd-servers=${etcdUrl}`,
      `--secure-port=${apiPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--cert-dir=${pkiDir}`,
      "--authorization-mode=RBAC",
      `--service-cluster-ip-range=${DEFAULT_CONTROL_PLANE.serviceClusterIpRange}`,
      `--service-account-issuer=${DEFAULT_CONTROL_PLANE.serviceAccountIssuer}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      "--allow-privileged=true",
      // The endpoint reconciler would publish 127.0.0.1 for the `kubernetes` Service, which
      // Endpoints validation refuses every 10 s; pods reach the API through their kubeconfig.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
      "--v=1",
    ]);
    const admin = this.adminClient();
    await waitFor("kube-apiserver to be ready", () => this.apiReady(admin), {
      timeoutMs: DEFAULT_CONTROL_PLANE.startTimeoutMs,
    });

    run("kube-controller-manager", [
      `--kubeconfig=${kubeconfig}`,
      "--leader-elect=false",
      "--controllers=*",
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      "--use-service-account-credentials=false",
      "--secure-port=0",
      `--horizontal-pod-autoscaler-sync-period=${DEFAULT_CONTROL_PLANE.hpaSyncPeriod}`,
      "--v=1",
    ]);
    run("kube-scheduler", [`--kubeconfig=${kubeconfig}`, "--leader-elect=false", "--secure-port=0", "--v=1"]);

    // The service-account controller creating `default` proves the controller manager is working;
    // pods cannot be admitted in a namespace before its `default` ServiceAccount exists.
    await waitFor(
      "the controller manager to create the default ServiceAccount",
      () => admin.find("/api/v1/namespaces/default/serviceaccounts/default").then((sa) => sa !== undefined),
      { timeoutMs: DEFAULT_CONTROL_PLANE.startTimeoutMs },
    );
    return this.endpoints;
  }

  async stop(): Promise<void> {
    await this.supervisor.stopAll();
    this.supervisor.close();
  }

  private failIfExited(): void {
    for (const group of this.groups) {
      if (group.exit) {
        throw new WaitAbortedError(
          `${group.name} exited (code ${group.exit.code}, signal ${group.exit.signal}); see ${join(this.runDir, "logs", `${group.name}.log`)}`,
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
