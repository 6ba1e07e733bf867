/** Cluster membership as this node sees it: the installed ring and the peers it names. */
export { RingState, ringHash } from "./ring-state.js";
export type { RingListener } from "./ring-state.js";
export { PhiAccrualDetector, DEFAULT_FAILURE_DETECTOR } from "./failure-detector.js";
export type { FailureDetectorOptions } from "./failure-detector.js";
export { Gossiper, DEFAULT_GOSSIP } from "./gossip.js";
export type { GossipDeps, GossipOptions } from "./gossip.js";
export { MemberView, membersDown } from "./view.js";
export type { ClusterView } from "./view.js";
