/**
 * The observe half of a ring step: one round of admin calls per node (its account of itself and its ring, asked at
 * once), gathered into a value. The RingDriver decides from it, and the operator builds its status and its other
 * decisions from the same value, so one pass asks each node once and every decision sees the same answers.
 */
import { DynamoError } from "../node/errors/index.js";
import { newestRing } from "../node/ring/index.js";
import type { NodeInfo } from "../node/protocol/index.js";
import type { Ring } from "../node/ring/types.js";
import type { RingAdmin } from "./admin-client.js";

export interface MemberAddress {
  id: string;
  peerUrl: string;
  clientUrl: string;
  /**
   * The member's zone as its orchestrator knows it (the operator: the zone label of the Kubernetes Node its pod runs
   * on). It wins over the zone the node reports of itself (`--zone`), which is used when this is absent.
   */
  zone?: string;
}

/** One node as a step saw it: its address and either its answers (its account of itself, its ring) or why not. */
export type NodeAnswer = MemberAddress & ({ reachable: true; info: NodeInfo; ring: Ring | undefined } | { reachable: false; error: string });

export interface RingObservation {
  /** Every node asked, in the order given. */
  nodes: NodeAnswer[];
  /** The newest ring any node holds (highest term, then epoch); undefined when none holds one. */
  newest: Ring | undefined;
  /** The highest epoch any node holds, even one of a fenced driver's: new epochs go above it. */
  epochFloor: number;
  /** When the observation was made (ms since the epoch). */
  atMs: number;
}

/** The nodes that answered both questions. */
export function reachableNodes(observation: RingObservation): (NodeAnswer & { reachable: true })[] {
  return observation.nodes.filter((n): n is NodeAnswer & { reachable: true } => n.reachable);
}

/**
 * Asks every node, in parallel, who it is and which ring it holds. A node that answers under another id (an IP
 * reused by another pod) or fails either question counts as unreachable in this observation, with the reason.
 */
export async function observeNodes(admin: RingAdmin, nodes: readonly MemberAddress[], now: () => number = Date.now): Promise<RingObservation> {
  const answers = await Promise.all(
    nodes.map(async (node): Promise<NodeAnswer> => {
      try {
        const [info, ring] = await Promise.all([admin.node(node.peerUrl), admin.ring(node.peerUrl)]);
        if (info.id !== node.id) throw new DynamoError("invalid_request", `the node at ${node.peerUrl} calls itself ${info.id}, expected ${node.id}`);
        return { ...node, reachable: true, info, ring };
      } catch (err) {
        return { ...node, reachable: false, error: (err as Error).message };
      }
    }),
  );
  const rings = answers.map((a) => (a.reachable ? a.ring : undefined));
  return {
    nodes: answers,
    newest: newestRing(rings),
    epochFloor: Math.max(0, ...rings.map((r) => r?.epoch ?? 0)),
    atMs: now(),
  };
}
