/** Driving a cluster from outside: the admin client and the RingDriver, shared by the operator and `dynamo dev`. */
export { AdminClient, keptAliveAgent } from "./admin-client.js";
export type { NodeInfo, RingAdmin } from "./admin-client.js";
export { FencedError, RingDriver, progressPollMs } from "./ring-driver.js";
export type { RingDriverOptions, StepResult } from "./ring-driver.js";
export { observeNodes, reachableNodes } from "./observe.js";
export type { MemberAddress, NodeAnswer, RingObservation } from "./observe.js";
export { transfersFor, transferLimitFor, replan, finalize, isSettled, planStillWanted, refreshMembers, DEFAULT_CLUSTER_TRANSFERS_MAX } from "./plan.js";
export type { NodeReport } from "./plan.js";
export { rebalanceProgress, rebalanceStatus, rebalanceSeconds, percentMoved, describeProgress, formatBytes, formatDuration, transferKey } from "../node/ring/index.js";
export type { RebalanceProgress, RebalanceSummary, TransferReportEntry } from "../node/ring/index.js";
export { DEFAULT_ROLL, observeRoll, rollGate } from "./roll.js";
export type { RollOptions, RollReport, RollVerdict } from "./roll.js";
