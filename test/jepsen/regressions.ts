/**
 * Focused replays of what seeded Jepsen runs found, run inside the lab by test/integration/netfault-regressions.test.ts
 * (one scenario per invocation: `regressions.ts <name>`). Each prints `RESULT {json}` for the test to judge, and
 * names the seed that found it; `npm run test:jepsen -- --seed S ...` replays the whole run.
 */
import { DynamoClient } from "../../client/index.js";
import { partitionOf, preferenceList } from "../../node/ring/index.js";
import { JEPSEN_CONFIG } from "./scenario.js";
import { NetCluster } from "../netns/cluster.js";
import { currentLab } from "../netns/lab.js";
import { exitWithLauncher } from "../netns/launch.js";

exitWithLauncher();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lab = currentLab();

async function liveness(cluster: NetCluster, observer: number, member: string): Promise<string> {
  const res = await fetch(`${cluster.node(observer).clientUrl}/v1/cluster`, { signal: AbortSignal.timeout(3000) });
  const view = (await res.json()) as { members: { id: string; liveness: string }[] };
  return view.members.find((m) => m.id === member)?.liveness ?? "absent";
}

/**
 * How long until `observer` sees node `victim` down after it is frozen (undefined: not within `limitMs`); `meanwhile`
 * runs `afterMs` after the freeze.
 */
async function detectionMs(cluster: NetCluster, observer: number, victim: number, limitMs: number, meanwhile?: { afterMs: number; run: () => void }): Promise<number | undefined> {
  const started = performance.now();
  cluster.signal(victim, "SIGSTOP");
  const timer = meanwhile ? setTimeout(meanwhile.run, meanwhile.afterMs) : undefined;
  try {
    while (performance.now() - started < limitMs) {
      if ((await liveness(cluster, observer, cluster.node(victim).id)) === "down") return Math.round(performance.now() - started);
      await sleep(100);
    }
    return undefined;
  } finally {
    clearTimeout(timer);
    cluster.signal(victim, "SIGCONT");
  }
}

const scenarios: Record<string, () => Promise<unknown>> = {
  /**
   * Seed 74 (partition,one-way,asymmetric,link,skew,kill,pause; 1 minute): n3's clock was set 18 s back and then
   * forward again, and n3 then went on seeing a frozen n2 as up for the whole next window: its failure detector
   * measured heartbeat intervals with the wall clock, so the step forward entered the history as one 18-second
   * interval and the step back made the time since the last heartbeat negative.
   */
  "clock-steps-and-failure-detection": async () => {
    const cluster = await NetCluster.start({ lab, nodes: 3, config: JEPSEN_CONFIG, partitions: 16 });
    try {
      await sleep(2000);
      const baseline = await detectionMs(cluster, 0, 2, 15_000);
      await sleep(3000);
      // A step back while the victim is frozen: the observer's clock falls 18 s behind just after the freeze.
      const afterStepBack = await detectionMs(cluster, 0, 2, 15_000, { afterMs: 200, run: () => cluster.clocks.set("n0", -18_000) });
      await sleep(3000);
      // A step forward: the clock is put right again, and the victim freezes a few seconds later.
      cluster.clocks.set("n0", 0);
      await sleep(4000);
      const afterStepForward = await detectionMs(cluster, 0, 2, 15_000);
      return { baseline, afterStepBack, afterStepForward };
    } finally {
      await cluster.destroy();
    }
  },
  /**
   * Seed 74 again, in the CI run once the clock fix was in: after n2 had been frozen for 7 s, node-2 took more than
   * 5.8 s to notice that n4 froze. The 7-second silence had entered its failure detector's history as one heartbeat
   * interval (for every member, since the observer itself was frozen), and the inflated mean and deviation hold phi
   * down for the next hundred heartbeats. The same happens to an observer's history of a member that was frozen.
   */
  "pauses-and-failure-detection": async () => {
    const cluster = await NetCluster.start({ lab, nodes: 3, config: JEPSEN_CONFIG, partitions: 16 });
    try {
      await sleep(2000);
      const baseline = await detectionMs(cluster, 0, 2, 15_000);
      await sleep(2000);
      // The observer itself frozen for 15 s, then a member freezes 3 s after it wakes.
      cluster.signal(0, "SIGSTOP");
      await sleep(15_000);
      cluster.signal(0, "SIGCONT");
      await sleep(3000);
      const afterObserverPause = await detectionMs(cluster, 0, 1, 15_000);
      await sleep(2000);
      // A member frozen for 15 s, thawed, and frozen again 3 s later.
      cluster.signal(2, "SIGSTOP");
      await sleep(15_000);
      cluster.signal(2, "SIGCONT");
      await sleep(3000);
      const afterMemberPause = await detectionMs(cluster, 0, 2, 15_000);
      return { baseline, afterObserverPause, afterMemberPause };
    } finally {
      await cluster.destroy();
    }
  },
  /**
   * Seed 1130 (all fault kinds, 10 minutes): node-4's connections to the others' ports were dropped for 9 s, healed,
   * and node-4 was frozen 0.2 s later; node-1 still saw it up 8 s after the freeze. The frames node-4 had sent into
   * the cut (gossip, replication) sat in its kernel's socket buffers and were retransmitted by the kernel after the
   * heal, while the process was frozen: each one arrived as fresh proof of life. Here: writes through node-2 while its
   * connections to node-0 are cut, the cut healed and node-2 frozen at once.
   */
  "frames-delivered-after-freeze": async () => {
    const cluster = await NetCluster.start({ lab, nodes: 3, config: JEPSEN_CONFIG, partitions: 16 });
    try {
      await sleep(2000);
      const writer = new DynamoClient(cluster.node(2).clientUrl, { timeoutMs: 3000 });
      let writing = true;
      const writes = (async () => {
        for (let i = 0; writing; i++) await writer.put("default", `k-${i % 50}`, `v-${i}`, { w: 1 }).catch(() => undefined);
      })();
      await cluster.network.apply({ cuts: [{ from: ["n2"], to: ["n0"], mode: "drop", scope: "connect" }], links: {} });
      await sleep(7000);
      writing = false;
      await cluster.network.apply({ cuts: [], links: {} });
      // Watch node-0's view for 15 s after the freeze: it must see node-2 down, and keep seeing it down while the
      // frames node-2 sent into the cut are retransmitted by its kernel (TCP's backoff puts the next one about 5.6 s
      // after the heal).
      const started = performance.now();
      cluster.signal(2, "SIGSTOP");
      let detection: number | undefined;
      let upAgain: number | undefined;
      try {
        while (performance.now() - started < 15_000) {
          const state = await liveness(cluster, 0, cluster.node(2).id);
          const at = Math.round(performance.now() - started);
          if (state === "down") detection ??= at;
          else if (detection !== undefined) upAgain ??= at;
          await sleep(100);
        }
      } finally {
        cluster.signal(2, "SIGCONT");
      }
      await writes;
      writer.close();
      return { detection, upAgain };
    } finally {
      await cluster.destroy();
    }
  },
  /**
   * Seed 74 (the CI run): an lww register ended on acknowledged write 156 although acknowledged write 200 carried a
   * context covering it. Write 156 went through a node that forwarded it to a replica cut off from it; the forward
   * timed out, was retried on another replica (acknowledged there), and the first replica applied its copy 22 s later,
   * when the frame finally got through — under a second dot, with a fresh timestamp that beat every write made in
   * between. Here: a write forwarded into a one-way black hole, three writes by its side, the hole healed.
   */
  "delayed-forward": async () => {
    const cluster = await NetCluster.start({ lab, nodes: 4, config: JEPSEN_CONFIG, partitions: 16 });
    try {
      const ring = (await cluster.admin.ring(cluster.node(1).peerUrl))!;
      let key = "";
      let replicas: readonly string[] = [];
      for (let i = 0; ; i++) {
        replicas = preferenceList(ring, partitionOf("lww", Buffer.from(`k-${i}`), ring.partitions), 3);
        if (!replicas.includes("node-0")) {
          key = `k-${i}`;
          break;
        }
      }
      const [first, second] = replicas.map((id) => cluster.nodes.find((n) => n.id === id)!);
      const viaForwarder = new DynamoClient(cluster.node(0).clientUrl, { timeoutMs: 10_000 });
      const viaReplica = new DynamoClient(second!.clientUrl, { timeoutMs: 10_000 });
      let context = (await viaReplica.put("lww", key, "1")).context;
      await sleep(1000);
      // node-0's packets to the first replica vanish; everything else flows.
      await cluster.network.apply({ cuts: [{ from: ["n0"], to: [first!.host.name], mode: "drop", scope: "all" }], links: {} });
      const forwarded = await viaForwarder.put("lww", key, "2", { context }).then(
        (r) => {
          context = r.context;
          return "acknowledged";
        },
        (e: Error) => `failed: ${e.message}`,
      );
      for (const value of ["3", "4", "5"]) {
        context = (await viaReplica.put("lww", key, value, { context })).context;
        await sleep(200);
      }
      await cluster.network.heal();
      // TCP retransmits node-0's held-up frame to the first replica within seconds of the healing.
      await sleep(12_000);
      const final = await viaReplica.get("lww", key, { r: 3 });
      viaForwarder.close();
      viaReplica.close();
      return { key, replicas, forwarded, final: final.kind === "value" ? final.value.toString() : final.kind, lastAcknowledged: "5" };
    } finally {
      await cluster.destroy();
    }
  },
};

const name = process.argv[2]!;
const scenario = scenarios[name];
if (!scenario) throw new Error(`no scenario ${name}; known: ${Object.keys(scenarios).join(", ")}`);
console.log(`RESULT ${JSON.stringify(await scenario())}`);
process.exit(0);
