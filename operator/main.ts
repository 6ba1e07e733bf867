/**
 * `dynamo operator`: parses flags, loads the kubeconfig (in a pod, its service account), and runs the operator until
 * SIGTERM or SIGINT, or until it loses the leader lease.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { UsageError, parseFlags, portFlag } from "../cli/usage.js";
import { Operator } from "./controller/index.js";
import type { OperatorPods } from "./resources/index.js";

export const OPERATOR_USAGE = `usage: dynamo operator [--namespace NS] [--leader-elect] [--metrics-port PORT] [--metrics-host HOST]
                       [--pod-labels K=V,...] [--cluster-domain DOMAIN]
Watches DynamoClusters in NS (all namespaces when unset). --pod-labels are the labels of the operator's own pods (in
namespace $POD_NAMESPACE), which the clusters' NetworkPolicies admit to the nodes' peer port; --cluster-domain (default
cluster.local) is used in the names certificates carry. Each flag may also be given as DYNAMO_<FLAG>.`;

export async function runOperator(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    namespace: { type: "string" },
    "leader-elect": { type: "boolean" },
    "metrics-port": { type: "string" },
    "metrics-host": { type: "string" },
    "pod-labels": { type: "string" },
    "cluster-domain": { type: "string" },
  });
  const namespace = (values.namespace as string | undefined) || undefined;
  const metricsPort = values["metrics-port"] === undefined ? undefined : portFlag(values["metrics-port"], "metrics-port", 9090);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  if (!kubeConfig.getCurrentCluster()) throw new UsageError("no Kubernetes cluster configured: set KUBECONFIG or run in a pod");
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} operator: ${message}\n`);
  const operator = new Operator({
    kubeConfig,
    namespace,
    leaderElect: values["leader-elect"] === true || values["leader-elect"] === "true",
    leaseNamespace: namespace ?? process.env.POD_NAMESPACE ?? "default",
    metricsPort,
    metricsHost: values["metrics-host"] as string | undefined,
    log,
    operatorPods: operatorPods(values["pod-labels"] as string | undefined, process.env.POD_NAMESPACE),
    clusterDomain: clusterDomain(values["cluster-domain"] as string | undefined),
  });
  process.once("SIGTERM", () => void operator.shutdown(0));
  process.once("SIGINT", () => void operator.shutdown(0));
  await operator.start();
  return operator.done;
}

/** `--pod-labels a=b,c=d` with the pod's namespace: where the operator's own pods are, for NetworkPolicies. */
export function operatorPods(labels: string | undefined, namespace: string | undefined): OperatorPods | undefined {
  if (!labels) return undefined;
  if (!namespace) throw new UsageError("--pod-labels needs POD_NAMESPACE, the namespace of the operator's pods");
  const pairs = labels.split(",").map((pair) => pair.trim()).filter(Boolean);
  const parsed: Record<string, string> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z0-9][-A-Za-z0-9_./]{0,252})=([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/.exec(pair);
    if (!match) throw new UsageError(`--pod-labels: '${pair}' is not a label key=value`);
    parsed[match[1]!] = match[2] ?? "";
  }
  if (Object.keys(parsed).length === 0) throw new UsageError("--pod-labels names no label");
  return { namespace, labels: parsed };
}

function clusterDomain(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) throw new UsageError(`--cluster-domain '${value}' is not a DNS name`);
  return value;
}
