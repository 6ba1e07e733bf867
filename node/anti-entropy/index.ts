/** Active anti-entropy: per-partition hash trees compared between replicas, and the repair of what differs. */
export { AntiEntropy } from "./anti-entropy.js";
export type { AntiEntropyDeps } from "./anti-entropy.js";
export { HashTree, keyHash, SEGMENTS, LEAVES_BYTES } from "./hash-tree.js";
