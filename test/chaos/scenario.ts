/**
 * A chaos run: a five-node cluster under the set-style workload while a seeded schedule injects faults — SIGKILL and
 * restart, SIGSTOP and SIGCONT, a node cut off from the others and healed — at most one at a time, so a quorum stays
 * possible. Afterwards every fault is healed, the cluster is given time to converge, and every key is read at r=n.
 * The same seed replays the same schedule.
 */
import { join } from "node:path";
import { REPO_ROOT, TestCluster } from "../helpers/dev-cluster.js";
import { seededRandom } from "../../lib/random.js";
import { SetChecker, formatReport, type SetReport } from "../helpers/set-checker.js";

export interface ChaosOptions {
  seconds: number;
  seed: number;
  log: (line: string) => void;
}

const CONFIG = join(REPO_ROOT, "test", "integration", "fixtures", "fast-failover.yaml");
const NODES = 5;

type Fault = "kill" | "stop" | "isolate";

export async function runChaos(options: ChaosOptions): Promise<SetReport> {
  const random = seededRandom(options.seed);
  const cluster = await TestCluster.start({ nodes: NODES, partitions: 32, config: CONFIG, env: { DYNAMO_FAULT_INJECTION: "1" } });
  try {
    const urls = cluster.clientUrls();
    const checker = new SetChecker({ urls: () => urls, bucket: "sets", keys: 10, clients: 5, rng: random, w: 2 });
    checker.start();
    const until = Date.now() + options.seconds * 1000;
    while (Date.now() < until) {
      const fault = random.pick<Fault>(["kill", "stop", "isolate"]);
      const victim = random.int(NODES);
      const holdMs = 500 + random.int(1500);
      options.log(`fault: ${fault} node-${victim} for ${holdMs} ms`);
      await inject(cluster, fault, victim, holdMs);
      await new Promise((r) => setTimeout(r, 200 + random.int(800)));
    }
    await checker.stop();
    options.log("faults over; waiting for hints and anti-entropy to converge");
    await new Promise((r) => setTimeout(r, 5000));
    const report = await checker.check(urls[0]!, 3);
    options.log(formatReport(report));
    return report;
  } finally {
    await cluster.destroy();
  }
}

async function inject(cluster: TestCluster, fault: Fault, victim: number, holdMs: number): Promise<void> {
  const hold = () => new Promise((r) => setTimeout(r, holdMs));
  if (fault === "kill") {
    await cluster.kill(victim);
    await hold();
    await cluster.restart(victim);
  } else if (fault === "stop") {
    cluster.signal(victim, "SIGSTOP");
    try {
      await hold();
    } finally {
      cluster.signal(victim, "SIGCONT");
    }
  } else {
    await cluster.isolate(victim);
    await hold();
    await cluster.heal();
  }
}
