/** The node's HTTP surfaces: the client API and the token-guarded admin API on the peer port. */
export { createClientApi, CONTEXT_HEADER, sendError } from "./client-api.js";
export type { ClientApiDeps } from "./client-api.js";
export { createAdminApi } from "./admin-api.js";
export type { AdminApiDeps } from "./admin-api.js";
export { parseKvPath, parseQuorum, KEY_BYTES_MAX } from "./request.js";
