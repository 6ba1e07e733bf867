import type { NodeInfo } from "../../node/protocol/index.js";

/**
 * A node's account of itself (the admin API's node info) as a healthy, caught-up member gives it; tests override what
 * their scenario is about.
 */
export function healthyNodeInfo(id: string, extra: Partial<NodeInfo> = {}): NodeInfo {
  return {
    id,
    pid: 1,
    incarnation: `inc-${id}`,
    actor: "a",
    epoch: 5,
    clientUrl: "http://x:8080",
    peerUrl: "http://x:8081",
    ready: true,
    uptimeMs: 1,
    hints: { count: 0, bytes: 0, byOwner: {} },
    rebuildingPartitions: 0,
    rebuild: "none",
    transfers: [],
    draining: false,
    down: [],
    ...extra,
  };
}
