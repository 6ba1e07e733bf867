// The shared mocha fixture of the Kubernetes suite: a root-hook plugin (loaded with --require) that
// starts ONE local cluster before the first test and stops it after the last, however the tests
// end, plus helpers every test file uses to reach it. Starting a control plane takes seconds, so
// test files share it and isolate themselves with a namespace each.
import { KubeConfig } from "@kubernetes/client-node";
import { ApiClient } from "./api-client.js";
import { LocalCluster } from "./local-cluster.js";
import { waitFor } from "./wait.js";

export const DEFAULT_FIXTURE = {
  startTimeoutMs: 180_000,
};

// Mocha loads this file once as a plugin and the test files import it again; the cluster lives on
// globalThis so both see the same one even if a loader ever hands them separate module instances.
declare global {
  var dynamoK8sCluster: LocalCluster | undefined;
}
const slot = globalThis;

export function cluster(): LocalCluster {
  if (!slot.dynamoK8sCluster) throw new Error("the Kubernetes fixture is not running; run the suite with npm run test:k8s");
  return slot.dynamoK8sCluster;
}

/** Admin access for the harness-style client. */
export function admin(): ApiClient {
  return cluster().adminClient();
}

/** Admin access through @kubernetes/client-node, the library the operator uses. */
export function adminKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster().info.kubeconfig);
  return kc;
}

/** A fresh namespace, ready for pods (its default ServiceAccount exists). */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const api = admin();
  await api.post("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } });
  await waitFor(`the default ServiceAccount in namespace ${name}`, () => api.find(`/api/v1/namespaces/${name}/serviceaccounts/default`), {
    timeoutMs: 30_000,
  });
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  await admin().delete(`/api/v1/namespaces/${name}`).catch(() => undefined);
}

/** What the hooks ask of mocha's context; a script that runs them outside mocha (measure-scale) passes its own. */
interface HookContext {
  timeout(ms: number): unknown;
}

export const mochaHooks = {
  async beforeAll(this: HookContext): Promise<void> {
    this.timeout(DEFAULT_FIXTURE.startTimeoutMs);
    if (slot.dynamoK8sCluster) return;
    const local = new LocalCluster();
    slot.dynamoK8sCluster = local;
    const info = await local.start();
    console.error(`[k8s fixture] local cluster up in ${info.startupMs} ms (run directory ${info.runDir})`);
  },
  async afterAll(this: HookContext): Promise<void> {
    this.timeout(60_000);
    const local = slot.dynamoK8sCluster;
    slot.dynamoK8sCluster = undefined;
    await local?.stop();
  },
};
