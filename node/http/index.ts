/** The node's HTTP surfaces: the client API and its server, and the token-guarded admin API on the peer port. */
export { clientAuthorization, createClientApi, CONTEXT_HEADER, KvRoutes, withKvFastPath } from "./client-api.js";
export { errorBoundary, noRoute, requireBearerToken, sendError } from "./boundary.js";
export type { ClientApiDeps } from "./client-api.js";
export { createClientServer, answerClientError, CLIENT_HEADERS_MAX } from "./client-server.js";
export type { ClientServerCounters, ClientServerLimits } from "./client-server.js";
export { ClientSecurity } from "./client-security.js";
export type { ClientSecurityOptions } from "./client-security.js";
export { ClientTokens, generateClientToken, hashClientToken, parseClientTokens, TOKEN_NAME_PATTERN } from "./client-auth.js";
export type { ClientTokenEntry, ClientTokensFile, Scope } from "./client-auth.js";
export { createAdminApi } from "./admin-api.js";
export { closeServer } from "./close.js";
export type { AdminApiDeps } from "./admin-api.js";
export { parseKvPath, parseQuorum, KEY_BYTES_MAX } from "./request.js";
export { ClientRing } from "./ring-route.js";
export type { ClientRingDeps } from "./ring-route.js";
