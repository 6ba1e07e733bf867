/**
 * Rolling restarts: the gate between one node's restart and the next. A node may go only when the cluster could lose
 * it without failing a request at r=w=2: every member answers and is ready (none draining), every node counts every
 * other as up, the hints written while the last node was away have been delivered (below a bound), no partition is
 * being rebuilt and no transfer is pending. The same gate serves `dynamo dev restart --rolling` and the operator.
 * `rollGate` is pure; `observeRoll` gathers what it judges through the admin API.
 */
import type { NodeInfo } from "../node/protocol/index.js";
import type { AdminClient } from "./admin-client.js";

export interface RollOptions {
  /** Hints for members of the cluster, summed over every node, above which the next node waits. */
  hintsMax: number;
}

export const DEFAULT_ROLL: RollOptions = { hintsMax: 100 };

/** One member as the gate sees it: its admin API's account of itself, or why that could not be read. */
export interface RollReport {
  id: string;
  info?: NodeInfo;
  error?: string;
}

export type RollVerdict = { healthy: true } | { healthy: false; reason: string };

export function rollGate(reports: readonly RollReport[], options: RollOptions = DEFAULT_ROLL): RollVerdict {
  const ids = new Set(reports.map((r) => r.id));
  let hints = 0;
  for (const report of reports) {
    const info = report.info;
    if (!info) return { healthy: false, reason: `${report.id} does not answer: ${report.error ?? "no report"}` };
    if (info.draining) return { healthy: false, reason: `${report.id} is shutting down` };
    if (!info.ready) return { healthy: false, reason: `${report.id} is not ready` };
    const down = (info.down ?? []).filter((id) => ids.has(id));
    if (down.length > 0) return { healthy: false, reason: `${report.id} counts ${down.join(", ")} as down` };
    if (info.rebuildingPartitions > 0) return { healthy: false, reason: `${report.id} is rebuilding ${info.rebuildingPartitions} partitions` };
    const transfers = info.transfers.filter((t) => t.state !== "done").length;
    if (transfers > 0) return { healthy: false, reason: `${report.id} has ${transfers} partition transfers to finish` };
    for (const [owner, stats] of Object.entries(info.hints.byOwner)) if (ids.has(owner)) hints += stats.count;
  }
  const epochs = new Set(reports.map((r) => r.info!.epoch));
  if (epochs.size > 1) return { healthy: false, reason: `members run different ring epochs (${[...epochs].sort((a, b) => a - b).join(", ")})` };
  if (hints > options.hintsMax) return { healthy: false, reason: `${hints} hints wait for delivery (at most ${options.hintsMax} before the next node goes)` };
  return { healthy: true };
}

/** Reads every member's account of itself, in parallel; a member that cannot be read is reported with the reason. */
export async function observeRoll(admin: AdminClient, members: readonly { id: string; peerUrl: string }[]): Promise<RollReport[]> {
  return Promise.all(
    members.map(async ({ id, peerUrl }) => {
      try {
        return { id, info: await admin.node(peerUrl) };
      } catch (err) {
        return { id, error: (err as Error).message };
      }
    }),
  );
}
