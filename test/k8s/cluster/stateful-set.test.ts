// A StatefulSet of real `dynamo node` pods from the image built from the Dockerfile, without the operator: the
// StatefulSet controller creates them one at a time, each waiting for the previous one to be Ready; each pod serves on
// its own pod IP with its own bound claim, a local-path volume it writes as its non-root user; a deleted pod comes back
// with the same data directory; scaling down deletes the claim when the retention policy says so.
// Readiness uses /healthz: /readyz only turns ready once an operator has given the node a ring.
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { admin, createNamespace, deleteNamespace, describePods, dynamoImage, getPod, isReady, waitFor, waitForPod, waitForPodGone } from "../harness/index.js";

const NAME = "dyn";
const TOKEN = "k8s-test-token-0123456789abcdef";
const READY_TIMEOUT_MS = 100_000;

function dynamoStatefulSet(replicas: number): Record<string, unknown> {
  const labels = { "app.kubernetes.io/name": "dynamo", "app.kubernetes.io/instance": NAME };
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: NAME, labels },
    spec: {
      replicas,
      serviceName: `${NAME}-peers`,
      selector: { matchLabels: labels },
      persistentVolumeClaimRetentionPolicy: { whenScaled: "Delete", whenDeleted: "Retain" },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 10,
          containers: [
            {
              name: "dynamo",
              image: dynamoImage(),
              args: [
                "node",
                "--id=$(POD_NAME)",
                "--host=$(POD_IP)",
                "--advertise=$(POD_IP)",
                "--data-dir=/var/lib/dynamo",
                "--token-file=/etc/dynamo/token/token",
                "--insecure-peer-plaintext",
              ],
              env: [
                { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              ],
              ports: [
                { name: "client", containerPort: 8080 },
                { name: "peer", containerPort: 8081 },
              ],
              readinessProbe: { httpGet: { path: "/healthz", port: "client" }, periodSeconds: 1 },
              livenessProbe: { httpGet: { path: "/healthz", port: "client" }, periodSeconds: 5, failureThreshold: 6 },
              volumeMounts: [
                { name: "data", mountPath: "/var/lib/dynamo" },
                { name: "token", mountPath: "/etc/dynamo/token", readOnly: true },
              ],
            },
          ],
          volumes: [{ name: "token", secret: { secretName: `${NAME}-token` } }],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], storageClassName: "local", resources: { requests: { storage: "1Gi" } } },
        },
      ],
    },
  };
}

/** The node's incarnation, from the admin API on its peer port. */
async function incarnation(podIp: string): Promise<string> {
  const response = await fetch(`http://${podIp}:8081/v1/admin/node`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(response.status, 200, `the admin API on ${podIp}:8081 answers`);
  const view = (await response.json()) as { incarnation?: string };
  assert.ok(view.incarnation, "the node reports an incarnation");
  return view.incarnation;
}

describe("a StatefulSet of dynamo nodes", () => {
  let ns: string;
  const api = () => admin();
  const claimPath = (i: number) => `/api/v1/namespaces/${ns}/persistentvolumeclaims/data-${NAME}-${i}`;
  const dataDir = async (i: number): Promise<{ pvName: string; path: string }> => {
    const claim = await api().get<V1PersistentVolumeClaim>(claimPath(i));
    const pvName = claim.spec?.volumeName ?? "";
    const pv = await api().get<V1PersistentVolume>(`/api/v1/persistentvolumes/${pvName}`);
    return { pvName, path: pv.spec?.hostPath?.path ?? "" };
  };

  before(async function () {
    ns = await createNamespace("sts");
    await api().post(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: `${NAME}-token` }, stringData: { token: TOKEN } });
    await api().post(`/api/v1/namespaces/${ns}/services`, {
      metadata: { name: `${NAME}-peers` },
      spec: { clusterIP: "None", publishNotReadyAddresses: true, selector: { "app.kubernetes.io/instance": NAME }, ports: [{ name: "peer", port: 8081 }] },
    });
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  it("becomes 3 Ready pods, created in order, each serving on its pod IP with a bound claim", async function () {
    this.timeout(READY_TIMEOUT_MS + 30_000);
    // The watch stream is ordered, so what it had shown about dyn-(i-1) when dyn-i first appeared
    // is what the StatefulSet controller had seen when it created dyn-i.
    const readyNow = new Map<string, boolean>();
    const readyWhenSuccessorAppeared = new Map<string, boolean>();
    const watch = api().watch<V1Pod>(`/api/v1/namespaces/${ns}/pods`, (event) => {
      const name = event.object.metadata?.name ?? "";
      if (event.type === "ADDED" && !readyWhenSuccessorAppeared.has(name)) {
        const index = Number(name.slice(NAME.length + 1));
        if (index > 0) readyWhenSuccessorAppeared.set(name, readyNow.get(`${NAME}-${index - 1}`) ?? false);
      }
      readyNow.set(name, event.type !== "DELETED" && isReady(event.object));
    });
    try {
      await api().post(`/apis/apps/v1/namespaces/${ns}/statefulsets`, dynamoStatefulSet(3));
      await waitFor(
        "the StatefulSet to report 3 ready replicas",
        async () => (await api().get<V1StatefulSet>(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}`)).status?.readyReplicas === 3,
        { timeoutMs: READY_TIMEOUT_MS },
      );
    } catch (err) {
      throw new Error(`${err instanceof Error ? err.message : String(err)}\npods:\n${await describePods(ns)}`);
    } finally {
      watch.stop();
    }
    const pods: V1Pod[] = [];
    for (let i = 0; i < 3; i++) pods.push(await waitForPod(ns, `${NAME}-${i}`, "to be Ready", isReady));
    for (let i = 1; i < 3; i++) {
      assert.equal(readyWhenSuccessorAppeared.get(`${NAME}-${i}`), true, `${NAME}-${i} was created only after ${NAME}-${i - 1} was Ready`);
    }
    const ips = new Set<string>();
    for (const [i, pod] of pods.entries()) {
      const ip = pod.status?.podIP ?? "";
      ips.add(ip);
      const health = await fetch(`http://${ip}:8080/healthz`, { signal: AbortSignal.timeout(5_000) });
      assert.equal(health.status, 200, `${NAME}-${i} answers /healthz on ${ip}`);
      const claim = await api().get<V1PersistentVolumeClaim>(claimPath(i));
      assert.equal(claim.status?.phase, "Bound");
      const { path } = await dataDir(i);
      assert.ok(readdirSync(path).includes("CURRENT"), `the node keeps its LevelDB store in ${path}`);
      assert.ok(readdirSync(path).every((f) => statSync(join(path, f)).uid === 10001), "as its non-root user");
    }
    assert.equal(ips.size, 3, "every pod has an IP of its own");
  });

  it("brings a deleted pod back with the same data directory", async function () {
    this.timeout(READY_TIMEOUT_MS + 60_000);
    const before = await dataDir(1);
    writeFileSync(join(before.path, "sentinel-from-test"), "kept");
    const old = await getPod(ns, `${NAME}-1`);
    // The incarnation is a random id the node keeps in its data directory; a wiped or different
    // directory would give a new one, so an unchanged incarnation proves the same data came back.
    const incarnationBefore = await incarnation(old?.status?.podIP ?? "");
    await api().delete(`/api/v1/namespaces/${ns}/pods/${NAME}-1`);
    await waitForPodGone(ns, `${NAME}-1`, old?.metadata?.uid, { timeoutMs: 30_000 });
    const back = await waitForPod(ns, `${NAME}-1`, "to come back Ready", (p) => p.metadata?.uid !== old?.metadata?.uid && isReady(p), {
      timeoutMs: READY_TIMEOUT_MS,
    });
    assert.notEqual(back.metadata?.uid, old?.metadata?.uid);
    const after = await dataDir(1);
    assert.deepEqual(after, before, "the same claim and volume");
    assert.ok(readdirSync(after.path).includes("sentinel-from-test"));
    assert.equal(await incarnation(back.status?.podIP ?? ""), incarnationBefore, "the node came back as the same incarnation");
    const health = await fetch(`http://${back.status?.podIP}:8080/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(health.status, 200);
  });

  it("deletes the scaled-away pod's claim and volume when the retention policy says whenScaled: Delete", async () => {
    const removed = await dataDir(2);
    await api().patch(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}/scale`, { spec: { replicas: 2 } });
    await waitForPodGone(ns, `${NAME}-2`, undefined, { timeoutMs: 60_000 });
    await waitFor(`claim data-${NAME}-2 to be deleted`, async () => (await api().find(claimPath(2))) === undefined, { timeoutMs: 60_000 });
    await waitFor(`volume ${removed.pvName} to be reclaimed`, async () => (await api().find(`/api/v1/persistentvolumes/${removed.pvName}`)) === undefined, {
      timeoutMs: 60_000,
    });
    assert.equal(existsSync(removed.path), false, "the volume's directory is removed with it");
    for (const i of [0, 1]) assert.ok(await api().find(claimPath(i)), `claim data-${NAME}-${i} is kept`);
  });

  it("has the garbage collector delete its pods with it, keeping claims per whenDeleted: Retain", async () => {
    await api().delete(`/apis/apps/v1/namespaces/${ns}/statefulsets/${NAME}`, { propagationPolicy: "Background" });
    for (const i of [0, 1]) await waitForPodGone(ns, `${NAME}-${i}`, undefined, { timeoutMs: 60_000 });
    for (const i of [0, 1]) assert.ok(await api().find(claimPath(i)), `claim data-${NAME}-${i} is retained`);
  });
});
