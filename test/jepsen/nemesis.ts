/**
 * The nemesis: a seeded schedule of fault windows and the code that applies and heals them in the lab. Planning is a
 * pure function of the seed and the run's shape, so a seed replays the same schedule (the timing of the cluster's
 * reactions still varies, as it does in every Jepsen run). Each window mixes faults of up to two different
 * categories — the network (partitions of random halves, majority/minority, an isolated node, a bridge node that sees
 * both sides; one-way and asymmetric cuts), a bad link (delay with jitter, loss, duplication, reordering, a bandwidth
 * cap), a node's clock (skewed either way), a process (SIGKILL, SIGSTOP, a wiped disk) — and everything is healed at
 * the end of the window. At most one process is hit per window, so a quorum of every key's replicas survives.
 */
import type { NetCluster } from "../netns/cluster.js";
import { partitionCuts, type Cut, type LinkImpairment, type NetworkState } from "../netns/network.js";
import { seededRandom, type SeededRandom } from "../../lib/random.js";

export type FaultKind = "partition" | "one-way" | "asymmetric" | "link" | "skew" | "kill" | "pause" | "wipe";

export const FAULT_KINDS: readonly FaultKind[] = ["partition", "one-way", "asymmetric", "link", "skew", "kill", "pause", "wipe"];

const CATEGORY: Record<FaultKind, string> = {
  partition: "network",
  "one-way": "network",
  asymmetric: "network",
  link: "link",
  skew: "clock",
  kill: "process",
  pause: "process",
  wipe: "process",
};

export type Fault =
  | { kind: "partition"; shape: "halves" | "majority" | "isolate" | "bridge"; groups: number[][]; mode: Cut["mode"] }
  | { kind: "one-way" | "asymmetric"; from: number[]; to: number[]; mode: Cut["mode"] }
  | { kind: "link"; node: number; impairment: LinkImpairment }
  | { kind: "skew"; node: number; offsetMs: number }
  | { kind: "kill" | "pause" | "wipe"; node: number };

export interface FaultWindow {
  /** Offset from the start of the fault phase. */
  startMs: number;
  holdMs: number;
  faults: Fault[];
}

export interface ScheduleOptions {
  durationMs: number;
  nodes: number;
  kinds: readonly FaultKind[];
  /** Shortest and longest fault window, and the pause between windows. */
  holdMs?: [number, number];
  gapMs?: [number, number];
  /** Largest clock offset a skew fault gives a node (either way). */
  skewMsMax?: number;
  /** Wipes are at least this far apart, so a wiped node has rebuilt before the next one loses its disk. */
  wipeSpacingMs?: number;
}

export function describeFault(fault: Fault): string {
  const n = (i: number) => `n${i}`;
  const list = (g: number[]) => g.map(n).join(",");
  switch (fault.kind) {
    case "partition":
      return `${fault.shape} ${fault.groups.map((g) => `[${list(g)}]`).join(" | ")} (${fault.mode})`;
    case "one-way":
    case "asymmetric":
      return `[${list(fault.from)}] -/-> [${list(fault.to)}] (${fault.kind === "one-way" ? "every packet" : "connections to their ports"}, ${fault.mode})`;
    case "link": {
      const i = fault.impairment;
      const parts = [
        i.delayMs ? `delay ${i.delayMs}±${i.jitterMs ?? 0} ms` : "",
        i.loss ? `loss ${(i.loss * 100).toFixed(1)}%` : "",
        i.duplicate ? `dup ${(i.duplicate * 100).toFixed(1)}%` : "",
        i.reorder ? `reorder ${(i.reorder * 100).toFixed(0)}%` : "",
        i.rateKbit ? `rate ${i.rateKbit} kbit/s` : "",
      ].filter(Boolean);
      return `${n(fault.node)} ${parts.join(", ")}`;
    }
    case "skew":
      return `${n(fault.node)} clock ${fault.offsetMs >= 0 ? "+" : ""}${(fault.offsetMs / 1000).toFixed(1)} s`;
    default:
      return `${fault.kind} ${n(fault.node)}`;
  }
}

function pickFault(kind: FaultKind, nodes: number, random: SeededRandom, skewMsMax: number): Fault {
  const all = Array.from({ length: nodes }, (_, i) => i);
  const shuffled = random.shuffle(all);
  const mode: Cut["mode"] = random.chance(0.7) ? "drop" : "reject";
  switch (kind) {
    case "partition": {
      const shape = random.pick(["halves", "majority", "isolate", "bridge"] as const);
      if (shape === "isolate") return { kind, shape, groups: [[shuffled[0]!], shuffled.slice(1)], mode };
      if (shape === "majority") {
        const minority = Math.floor(nodes / 2);
        return { kind, shape, groups: [shuffled.slice(0, minority), shuffled.slice(minority)], mode };
      }
      if (shape === "bridge") {
        // The first node is in neither group: it sees both sides, which do not see each other.
        const rest = shuffled.slice(1);
        const half = Math.ceil(rest.length / 2);
        return { kind, shape, groups: [rest.slice(0, half), rest.slice(half)], mode };
      }
      const cut = random.between(1, nodes - 1);
      return { kind, shape, groups: [shuffled.slice(0, cut), shuffled.slice(cut)], mode };
    }
    case "one-way":
    case "asymmetric": {
      const fromCount = random.between(1, Math.max(1, Math.floor(nodes / 2)));
      const from = shuffled.slice(0, fromCount);
      const to = shuffled.slice(fromCount, fromCount + random.between(1, nodes - fromCount));
      return { kind, from, to, mode: kind === "asymmetric" ? "drop" : mode };
    }
    case "link": {
      const impairment: LinkImpairment = {};
      const delay = random.chance(0.7);
      if (delay) {
        impairment.delayMs = random.between(10, 150);
        impairment.jitterMs = random.between(0, Math.floor(impairment.delayMs / 2));
        if (random.chance(0.4)) impairment.reorder = random.between(5, 25) / 100;
      }
      if (random.chance(0.5) || !delay) impairment.loss = random.between(1, 50) / 1000;
      if (random.chance(0.3)) impairment.duplicate = random.between(1, 30) / 1000;
      if (random.chance(0.25)) impairment.rateKbit = random.pick([512, 1024, 4096, 16384]);
      return { kind, node: shuffled[0]!, impairment };
    }
    case "skew": {
      const magnitude = random.between(500, skewMsMax);
      return { kind, node: shuffled[0]!, offsetMs: random.chance(0.5) ? magnitude : -magnitude };
    }
    default:
      return { kind, node: shuffled[0]! };
  }
}

/** The fault windows of a run: a pure function of the seed and the options. */
export function planSchedule(seed: number, options: ScheduleOptions): FaultWindow[] {
  const random = seededRandom(seed);
  const [holdMin, holdMax] = options.holdMs ?? [3000, 8000];
  const [gapMin, gapMax] = options.gapMs ?? [1000, 3000];
  const skewMsMax = options.skewMsMax ?? 20_000;
  const wipeSpacingMs = options.wipeSpacingMs ?? 30_000;
  const windows: FaultWindow[] = [];
  let at = gapMin;
  let lastWipe = -Infinity;
  while (at + holdMin <= options.durationMs) {
    const holdMs = Math.min(random.between(holdMin, holdMax), options.durationMs - at);
    const count = random.chance(0.4) ? 2 : 1;
    const faults: Fault[] = [];
    const used = new Set<string>();
    for (let attempt = 0; faults.length < count && attempt < 10; attempt++) {
      let kind = random.pick(options.kinds);
      if (kind === "wipe" && at - lastWipe < wipeSpacingMs) kind = "kill";
      if (!options.kinds.includes(kind) || used.has(CATEGORY[kind])) continue;
      used.add(CATEGORY[kind]);
      if (kind === "wipe") lastWipe = at;
      faults.push(pickFault(kind, options.nodes, random, skewMsMax));
    }
    windows.push({ startMs: at, holdMs, faults });
    at += holdMs + random.between(gapMin, gapMax);
  }
  return windows;
}

/** The network state that the network faults of a window make. */
export function networkStateOf(faults: Fault[]): NetworkState {
  const host = (i: number) => `n${i}`;
  const state: NetworkState = { cuts: [], links: {} };
  for (const f of faults) {
    if (f.kind === "partition") state.cuts.push(...partitionCuts(f.groups.map((g) => g.map(host)), f.mode));
    if (f.kind === "one-way" || f.kind === "asymmetric") {
      state.cuts.push({ from: f.from.map(host), to: f.to.map(host), mode: f.mode, scope: f.kind === "one-way" ? "all" : "connect" });
    }
    if (f.kind === "link") state.links[host(f.node)] = f.impairment;
  }
  return state;
}

/** Applies a window's faults to the lab. */
export async function applyFaults(cluster: NetCluster, faults: Fault[]): Promise<void> {
  await cluster.network.apply(networkStateOf(faults));
  for (const f of faults) {
    if (f.kind === "skew") cluster.clocks.set(`n${f.node}`, f.offsetMs);
    if (f.kind === "kill") await cluster.kill(f.node);
    if (f.kind === "pause") cluster.signal(f.node, "SIGSTOP");
    if (f.kind === "wipe") await cluster.wipe(f.node);
  }
}

/** Heals a window's faults: the network back to healthy, clocks to the real time, processes running again. */
export async function healFaults(cluster: NetCluster, faults: Fault[]): Promise<void> {
  await cluster.network.heal();
  for (const f of faults) {
    if (f.kind === "skew") cluster.clocks.set(`n${f.node}`, 0);
    if (f.kind === "kill") await cluster.startNode(f.node);
    if (f.kind === "pause") cluster.signal(f.node, "SIGCONT");
  }
}
