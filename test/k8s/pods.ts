// Small pod helpers shared by the test files: read a pod, wait for it to reach a state with a clear
// message, and ask a container on its pod IP.
import type { V1Pod } from "@kubernetes/client-node";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { admin, cluster } from "./fixture.js";
import { waitFor, type WaitOptions } from "./wait.js";

export async function getPod(namespace: string, name: string): Promise<V1Pod | undefined> {
  return admin().find<V1Pod>(`/api/v1/namespaces/${namespace}/pods/${name}`);
}

export function isReady(pod: V1Pod | undefined): boolean {
  return pod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/** Waits until the pod satisfies `accept`; the failure message includes the pod's last status. */
export async function waitForPod(
  namespace: string,
  name: string,
  what: string,
  accept: (pod: V1Pod) => boolean,
  options: WaitOptions = {},
): Promise<V1Pod> {
  let last: V1Pod | undefined;
  try {
    return await waitFor(`pod ${namespace}/${name} ${what}`, async () => {
      last = await getPod(namespace, name);
      return last && accept(last) ? last : undefined;
    }, options);
  } catch (err) {
    const status = last ? JSON.stringify(last.status) : "(no such pod)";
    throw new Error(`${err instanceof Error ? err.message : String(err)}; last status: ${status}`, { cause: err });
  }
}

export async function waitForPodGone(namespace: string, name: string, uid: string | undefined, options: WaitOptions = {}): Promise<void> {
  await waitFor(`pod ${namespace}/${name} to be deleted`, async () => {
    const pod = await getPod(namespace, name);
    return !pod || (uid !== undefined && pod.metadata?.uid !== uid);
  }, options);
}

export async function getJson<T>(url: string, timeoutMs = 5_000): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

// The last lines a container wrote, from the process kubelet's log file for it.
function logTail(pod: V1Pod, container: string): string {
  const { namespace, name, uid } = pod.metadata ?? {};
  const file = join(cluster().runDir, "kubelet", "pods", `${namespace}_${name}_${uid}`, "logs", `${container}.log`);
  if (!existsSync(file)) return "";
  const lines = readFileSync(file, "utf8").trimEnd().split("\n").slice(-5);
  return `\n    log ${file}:\n      ${lines.join("\n      ")}`;
}

/** One line per pod of a namespace: phase, readiness and each container's state, for failure messages. */
export async function describePods(namespace: string): Promise<string> {
  const list = await admin().get<{ items: V1Pod[] }>(`/api/v1/namespaces/${namespace}/pods`);
  const lines = list.items.map((pod) => {
    const containers = (pod.status?.containerStatuses ?? []).map((c) => {
      const state = c.state?.waiting
        ? `waiting ${c.state.waiting.reason}: ${c.state.waiting.message ?? ""}`
        : c.state?.terminated
          ? `terminated ${c.state.terminated.exitCode}`
          : "running";
      const last = c.lastState?.terminated ? `, last exit ${c.lastState.terminated.exitCode}` : "";
      return `${c.name} ${state} (restarts ${c.restartCount}${last})${logTail(pod, c.name)}`;
    });
    return `${pod.metadata?.name} ${pod.status?.phase} ready=${isReady(pod)} ip=${pod.status?.podIP ?? "-"} ${containers.join("; ")}`;
  });
  return lines.length ? lines.join("\n") : "(no pods)";
}
