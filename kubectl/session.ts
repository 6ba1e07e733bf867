/**
 * What the plugin talks to: the API server, with the user's kubeconfig and context exactly as kubectl resolves them
 * (`--kubeconfig`, else $KUBECONFIG, else ~/.kube/config; `--context`; `-n`, else the context's namespace, else
 * `default`), and each storage node's client port for the node's own account of itself.
 *
 * A laptop running kubectl cannot reach pod IPs on a real cluster, so by default nodes are reached through the API
 * server's pod proxy (`/api/v1/namespaces/NS/pods/POD:8080/proxy/...`, RBAC `get` on `pods/proxy`). Where pod IPs are
 * reachable (inside the cluster, or a test ground whose pods use loopback addresses the API server refuses to proxy
 * to), `--node-access direct` asks them directly. The peer port is never used: it needs the cluster token and mutual
 * TLS, and the API server's proxy drops the Authorization header and presents no client certificate.
 */
import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { DynamoError } from "../node/errors/index.js";
import { KubeApi, isNotFound, objectPath } from "../operator/kube/api-client.js";
import { API_VERSION, PLURAL, parseDynamoCluster, type DynamoCluster } from "../operator/api/index.js";
import { CLIENT_PORT, LABEL_INSTANCE, selectorString } from "../operator/resources/index.js";

export type NodeAccess = "proxy" | "direct";

export interface SessionOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  nodeAccess: NodeAccess;
  timeoutMs?: number;
}

export interface PodItem {
  metadata: { name: string; uid?: string; creationTimestamp?: string; deletionTimestamp?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  spec?: { nodeName?: string; containers?: { name: string; env?: { name: string; value?: string }[] }[] };
  status?: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; restartCount?: number; ready?: boolean; state?: Record<string, { reason?: string; message?: string } | undefined> }[];
  };
}

export interface EventItem {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
  firstTimestamp?: string;
  metadata?: { creationTimestamp?: string };
}

export class Session {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly contextName: string;

  constructor(private readonly options: SessionOptions) {
    const kc = new KubeConfig();
    try {
      if (options.kubeconfig) {
        if (!existsSync(options.kubeconfig)) throw new Error(`no such file ${options.kubeconfig}`);
        kc.loadFromFile(options.kubeconfig);
      } else {
        kc.loadFromDefault();
      }
    } catch (err) {
      throw new DynamoError("invalid_request", `cannot read the kubeconfig: ${(err as Error).message}`);
    }
    if (options.context) {
      if (!kc.getContextObject(options.context)) throw new DynamoError("invalid_request", `the kubeconfig has no context '${options.context}'`);
      kc.setCurrentContext(options.context);
    }
    if (!kc.getCurrentCluster()) throw new DynamoError("invalid_request", "no Kubernetes cluster configured: set KUBECONFIG, use --kubeconfig, or pick a --context");
    this.contextName = kc.getCurrentContext();
    this.namespace = options.namespace ?? kc.getContextObject(this.contextName)?.namespace ?? "default";
    this.api = new KubeApi(kc, { requestTimeoutMs: options.timeoutMs ?? 15_000, responseBytesMax: 64 * 1024 * 1024 });
  }

  clusterPath(name?: string, subresource?: string): string {
    return objectPath(API_VERSION, PLURAL, this.namespace, name, subresource);
  }

  async cluster(name: string): Promise<DynamoCluster> {
    let raw: unknown;
    try {
      raw = await this.api.get(this.clusterPath(name));
    } catch (err) {
      if (isNotFound(err)) throw new DynamoError("not_found", `no DynamoCluster '${name}' in namespace ${this.namespace} (kubectl get dyn -n ${this.namespace} lists them)`);
      throw err;
    }
    return parseDynamoCluster(raw);
  }

  async pods(cluster: string): Promise<PodItem[]> {
    const list = await this.api.get<{ items: PodItem[] }>(`${objectPath("v1", "pods", this.namespace)}?labelSelector=${encodeURIComponent(selectorString(cluster))}`);
    return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name, "en", { numeric: true }));
  }

  async pod(name: string): Promise<PodItem | undefined> {
    return this.api.find<PodItem>(objectPath("v1", "pods", this.namespace, name));
  }

  /** Events about the DynamoCluster, newest last. */
  async events(cluster: string): Promise<EventItem[]> {
    const selector = encodeURIComponent(`involvedObject.name=${cluster},involvedObject.kind=DynamoCluster`);
    const list = await this.api.get<{ items: EventItem[] }>(`${objectPath("v1", "events", this.namespace)}?fieldSelector=${selector}`);
    return list.items.sort((a, b) => eventTime(a).localeCompare(eventTime(b)));
  }

  /** The zone of each Kubernetes node, when the user may read nodes (a namespaced user may not: then none). */
  async zones(): Promise<Map<string, string>> {
    try {
      const list = await this.api.get<{ items: { metadata: { name: string; labels?: Record<string, string> } }[] }>("/api/v1/nodes");
      return new Map(list.items.map((n) => [n.metadata.name, n.metadata.labels?.["topology.kubernetes.io/zone"] ?? ""]));
    } catch {
      return new Map();
    }
  }

  /** GET `path` on a storage pod's client port, as JSON; through the API server unless `--node-access direct`. */
  async nodeJson(pod: PodItem, path: string): Promise<unknown> {
    return JSON.parse(await this.nodeText(pod, path));
  }

  async nodeText(pod: PodItem, path: string): Promise<string> {
    const tls = (pod.spec?.containers ?? []).some((c) => (c.env ?? []).some((e) => e.name === "DYNAMO_CLIENT_TLS_DIR" && e.value));
    if (this.options.nodeAccess === "direct") return this.directText(pod, path, tls);
    // A node serving its client port over TLS is proxied to as `https:POD:PORT`; the API server does not verify pods'
    // certificates, so no CA is needed on this path.
    const target = `${tls ? "https:" : ""}${pod.metadata.name}:${CLIENT_PORT}`;
    try {
      return await this.api.getText(`${objectPath("v1", "pods", this.namespace, target, "proxy")}${path}`);
    } catch (err) {
      const message = (err as Error).message;
      if (/address not allowed/.test(message)) {
        throw new DynamoError("unavailable", `the API server refuses to proxy to ${pod.metadata.name} (its pod IP ${pod.status?.podIP ?? "?"} is not a routable address); where pod IPs are reachable, use --node-access direct`);
      }
      throw new DynamoError("unavailable", `cannot reach ${pod.metadata.name} through the API server's pod proxy: ${message}`);
    }
  }

  /**
   * GET `path` from a pod's client port at its IP. Over TLS the node is checked against the CA the operator publishes
   * in ConfigMap `X-ca` and the client Service's name `X.NS.svc`, which every node's certificate carries.
   */
  private async directText(pod: PodItem, path: string, tls: boolean): Promise<string> {
    if (!pod.status?.podIP) throw new DynamoError("unavailable", `${pod.metadata.name} has no IP yet`);
    const url = `${tls ? "https" : "http"}://${pod.status.podIP}:${CLIENT_PORT}${path}`;
    let options: { ca?: string; servername?: string } = {};
    if (tls) {
      const cluster = pod.metadata.labels?.[LABEL_INSTANCE] ?? "";
      const configMap = await this.api.find<{ data?: Record<string, string> }>(objectPath("v1", "configmaps", this.namespace, `${cluster}-ca`));
      const ca = configMap?.data?.["ca.crt"];
      if (!ca) throw new DynamoError("unavailable", `${pod.metadata.name} serves TLS but ConfigMap ${cluster}-ca, with the CA to check it against, is missing`);
      options = { ca, servername: `${cluster}.${this.namespace}.svc` };
    }
    const timeoutMs = this.options.timeoutMs ?? 5000;
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(url, { ...options, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on("error", (err) => reject(new DynamoError("unavailable", `cannot reach ${pod.metadata.name} at ${url}: ${err.message}`)));
      req.end();
    });
    if (status < 200 || status >= 300) throw new DynamoError("unavailable", `${pod.metadata.name} answered ${path} with ${status}`);
    return body;
  }

  async logs(pod: string, tailLines: number): Promise<string> {
    return this.api.getText(`${objectPath("v1", "pods", this.namespace, pod, "log")}?tailLines=${tailLines}`);
  }
}

export function eventTime(e: EventItem): string {
  return e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp ?? "";
}
