/**
 * Failure detection under faults: a node that is killed or frozen must be seen as down by every other node that is
 * still running, within a few seconds, whatever else goes wrong meanwhile — a skewed clock, a bad link, a partition
 * (a node that hears nothing from the victim must suspect it all the more). Coordinators route around members they
 * believe down; one that keeps believing a dead member is up sends it every request and waits out every timeout.
 * Checked at the end of each window that killed or froze a node and lasted long enough.
 */
import type { NetCluster } from "../netns/cluster.js";
import type { Fault } from "./nemesis.js";
import type { Timeline } from "./timeline.js";

/** Windows shorter than this are not checked: detection (phi over its threshold) takes a couple of seconds. */
export const DETECTION_WINDOW_MS_MIN = 5000;

export async function checkDetection(cluster: NetCluster, faults: Fault[], holdMs: number, timeline: Timeline): Promise<string[]> {
  if (holdMs < DETECTION_WINDOW_MS_MIN) return [];
  const victims = faults.filter((f) => f.kind === "kill" || f.kind === "pause").map((f) => cluster.node((f as { node: number }).node));
  if (victims.length === 0) return [];
  const problems: string[] = [];
  const observers = cluster.running().filter((n) => !n.stopped && !victims.includes(n));
  await Promise.all(
    observers.map(async (observer) => {
      let view: { members: { id: string; liveness: string; phi: number | string }[] };
      try {
        const res = await fetch(`${observer.clientUrl}/v1/cluster`, { signal: AbortSignal.timeout(3000) });
        view = (await res.json()) as typeof view;
      } catch {
        return;
      }
      for (const victim of victims) {
        const member = view.members.find((m) => m.id === victim.id);
        if (member && member.liveness !== "down") {
          const skew = cluster.clocks.skew(observer.host.name);
          const message = `${observer.id} still sees ${victim.id} ${member.liveness} (phi ${member.phi}) ${(holdMs / 1000).toFixed(1)} s after it was ${victim.stopped ? "frozen" : "killed"}${skew ? ` (its clock is ${skew > 0 ? "+" : ""}${skew / 1000} s off)` : ""}`;
          problems.push(message);
          timeline.anomaly("detection", message);
        }
      }
    }),
  );
  return problems;
}
