/**
 * Zones with real processes: six nodes in three zones (`dynamo dev --nodes 6 --zones a,b,c`) record their zones in
 * the ring, every preference list spans the three zones, and a whole zone killed with SIGKILL under load at r=w=2
 * fails no request once the failure detector has noticed, loses no acknowledged write, and is whole again after the
 * zone comes back.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { preferenceList, zoneSpread } from "../../node/ring/index.js";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { currentRing, eventually } from "../helpers/replicas.js";
import { seededRandom } from "../../lib/random.js";
import { testSeed } from "../helpers/random.js";
import { SetChecker, formatReport } from "../helpers/set-checker.js";

const FAST = join(REPO_ROOT, "test", "integration", "fixtures", "fast-failover.yaml");

interface ClusterView {
  members: { id: string; zone?: string; liveness: string }[];
}

async function clusterView(url: string): Promise<ClusterView> {
  return (await (await fetch(`${url}/v1/cluster`)).json()) as ClusterView;
}

describe("zones", function () {
  this.timeout(240_000);
  let cluster: TestCluster;

  after(async function () {
    await cluster?.destroy();
  });

  it("six nodes in three zones: the ring records the zones and every preference list spans all three", async function () {
    cluster = await TestCluster.start({ nodes: 6, partitions: 64, config: FAST, zones: ["a", "b", "c"] });
    const view = await clusterView(cluster.clientUrls()[0]!);
    assert.deepEqual(
      view.members.map((m) => [m.id, m.zone]),
      [["node-0", "a"], ["node-1", "b"], ["node-2", "c"], ["node-3", "a"], ["node-4", "b"], ["node-5", "c"]],
    );
    const ring = await currentRing(cluster);
    const zones = Object.fromEntries(Object.values(ring.members).map((m) => [m.id, m.zone]));
    assert.equal(zoneSpread(ring.owners, zones, 3), 3, "some preference list of three leaves out a zone");
  });

  it("a whole zone killed under load at r=w=2: no request fails after the failure detector's window, no write is lost", async function () {
    const seed = testSeed("zone loss test");
    const random = seededRandom(seed);
    const urls = cluster.clientUrls();
    const survivors = [1, 2, 4, 5];
    // Requests go to the surviving zones only: a client of a dead node has nothing to talk to.
    const failuresAfter: string[] = [];
    let windowEnd = Number.POSITIVE_INFINITY;
    const checker = new SetChecker({
      urls: () => survivors.map((i) => urls[i]!),
      bucket: "sets",
      keys: 12,
      clients: 6,
      rng: random,
      r: 2,
      w: 2,
      prefix: "z",
      observe: (op) => {
        const started = performance.now() - op.latencyMs;
        if (op.error !== undefined && started > windowEnd) failuresAfter.push(`${op.f} ${op.key} via ${op.url}: ${(op.error as Error).message}`);
      },
    });
    checker.start();
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const acknowledgedBefore = checker.acknowledgedCount;
      cluster.signal(0, "SIGKILL");
      cluster.signal(3, "SIGKILL");
      // The failure detector's window: until every survivor holds both dead nodes down.
      const undetected = await eventually(async () => {
        const problems: string[] = [];
        for (const i of survivors) {
          const members = (await clusterView(urls[i]!)).members;
          for (const dead of ["node-0", "node-3"]) if (members.find((m) => m.id === dead)?.liveness !== "down") problems.push(`node-${i} does not hold ${dead} down`);
        }
        return problems;
      }, 20_000, 100);
      assert.deepEqual(undetected, []);
      windowEnd = performance.now();
      const failuresAtWindow = checker.failures;
      await new Promise((r) => setTimeout(r, 6000));
      const during = checker.acknowledgedCount - acknowledgedBefore;
      console.log(`      seed ${seed}: ${checker.failures} failed requests in all, ${failuresAtWindow} before the dead zone was detected; ${during} writes acknowledged with zone a down`);
      assert.deepEqual(failuresAfter, [], "requests failed after the failure detector's window");
      // A loaded machine acknowledges about ten a second here; a few dozen show the load went on through the outage.
      assert.ok(during > 30, `only ${during} writes were acknowledged while zone a was down`);
    } finally {
      await checker.stop();
    }
    // Every key keeps two live replicas, one in each surviving zone: reads at r=2 see every acknowledged element.
    const ring = await currentRing(cluster, 1);
    for (let p = 0; p < ring.partitions; p++) {
      const live = preferenceList(ring, p, 3).filter((id) => id !== "node-0" && id !== "node-3");
      assert.equal(live.length, 2, `partition ${p} lost ${3 - live.length} replicas with zone a`);
    }
    const during = await checker.check(urls[1]!, 2);
    assert.deepEqual(during.lost, [], `lost with zone a down: ${formatReport(during)}`);

    await cluster.restart(0);
    await cluster.restart(3);
    const after = await eventually(async () => {
      const report = await checker.check(urls[0]!, 3).catch((err: Error) => ({ lost: [err.message] }));
      return report.lost;
    }, 60_000, 1000);
    assert.deepEqual(after, [], "acknowledged elements missing at r=3 once zone a is back");
  });
});
