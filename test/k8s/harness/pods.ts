/**
 * Small pod helpers shared by the test files: read a pod, wait for it to reach a state with a clear message, read a
 * container's log through the API (what `kubectl logs` does), and ask a container on its pod IP.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { waitFor, type WaitOptions } from "./api/wait.js";
import { admin, cluster } from "./fixture.js";

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

/** A container's log, through the API server and the kubelet, as `kubectl logs [--previous]` shows it. */
export async function podLogs(namespace: string, pod: string, options: { container?: string; tailLines?: number; previous?: boolean } = {}): Promise<string> {
  const query = new URLSearchParams();
  if (options.container) query.set("container", options.container);
  if (options.tailLines !== undefined) query.set("tailLines", String(options.tailLines));
  if (options.previous) query.set("previous", "true");
  return admin().text(`/api/v1/namespaces/${namespace}/pods/${pod}/log?${query}`);
}

// The last lines a container wrote, for failure messages; a container that has not started has no log yet.
async function logTail(pod: V1Pod, container: string): Promise<string> {
  const { namespace, name } = pod.metadata ?? {};
  const text = await podLogs(namespace ?? "", name ?? "", { container, tailLines: 5 }).catch(() => "");
  const lines = text.trimEnd().split("\n").filter(Boolean);
  return lines.length ? `\n      ${lines.join("\n      ")}` : "";
}

/** One line per pod of a namespace: phase, readiness and each container's state, for failure messages. */
export async function describePods(namespace: string): Promise<string> {
  const list = await admin().get<{ items: V1Pod[] }>(`/api/v1/namespaces/${namespace}/pods`);
  const lines = await Promise.all(list.items.map(async (pod) => {
    const containers = await Promise.all((pod.status?.containerStatuses ?? []).map(async (c) => {
      const state = c.state?.waiting
        ? `waiting ${c.state.waiting.reason}: ${c.state.waiting.message ?? ""}`
        : c.state?.terminated
          ? `terminated ${c.state.terminated.exitCode}`
          : "running";
      const last = c.lastState?.terminated ? `, last exit ${c.lastState.terminated.exitCode}` : "";
      return `${c.name} ${state} (restarts ${c.restartCount}${last})${await logTail(pod, c.name)}`;
    }));
    return `${pod.metadata?.name} ${pod.status?.phase} ready=${isReady(pod)} ip=${pod.status?.podIP ?? "-"} ${containers.join("; ")}`;
  }));
  return lines.length ? lines.join("\n") : "(no pods)";
}

/**
 * Freezes pod `pod`'s first container with the cgroup freezer (its processes stop, its sockets stay open, probes and
 * peers get no answer) and answers the function that thaws it; thawing twice is harmless.
 */
export async function freezePod(namespace: string, pod: string): Promise<() => void> {
  const item = await getPod(namespace, pod);
  const id = item?.status?.containerStatuses?.[0]?.containerID ?? "";
  const containerId = /^containerd:\/\/([0-9a-f]+)$/.exec(id)?.[1];
  if (!containerId) throw new Error(`pod ${namespace}/${pod} reports no running container (containerID '${id}')`);
  const node = cluster().node;
  node.setPaused(containerId, true);
  let thawed = false;
  return () => {
    if (thawed) return;
    thawed = true;
    node.setPaused(containerId, false);
  };
}
