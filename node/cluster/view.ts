/**
 * The cluster as this node sees it: who it is, the ring it runs, which members it believes are up, and a peer client
 * for each of them. Every component that talks to other members (the coordinator, hint delivery, handoff, rebuilds,
 * anti-entropy, the janitor, the console) takes this one view instead of its own copies of `ring()`, `isUp()` and
 * `peer()`, so they all answer "who is up" and "who owns what" the same way at the same moment.
 */
import type { PeerClient } from "../peer/index.js";
import type { Ring } from "../ring/types.js";
import type { PhiAccrualDetector } from "./failure-detector.js";
import type { Gossiper } from "./gossip.js";
import type { RingState } from "./ring-state.js";

export interface ClusterView {
  /** This node's member id. */
  readonly self: string;
  /** The ring this node runs; undefined until it has installed one. */
  ring(): Ring | undefined;
  /** Whether this node believes a member is up; always true for itself. */
  isUp(id: string): boolean;
  /** How suspect a member is to the failure detector (phi accrual); 0 for this node. */
  phi(id: string): number;
  /** The peer client of another ring member; undefined for this node and for ids the ring does not name. */
  peer(id: string): PeerClient | undefined;
}

/** The view a running node shares: its installed ring, its failure detector and what gossip heard of departures. */
export class MemberView implements ClusterView {
  constructor(
    readonly self: string,
    private readonly ringState: RingState,
    private readonly detector: PhiAccrualDetector,
    private readonly gossiper: Gossiper,
    /** The monotonic clock the detector measures with. */
    private readonly now: () => number,
  ) {}

  ring(): Ring | undefined {
    return this.ringState.ring;
  }

  /**
   * Heard from recently (phi), not refusing connections, and not shutting down (it said so before it stopped).
   */
  isUp(id: string): boolean {
    if (id === this.self) return true;
    return this.detector.isAvailable(id, this.now()) && this.ringState.isReachable(id) && !this.gossiper.isLeaving(id);
  }

  phi(id: string): number {
    return id === this.self ? 0 : this.detector.phi(id, this.now());
  }

  peer(id: string): PeerClient | undefined {
    return this.ringState.peer(id);
  }
}

/** Ring members a view counts as down (failure detector, refused connections, or a leave announced), sorted. */
export function membersDown(cluster: ClusterView): string[] {
  const ring = cluster.ring();
  return ring ? Object.keys(ring.members).filter((id) => !cluster.isUp(id)).sort() : [];
}
