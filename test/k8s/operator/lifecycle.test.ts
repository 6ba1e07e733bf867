// The operator end to end on the real control plane with real `dynamo node` pods: a DynamoCluster of 3 becomes
// Available; `/scale` to 4 rebalances under client load and ends Stable and balanced with every acknowledged write
// readable; deleting the DynamoCluster removes what it owns.
import assert from "node:assert/strict";
import type { Operator } from "../../../operator/controller/index.js";
import { admin, createNamespace, deleteNamespace, waitFor } from "../harness/index.js";
import { clustersPath, conditionTrue, installCrd, readCluster, startOperator, waitStable } from "./helpers.js";

const NAME = "kv";

/** Writes keys one after another to whichever ready member answers, remembering the acknowledged ones. */
class Writer {
  readonly acked = new Map<string, string>();
  failures = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly urls: () => Promise<string[]>) {}

  async write(count: number, prefix: string): Promise<void> {
    for (let i = 0; i < count; i++) await this.put(`${prefix}-${i}`);
  }

  start(prefix: string): void {
    this.running = true;
    this.loop = (async () => {
      for (let i = 0; this.running; i++) await this.put(`${prefix}-${i}`);
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async put(key: string): Promise<void> {
    const value = `v-${key}`;
    const urls = await this.urls();
    const url = urls[Math.floor(Math.random() * urls.length)];
    if (!url) return;
    try {
      const res = await fetch(`${url}/v1/kv/default/${key}`, { method: "PUT", body: value, signal: AbortSignal.timeout(5000) });
      if (res.status === 204) this.acked.set(key, value);
      else this.failures++;
    } catch {
      this.failures++;
    }
  }
}

async function readyClientUrls(ns: string): Promise<string[]> {
  const pods = await admin().get<{ items: { status?: { podIP?: string; conditions?: { type: string; status: string }[] } }[] }>(
    `/api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${NAME}`)}`,
  );
  return pods.items
    .filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
    .map((p) => `http://${p.status?.podIP}:8080`);
}

async function lostWrites(ns: string, acked: Map<string, string>): Promise<string[]> {
  const urls = await readyClientUrls(ns);
  const lost: string[] = [];
  let i = 0;
  for (const [key, value] of acked) {
    const url = urls[i++ % urls.length];
    const res = await fetch(`${url}/v1/kv/default/${key}`, { signal: AbortSignal.timeout(5000) });
    const body = await res.text();
    if (res.status !== 200 || body !== value) lost.push(`${key}: ${res.status}`);
  }
  return lost;
}

describe("operator: a cluster's life", function () {
  this.timeout(600_000);
  let ns = "";
  let operator: Operator | undefined;

  before(async () => {
    await installCrd();
    ns = await createNamespace("op-life");
    operator = await startOperator(ns);
  });
  after(async () => {
    await operator?.stop();
    await deleteNamespace(ns);
  });

  it("creates 3 nodes that become Available", async () => {
    const started = Date.now();
    await admin().post(clustersPath(ns), {
      apiVersion: "dynamo.ringkv.dev/v1alpha1",
      kind: "DynamoCluster",
      metadata: { name: NAME },
      // Plain HTTP on the client port (the peer port runs mutual TLS regardless): this suite's raw requests need no CA,
      // and it covers the switch that turns client TLS off (plain HTTP probes, the pods labelled http).
      spec: { replicas: 3, partitions: 64, tls: { client: { enabled: false } }, persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" } },
    });
    await waitFor("Available", async () => (conditionTrue(await readCluster(ns, NAME), "Available") ? true : undefined), { timeoutMs: 180_000, intervalMs: 250 });
    console.error(`[operator] apply → Available for 3 nodes: ${Date.now() - started} ms`);
    const cluster = await waitStable(ns, NAME, 3);
    const counts = (cluster.status?.members ?? []).map((m) => m.partitions);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${counts}`);
    for (const kind of ["statefulsets", "poddisruptionbudgets"]) {
      const group = kind === "statefulsets" ? "apps/v1" : "policy/v1";
      await admin().get(`/apis/${group}/namespaces/${ns}/${kind}/${NAME}`);
    }
  });

  it("scales 3 → 4 through /scale under client load, ending Stable and balanced with no acknowledged write lost", async () => {
    const writer = new Writer(() => readyClientUrls(ns));
    await writer.write(200, "before");
    writer.start("during");
    const started = Date.now();
    await admin().patch(`${clustersPath(ns)}/${NAME}/scale`, { spec: { replicas: 4 } }, "merge");
    const cluster = await waitStable(ns, NAME, 4);
    console.error(`[operator] 3 → 4 scale: ${Date.now() - started} ms`);
    await writer.stop();
    const counts = (cluster.status?.members ?? []).map((m) => m.partitions);
    assert.deepEqual(counts.sort(), [16, 16, 16, 16]);
    const lost = await lostWrites(ns, writer.acked);
    console.error(`[operator] ${writer.acked.size} acknowledged writes, ${writer.failures} refused, ${lost.length} lost`);
    assert.deepEqual(lost, []);
  });

  it("scales 4 → 3, removing the pod only after it handed its partitions off", async () => {
    const writer = new Writer(() => readyClientUrls(ns));
    writer.start("down");
    await admin().patch(`${clustersPath(ns)}/${NAME}`, { spec: { replicas: 3 } }, "merge");
    const cluster = await waitStable(ns, NAME, 3);
    await writer.stop();
    assert.deepEqual((cluster.status?.members ?? []).map((m) => m.id), ["kv-0", "kv-1", "kv-2"]);
    assert.deepEqual(await lostWrites(ns, writer.acked), []);
  });

  it("deleting the DynamoCluster removes what it owns", async () => {
    await admin().delete(`${clustersPath(ns)}/${NAME}`);
    await waitFor(
      "the owned objects to be garbage collected",
      async () => {
        const sts = await admin().find(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}`);
        const svc = await admin().find(`/api/v1/namespaces/${ns}/services/${NAME}`);
        const cm = await admin().find(`/api/v1/namespaces/${ns}/configmaps/${NAME}-config`);
        const secret = await admin().find(`/api/v1/namespaces/${ns}/secrets/${NAME}-token`);
        return !sts && !svc && !cm && !secret ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );
  });
});
