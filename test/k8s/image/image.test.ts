// The image built from the Dockerfile (scripts/image), run by the real node: it is loaded under the package's version,
// its entrypoint is `dynamo` (every subcommand answers --help), and it runs a one-node store as its non-root user on a
// read-only root filesystem, with nothing writable but its volumes.
import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { AdminClient, RingDriver } from "../../../driver/index.js";
import { admin, cluster, createNamespace, deleteNamespace, dynamoImage, getJson, isReady, podLogs, waitFor, waitForPod } from "../harness/index.js";

const TOKEN = "image-test-token-0123456789abcdef";

describe("the ringkv/dynamo image", () => {
  let ns: string;

  before(async () => {
    ns = await createNamespace("image");
  });

  after(async () => {
    await deleteNamespace(ns);
  });

  it("is on the node under the package's version, as the chart's appVersion names it", async () => {
    const version = (await import("../../../package.json", { with: { type: "json" } })).default.version;
    assert.equal(dynamoImage(), `ringkv/dynamo:${version}`);
    const node = await admin().get<{ status: { images: { names: string[]; sizeBytes: number }[] } }>(`/api/v1/nodes/${cluster().info.nodeName}`);
    const image = node.status.images.find((i) => i.names.includes(`docker.io/${dynamoImage()}`));
    assert.ok(image, `the node lists docker.io/${dynamoImage()}`);
    console.error(`    [image] ${dynamoImage()}: ${(image.sizeBytes / 1024 / 1024).toFixed(0)} MiB as the node stores it`);
  });

  it("runs `dynamo node --help` through its entrypoint: the usage, exit code 0", async () => {
    await admin().post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: "help" },
      spec: { restartPolicy: "Never", containers: [{ name: "dynamo", image: dynamoImage(), args: ["node", "--help"] }] },
    });
    const done = await waitForPod(ns, "help", "to finish", (p) => ["Succeeded", "Failed"].includes(p.status?.phase ?? ""));
    const log = await podLogs(ns, "help");
    assert.equal(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0, log);
    assert.match(log, /^Usage: dynamo node /);
  });

  it("runs a one-node store as uid 10001 on a read-only root filesystem: a value written is read back", async function () {
    this.timeout(180_000);
    const api = admin();
    await api.post(`/api/v1/namespaces/${ns}/secrets`, { metadata: { name: "token" }, stringData: { token: TOKEN } });
    await api.post(`/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name: "config" },
      data: { "config.json": JSON.stringify({ buckets: [{ name: "default", n: 1, r: 1, w: 1 }] }) },
    });
    await api.post(`/api/v1/namespaces/${ns}/pods`, {
      metadata: { name: "solo" },
      spec: {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "dynamo",
            image: dynamoImage(),
            // A ring of one has no peers; the test drives it over the peer port in the clear, as the operator does.
            args: [
              "node", "--id=solo", "--host=$(POD_IP)", "--data-dir=/var/lib/dynamo", "--token-file=/etc/dynamo/token/token",
              "--config=/etc/dynamo/config/config.json", "--insecure-peer-plaintext",
            ],
            env: [
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "TMPDIR", value: "/var/tmp/dynamo" },
            ],
            readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 1 },
            securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            volumeMounts: [
              { name: "data", mountPath: "/var/lib/dynamo" },
              { name: "tmp", mountPath: "/var/tmp/dynamo" },
              { name: "token", mountPath: "/etc/dynamo/token", readOnly: true },
              { name: "config", mountPath: "/etc/dynamo/config", readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: "data", emptyDir: {} },
          { name: "tmp", emptyDir: {} },
          { name: "token", secret: { secretName: "token" } },
          { name: "config", configMap: { name: "config" } },
        ],
      },
    });
    const pod = await waitForPod(ns, "solo", "to become Ready", isReady, { timeoutMs: 90_000 });
    const ip = pod.status?.podIP ?? "";
    const adminClient = new AdminClient(TOKEN, 3000);
    const info = await adminClient.node(`http://${ip}:8081`);
    assert.equal(info.id, "solo");
    // A ring of one, as `dynamo dev` would drive it.
    const driver = new RingDriver({ admin: adminClient, partitions: 8, targetN: 1, log: () => undefined });
    const member = { id: "solo", peerUrl: `http://${ip}:8081`, clientUrl: `http://${ip}:8080` };
    await waitFor("a ring of one node", async () => (await driver.step([member], ["solo"])).done, { timeoutMs: 60_000, intervalMs: 500 });
    const put = await fetch(`http://${ip}:8080/v1/kv/default/greeting`, { method: "PUT", body: "hello from the image" });
    assert.equal(put.status, 204, await put.text());
    const got = await fetch(`http://${ip}:8080/v1/kv/default/greeting`);
    assert.equal(await got.text(), "hello from the image");
    const health = await getJson<{ status: string }>(`http://${ip}:8080/healthz`);
    assert.equal(health.status, "ok");
    // The pod sets no runAsUser: the image's own USER wrote the store, as the files on the node's emptyDir show.
    const dataDir = join(cluster().node.paths.kubeletRoot, "pods", pod.metadata?.uid ?? "", "volumes", "kubernetes.io~empty-dir", "data");
    const owners = new Set(readdirSync(dataDir).map((f) => statSync(join(dataDir, f)).uid));
    assert.deepEqual([...owners], [10001], `the files in ${dataDir} belong to the image's user`);
  });
});
