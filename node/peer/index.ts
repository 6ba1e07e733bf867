/** The peer protocol: authenticated, pipelined binary frames over an upgraded HTTP connection on the peer port. */
export { PeerClient, PEER_PROTOCOL } from "./client.js";
export type { PeerClientOptions, PeerResponse } from "./client.js";
export { PeerServer } from "./server.js";
export type { PeerHandler, PeerServerOptions } from "./server.js";
export { bearerToken, tokenMatches, readTokenFile } from "./auth.js";
export { encodeFrame, FrameReader, FRAME_BYTES_MAX } from "./frame.js";
export { FaultInjector } from "./faults.js";
