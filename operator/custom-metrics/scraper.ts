/**
 * The values behind the custom metrics API: which storage pods a request names, and each pod's numbers from its node's
 * own `GET /metrics` on the client port (open to every client, over TLS checked against the cluster's published CA).
 * Nothing is scraped in the background: a request scrapes the pods it asks about, at most once per `reuseMs`, and a
 * rate comes from the samples earlier requests left (the HPA asks every 15 s). A pod seen for the first time is
 * scraped twice, `firstSpanMs` apart, so its first answer already has a rate. Every scrape has a timeout and a size
 * limit, a request has a limit on pods and on scrapes at once, and the remembered samples are bounded.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { V1Pod } from "@kubernetes/client-node";
import type { KubeApi } from "../kube/api-client.js";
import { objectPath } from "../kube/api-client.js";
import { CLIENT_PORT, CLIENT_SCHEME_LABEL, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY, objectNames } from "../resources/index.js";
import { MetricsApiError, type MetricDefinition, type NodeSample, type PodMetricValue } from "./api.js";
import { sumSamples } from "./exposition.js";
import { CounterRates, DEFAULT_COUNTER_RATES } from "./rates.js";

export const DEFAULT_SCRAPE = {
  timeoutMs: 2_000,
  maxBodyBytes: 4 * 1024 * 1024,
  /** Scrapes in flight at once for one request. */
  concurrency: 8,
  /** Pods one request may cover. */
  maxPods: 500,
  /** A sample younger than this is reused rather than scraped again (several HPAs, or kubectl, asking at once). */
  reuseMs: 2_000,
  /** The gap between the two scrapes of a pod seen for the first time. */
  firstSpanMs: 2_000,
  /** How long a cluster's CA bundle is reused before the ConfigMap is read again (it changes on rotation). */
  caCacheMs: 30_000,
  rates: DEFAULT_COUNTER_RATES,
};

/** A storage pod of a DynamoCluster, as far as scraping it goes. */
export interface PodTarget {
  name: string;
  uid: string;
  cluster: string;
  url: string;
}

/** The storage pods among `pods`: running, not being deleted, with an address, labelled as a DynamoCluster's. */
export function podTargets(pods: readonly V1Pod[]): PodTarget[] {
  const targets: PodTarget[] = [];
  for (const pod of pods) {
    const labels = pod.metadata?.labels ?? {};
    const cluster = labels[LABEL_INSTANCE];
    if (labels[LABEL_MANAGED_BY] !== MANAGED_BY || labels[LABEL_COMPONENT] !== "storage" || !cluster) continue;
    if (pod.metadata?.deletionTimestamp || pod.status?.phase !== "Running" || !pod.status.podIP || !pod.metadata?.name || !pod.metadata.uid) continue;
    const scheme = labels[CLIENT_SCHEME_LABEL] === "http" ? "http" : "https";
    const host = pod.status.podIP.includes(":") ? `[${pod.status.podIP}]` : pod.status.podIP;
    targets.push({ name: pod.metadata.name, uid: pod.metadata.uid, cluster, url: `${scheme}://${host}:${CLIENT_PORT}/metrics` });
  }
  return targets.sort((a, b) => a.name.localeCompare(b.name));
}

/** The numbers of one scrape. */
export function nodeSample(text: string): NodeSample {
  // A counter with labels has no samples until its first increment: a node that has served no request yet declares
  // dynamo_requests_total and prints none, which is zero requests, not a missing metric.
  const declared = text.includes("\n# TYPE dynamo_requests_total ") || text.startsWith("# TYPE dynamo_requests_total ");
  const requests = sumSamples(text, "dynamo_requests_total") ?? (declared ? 0 : undefined);
  const storedBytes = sumSamples(text, "dynamo_storage_bytes");
  if (requests === undefined || storedBytes === undefined) throw new Error("its /metrics has no dynamo_requests_total or dynamo_storage_bytes");
  return { requests, storedBytes };
}

export class NodeScraper {
  private readonly rates: CounterRates;
  private readonly latest = new Map<string, { tMs: number; sample: NodeSample }>();
  private readonly cas = new Map<string, { atMs: number; ca: string | undefined }>();

  constructor(
    private readonly api: KubeApi,
    private readonly options = DEFAULT_SCRAPE,
    private readonly log: (message: string) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.rates = new CounterRates(options.rates);
  }

  /** The metric's value for pod `pod` (or every pod `labelSelector` matches, for `*`) in `namespace`. */
  async values(namespace: string, pod: string, labelSelector: string, metric: MetricDefinition): Promise<PodMetricValue[]> {
    const targets = await this.targets(namespace, pod, labelSelector);
    const failures: string[] = [];
    await this.sampleAll(namespace, targets, failures);
    if (metric.kind === "rate") {
      const fresh = targets.filter((t) => this.latest.has(t.uid) && !this.rates.rate(`${t.uid}/${metric.from}`));
      if (fresh.length > 0) {
        await new Promise((resolve) => setTimeout(resolve, this.options.firstSpanMs));
        await this.sampleAll(namespace, fresh, failures, true);
      }
    }
    const values: PodMetricValue[] = [];
    for (const target of targets) {
      const latest = this.latest.get(target.uid);
      if (!latest) continue;
      if (metric.kind === "gauge") {
        values.push({ pod: target.name, value: latest.sample[metric.from], timestampMs: latest.tMs, windowSeconds: 0 });
      } else {
        const rate = this.rates.rate(`${target.uid}/${metric.from}`);
        if (rate) values.push({ pod: target.name, value: rate.perSecond, timestampMs: rate.atMs, windowSeconds: rate.windowSeconds });
      }
    }
    if (values.length === 0 && targets.length > 0) {
      throw new MetricsApiError(503, `no pod answered for ${metric.name}: ${failures.slice(0, 5).join("; ") || "no rate yet"}`);
    }
    return values;
  }

  private async targets(namespace: string, pod: string, labelSelector: string): Promise<PodTarget[]> {
    const podsPath = objectPath("v1", "pods", namespace);
    if (pod !== "*") {
      const found = await this.api.find<V1Pod>(`${podsPath}/${encodeURIComponent(pod)}`);
      if (!found) throw new MetricsApiError(404, `pod ${namespace}/${pod} not found`);
      const targets = podTargets([found]);
      if (targets.length === 0) throw new MetricsApiError(404, `pod ${namespace}/${pod} is not a running storage pod of a DynamoCluster`);
      return targets;
    }
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : "";
    const list = await this.api.get<{ items: V1Pod[] }>(`${podsPath}${query}`);
    const targets = podTargets(list.items);
    if (targets.length > this.options.maxPods) {
      throw new MetricsApiError(400, `the selector '${labelSelector}' matches ${targets.length} storage pods; one request covers at most ${this.options.maxPods}`);
    }
    return targets;
  }

  /** Scrapes the targets whose newest sample is older than `reuseMs` (all of them when `force`), a few at a time. */
  private async sampleAll(namespace: string, targets: readonly PodTarget[], failures: string[], force = false): Promise<void> {
    const due = targets.filter((t) => force || this.now() - (this.latest.get(t.uid)?.tMs ?? -Infinity) >= this.options.reuseMs);
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const target = due[next++]!;
        try {
          const ca = target.url.startsWith("https:") ? await this.caOf(namespace, target.cluster) : undefined;
          const text = await scrape(target.url, { ca, servername: `${target.cluster}.${namespace}.svc`, timeoutMs: this.options.timeoutMs, maxBytes: this.options.maxBodyBytes });
          this.remember(target.uid, nodeSample(text));
        } catch (err) {
          const message = `${target.name}: ${(err as Error).message}`;
          failures.push(message);
          this.log(`custom metrics: scraping ${namespace}/${message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, due.length) }, worker));
  }

  private remember(uid: string, sample: NodeSample): void {
    const tMs = this.now();
    if (!this.latest.has(uid) && this.latest.size >= this.options.rates.maxSeries) this.latest.delete(this.latest.keys().next().value as string);
    this.latest.set(uid, { tMs, sample });
    this.rates.record(`${uid}/requests`, { tMs, value: sample.requests });
  }

  /** The CA bundle a cluster publishes for its clients (ConfigMap X-ca), reused for `caCacheMs`. */
  private async caOf(namespace: string, cluster: string): Promise<string | undefined> {
    const key = `${namespace}/${cluster}`;
    const cached = this.cas.get(key);
    if (cached && this.now() - cached.atMs < this.options.caCacheMs) return cached.ca;
    const configMap = await this.api.find<{ data?: Record<string, string> }>(objectPath("v1", "configmaps", namespace, objectNames(cluster).caConfigMap));
    const ca = configMap?.data?.["ca.crt"];
    if (this.cas.size >= 1_000) this.cas.clear();
    this.cas.set(key, { atMs: this.now(), ca });
    return ca;
  }
}

/** One GET with a deadline for the whole exchange and a cap on the body. */
function scrape(url: string, options: { ca?: string; servername: string; timeoutMs: number; maxBytes: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url} answered HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > options.maxBytes) {
          req.destroy(new Error(`GET ${url} answered more than ${options.maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    };
    const req = url.startsWith("https:")
      ? httpsRequest(url, { ca: options.ca, servername: options.servername, headers: { accept: "text/plain" } }, onResponse)
      : httpRequest(url, { headers: { accept: "text/plain" } }, onResponse);
    const timer = setTimeout(() => req.destroy(new Error(`GET ${url} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("error", reject);
    req.end();
  });
}
