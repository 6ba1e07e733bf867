/**
 * Nodes' admin APIs as the RingDriver and the operator call them, scripted in memory: each node has an id, an
 * incarnation and the ring it holds, installs a newer ring the way a node does (a lower term is refused, a lower or
 * equal epoch is not taken), and counts every call by kind, so a test can say how often a pass asked each node.
 */
import type { RingAdmin } from "../../../driver/index.js";
import { healthyNodeInfo } from "../../helpers/node-info.js";
import type { NodeInfo, RingInstall } from "../../../node/protocol/index.js";
import type { Ring } from "../../../node/ring/types.js";

export type AdminCall = "node" | "ring" | "installRing";

export interface ScriptedNode {
  id: string;
  incarnation: string;
  ring: Ring | undefined;
  /** Answers nothing: every call fails as a node that is down would. */
  down?: boolean;
}

export class ScriptedNodes {
  readonly nodes = new Map<string, ScriptedNode>();
  /** Every call made, in order: which node (by peer URL) and what. */
  readonly calls: { url: string; call: AdminCall }[] = [];

  constructor(private readonly urlOf: (id: string) => string) {}

  add(id: string, ring?: Ring): ScriptedNode {
    const node: ScriptedNode = { id, incarnation: `inc-${id}`, ring };
    this.nodes.set(this.urlOf(id), node);
    return node;
  }

  /** How many calls of each kind each node received, by node id; nodes never asked are absent. */
  countsById(): Record<string, Partial<Record<AdminCall, number>>> {
    const out: Record<string, Partial<Record<AdminCall, number>>> = {};
    for (const { url, call } of this.calls) {
      const id = this.nodes.get(url)?.id ?? url;
      const counts = (out[id] ??= {});
      counts[call] = (counts[call] ?? 0) + 1;
    }
    return out;
  }

  /** Forgets the calls counted so far. */
  reset(): void {
    this.calls.length = 0;
  }

  /** The admin client the driver is given: only the calls a ring step makes. */
  client(): RingAdmin {
    const answer = <T>(url: string, call: AdminCall, fn: (node: ScriptedNode) => T): Promise<T> => {
      this.calls.push({ url, call });
      const node = this.nodes.get(url);
      if (!node || node.down) return Promise.reject(new Error(`${url}: connection refused`));
      return Promise.resolve(fn(node));
    };
    const scripted: RingAdmin = {
      node: (url: string) => answer(url, "node", (n) => nodeInfo(n, url)),
      ring: (url: string) => answer(url, "ring", (n) => n.ring),
      installRing: (url: string, ring: Ring) =>
        answer(url, "installRing", (n): RingInstall => {
          const held = n.ring;
          if (held && (held.term ?? 0) > (ring.term ?? 0)) return { installed: false, epoch: held.epoch, term: held.term };
          if (held && (held.term ?? 0) === (ring.term ?? 0) && held.epoch >= ring.epoch) return { installed: held.epoch === ring.epoch, epoch: held.epoch, term: held.term };
          n.ring = ring;
          return { installed: true, epoch: ring.epoch, ...(ring.term !== undefined ? { term: ring.term } : {}) };
        }),
    };
    return scripted;
  }
}

/** A scripted node's account of itself. Every transfer it receives is reported done at once: it streams instantly. */
export function nodeInfo(node: ScriptedNode, url: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return healthyNodeInfo(node.id, {
    transfers: (node.ring?.pending ?? []).filter((t) => t.to === node.id).map((t) => ({ ...t, state: "done" as const, keys: 1, bytes: 1 })),
    incarnation: node.incarnation,
    epoch: node.ring?.epoch ?? 0,
    clientUrl: url.replace(/:\d+$/, ":8080"),
    peerUrl: url,
    ready: node.ring !== undefined && node.ring.members[node.id] !== undefined,
    ...extra,
  });
}
