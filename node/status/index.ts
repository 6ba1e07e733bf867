/** What a node reports about itself and the cluster: `/v1/cluster`, the admin API's views, readiness. */
export { NodeStatus } from "./node-status.js";
export type { ClusterMemberReport, ClusterReport, NodeStatusDeps, Readiness } from "./node-status.js";
