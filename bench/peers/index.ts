/**
 * `npm run bench:peers`: the store against Apache Cassandra, etcd and Redis, each started on loopback by the harness
 * and driven by the same closed-loop YCSB clients (bench/ycsb) in the same run. `bench/peers.ts` is its command line.
 */
export { runPeers, stopEverything, SYSTEMS } from "./harness.js";
export { parsePeersOptions, PEERS_USAGE, DEFAULT_PEERS_OPTIONS } from "./options.js";
export type { PeersOptions } from "./options.js";
export { markdownReport } from "./report.js";
export type { Measurement, PeersReport } from "./report.js";
