/**
 * Staying available and converging through failures, with real processes: a node killed, a node frozen past the
 * failure detector's threshold, a node cut off from the others, a node whose disk was wiped, and a full hint store.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { DynamoClient } from "../../client/index.js";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { http, kvUrl } from "../helpers/http.js";
import { pool } from "../helpers/pool.js";
import { currentRing, eventually, localValues, metricSum, replicasOf } from "../helpers/replicas.js";
import { seededRandom } from "../../lib/random.js";
import { testSeed } from "../helpers/random.js";
import { SetChecker, formatReport, parseSet } from "../helpers/set-checker.js";

const FAST = join(REPO_ROOT, "test", "integration", "fixtures", "fast-failover.yaml");
const TINY_HINTS = join(REPO_ROOT, "test", "integration", "fixtures", "tiny-hint-store.yaml");
const FAULTS = { DYNAMO_FAULT_INJECTION: "1" };

/** Writes unique keys through the given nodes until stopped; records which were acknowledged and which failed. */
/** Writes new keys through each of `urls` (`perUrl` writers each) until stopped, recording what was acknowledged. */
function writeLoad(urls: string[], bucket: string, prefix: string, w: number, perUrl = 1) {
  const acknowledged = new Map<string, string>();
  const failures: string[] = [];
  let stopped = false;
  const clients = urls.flatMap((u) => Array.from({ length: perUrl }, () => new DynamoClient(u, { timeoutMs: 8000 })));
  const loops = clients.map(async (client, c) => {
    for (let i = 0; !stopped; i++) {
      const key = `${prefix}-${c}-${i}`;
      try {
        await client.put(bucket, key, `v-${key}`, { w });
        acknowledged.set(key, `v-${key}`);
      } catch (err) {
        failures.push(`${key}: ${(err as Error).message}`);
      }
    }
  });
  return {
    acknowledged,
    failures,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const c of clients) c.close();
    },
  };
}

/**
 * While one node of five is down, the only writes that may fail are those a non-replica had already forwarded to that
 * node when it died or froze: the node may have stored them, so they are not sent to another replica (which would
 * store them twice, docs/availability.md) and the client hears 503 saying so. Anything else must succeed.
 */
function assertOnlyInFlightTo(cluster: TestCluster, index: number, load: { acknowledged: Map<string, string>; failures: string[] }): void {
  const node = cluster.nodes()[index]!;
  const other = load.failures.filter((f) => !(f.includes(`${node.id} took the write but did not confirm it`) && f.includes("may be stored")));
  assert.deepEqual(other, [], `writes failed for another reason than being in flight to ${node.id}`);
  assert.ok(load.failures.length <= Math.max(3, load.acknowledged.size / 50), `${load.failures.length} writes failed: ${load.failures.slice(0, 5).join("; ")}`);
}

/**
 * Problems with keys not held by every one of their replicas, up to about twenty. Each replica's copy is read on its
 * own through the admin API, several keys at a time: one request after another, a pass over a thousand keys at three
 * replicas took most of a minute.
 */
async function missingOnReplicas(cluster: TestCluster, bucket: string, keys: Map<string, string>, n: number): Promise<string[]> {
  const ring = await currentRing(cluster);
  const index = new Map(cluster.nodes().map((node, i) => [node.id, i]));
  const problems: string[] = [];
  await pool([...keys], 8, async ([key, value]) => {
    for (const id of replicasOf(ring, bucket, key, n)) {
      const values = await localValues(cluster, index.get(id)!, bucket, key);
      if (!values.includes(value)) problems.push(`${key} missing on ${id}`);
    }
  }, () => problems.length > 20);
  return problems;
}

describe("failures", function () {
  this.timeout(180_000);
  let cluster: TestCluster;

  afterEach(async function () {
    await cluster?.destroy();
  });

  it("(a) a node killed while clients write at w=2: no write fails but those in flight to it, and after restart every replica holds every key", async function () {
    cluster = await TestCluster.start({ nodes: 5, partitions: 16, config: FAST, env: FAULTS });
    const urls = cluster.clientUrls();
    const load = writeLoad(urls.slice(0, 4), "sets", "a", 2);
    await new Promise((r) => setTimeout(r, 800));
    await cluster.kill(4);
    await new Promise((r) => setTimeout(r, 2500));
    await load.stop();
    assertOnlyInFlightTo(cluster, 4, load);
    assert.ok(load.acknowledged.size > 50, `only ${load.acknowledged.size} writes were acknowledged`);
    assert.ok((await metricSum(urls.slice(0, 4), "dynamo_hints")) > 0, "the dead node's writes were kept as hints");

    await cluster.restart(4);
    const missing = await eventually(() => missingOnReplicas(cluster, "sets", load.acknowledged, 3), 45_000, 1000);
    assert.deepEqual(missing, [], "every replica holds every acknowledged key");
    const hintsLeft = await eventually(async () => ((await metricSum(cluster.clientUrls(), "dynamo_hints")) > 0 ? ["hints remain"] : []), 20_000);
    assert.deepEqual(hintsLeft, [], "every hint was delivered and deleted");
    assert.ok((await metricSum(cluster.clientUrls(), "dynamo_hints_delivered_total")) > 0);
  });

  it("(b) a node frozen with SIGSTOP past the failure detector's threshold: no write fails but those in flight to it, and it catches up after SIGCONT", async function () {
    cluster = await TestCluster.start({ nodes: 5, partitions: 16, config: FAST, env: FAULTS });
    const urls = cluster.clientUrls();
    const load = writeLoad(urls.slice(0, 4), "sets", "b", 2);
    await new Promise((r) => setTimeout(r, 500));
    cluster.signal(4, "SIGSTOP");
    try {
      await eventually(async () => {
        const view = (await (await fetch(`${urls[0]}/v1/cluster`)).json()) as { members: { id: string; liveness: string }[] };
        return view.members.find((m) => m.id === "node-4")?.liveness === "down" ? [] : ["node-4 not yet suspected"];
      }, 10_000, 100);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      cluster.signal(4, "SIGCONT");
    }
    await new Promise((r) => setTimeout(r, 500));
    await load.stop();
    assertOnlyInFlightTo(cluster, 4, load);
    const missing = await eventually(() => missingOnReplicas(cluster, "sets", load.acknowledged, 3), 45_000, 1000);
    assert.deepEqual(missing, []);
  });

  it("(c) a node cut off from the others: both sides accept writes, and after healing every replica has every acknowledged version", async function () {
    const seed = testSeed("partition test");
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: FAST, env: FAULTS });
    const urls = cluster.clientUrls();
    await cluster.isolate(0);
    const random = seededRandom(seed);
    const lonely = new SetChecker({ urls: () => [urls[0]!], bucket: "sets", keys: 4, clients: 2, rng: random, w: 1, prefix: "lonely" });
    const majority = new SetChecker({ urls: () => urls.slice(1), bucket: "sets", keys: 4, clients: 2, rng: random, w: 2, prefix: "major" });
    lonely.start();
    majority.start();
    await new Promise((r) => setTimeout(r, 3000));
    await Promise.all([lonely.stop(), majority.stop()]);
    assert.ok(lonely.acknowledgedCount > 0 && majority.acknowledgedCount > 0, "both sides accepted writes");
    await cluster.heal();

    const problems = await eventually(async () => {
      const out: string[] = [];
      for (let k = 0; k < 4; k++) {
        const key = lonely.keyName(k);
        const expected = [...lonely.acknowledgedFor(key), ...majority.acknowledgedFor(key)];
        for (let node = 0; node < 3; node++) {
          const values = await localValues(cluster, node, "sets", key);
          const held = new Set(values.flatMap((v) => parseSet(Buffer.from(v))));
          const missing = expected.filter((e) => !held.has(e));
          if (missing.length > 0) out.push(`node-${node} lacks ${missing.length} elements of ${key}`);
        }
      }
      return out;
    }, 45_000, 1000);
    assert.deepEqual(problems, []);
    const lonelyReport = await lonely.check(urls[1]!, 3);
    const majorityReport = await majority.check(urls[2]!, 3);
    console.log(`    lonely side: ${formatReport(lonelyReport)}\n    majority side: ${formatReport(majorityReport)}`);
    assert.deepEqual([...lonelyReport.lost, ...majorityReport.lost], []);
  });

  it("(d) a node whose disk was wiped never answers not-found for existing keys at r=1, and holds every key again", async function () {
    cluster = await TestCluster.start({ nodes: 3, partitions: 16, config: FAST, env: FAULTS });
    const urls = cluster.clientUrls();
    const client = new DynamoClient(urls[0]!);
    const keys = new Map<string, string>();
    for (let i = 0; i < 150; i++) {
      await client.put("sets", `wiped-${i}`, `v${i}`);
      keys.set(`wiped-${i}`, `v${i}`);
    }
    client.close();
    const incarnationBefore = (await cluster.nodeInfo(2)).incarnation;
    await cluster.kill(2);
    rmSync(cluster.nodes()[2]!.dataDir, { recursive: true, force: true });
    await cluster.restart(2);
    const incarnationAfter = (await cluster.nodeInfo(2)).incarnation;
    assert.notEqual(incarnationAfter, incarnationBefore, "a wiped node comes back as a new incarnation");

    const wrong: string[] = [];
    let answered = 0;
    for (const [key, value] of keys) {
      const res = await http("GET", kvUrl(urls[2]!, "sets", key, "?r=1"));
      if (res.status === 200) {
        answered += 1;
        if (res.text() !== value) wrong.push(`${key}: stale ${res.text()}`);
      } else if (res.status !== 503) {
        wrong.push(`${key}: ${res.status} ${res.text()}`);
      }
    }
    assert.deepEqual(wrong, [], "no not-found and no stale value from the wiped node");
    assert.ok(answered > keys.size / 2, `the wiped node answered only ${answered} of ${keys.size} reads`);
    const missing = await eventually(async () => {
      const out: string[] = [];
      for (const [key, value] of keys) if (!(await localValues(cluster, 2, "sets", key)).includes(value)) out.push(key);
      return out;
    }, 45_000, 1000);
    assert.deepEqual(missing, [], "the wiped node holds every key again");
  });

  it("pw and pr refuse sloppiness: with a primary down they answer 503 instead of using a fallback", async function () {
    cluster = await TestCluster.start({ nodes: 5, partitions: 16, config: FAST, env: FAULTS });
    const urls = cluster.clientUrls();
    await cluster.kill(4);
    const ring = await currentRing(cluster);
    const key = Array.from({ length: 200 }, (_, i) => `pw-${i}`).find((k) => replicasOf(ring, "sets", k, 3).includes("node-4"))!;
    await eventually(async () => {
      const view = (await (await fetch(`${urls[0]}/v1/cluster`)).json()) as { members: { id: string; liveness: string }[] };
      return view.members.find((m) => m.id === "node-4")?.liveness === "down" ? [] : ["node-4 not yet down"];
    }, 10_000, 100);
    const strict = await http("PUT", kvUrl(urls[0]!, "sets", key, "?pw=3"), { body: "x" });
    assert.equal(strict.status, 503, strict.text());
    assert.match((strict.json() as { message: string }).message, /primar/);
    assert.equal((await http("PUT", kvUrl(urls[0]!, "sets", key, "?pw=2"), { body: "x" })).status, 204);
    assert.equal((await http("GET", kvUrl(urls[1]!, "sets", key, "?pr=3"))).status, 503);
    // The refused write may still be stored on some replicas (as documented), so the value may have two siblings.
    assert.ok([200, 300].includes((await http("GET", kvUrl(urls[1]!, "sets", key, "?pr=2"))).status));
  });

  it("(e) with the hint store full, writes still succeed where a quorum is possible, and the overflow is visible", async function () {
    cluster = await TestCluster.start({ nodes: 5, partitions: 16, config: TINY_HINTS, env: FAULTS });
    const urls = cluster.clientUrls();
    await cluster.kill(4);
    await new Promise((r) => setTimeout(r, 2000));
    // Several writers per node, so that stand-ins race for the last hint slots (a write that loses must still succeed).
    const load = writeLoad(urls.slice(0, 4), "default", "e", 2, 4);
    await new Promise((r) => setTimeout(r, 2000));
    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.ok(load.acknowledged.size > 20);
    assert.ok((await metricSum(urls.slice(0, 4), "dynamo_hints_refused_total")) > 0, "refused hints are counted");
    for (const url of urls.slice(0, 4)) assert.ok((await metricSum([url], "dynamo_hints")) <= 3, "no node holds more hints than its bound");
    const refused = /refused a hint for node-4: hint store holds 3 hints \(limit 3\)/;
    assert.match(await cluster.logsMatching(refused, [0, 1, 2, 3]), refused);
  });
});
