// Helpers of the operator's Kubernetes tests: installing the committed CRD, running the operator in this process
// against the shared control plane, and reading a DynamoCluster's status.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { Operator } from "../../operator/controller/index.js";
import type { DynamoClusterStatus } from "../../operator/api/index.js";
import { admin, adminKubeConfig } from "./fixture.js";
import { waitFor } from "./wait.js";

const CRD = parse(readFileSync(new URL("../../crds/dynamoclusters.yaml", import.meta.url), "utf8"));
const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** Installs (or updates) the committed CRD and waits until it is Established. */
export async function installCrd(): Promise<void> {
  const api = admin();
  const existing = await api.find<{ metadata: { resourceVersion: string } }>(`${CRD_PATH}/${CRD.metadata.name}`);
  if (existing) await api.put(`${CRD_PATH}/${CRD.metadata.name}`, { ...CRD, metadata: { ...CRD.metadata, resourceVersion: existing.metadata.resourceVersion } });
  else await api.post(CRD_PATH, CRD);
  await waitFor(
    "the DynamoCluster CRD to be established",
    async () => {
      const crd = await api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`${CRD_PATH}/${CRD.metadata.name}`);
      return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
    },
    { timeoutMs: 30_000 },
  );
}

export const clustersPath = (ns: string) => `/apis/dynamo.ringkv.dev/v1alpha1/namespaces/${ns}/dynamoclusters`;

/** Starts an operator in this process watching `ns`; its log lines go to stderr with a prefix when DEBUG is set. */
export async function startOperator(ns: string, options: { leaderElect?: boolean; identity?: string } = {}): Promise<Operator> {
  const operator = new Operator({
    kubeConfig: adminKubeConfig(),
    namespace: ns,
    leaderElect: options.leaderElect ?? false,
    leaseNamespace: ns,
    identity: options.identity,
    metricsPort: undefined,
    log: (m) => {
      if (process.env.DYNAMO_K8S_DEBUG) process.stderr.write(`[operator${options.identity ? ` ${options.identity}` : ""}] ${m}\n`);
    },
  });
  await operator.start();
  return operator;
}

export interface ClusterObject {
  metadata: { generation: number; uid: string };
  spec: { replicas: number };
  status?: DynamoClusterStatus;
}

export async function readCluster(ns: string, name: string): Promise<ClusterObject> {
  return admin().get<ClusterObject>(`${clustersPath(ns)}/${name}`);
}

export function conditionTrue(cluster: ClusterObject, type: string, status = "True"): boolean {
  const c = cluster.status?.conditions?.find((x) => x.type === type);
  return !!c && c.status === status && c.observedGeneration === cluster.metadata.generation;
}

/** Waits for phase Stable with `replicas` members, each holding partitions, the conditions up to date. */
export async function waitStable(ns: string, name: string, replicas: number, timeoutMs = 180_000): Promise<ClusterObject> {
  return waitFor(
    `${ns}/${name} to be Stable with ${replicas} members`,
    async () => {
      const c = await readCluster(ns, name);
      const s = c.status;
      const ok =
        s?.phase === "Stable" &&
        s.observedGeneration === c.metadata.generation &&
        s.replicas === replicas &&
        s.readyReplicas === replicas &&
        (s.members ?? []).filter((m) => m.partitions > 0).length === replicas &&
        conditionTrue(c, "Available") &&
        conditionTrue(c, "Progressing", "False");
      return ok ? c : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}
