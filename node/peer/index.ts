/**
 * The peer protocol's connections: authenticated, pipelined binary frames over an upgraded HTTP connection on the
 * peer port. What the frames say is defined in ../protocol/.
 */
export { PeerClient, PEER_PROTOCOL, RequestNotSentError } from "./client.js";
export type { PeerClientOptions } from "./client.js";
export { PeerServer } from "./server.js";
export type { PeerServerOptions } from "./server.js";
export { bearerToken, tokenMatches, readTokenFile } from "./auth.js";
export { FaultInjector } from "./faults.js";
export { peerPortRequest } from "./port-request.js";
export type { PeerPortAnswer } from "./port-request.js";
export type { PeerPortRequest } from "./port-request.js";
export type { PeerHandler, PeerHandlers, PeerOp } from "../protocol/index.js";
