/**
 * The RingDriver: the one library that changes a cluster's ring, used by the operator and by `dynamo dev`. A step has
 * two halves: `observe` asks every node who it is and which ring it holds (./observe.ts), and `decide` takes that
 * observation, decides with the pure functions of ./plan.ts, and commits at most one new ring epoch (pushing it to
 * every reachable node; gossip carries it to the rest). A caller that needs the nodes' answers for itself (the
 * operator's status) observes once and hands the same observation to `decide`. The driver keeps no state of its own:
 * the plan in flight lives in the ring (`nextOwners`, `pending`) and transfer progress on the receiving nodes, so a
 * driver that crashes and restarts — or a new operator leader — picks up exactly where the last one stopped.
 */
import { DynamoError } from "../node/errors/index.js";
import { createRing } from "../node/ring/index.js";
import type { Ring } from "../node/ring/types.js";
import type { RingAdmin } from "./admin-client.js";
import { observeNodes, reachableNodes, type MemberAddress, type RingObservation } from "./observe.js";
import { finalize, isSettled, planStillWanted, refreshMembers, replan, type NodeReport } from "./plan.js";
import { rebalanceProgress, type RebalanceProgress, type TransferReportEntry } from "../node/ring/index.js";

export interface StepResult {
  /** The newest ring after this step. */
  ring: Ring | undefined;
  /** The ring matches the desired members and no transfer is pending. */
  done: boolean;
  /** What this step changed, for events and logs; undefined when it changed nothing. */
  action: string | undefined;
  /** When to call `step` again if not done. */
  retryAfterMs: number;
  /** Nodes that hold no partitions and are not desired: they may be stopped. */
  removable: string[];
  transfers: { pending: number; active: number; done: number };
  /**
   * Progress of the plan in flight (partitions and bytes moved, rate, ETA), measured in this step; in the step that
   * finalizes a plan, its final numbers. Undefined when no plan was in flight.
   */
  rebalance?: RebalanceProgress;
}

export interface RingDriverOptions {
  admin: RingAdmin;
  partitions: number;
  targetN: number;
  /** Partitions streamed at once across the cluster (default DEFAULT_CLUSTER_TRANSFERS_MAX). */
  clusterTransfersMax?: number;
  /**
   * The driver's term, read at each step: the operator leader's Lease transitions. Every ring it commits carries it,
   * and nodes refuse rings of a lower term than theirs, so a leader that lost its Lease cannot commit any more once its
   * successor has committed. Undefined (`dynamo dev`, an operator without leader election): rings keep their term.
   */
  term?: () => number | undefined;
  log: (message: string) => void;
}

/** A commit refused because the nodes run a ring of a newer term: this driver's leader was superseded. */
export class FencedError extends DynamoError {
  constructor(message: string) {
    super("unavailable", message);
    this.name = "FencedError";
  }
}

type Reports = Map<string, NodeReport & { epoch: number }>;

export class RingDriver {
  constructor(private readonly options: RingDriverOptions) {}

  /** Asks every node in `nodes` who it is and which ring it holds: the first half of a step. */
  observe(nodes: readonly MemberAddress[]): Promise<RingObservation> {
    return observeNodes(this.options.admin, nodes);
  }

  /** Observes, then decides: one whole step for callers that need nothing else from the nodes. */
  async step(nodes: readonly MemberAddress[], desired: string[]): Promise<StepResult> {
    return this.decide(await this.observe(nodes), desired);
  }

  /**
   * The second half of a step: from what `observe` saw, decide the next ring towards `desired` (member ids) and commit
   * it. It asks the nodes again only to push a ring: the receivers' progress is in what each node said of itself.
   */
  async decide(observation: RingObservation, desired: string[]): Promise<StepResult> {
    const reports = this.reports(observation);
    const newest = observation.newest;
    const floor = observation.epochFloor;
    const term = this.options.term?.();

    if (!newest) return this.bootstrap(reports, desired, floor);
    if (term !== undefined && term < (newest.term ?? 0)) {
      throw new FencedError(`the ring carries term ${newest.term}, newer than this driver's ${term}: another leader has taken over`);
    }
    // A leader's first commit claims the ring for its term, which fences every earlier leader at once.
    if (term !== undefined && term > (newest.term ?? 0)) return this.commit(newest, reports, desired, floor, `claimed the ring for leader term ${term}`);
    await this.propagate(newest, reports);

    const refreshed = refreshMembers(newest, reports);
    if (refreshed) return this.commit(refreshed, reports, desired, floor, "recorded new member addresses or incarnations");

    if (newest.pending.length > 0) {
      if (!planStillWanted(newest, desired, this.options.targetN)) {
        const next = replan(newest, desired, reports, this.options.targetN, this.options.clusterTransfersMax);
        if (!next) return this.result(newest, desired, reports, undefined, 1000);
        return this.commit(next, reports, desired, floor, `re-planned towards ${desired.length} members (${next.pending.length} transfers)`);
      }
      const rebalance = transferProgress(newest, observation);
      if (rebalance.partitionsMoved === newest.pending.length) {
        return { ...(await this.commit(finalize(newest, desired), reports, desired, floor, `finalized ${newest.pending.length} transfers`)), rebalance };
      }
      const progress = { pending: newest.pending.length - rebalance.partitionsMoved, active: rebalance.partitionsActive, done: rebalance.partitionsMoved };
      return { ...this.result(newest, desired, reports, undefined, progressPollMs(rebalance), progress), rebalance };
    }

    if (isSettled(newest, desired, this.options.targetN)) return this.result(newest, desired, reports, undefined, 1000);
    const next = replan(newest, desired, reports, this.options.targetN, this.options.clusterTransfersMax);
    if (!next) return this.result(newest, desired, reports, undefined, 1000);
    const what = next.pending.length > 0 ? `planned ${next.pending.length} transfers towards ${desired.length} members` : `changed members to ${desired.length} without moving data`;
    return this.commit(next, reports, desired, floor, what);
  }

  /** What the plan functions need of each node that answered; an unreachable node is logged and left out. */
  private reports(observation: RingObservation): Reports {
    for (const node of observation.nodes) if (!node.reachable) this.options.log(`cannot reach ${node.id} at ${node.peerUrl}: ${node.error}`);
    const reports: Reports = new Map();
    for (const node of reachableNodes(observation)) {
      const { info } = node;
      const zone = node.zone || info.zone || undefined;
      reports.set(node.id, {
        id: node.id,
        peerUrl: node.peerUrl,
        clientUrl: node.clientUrl,
        incarnation: info.incarnation,
        rebuild: info.rebuild,
        epoch: info.epoch,
        ...(zone ? { zone } : {}),
      });
    }
    return reports;
  }

  private async bootstrap(reports: Reports, desired: string[], floor: number): Promise<StepResult> {
    if (!desired.every((id) => reports.has(id))) return this.result(undefined, desired, reports, undefined, 1000);
    const members = desired.map((id) => {
      const r = reports.get(id)!;
      return { id, peerUrl: r.peerUrl, clientUrl: r.clientUrl, incarnation: r.incarnation, state: "valid" as const, ...(r.zone ? { zone: r.zone } : {}) };
    });
    const ring = createRing({ partitions: this.options.partitions, members, targetN: this.options.targetN });
    return this.commit(ring, reports, desired, floor, `created ring epoch ${ring.epoch} with ${members.length} members`);
  }

  private async commit(planned: Ring, reports: Reports, desired: string[], epochFloor: number, action: string): Promise<StepResult> {
    const term = this.options.term?.();
    // New epochs go past every epoch any node holds, even one of a fenced driver's, so no node's epoch ever goes back.
    const ring: Ring = { ...planned, epoch: Math.max(planned.epoch, epochFloor + 1), ...(term !== undefined ? { term } : {}) };
    const targets = new Map<string, string>();
    for (const r of reports.values()) targets.set(r.id, r.peerUrl);
    for (const m of Object.values(ring.members)) if (!targets.has(m.id)) targets.set(m.id, m.peerUrl);
    const answers = await Promise.all([...targets.values()].map((url) => this.options.admin.installRing(url, ring).catch(() => undefined)));
    const newer = answers.find((a) => a && !a.installed && (a.term ?? 0) > (ring.term ?? 0));
    if (newer) throw new FencedError(`ring epoch ${ring.epoch} refused: the nodes run term ${newer.term}, newer than this driver's ${ring.term ?? 0}`);
    if (!answers.some((a) => a?.installed)) {
      const moved = answers.find((a) => a && !a.installed);
      throw new DynamoError("unavailable", `could not commit ring epoch ${ring.epoch}: ${moved ? `the ring moved on (a node runs epoch ${moved.epoch})` : "no node accepted it"}`);
    }
    this.options.log(`ring epoch ${ring.epoch}: ${action}`);
    // Nothing is removable in the step that commits: the next step first sees every member on the new epoch. That
    // step comes soon even when this ring is the settled one, since it is the one that lets the nodes that left stop.
    const result = { ...this.result(ring, desired, new Map(), `ring epoch ${ring.epoch}: ${action}`, 200), removable: [], retryAfterMs: 200 };
    // A plan just committed has moved nothing yet; the next step measures it.
    return ring.pending.length > 0 ? { ...result, rebalance: rebalanceProgress(ring, [], Date.now()) } : result;
  }

  private async propagate(ring: Ring, reports: Reports): Promise<void> {
    await Promise.all(
      [...reports.values()].filter((r) => r.epoch < ring.epoch).map((r) => this.options.admin.installRing(r.peerUrl, ring).catch(() => undefined)),
    );
  }

  private result(
    ring: Ring | undefined,
    desired: string[],
    reports: Map<string, NodeReport & { epoch?: number }>,
    action: string | undefined,
    retryAfterMs: number,
    progress?: { pending: number; active: number; done: number },
  ): StepResult {
    const done = ring !== undefined && isSettled(ring, desired, this.options.targetN);
    // A node may stop only once every member runs the ring without it, or a laggard could still route to it.
    const everyoneCurrent = ring !== undefined && Object.keys(ring.members).every((id) => (reports.get(id)?.epoch ?? 0) >= ring.epoch);
    const leaving = ring === undefined ? [] : [...reports.keys()].filter((id) => !desired.includes(id) && !ring.members[id]);
    const removable = everyoneCurrent ? leaving : [];
    return {
      ring,
      done,
      action,
      // A settled ring is looked at again every few seconds; while a node that left still runs, sooner, so that it
      // stops as soon as every member runs the ring without it.
      retryAfterMs: done && leaving.length === 0 ? 5000 : retryAfterMs,
      removable,
      transfers: progress ?? { pending: ring?.pending.length ?? 0, active: 0, done: 0 },
    };
  }
}

/**
 * The plan's progress from the receivers' own reports, which each node gives with its account of itself in the
 * observation: asking each receiver for them again, as the driver did, added a call per receiver to every look at a
 * running plan. A receiver that did not answer simply has not finished.
 */
function transferProgress(ring: Ring, observation: RingObservation): RebalanceProgress {
  const receivers = new Set(ring.pending.map((t) => t.to));
  const entries: TransferReportEntry[] = [];
  for (const node of reachableNodes(observation)) {
    if (receivers.has(node.id)) entries.push(...node.info.transfers.filter((t) => t.to === node.id));
  }
  return rebalanceProgress(ring, entries, Date.now());
}

/**
 * How soon to look again at a plan whose transfers are running. Only a step that sees the last transfer done
 * finalizes the plan, so with a look every second a plan sat finished for up to a second after its streaming ended
 * (half a second on average; in one `bench:rebalance --clients 0 --timeline` scale-out, the last second of a 4.4 s
 * step). Once the receivers' rate says at most a second is left, the driver looks four times as often; before that,
 * once a second, which is all the progress figures need.
 */
export function progressPollMs(progress: Pick<RebalanceProgress, "etaSeconds">): number {
  return progress.etaSeconds !== undefined && progress.etaSeconds <= 1 ? 250 : 1000;
}
