/**
 * `dynamo operator`: parses flags (each also DYNAMO_<FLAG>), loads the kubeconfig (in a pod, its service account),
 * and runs the operator until SIGTERM or SIGINT, or until it loses the leader lease.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { UsageError, command, port, readsEnvironment, runCommand, type Command } from "../lib/command-line.js";
import { defaultStorageImage } from "./api/index.js";
import { Operator } from "./controller/index.js";
import type { OperatorPods } from "./resources/index.js";

interface OperatorFlags {
  namespace?: string;
  leaderElect?: boolean;
  metricsPort?: number;
  metricsHost?: string;
  podLabels?: string;
  clusterDomain?: string;
  defaultImage?: string;
  customMetricsPort?: number;
  customMetricsCertDir?: string;
}

export function operatorCommand(): Command {
  return readsEnvironment(
    command("operator", "Runs the Kubernetes operator: watches DynamoClusters and steers their rings.")
      .option("--namespace <ns>", "the namespace to watch (default: every namespace)")
      .option("--leader-elect", "run only while holding the dynamo-operator Lease")
      .option("--metrics-port <port>", "serve /metrics and /healthz on this port", port("metrics-port"))
      .option("--metrics-host <host>", "address of the metrics port")
      .option("--pod-labels <k=v,...>", "labels of the operator's own pods (in $POD_NAMESPACE), which the clusters' NetworkPolicies admit to the peer port")
      .option("--cluster-domain <domain>", "the cluster's DNS domain, used in the names certificates carry (default cluster.local)")
      .option("--default-image <image>", `the storage image of DynamoClusters that name none (default ${defaultStorageImage()})`)
      .option("--custom-metrics-port <port>", "serve the custom metrics API (custom.metrics.k8s.io/v1beta2) for HPAs on this port", port("custom-metrics-port"))
      .option("--custom-metrics-cert-dir <dir>", "the custom metrics API's serving certificate: tls.crt and tls.key in this directory"),
  );
}

export function runOperator(argv: string[]): Promise<number> {
  return runCommand<OperatorFlags>(operatorCommand(), argv, operate);
}

async function operate(flags: OperatorFlags): Promise<number> {
  const namespace = flags.namespace || undefined;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  if (!kubeConfig.getCurrentCluster()) throw new UsageError("no Kubernetes cluster configured: set KUBECONFIG or run in a pod");
  const log = (message: string) => process.stderr.write(`${new Date().toISOString()} operator: ${message}\n`);
  const operator = new Operator({
    kubeConfig,
    namespace,
    leaderElect: flags.leaderElect === true,
    leaseNamespace: namespace ?? process.env.POD_NAMESPACE ?? "default",
    metricsPort: flags.metricsPort,
    metricsHost: flags.metricsHost,
    defaultImage: flags.defaultImage || undefined,
    log,
    operatorPods: operatorPods(flags.podLabels, process.env.POD_NAMESPACE),
    clusterDomain: clusterDomain(flags.clusterDomain),
    customMetrics: customMetrics(flags.customMetricsPort, flags.customMetricsCertDir),
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

/**
 * The custom metrics API's port and serving certificate: both flags or neither. The files are read now (a missing one
 * is a usage error) and again whenever the server refreshes, so a renewed Secret takes effect without a restart.
 */
function customMetrics(port: number | undefined, certDir: string | undefined): { port: number; tls: () => { cert: string; key: string } } | undefined {
  if (port === undefined && !certDir) return undefined;
  if (port === undefined || !certDir) throw new UsageError("--custom-metrics-port and --custom-metrics-cert-dir go together");
  const tls = () => ({ cert: readFileSync(join(certDir, "tls.crt"), "utf8"), key: readFileSync(join(certDir, "tls.key"), "utf8") });
  try {
    tls();
  } catch (err) {
    throw new UsageError(`--custom-metrics-cert-dir: ${(err as Error).message}`);
  }
  return { port, tls };
}

function clusterDomain(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) throw new UsageError(`--cluster-domain '${value}' is not a DNS name`);
  return value;
}
