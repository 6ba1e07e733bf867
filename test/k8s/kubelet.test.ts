// The process kubelet, with the small `node` test image: what a container gets (pod IP, downward-API,
// Secret and ConfigMap environment, volumes as files that follow updates, a service-account
// kubeconfig), how images it does not know are reported, probes, restart policies and graceful
// termination.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { admin, createNamespace, deleteNamespace } from "./fixture.js";
import { getJson, getPod, isReady, waitForPod, waitForPodGone } from "./pods.js";
import { testContainer } from "./test-image.js";
import { waitFor } from "./wait.js";

interface Report {
  env: Record<string, string>;
  files: Record<string, Record<string, string>>;
  cwd: string;
}

function pod(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Pod", metadata: { name, labels: { test: "kubelet" } }, spec };
}

describe("process kubelet", () => {
  let ns: string;
  let markerDir: string;

  before(async () => {
    ns = await createNamespace("kubelet");
    markerDir = mkdtempSync(join(tmpdir(), "dynamo-k8s-markers-"));
  });

  after(async () => {
    await deleteNamespace(ns);
    rmSync(markerDir, { recursive: true, force: true });
  });

  const create = (body: Record<string, unknown>): Promise<V1Pod> => admin().post<V1Pod>(`/api/v1/namespaces/${ns}/pods`, body);

  it("runs a container on its own pod IP with downward-API, Secret and ConfigMap environment and volumes", async () => {
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
                { name: "scratch", mountPath: "/scratch" },
              ],
            },
            [
              { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "GREETING", valueFrom: { configMapKeyRef: { name: "settings", key: "greeting" } } },
              { name: "WORD", valueFrom: { secretKeyRef: { name: "words", key: "word" } } },
              { name: "COMBINED", value: "$(POD_NAME)-in-$(POD_NAMESPACE)" },
              { name: "CONFIG_DIR", value: "/etc/settings" },
              { name: "SECRET_DIR", value: "/etc/words" },
              { name: "SCRATCH_DIR", value: "/scratch" },
              { name: "SHOW_DIRS", value: "CONFIG_DIR,SECRET_DIR" },
            ],
          ),
        ],
        volumes: [
          { name: "config", configMap: { name: "settings" } },
          { name: "secret", secret: { secretName: "words" } },
          { name: "scratch", emptyDir: {} },
        ],
      }),
    );
    const running = await waitForPod(ns, "env", "to become Ready", isReady);
    const ip = running.status?.podIP ?? "";
    assert.match(ip, /^127\.0\.\d+\.\d+$/);
    assert.notEqual(ip, "127.0.0.1");
    assert.equal(running.status?.phase, "Running");
    assert.equal(running.status?.containerStatuses?.[0]?.ready, true);

    const report = await getJson<Report>(`http://${ip}:8080/`);
    assert.equal(report.env.POD_NAME, "env");
    assert.equal(report.env.POD_NAMESPACE, ns);
    assert.equal(report.env.POD_IP, ip);
    assert.equal(report.env.GREETING, "hello");
    assert.equal(report.env.WORD, "swordfish");
    assert.equal(report.env.COMBINED, `env-in-${ns}`);
    assert.deepEqual(report.files.CONFIG_DIR, { greeting: "hello" });
    assert.deepEqual(report.files.SECRET_DIR, { word: "swordfish" });
    assert.notEqual(report.env.SCRATCH_DIR, "/scratch", "mount paths are rewritten to host directories");
    assert.ok(report.env.KUBECONFIG, "the service-account kubeconfig is announced in KUBECONFIG");

    await api.patch(`/api/v1/namespaces/${ns}/configmaps/settings`, { data: { greeting: "bonjour", extra: "1" } });
    await waitFor("the ConfigMap volume to show the update", async () => {
      const files = (await getJson<Report>(`http://${ip}:8080/`)).files.CONFIG_DIR;
      return files?.greeting === "bonjour" && files.extra === "1";
    }, { timeoutMs: 20_000 });
  });

  it("refuses an image it does not know with ErrImagePull and a message", async () => {
    await create(pod("unknown-image", { containers: [{ name: "c", image: "example.com/nothing:1" }] }));
    const refused = await waitForPod(ns, "unknown-image", "to report ErrImagePull", (p) =>
      p.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ErrImagePull",
    );
    assert.equal(refused.status?.phase, "Pending");
    assert.match(refused.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "", /example\.com\/nothing:1.*known images/);
  });

  it("restarts a failing container under OnFailure and completes one that exits 0 under Never", async () => {
    await create(pod("crash", { restartPolicy: "OnFailure", containers: [testContainer({}, [{ name: "BEHAVIOUR", value: "exit-1" }])] }));
    await create(pod("done", { restartPolicy: "Never", containers: [testContainer({}, [{ name: "BEHAVIOUR", value: "exit-0" }])] }));
    const crashing = await waitForPod(ns, "crash", "to have restarted twice", (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2);
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
      timeoutMs: 30_000,
    });
  });

  it("stops a deleted pod with SIGTERM, then removes it", async () => {
    const created = await create(
      pod("graceful", {
        containers: [testContainer({}, [{ name: "MARKER_DIR", value: markerDir }])],
      }),
    );
    await waitForPod(ns, "graceful", "to become Ready", isReady);
    await admin().delete(`/api/v1/namespaces/${ns}/pods/graceful`);
    await waitForPodGone(ns, "graceful", created.metadata?.uid, { timeoutMs: 20_000 });
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
    await waitForPodGone(ns, "stubborn", created.metadata?.uid, { timeoutMs: 20_000 });
    const elapsedMs = Date.now() - started;
    assert.ok(elapsedMs >= 1_900, `the grace period was honoured (${elapsedMs} ms)`);
    assert.equal(await getPod(ns, "stubborn"), undefined);
  });
});
