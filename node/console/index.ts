/** The read-only web console and `GET /v1/node`, served on the client port beside the key-value API. */
export { createConsoleRoutes, DEFAULT_CONSOLE } from "./routes.js";
export type { ConsoleDeps } from "./routes.js";
export { buildOverview, clusterHistory, memberCondition } from "./overview.js";
export type { MemberCondition, MemberLiveness, Overview, OverviewInputs, OverviewMember, OverviewMove } from "./overview.js";
