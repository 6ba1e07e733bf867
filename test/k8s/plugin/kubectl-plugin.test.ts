// `kubectl dynamo` against the real control plane, run as the built `kubectl-dynamo` executable with a kubeconfig, the
// way kubectl runs a plugin: status, ring (drawing and JSON), pause and resume, rebalance --watch following a scale to
// its end (with status.rebalance, its Events, and the operator's progress gauges), replace, and the support bundle
// with its secrets redacted. The same cluster also proves that every metric the chart's dashboard and alerts name is
// served by a real node and a real operator.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Operator } from "../../../operator/controller/index.js";
import { REPO_ROOT } from "../../helpers/dev-cluster.js";
import { missingMetrics, monitoredMetrics } from "../../monitoring/monitored-metrics.js";
import { admin, adminKubeConfig, cluster, createNamespace, deleteNamespace, freePort, waitFor } from "../harness/index.js";
import { ClusterLoad, clientRequest, clusterEvents, clusterPods, createCluster, installCrd, readCluster, scaleTo, waitStable, waitTransfersInFlight } from "../operator/helpers.js";

const PLUGIN = join(REPO_ROOT, "dist", "kubectl", "main.js");
const NAME = "kv";
/**
 * Handoff at 24 kB/s into the one receiving node, one partition at a time: a scale 3 → 4 of the keys below moves about
 * 800 kB for half a minute, long enough to watch its progress advance even when the plugin takes seconds to start on a
 * busy machine (at 64 kB/s, a run with three workers at load 20 saw its first line at 75% and its last at 100%).
 */
const TUNING = { gossipIntervalMs: 200, phiThreshold: 5, dropDelayMs: 1000, handoffBytesPerSecond: 24_000, handoffBatchMax: 10, transferConcurrency: 1 };
const BULK_KEYS = 1000;
const ESC = "\u001b[";

describe("kubectl dynamo", function () {
  this.timeout(300_000);
  let ns = "";
  let operator: Operator | undefined;
  let metricsPort = 0;
  let load: ClusterLoad | undefined;

  const plugin = (...args: string[]) => {
    const r = spawnSync(process.execPath, [PLUGIN, ...args, "--kubeconfig", cluster().info.kubeconfig, "-n", ns, "--node-access", "direct"], { encoding: "utf8", timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  before(async function () {
    this.timeout(240_000);
    await installCrd();
    ns = await createNamespace("plugin");
    metricsPort = await freePort();
    operator = new Operator({ kubeConfig: adminKubeConfig(), namespace: ns, leaderElect: false, leaseNamespace: ns, metricsPort, log: () => undefined });
    await operator.start();
    await createCluster(ns, NAME, { replicas: 3, partitions: 32, tuning: TUNING });
    await waitStable(ns, NAME, 3);
    load = new ClusterLoad(ns, NAME, 15);
    await load.preload(BULK_KEYS);
  });
  after(async () => {
    await load?.stop();
    await operator?.stop();
    await deleteNamespace(ns);
  });

  it("status tells the story of a healthy cluster on one screen, without colour when the output is not a terminal", () => {
    const r = plugin("status", NAME);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.ok(!out.includes(ESC), "no colour into a pipe");
    assert.match(out, new RegExp(`^Cluster ${NAME} \\(namespace ${ns}\\)  phase Stable  ring epoch \\d+  32 partitions  3/3 ready`));
    for (const i of [0, 1, 2]) assert.match(out, new RegExp(`\\n  ${NAME}-${i} +- +\\S+ +[0-9a-f]+ +up +1[01] +10\\.7 +[0-9.]+ (B|KiB|MiB)`), `member ${NAME}-${i} in:\n${out}`);
    assert.match(out, /\nAvailable +True +QuorumReady/);
    for (const section of ["Hints pending per target", "Anti-entropy, last hour", "Events (last", "What to do next\n  nothing: the cluster is healthy"]) {
      assert.ok(out.includes(section), `${section} in:\n${out}`);
    }
    const json = JSON.parse(plugin("status", NAME, "-o", "json").stdout) as { members: { id: string; stats?: { incarnation: string } }[] };
    assert.equal(json.members.filter((m) => m.stats?.incarnation).length, 3, "every node's own account, incarnation included");
  });

  it("ring draws every partition once, coloured (lettered) by owner, and says the same as JSON", () => {
    const json = JSON.parse(plugin("ring", NAME, "-o", "json").stdout) as { owners: string[]; members: { id: string; partitions: number }[]; moves: unknown[] };
    assert.equal(json.owners.length, 32);
    assert.deepEqual(json.members.map((m) => m.partitions).sort(), [10, 11, 11]);
    assert.deepEqual(json.moves, []);
    const text = plugin("ring", NAME).stdout;
    const row = text.split("\n").find((l) => l.startsWith(" 0 "))!;
    const letters = row.slice(3).replace(/ /g, "");
    assert.equal(letters.length, 32);
    for (const [index, owner] of json.owners.entries()) assert.equal(letters[index], "abc"[json.members.findIndex((m) => m.id === owner)]);
  });

  it("reaches the nodes through the API server's pod proxy, as from a machine outside the cluster's network", () => {
    const args = ["status", NAME, "-o", "json", "--kubeconfig", cluster().info.kubeconfig, "-n", ns];
    const r = spawnSync(process.execPath, [PLUGIN, ...args], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const members = (JSON.parse(r.stdout) as { members: { id: string; stats?: unknown; error?: string }[] }).members;
    assert.equal(members.length, 3);
    assert.ok(members.every((m) => m.stats !== undefined), `every node answered through the proxy: ${JSON.stringify(members.map((m) => m.error))}`);
  });

  it("pause stops the operator (phase Paused) and resume hands the cluster back", async () => {
    const paused = plugin("pause", NAME);
    assert.equal(paused.code, 0, paused.stderr);
    await waitFor("phase Paused", async () => ((await readCluster(ns, NAME)).status?.phase === "Paused" ? true : undefined), { timeoutMs: 30_000 });
    assert.match(plugin("status", NAME).stdout, /PAUSED[\s\S]*kubectl dynamo resume kv/);
    assert.equal(plugin("resume", NAME).code, 0);
    await waitStable(ns, NAME, 3);
  });

  it("rebalance --watch follows a scale 3 → 4 to its end; status.rebalance, its Events and the gauges say the same", async () => {
    const before = await readCluster(ns, NAME);
    await load!.start();
    await scaleTo(ns, NAME, 4);
    await waitTransfersInFlight(ns, NAME, before.status?.ringEpoch ?? 0);
    const child = spawn(process.execPath, [PLUGIN, "rebalance", NAME, "--watch", "--interval-ms", "250", "--kubeconfig", cluster().info.kubeconfig, "-n", ns], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const [code] = (await Promise.race([once(child, "exit"), new Promise((_, reject) => setTimeout(() => reject(new Error(`watch did not end: ${stdout}`)), 180_000))])) as [number];
    const lines = stdout.trim().split("\n");
    console.error(`    [plugin] ${lines.length} lines, first: ${lines[0]}\n    [plugin] last: ${lines.at(-1)}`);
    assert.equal(code, 0);
    const moved = lines.map((l) => /(\d+)\/(\d+) partitions/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
    assert.ok(new Set(moved).size >= 2, `partitions moved advanced while watched: ${moved.join(" ")}`);
    assert.ok(moved.every((m, i) => i === 0 || m >= moved[i - 1]!), "and never went back");
    assert.match(lines.at(-1)!, /finished, moved \d+ partitions \(.+\) in \d+/);

    const after = await waitStable(ns, NAME, 4);
    const r = after.status?.rebalance;
    assert.ok(r && r.progress === "100%" && r.finishTime && r.startTime && r.partitionsMoved === r.partitionsTotal && r.bytesMoved > 0, JSON.stringify(r));
    assert.match(after.status?.message ?? "", /last rebalance: \d+ partitions in /);
    const events = await clusterEvents(ns, NAME);
    assert.ok(events.some((e) => e.reason === "RebalanceStarted" && /moving \d+ partitions/.test(e.message)), "RebalanceStarted Event");
    assert.ok(events.some((e) => e.reason === "RebalanceFinished" && /moved \d+ partitions \(.+\) in \d+/.test(e.message)), "RebalanceFinished Event with the time taken");
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, new RegExp(`dynamo_cluster_rebalance_partitions_moved\\{namespace="${ns}",cluster="${NAME}"\\} ${r.partitionsTotal}`));
    await load!.stop();
    await load!.assertNothingLost("scaled to 4 under the plugin's watch");
  });

  it("every metric the chart's dashboard and alerts name is served by a real node or the operator", async () => {
    const pod = (await clusterPods(ns, NAME)).find((p) => p.status?.podIP)!;
    const node = (await clientRequest(ns, NAME, `https://${pod.status!.podIP}:8080/metrics`)).body;
    const op = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const wanted = monitoredMetrics();
    assert.ok(wanted.size > 20, `${wanted.size} metrics named`);
    assert.deepEqual(missingMetrics(wanted, [node, op]), []);
  });

  it("report writes a support bundle with objects, events, node views and the status, and no secret in it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "plugin-report-"));
    try {
      const file = join(dir, "bundle.tar.gz");
      const r = plugin("report", NAME, "-f", file);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^wrote .*bundle\.tar\.gz: \d+ files/);
      assert.equal(spawnSync("tar", ["xzf", file, "-C", dir]).status, 0);
      const root = join(dir, "bundle");
      const files = walk(root).map((f) => f.slice(root.length + 1));
      for (const f of ["status.txt", "dynamocluster.yaml", "events.yaml", "objects/statefulsets-kv.yaml", "objects/secrets-kv-token.yaml", "objects/pods.yaml", "nodes/kv-0/node.json", "nodes/kv-0/cluster.json", "nodes/kv-0/metrics.txt"]) {
        assert.ok(files.includes(f), `${f} in the bundle: ${files.join(", ")}`);
      }
      const secret = await admin().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${NAME}-token`);
      const token = Buffer.from(secret.data.token ?? "", "base64").toString("utf8");
      assert.ok(token.length >= 16);
      for (const f of walk(root)) {
        const text = readFileSync(f, "utf8");
        assert.ok(!text.includes(token) && !text.includes(secret.data.token!), `${f} holds the cluster token`);
      }
      assert.match(readFileSync(join(root, "objects/secrets-kv-token.yaml"), "utf8"), /token: REDACTED \(\d+ characters\)/);
      // The CA's key is in no file of the bundle, though the CA Secret's metadata is.
      const ca = await admin().get<{ data: Record<string, string> }>(`/api/v1/namespaces/${ns}/secrets/${NAME}-ca-key`);
      const caKey = Buffer.from(ca.data["tls.key"] ?? "", "base64").toString("utf8").split("\n")[1]!;
      assert.ok(caKey.length > 20);
      for (const f of walk(root)) assert.ok(!readFileSync(f, "utf8").includes(caKey), `${f} holds the CA's key`);
      assert.ok(files.includes("objects/secrets-kv-ca-key.yaml") && files.includes("objects/networkpolicies-kv.yaml") && files.includes("objects/configmaps-kv-ca.yaml"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("replace marks a storage pod, and the operator brings it back as a new incarnation", async () => {
    const before = (await clusterPods(ns, NAME)).find((p) => p.metadata.name === "kv-1")!;
    const r = plugin("replace", "kv-1");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /kv-1 is marked for replacement/);
    await waitFor("kv-1 to be a new pod", async () => ((await clusterPods(ns, NAME)).some((p) => p.metadata.name === "kv-1" && p.metadata.uid !== before.metadata.uid) ? true : undefined), { timeoutMs: 120_000 });
  });

  it("bad usage exits 2 with a one-line message; a cluster that does not exist exits 1", () => {
    for (const args of [["frobnicate", NAME], ["status"], ["ring", NAME, "-o", "yaml"]]) {
      const r = plugin(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^kubectl-dynamo: /);
    }
    const missing = plugin("status", "nope");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^kubectl-dynamo: no DynamoCluster 'nope' in namespace /);
    assert.equal(missing.stderr.trim().split("\n").length, 1);
    assert.equal(plugin("replace", "not-a-pod").code, 1);
  });
});

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
