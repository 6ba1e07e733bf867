/**
 * Phases: the conditions the workloads run under. Each phase brings both setups into its condition, the benchmark
 * runs every selected workload against the store and then the floor, and the phase restores what it changed:
 * `healthy`, and `one-node-down`, which is measured against `healthy` in the same run.
 */
import type { FloorCluster } from "../floor/cluster.js";
import type { StoreCluster } from "./store.js";

export interface Targets {
  store: StoreCluster;
  /** The baseline (the floor, or a plaintext-peers store); undefined when the run skips it. */
  floor: Pick<FloorCluster, "urls" | "stop"> | undefined;
}

export interface Phase {
  name: string;
  description: string;
  setUp(targets: Targets, log: (line: string) => void): Promise<void>;
  tearDown(targets: Targets, log: (line: string) => void): Promise<void>;
  /** The store URLs clients use during this phase, when not all of them. */
  storeUrls?(targets: Targets): string[];
}

const healthy: Phase = {
  name: "healthy",
  description: "every node up",
  setUp: () => Promise.resolve(),
  tearDown: () => Promise.resolve(),
};

/**
 * Node 2 SIGKILLed for the whole phase: clients use the nodes left (a ring-routing client still knows node 2 from the
 * ring, and falls back from it to the next replica), writes at w=2 still succeed on the two
 * live replicas of every key, and reads at r=2 too. The floor stays whole: it is the machine's bound, not a model of
 * the failure. The node is restarted afterwards and given a moment to catch up on hints.
 */
const oneNodeDown: Phase = {
  name: "one-node-down",
  description: "node 2 killed (SIGKILL); clients use the other nodes",
  async setUp(targets, log) {
    const result = await targets.store.dev(["kill", "2"]);
    if (result.code !== 0) throw new Error(`dynamo dev kill 2 failed: ${result.stderr.trim()}`);
    log("node 2 killed");
    // Let the failure detector notice, so the phase measures steady state rather than the first timeouts.
    await new Promise((r) => setTimeout(r, 3000));
  },
  async tearDown(targets, log) {
    const result = await targets.store.dev(["restart", "2"]);
    if (result.code !== 0) throw new Error(`dynamo dev restart 2 failed: ${result.stderr.trim()}`);
    log("node 2 restarted");
    await new Promise((r) => setTimeout(r, 3000));
  },
  storeUrls: (targets) => targets.store.urls.filter((_, i) => i !== 2),
};

export const PHASES: Record<string, Phase> = { healthy, "one-node-down": oneNodeDown };

export function parsePhases(list: string): Phase[] {
  return list
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "")
    .map((name) => {
      const phase = PHASES[name];
      if (phase === undefined) throw new Error(`unknown phase '${name}': choose from ${Object.keys(PHASES).join(", ")}`);
      return phase;
    });
}
