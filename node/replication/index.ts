/** Replication: the coordinator's quorum logic, the local replica's atomic steps, and replica placement. */
export { Coordinator } from "./coordinator.js";
export type { CoordinatorDeps, KeyAnswer, ReadRequest, WriteRequest } from "./coordinator.js";
export { LocalReplica, replicationCeiling } from "./replica.js";
export type { MergeEntry, RecordLimits, ReplicaKey, ReplicaEvents, WriteListener } from "./replica.js";
export { planReplicas, readOrder } from "./targets.js";
export type { ReplicaPlan, ReplicaTarget } from "./targets.js";
export { QuorumTracker } from "./quorum.js";
export type { QuorumOutcome, QuorumRequirement } from "./quorum.js";
