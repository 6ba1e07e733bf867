/** Cluster membership as this node sees it: the installed ring and the peers it names. */
export { RingState } from "./ring-state.js";
export type { RingListener } from "./ring-state.js";
