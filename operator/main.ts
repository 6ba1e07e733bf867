/**
 * `dynamo operator`: parses flags, loads the kubeconfig (in a pod, its service account), and runs the operator until
 * SIGTERM or SIGINT, or until it loses the leader lease.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { UsageError, parseFlags, portFlag } from "../cli/usage.js";
import { Operator } from "./controller/index.js";

export const OPERATOR_USAGE = `usage: dynamo operator [--namespace NS] [--leader-elect] [--metrics-port PORT] [--metrics-host HOST]
Watches DynamoClusters in NS (all namespaces when unset). Each flag may also be given as DYNAMO_<FLAG>.`;

export async function runOperator(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    namespace: { type: "string" },
    "leader-elect": { type: "boolean" },
    "metrics-port": { type: "string" },
    "metrics-host": { type: "string" },
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
  });
  process.once("SIGTERM", () => void operator.shutdown(0));
  process.once("SIGINT", () => void operator.shutdown(0));
  await operator.start();
  return operator.done;
}
