/** Driving a cluster from outside: the admin client and the RingDriver, shared by the operator and `dynamo dev`. */
export { AdminClient } from "./admin-client.js";
export type { NodeInfo } from "./admin-client.js";
export { RingDriver } from "./ring-driver.js";
export type { MemberAddress, RingDriverOptions, StepResult } from "./ring-driver.js";
export { transfersFor, replan, finalize, isSettled, planStillWanted, refreshMembers } from "./plan.js";
export type { NodeReport } from "./plan.js";
