/**
 * The ring's data model, shared by the storage node, the RingDriver and the operator. A ring is a value: every change
 * produces a new ring with a higher epoch, and the newest epoch wins wherever two rings meet.
 */

/** `joining`: known but owns nothing yet; `valid`: a normal owner; `leaving`: handing its partitions off. */
export type MemberState = "joining" | "valid" | "leaving";

export interface Member {
  id: string;
  /** Base URL of the member's peer port, e.g. `http://127.0.0.2:8081`. */
  peerUrl: string;
  /** Base URL of the member's client port, e.g. `http://127.0.0.2:8080`. */
  clientUrl: string;
  /** The incarnation the ring expects under this id; a node that reports another one has lost its disk. */
  incarnation: string;
  state: MemberState;
  /**
   * The failure domain the member runs in (a cloud availability zone, a rack). The claim planner spreads each
   * preference list over as many zones as it can, and fallbacks prefer another zone. Absent on rings written before
   * zones existed, and for members that do not know theirs: all of those share one unnamed zone.
   */
  zone?: string;
}

/**
 * A partition on its way to a new owner. `from` is the owner in `owners` (it keeps the partition until the transfer
 * is finalized); `to` receives it. `rebuild` transfers fill a fresh incarnation from the other replicas.
 */
export interface Transfer {
  partition: number;
  from: string;
  to: string;
  kind: "ownership" | "rebuild";
}

export interface Ring {
  epoch: number;
  /** Q, a power of two fixed when the cluster is created. */
  partitions: number;
  /** owners[p] is the member id that owns partition p; length Q. */
  owners: string[];
  pending: Transfer[];
  /**
   * While transfers are pending: the owners the ring will have once they finish. Replicas named by it receive the
   * writes of the partitions they are gaining; `owners` stays authoritative for reads until the plan is finalized.
   */
  nextOwners?: string[];
  /**
   * While transfers are pending: how many partitions each receiving member may stream at once, set by the RingDriver
   * so that the whole cluster stays within its transfer budget however many members receive.
   */
  transferLimit?: number;
  members: Record<string, Member>;
  /**
   * The term of the driver that committed this ring: the operator leader's Lease transitions when leader election is
   * on, absent (0) otherwise. Nodes never install a ring of a lower term than theirs, so a leader that lost its Lease
   * (frozen, or cut off from the API server) cannot commit once its successor has claimed the ring.
   */
  term?: number;
}
