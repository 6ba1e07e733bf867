/**
 * The shared mocha fixture of the Kubernetes suite: a root-hook plugin (loaded with --require) that gives the tests the
 * run's one local cluster (attaching to the cluster suite.ts started, or starting one itself when run alone), plus
 * helpers every test file uses to reach it. Starting a cluster takes many seconds, so test files share it and isolate
 * themselves with a namespace each. The suite runs inside the sandbox (`npm run test:k8s`), which removes everything
 * the cluster made when the run ends, however it ends.
 */
import { relative } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { ApiClient } from "./api/api-client.js";
import { waitFor } from "./api/wait.js";
import { LocalCluster } from "./local-cluster.js";
import { sandboxInfo } from "./sandbox/sandbox-info.js";

export const DEFAULT_FIXTURE = {
  startTimeoutMs: 300_000,
};

/** Set by the suite runner (suite.ts): the cluster is already up; attach to it rather than start one. */
export const ATTACH_ENV = "DYNAMO_K8S_ATTACH";

// Mocha loads this file once as a plugin and the test files import it again; the cluster lives on globalThis so both
// see the same one even if a loader ever hands them separate module instances.
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

/** The project's image, built from the Dockerfile for this run, as pods name it. */
export function dynamoImage(): string {
  return cluster().info.dynamoImage;
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
  /** The hook itself; its parent is the root suite of the file being run (parallel mode runs one file per root). */
  test?: { parent?: { suites?: { file?: string }[] } };
}

/** When the file now running began, for the wall time `[k8s file]` prints at its end (hooks included). */
let fileStartedAt = 0;

/** The file a root hook runs for, as the suite's scheduler (suite.ts) names it. */
function hookFile(context: HookContext): string | undefined {
  const file = context.test?.parent?.suites?.find((s) => s.file)?.file;
  return file ? relative(process.cwd(), file) : undefined;
}

export const mochaHooks = {
  async beforeAll(this: HookContext): Promise<void> {
    this.timeout(DEFAULT_FIXTURE.startTimeoutMs);
    fileStartedAt = Date.now();
    if (slot.dynamoK8sCluster) return;
    const local = new LocalCluster(sandboxInfo());
    slot.dynamoK8sCluster = local;
    if (process.env[ATTACH_ENV] === "1") {
      local.attach();
      return;
    }
    try {
      const info = await local.start();
      console.error(`[k8s fixture] local cluster up in ${info.startupMs} ms (node ${info.nodeName} ${info.nodeIp}, image ${info.dynamoImage})`);
    } catch (err) {
      console.error(`[k8s fixture] the local cluster did not start; component logs are in ${local.runDir}/logs (DYNAMO_K8S_KEEP=1 keeps them)`);
      throw err;
    }
  },
  async afterAll(this: HookContext): Promise<void> {
    this.timeout(60_000);
    const file = hookFile(this);
    // One line per file with its wall time: what suite.ts's longest-first order is kept up to date from.
    if (file && fileStartedAt > 0) console.error(`[k8s file] ${file}: ${((Date.now() - fileStartedAt) / 1000).toFixed(1)} s`);
    const local = slot.dynamoK8sCluster;
    slot.dynamoK8sCluster = undefined;
    await local?.stop();
  },
};
