/**
 * Phases: the conditions the workloads run under. Each phase brings both setups into its condition, the benchmark
 * runs every selected workload against the store and then the floor, and the phase restores what it changed. Today
 * there is one, `healthy`; a phase such as "one node down" is added by writing its `setUp`/`tearDown` (with
 * `targets.store.dev(["kill", "2"])` and its floor counterpart) and listing it in PHASES.
 */
import type { FloorCluster } from "../floor/cluster.js";
import type { StoreCluster } from "./store.js";

export interface Targets {
  store: StoreCluster;
  /** Undefined when the run skips the floor. */
  floor: FloorCluster | undefined;
}

export interface Phase {
  name: string;
  description: string;
  setUp(targets: Targets, log: (line: string) => void): Promise<void>;
  tearDown(targets: Targets, log: (line: string) => void): Promise<void>;
}

const healthy: Phase = {
  name: "healthy",
  description: "every node up",
  setUp: () => Promise.resolve(),
  tearDown: () => Promise.resolve(),
};

export const PHASES: Record<string, Phase> = { healthy };

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
