// Helpers of the operator's Kubernetes tests: installing the committed CRD, running the operator in this process
// against the shared control plane, reading a DynamoCluster's status and ring, and putting client load on it.
import { existsSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { fileURLToPath } from "node:url";
import { hostname } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { DynamoClient, type DynamoClientOptions } from "../../../client/index.js";
import { AdminClient } from "../../../driver/index.js";
import { issueCertificate } from "../../../node/pki/index.js";
import { clientTlsOptions } from "../../../node/tls/index.js";
import { CLIENT_SCHEME_LABEL } from "../../../operator/resources/index.js";
import { newestRing as newestOf, partitionOf, preferenceList, type Ring } from "../../../node/ring/index.js";
import { Operator, type OperatorOptions } from "../../../operator/controller/index.js";
import type { DynamoClusterStatus } from "../../../operator/api/index.js";
import { seededRandom } from "../../../lib/random.js";
import { SetChecker, formatReport, type SetCheckerOptions } from "../../helpers/set-checker.js";
import { admin, adminKubeConfig, ApiError, cluster, sleep, waitFor } from "../harness/index.js";
import type { ProcessGroup } from "../harness/processes.js";

/** The built CLI, which the operator runs from as a process of its own in the sandbox (OperatorProcess). */
const DYNAMO_MAIN = fileURLToPath(new URL("../../../dist/cli/main.js", import.meta.url));

/** The committed CRDs: DynamoCluster, and the backup kinds the operator also watches. */
const CRDS = ["dynamoclusters", "dynamobackups", "dynamoscheduledbackups"].map(
  (file) => parse(readFileSync(new URL(`../../../crds/${file}.yaml`, import.meta.url), "utf8")) as { metadata: { name: string } },
);
const CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/**
 * Installs the committed CRDs unless they are there (a test running at the same time, or the chart, installed the same
 * files: the chart's copies are kept in sync with them), and waits until each is Established.
 */
export async function installCrd(): Promise<void> {
  const api = admin();
  for (const crd of CRDS) {
    try {
      await api.post(CRD_PATH, crd);
    } catch (err) {
      if (!(err instanceof ApiError && err.statusCode === 409)) throw err;
    }
    await waitFor(
      `the ${crd.metadata.name} CRD to be established`,
      async () => {
        const found = await api.get<{ status?: { conditions?: { type: string; status: string }[] } }>(`${CRD_PATH}/${crd.metadata.name}`);
        return found.status?.conditions?.some((c) => c.type === "Established" && c.status === "True") ? true : undefined;
      },
      { timeoutMs: 30_000 },
    );
  }
}

export const clustersPath = (ns: string) => `/apis/dynamo.ringkv.dev/v1alpha1/namespaces/${ns}/dynamoclusters`;

/** Starts an operator in this process watching `ns`; its log lines go to stderr with a prefix when DEBUG is set. */
export async function startOperator(ns: string, options: { leaderElect?: boolean; identity?: string; customMetrics?: OperatorOptions["customMetrics"] } = {}): Promise<Operator> {
  const operator = new Operator({
    kubeConfig: adminKubeConfig(),
    namespace: ns,
    leaderElect: options.leaderElect ?? false,
    leaseNamespace: ns,
    identity: options.identity,
    metricsPort: undefined,
    customMetrics: options.customMetrics,
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

/**
 * Waits for phase Stable with `replicas` members, each holding partitions, the conditions up to date, and a ring epoch
 * of at least `minEpoch` (a status older than a change the test saw in the ring does not count).
 */
export async function waitStable(ns: string, name: string, replicas: number, options: { timeoutMs?: number; minEpoch?: number } = {}): Promise<ClusterObject> {
  return waitFor(
    `${ns}/${name} to be Stable with ${replicas} members`,
    async () => {
      const c = await readCluster(ns, name);
      const s = c.status;
      const ok =
        s?.phase === "Stable" &&
        (s.ringEpoch ?? 0) >= (options.minEpoch ?? 0) &&
        s.observedGeneration === c.metadata.generation &&
        s.replicas === replicas &&
        s.readyReplicas === replicas &&
        (s.members ?? []).filter((m) => m.partitions > 0).length === replicas &&
        conditionTrue(c, "Available") &&
        conditionTrue(c, "Progressing", "False");
      return ok ? c : undefined;
    },
    { timeoutMs: options.timeoutMs ?? 180_000, intervalMs: 500 },
  );
}

/** Creates DynamoCluster `name` with `spec`; claims are deleted with the cluster so namespaces clean up quickly. */
export async function createCluster(ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  await admin().post(clustersPath(ns), {
    apiVersion: "dynamo.ringkv.dev/v1alpha1",
    kind: "DynamoCluster",
    metadata: { name },
    spec: { persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" }, ...spec },
  });
}

/** Sets the replicas through the scale subresource, exactly as `kubectl scale dyn/x --replicas=N` or an HPA does. */
export async function scaleTo(ns: string, name: string, replicas: number): Promise<void> {
  await admin().patch(`${clustersPath(ns)}/${name}/scale`, { spec: { replicas } }, "merge");
}

/**
 * Asserts that exactly `replicas` ring members own partitions and that each owns ⌊Q/S⌋ or ⌈Q/S⌉ of them, from the
 * status the operator wrote (which it computes from the newest ring).
 */
export function assertBalanced(cluster: ClusterObject, replicas: number): void {
  const q = cluster.status?.partitions ?? 0;
  const members = (cluster.status?.members ?? []).filter((m) => m.state !== "absent");
  const counts = members.map((m) => m.partitions);
  const detail = members.map((m) => `${m.id}=${m.partitions}`).join(", ");
  if (members.length !== replicas) throw new Error(`expected ${replicas} ring members, found ${members.length}: ${detail}`);
  if (counts.reduce((a, b) => a + b, 0) !== q) throw new Error(`the members own ${counts.reduce((a, b) => a + b, 0)} of ${q} partitions: ${detail}`);
  const low = Math.floor(q / replicas);
  const high = Math.ceil(q / replicas);
  if (!counts.every((c) => c === low || c === high)) throw new Error(`unbalanced ring (each member should own ${low} or ${high}): ${detail}`);
}

export interface PodItem {
  metadata: { name: string; uid: string; deletionTimestamp?: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  status?: { podIP?: string; conditions?: { type: string; status: string }[] };
}

export async function clusterPods(ns: string, name: string): Promise<PodItem[]> {
  const selector = encodeURIComponent(`app.kubernetes.io/instance=${name}`);
  return (await admin().get<{ items: PodItem[] }>(`/api/v1/namespaces/${ns}/pods?labelSelector=${selector}`)).items;
}

/** The scheme of a pod's client port, from the label the operator sets on its pods. */
function clientScheme(pod: PodItem): string {
  return pod.metadata.labels?.[CLIENT_SCHEME_LABEL] === "http" ? "http" : "https";
}

/** A pod's client URL (https unless the cluster turned client TLS off) and its peer URL (always mutual TLS). */
export const clientUrlOf = (pod: PodItem): string => `${clientScheme(pod)}://${pod.status?.podIP}:8080`;
export const peerUrlOf = (pod: PodItem): string => `https://${pod.status?.podIP}:8081`;

/** Client URLs of the cluster's ready pods (a node turns ready only once it is in the ring). */
export async function readyClientUrls(ns: string, name: string): Promise<string[]> {
  return (await clusterPods(ns, name))
    .filter((p) => !p.metadata.deletionTimestamp && p.status?.podIP && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
    .map(clientUrlOf)
    .sort();
}

/**
 * What a client of the cluster's client port needs, as a user would get it: the CA bundle the operator publishes in
 * ConfigMap X-ca and the client Service's name, which every node's certificate carries (the URLs hold pod IPs).
 */
export async function clusterClientOptions(ns: string, name: string): Promise<DynamoClientOptions> {
  const configMap = await admin().find<{ data?: Record<string, string> }>(`/api/v1/namespaces/${ns}/configmaps/${name}-ca`);
  const ca = configMap?.data?.["ca.crt"];
  return ca ? { ca, servername: `${name}.${ns}.svc` } : {};
}

/** A DynamoClient for the cluster's client port, trusting its published CA. */
export async function clusterClient(ns: string, name: string, urls: string[], options: DynamoClientOptions = {}): Promise<DynamoClient> {
  return new DynamoClient(urls, { ...(await clusterClientOptions(ns, name)), ...options });
}

/**
 * One plain HTTP request to a node's client port (`/metrics`, a raw KV call), over TLS with the cluster's published
 * CA when the URL is https.
 */
export async function clientRequest(ns: string, name: string, url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string }> {
  const options = url.startsWith("https:") ? await clusterClientOptions(ns, name) : {};
  return new Promise((resolve, reject) => {
    const req = (url.startsWith("https:") ? httpsRequest : httpRequest)(
      url,
      { method: init.method ?? "GET", headers: init.headers, ca: options.ca, servername: options.servername, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url} did not answer in 10 s`)));
    req.on("error", reject);
    req.end(init.body);
  });
}

/**
 * An admin client with the cluster's token and a client certificate of its own from the cluster's CA (read from the
 * operator's CA Secret, as only a cluster administrator can), since the peer port runs mutual TLS.
 */
export async function clusterAdmin(ns: string, name: string): Promise<AdminClient> {
  const api = admin();
  const secret = await api.get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}-token`);
  const ca = await waitFor(
    `Secret ${name}-ca-key`,
    async () => (await api.find<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${name}-ca-key`))?.data,
    { timeoutMs: 30_000 },
  );
  const text = (key: string) => Buffer.from(ca[key] ?? "", "base64").toString("utf8");
  const nowMs = Date.now();
  const leaf = await issueCertificate(
    { cert: text("tls.crt"), key: text("tls.key") },
    { commonName: "k8s-test", hosts: [], notBefore: new Date(nowMs - 60_000), notAfter: new Date(nowMs + 3600_000) },
  );
  const tls = clientTlsOptions({ ca: text("ca.crt"), cert: leaf.cert, key: leaf.key });
  return new AdminClient(Buffer.from(secret.data.token ?? "", "base64").toString("utf8"), 3000, () => tls);
}

/** The newest ring any of the cluster's pods holds, read from the nodes' admin APIs. */
export async function newestRing(ns: string, name: string): Promise<Ring> {
  const adminClient = await clusterAdmin(ns, name);
  const rings = await Promise.all(
    (await clusterPods(ns, name)).filter((p) => p.status?.podIP).map((p) => adminClient.ring(peerUrlOf(p)).catch(() => undefined)),
  );
  const ring = newestOf(rings.filter((r): r is Ring => r !== undefined));
  if (!ring) throw new Error(`no pod of ${ns}/${name} answered with a ring`);
  return ring;
}

/** The node behind pod `pod` as it describes itself: its incarnation changes when its disk is wiped. */
export async function nodeInfo(ns: string, name: string, pod: string): Promise<{ uid: string; incarnation: string }> {
  const item = (await clusterPods(ns, name)).find((p) => p.metadata.name === pod && !p.metadata.deletionTimestamp);
  if (!item?.status?.podIP) throw new Error(`pod ${pod} has no IP yet`);
  const info = await (await clusterAdmin(ns, name)).node(peerUrlOf(item));
  return { uid: item.metadata.uid, incarnation: info.incarnation };
}

/**
 * Fails unless pod `pod` holds, in its own copy (read through the admin API, no quorum involved), every entry of
 * `entries` (default bucket) whose replicas under the newest ring include it: what a rebuilt node must have fetched.
 * Returns how many keys were checked.
 */
export async function assertReplicaHolds(ns: string, name: string, pod: string, entries: Map<string, string>): Promise<number> {
  const ring = await newestRing(ns, name);
  const adminClient = await clusterAdmin(ns, name);
  const item = (await clusterPods(ns, name)).find((p) => p.metadata.name === pod && !p.metadata.deletionTimestamp);
  if (!item?.status?.podIP) throw new Error(`pod ${pod} has no IP`);
  const peerUrl = peerUrlOf(item);
  const mine = [...entries].filter(([key]) => preferenceList(ring, partitionOf("default", Buffer.from(key), ring.partitions), 3).includes(pod));
  const missing: string[] = [];
  for (let i = 0; i < mine.length; i += 32) {
    await Promise.all(
      mine.slice(i, i + 32).map(async ([key, value]) => {
        const record = await adminClient.localRecord(peerUrl, "default", key);
        const values = (record.found ? record.siblings : []).filter((s) => !s.deleted && s.value !== null).map((s) => Buffer.from(s.value!, "base64").toString("utf8"));
        if (!values.includes(value)) missing.push(key);
      }),
    );
  }
  if (missing.length > 0) throw new Error(`${pod} lacks ${missing.length} of the ${mine.length} keys it replicates: ${missing.slice(0, 5).join(", ")}`);
  return mine.length;
}

/** Reasons and messages of the Events recorded on DynamoCluster `name`. */
export async function clusterEvents(ns: string, name: string): Promise<{ reason: string; message: string }[]> {
  const selector = encodeURIComponent(`involvedObject.name=${name},involvedObject.kind=DynamoCluster`);
  return (await admin().get<{ items: { reason: string; message: string }[] }>(`/api/v1/namespaces/${ns}/events?fieldSelector=${selector}`)).items;
}

/** Waits until the operator reports transfers in flight in a ring newer than `afterEpoch`. */
export async function waitTransfersInFlight(ns: string, name: string, afterEpoch: number, timeoutMs = 60_000): Promise<ClusterObject> {
  return waitFor(
    `${ns}/${name} to report transfers in flight after epoch ${afterEpoch}`,
    async () => {
      const c = await readCluster(ns, name);
      return (c.status?.ringEpoch ?? 0) > afterEpoch && (c.status?.transfers?.pending ?? 0) > 0 ? c : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/**
 * Client load on a cluster for the operator's scenarios: bulk keys written once (so transfers take a while) and the
 * set checker's clients adding elements throughout, spread over whichever pods are ready. The list of ready pods is
 * refreshed in the background because the checker asks for it synchronously before every operation.
 */
export class ClusterLoad {
  readonly bulk = new Map<string, string>();
  private urls: string[] = [];
  private clientOptions: DynamoClientOptions = {};
  private readonly extra: DynamoClientOptions;
  private refreshing = true;
  private refresher: Promise<void> | undefined;
  readonly checker: SetChecker;

  /** `pauseMs`: each checker client's pause between operations; longer keeps the checker's own CPU cost low. */
  constructor(
    private readonly ns: string,
    private readonly name: string,
    seed: number,
    /**
     * client: added to every client's options (e.g. a client token); the rest goes to the set checker (its pause
     * between writes, r, failover, an observer of each request).
     */
    options: { client?: DynamoClientOptions } & Partial<Pick<SetCheckerOptions, "pauseMs" | "r" | "w" | "failover" | "observe">> = {},
  ) {
    const { client, ...checker } = options;
    this.extra = client ?? {};
    this.checker = new SetChecker({ urls: () => this.urls, client: () => this.clientOptions, bucket: "default", keys: 8, clients: 4, rng: seededRandom(seed), w: 2, pauseMs: 10, ...checker });
  }

  async start(): Promise<void> {
    this.urls = await readyClientUrls(this.ns, this.name);
    this.clientOptions = { ...(await clusterClientOptions(this.ns, this.name)), ...this.extra };
    if (this.urls.length === 0) throw new Error(`no ready pod of ${this.ns}/${this.name} to send load to`);
    this.refresher = (async () => {
      while (this.refreshing) {
        await sleep(500);
        const fresh = await readyClientUrls(this.ns, this.name).catch(() => []);
        // An empty list would leave the checker nowhere to send; the last known pods answer or fail, both fine.
        if (fresh.length > 0) this.urls = fresh;
        // A client reloads the published CA when it changes (a CA rotation), as one mounting ConfigMap X-ca would.
        const options = await clusterClientOptions(this.ns, this.name).catch(() => this.clientOptions);
        if (options.ca !== this.clientOptions.ca) this.clientOptions = { ...options, ...this.extra };
      }
    })();
    this.checker.start();
  }

  async stop(): Promise<void> {
    await this.checker.stop();
    this.refreshing = false;
    await this.refresher;
  }

  /** Writes `count` keys of 1 KiB to the default bucket, 32 at a time. */
  async preload(count: number): Promise<void> {
    const client = await clusterClient(this.ns, this.name, await readyClientUrls(this.ns, this.name), this.extra);
    const value = "x".repeat(1024);
    try {
      for (let i = 0; i < count; i += 32) {
        await Promise.all(
          Array.from({ length: Math.min(32, count - i) }, async (_, j) => {
            const key = `bulk-${i + j}`;
            await client.put("default", key, `${key}:${value}`);
            this.bulk.set(key, `${key}:${value}`);
          }),
        );
      }
    } finally {
      client.close();
    }
  }

  /**
   * Fails unless every acknowledged element of the set checker is in its key read at r=3 and every bulk key reads
   * back at r=3 with its value.
   */
  async assertNothingLost(label: string): Promise<void> {
    const urls = await readyClientUrls(this.ns, this.name);
    const report = await this.checker.check(urls[0]!, 3);
    console.error(`    [${label}] set checker: ${formatReport(report)}`);
    if (report.lost.length > 0) throw new Error(`${label}: acknowledged elements lost: ${report.lost.slice(0, 10).join(", ")}`);
    if (report.acknowledged === 0) throw new Error(`${label}: the set checker had no write acknowledged: ${this.checker.errors.slice(0, 3).join("; ")}`);
    const client = await clusterClient(this.ns, this.name, urls, this.extra);
    const bad: string[] = [];
    const entries = [...this.bulk];
    try {
      for (let i = 0; i < entries.length; i += 32) {
        await Promise.all(
          entries.slice(i, i + 32).map(async ([key, value]) => {
            const got = await client.get("default", key, { r: 3 }).catch((err: Error) => ({ kind: `error ${err.message}` }) as const);
            if (got.kind !== "value" || !("value" in got) || got.value.toString() !== value) bad.push(`${key}: ${got.kind}`);
          }),
        );
      }
    } finally {
      client.close();
    }
    if (bad.length > 0) throw new Error(`${label}: ${bad.length} bulk keys not read back at r=3: ${bad.slice(0, 5).join("; ")}`);
  }
}

/**
 * `dynamo operator` as a process of its own, started the way a Deployment would run it (the built CLI, a kubeconfig,
 * one namespace), so a test can SIGKILL it for real. It runs in the sandbox, which kills it if the test runner dies.
 */
export class OperatorProcess {
  private constructor(
    private readonly group: ProcessGroup,
    readonly logFile: string,
  ) {}

  static start(ns: string, label: string, options: { leaderElect?: boolean; metricsPort?: number } = {}): OperatorProcess {
    const local = cluster();
    const logFile = join(local.runDir, `operator-${ns}-${label}-${Date.now()}.log`);
    const args = [DYNAMO_MAIN, "operator", "--namespace", ns];
    if (options.leaderElect) args.push("--leader-elect");
    if (options.metricsPort !== undefined) args.push("--metrics-port", String(options.metricsPort));
    const group = local.supervisor.start({
      name: `operator ${label}`,
      command: process.execPath,
      args,
      env: { ...process.env, KUBECONFIG: local.info.kubeconfig },
      cwd: local.runDir,
      logFile,
    });
    return new OperatorProcess(group, logFile);
  }

  get pid(): number {
    return this.group.pid;
  }

  /** The identity it holds the lease under: `dynamo operator` uses host name and pid. */
  get identity(): string {
    return `${hostname()}-${this.pid}`;
  }

  get exited(): boolean {
    return this.group.exit !== undefined;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  /** SIGKILL: no lease released, no reconcile finished, exactly what a node failure does to it. */
  async kill(): Promise<void> {
    this.group.signal("SIGKILL");
    await this.group.exited;
  }

  async stop(): Promise<void> {
    await this.group.stop();
  }

  /** SIGSTOP / SIGCONT: a leader frozen past its Lease (a long GC pause, a stalled VM) and thawed. */
  freeze(): void {
    this.group.signal("SIGSTOP");
  }

  thaw(): void {
    this.group.signal("SIGCONT");
  }
}

interface LeaseObject {
  spec: { holderIdentity?: string; leaseTransitions?: number; renewTime?: string };
}

/** The operator's leader Lease in `ns`, if any replica created it yet. */
export async function readLease(ns: string): Promise<LeaseObject | undefined> {
  return admin().find<LeaseObject>(`/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/dynamo-operator`);
}
