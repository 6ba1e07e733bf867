// The real node as pods meet it, with the test server (test-server.ts) in the project's image: a pod IP from the node's
// range on the CNI bridge, downward-API, Secret and ConfigMap environment and volumes as real mounts, the image's
// non-root user and a read-only root filesystem, images that cannot be pulled reported as such, restart policies,
// liveness probes, graceful termination, Services routed by kube-proxy and names served by cluster DNS.
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import {
  admin,
  cluster,
  createNamespace,
  deleteNamespace,
  getJson,
  getPod,
  inCidr,
  isReady,
  NETWORK_PLAN,
  waitFor,
  waitForPod,
  waitForPodGone,
} from "../harness/index.js";
import { testContainer } from "./test-server.js";

interface Report {
  env: Record<string, string>;
  files: Record<string, Record<string, string>>;
  uid: number;
  gid: number;
  rootWrite: string;
  resolvConf: string;
}

function pod(name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, labels: { test: "node", ...labels } }, spec };
}

describe("the real node", () => {
  let ns: string;
  let markerDir: string;

  before(async () => {
    ns = await createNamespace("node");
    // A directory of the node that pods write into through a hostPath volume and the test reads directly.
    markerDir = join(cluster().runDir, `markers-${ns}`);
    mkdirSync(markerDir);
    chmodSync(markerDir, 0o777);
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  const create = (body: Record<string, unknown>): Promise<V1Pod> => admin().post<V1Pod>(`/api/v1/namespaces/${ns}/pods`, body);

  it("runs a container on a pod IP of the node's range with downward-API, Secret and ConfigMap environment and volumes", async () => {
    const api = admin();
    await api.post(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "words" }, stringData: { word: "swordfish" } });
    await api.post(`/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: "settings" }, data: { greeting: "hello" } });
    await create(
      pod("env", {
        containers: [
          testContainer(
            {
              volumeMounts: [
                { name: "config", mountPath: "/etc/settings" },
                { name: "secret", mountPath: "/etc/words" },
              ],
            },
            [
              { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "GREETING", valueFrom: { configMapKeyRef: { name: "settings", key: "greeting" } } },
              { name: "WORD", valueFrom: { secretKeyRef: { name: "words", key: "word" } } },
              { name: "COMBINED", value: "$(POD_NAME)-in-$(POD_NAMESPACE)" },
              { name: "CONFIG_DIR", value: "/etc/settings" },
              { name: "SECRET_DIR", value: "/etc/words" },
              { name: "SHOW_DIRS", value: "CONFIG_DIR,SECRET_DIR" },
            ],
          ),
        ],
        volumes: [
          { name: "config", configMap: { name: "settings" } },
          { name: "secret", secret: { secretName: "words" } },
        ],
      }),
    );
    const running = await waitForPod(ns, "env", "to become Ready", isReady);
    const ip = running.status?.podIP ?? "";
    assert.ok(inCidr(ip, NETWORK_PLAN.pods), `pod IP ${ip} is in the pod range ${NETWORK_PLAN.pods}`);
    assert.equal(running.status?.hostIP, cluster().info.nodeIp);

    const report = await getJson<Report>(`http://${ip}:8080/`);
    assert.equal(report.env.POD_NAME, "env");
    assert.equal(report.env.POD_NAMESPACE, ns);
    assert.equal(report.env.POD_IP, ip);
    assert.equal(report.env.GREETING, "hello");
    assert.equal(report.env.WORD, "swordfish");
    assert.equal(report.env.COMBINED, `env-in-${ns}`);
    assert.deepEqual(report.files.CONFIG_DIR, { greeting: "hello" });
    assert.deepEqual(report.files.SECRET_DIR, { word: "swordfish" });
    assert.equal(report.env.KUBERNETES_SERVICE_HOST, NETWORK_PLAN.kubernetesService, "in-cluster configuration names the kubernetes Service");
    assert.match(report.resolvConf, new RegExp(`nameserver ${NETWORK_PLAN.clusterDns.replace(/\./g, "\\.")}`));
    assert.match(report.resolvConf, new RegExp(`search ${ns}\\.svc\\.cluster\\.local`));
  });

  it("runs the image's non-root user, and a read-only root filesystem refuses writes", async () => {
    await create(
      pod("locked", {
        securityContext: { runAsNonRoot: true, fsGroup: 10001 },
        containers: [testContainer({ securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } })],
      }),
    );
    const running = await waitForPod(ns, "locked", "to become Ready", isReady);
    const report = await getJson<Report>(`http://${running.status?.podIP}:8080/`);
    assert.equal(report.uid, 10001, "the image's USER");
    assert.equal(report.rootWrite, "EROFS");
  });

  it("reports an image that cannot be pulled as a pull error naming the image; nothing reaches a registry", async () => {
    await create(pod("unknown-image", { containers: [{ name: "c", image: "registry.invalid/nothing:1" }] }));
    const refused = await waitForPod(ns, "unknown-image", "to report a pull error", (p) =>
      ["ErrImagePull", "ImagePullBackOff"].includes(p.status?.containerStatuses?.[0]?.state?.waiting?.reason ?? ""),
    );
    assert.equal(refused.status?.phase, "Pending");
    assert.match(refused.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "", /registry\.invalid\/nothing:1/);
  });

  it("restarts a failing container under OnFailure and completes one that exits 0 under Never", async () => {
    await create(pod("crash", { restartPolicy: "OnFailure", containers: [testContainer({}, [{ name: "BEHAVIOUR", value: "exit-1" }])] }));
    await create(pod("done", { restartPolicy: "Never", containers: [testContainer({}, [{ name: "BEHAVIOUR", value: "exit-0" }])] }));
    const crashing = await waitForPod(ns, "crash", "to have restarted twice", (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2, {
      timeoutMs: 90_000,
    });
    assert.equal(crashing.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
    const done = await waitForPod(ns, "done", "to succeed", (p) => p.status?.phase === "Succeeded");
    assert.equal(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  });

  it("restarts a container whose liveness probe fails", async () => {
    await create(
      pod("liveness", {
        containers: [
          testContainer(
            { livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 1, failureThreshold: 2 } },
            [{ name: "BEHAVIOUR", value: "unhealthy-later" }],
          ),
        ],
        terminationGracePeriodSeconds: 2,
      }),
    );
    await waitForPod(ns, "liveness", "to be restarted by its liveness probe", (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, {
      timeoutMs: 60_000,
    });
  });

  it("stops a deleted pod with SIGTERM, then removes it", async () => {
    const created = await create(
      pod("graceful", {
        containers: [testContainer({ volumeMounts: [{ name: "markers", mountPath: "/markers" }] }, [{ name: "MARKER_DIR", value: "/markers" }])],
        volumes: [{ name: "markers", hostPath: { path: markerDir, type: "Directory" } }],
      }),
    );
    await waitForPod(ns, "graceful", "to become Ready", isReady);
    await admin().delete(`/api/v1/namespaces/${ns}/pods/graceful`);
    await waitForPodGone(ns, "graceful", created.metadata?.uid, { timeoutMs: 30_000 });
    assert.deepEqual(readdirSync(markerDir), ["terminated-graceful"]);
  });

  it("kills a container that ignores SIGTERM once the grace period is over", async () => {
    const created = await create(
      pod("stubborn", {
        terminationGracePeriodSeconds: 2,
        containers: [testContainer({}, [{ name: "BEHAVIOUR", value: "ignore-sigterm" }])],
      }),
    );
    await waitForPod(ns, "stubborn", "to become Ready", isReady);
    const started = Date.now();
    await admin().delete(`/api/v1/namespaces/${ns}/pods/stubborn`);
    await waitForPodGone(ns, "stubborn", created.metadata?.uid, { timeoutMs: 30_000 });
    const elapsedMs = Date.now() - started;
    assert.ok(elapsedMs >= 1_900, `the grace period was honoured (${elapsedMs} ms)`);
    assert.equal(await getPod(ns, "stubborn"), undefined);
  });

  it("routes a Service's cluster IP to its pods, and cluster DNS names Services and StatefulSet pods; outside names do not resolve", async () => {
    await cluster().waitForAddons();
    const api = admin();
    await api.post(`/api/v1/namespaces/${ns}/services`, {
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
    await api.post(`/api/v1/namespaces/${ns}/services`, {
      metadata: { name: "peers" },
      spec: { clusterIP: "None", selector: { app: "web" }, ports: [{ name: "http", port: 8080 }] },
    });
    await create(pod("web-0", { hostname: "web-0", subdomain: "peers", containers: [testContainer()] }, { app: "web" }));
    const web = await waitForPod(ns, "web-0", "to become Ready", isReady);
    const service = await api.get<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/${ns}/services/web`);
    assert.ok(inCidr(service.spec.clusterIP, NETWORK_PLAN.services), `cluster IP ${service.spec.clusterIP} is in ${NETWORK_PLAN.services}`);

    // From the node, as kube-proxy's rules route it.
    const viaService = await waitFor("the Service's cluster IP to answer from the node", () => getJson<Report>(`http://${service.spec.clusterIP}/`).catch(() => undefined), {
      timeoutMs: 30_000,
    });
    assert.equal(viaService.env.POD_NAME, "web-0");

    // From a pod, by name.
    const ip = web.status?.podIP ?? "";
    const resolve = (name: string) => getJson<{ addresses?: string[]; error?: string }>(`http://${ip}:8080/resolve?name=${encodeURIComponent(name)}`);
    assert.deepEqual((await resolve(`web.${ns}.svc.cluster.local`)).addresses, [service.spec.clusterIP]);
    assert.deepEqual((await resolve("web")).addresses, [service.spec.clusterIP], "the pod's search path finds its namespace's Services");
    assert.deepEqual(
      (await waitFor("the StatefulSet-style pod name to resolve", async () => ((await resolve(`web-0.peers.${ns}.svc.cluster.local`)).addresses ? resolve(`web-0.peers.${ns}.svc.cluster.local`) : undefined), { timeoutMs: 30_000 })).addresses,
      [ip],
    );
    const fetched = await getJson<{ status?: number; body?: string }>(`http://${ip}:8080/fetch?url=${encodeURIComponent("http://web/healthz")}`);
    assert.deepEqual([fetched.status, fetched.body], [200, "ok"], "a pod reaches a Service by name, even its own (hairpin)");
    assert.ok((await resolve("example.com")).error, "a name outside the cluster does not resolve: nothing leaves the sandbox");
  });
});
