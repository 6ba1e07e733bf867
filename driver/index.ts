/** Driving a cluster from outside: the admin client (and, with ring changes, the RingDriver). */
export { AdminClient } from "./admin-client.js";
export type { NodeInfo } from "./admin-client.js";
