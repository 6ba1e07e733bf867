/**
 * Older names for the seeded generator (lib/random.ts) and the test seed (./random.ts), still used by test/k8s until
 * its move into folders lands; new code imports `seededRandom` and `testSeed` under their own names.
 */
export { seededRandom as rng } from "../../lib/random.js";
export type { SeededRandom as Rng } from "../../lib/random.js";
export { testSeed as seedFromEnv } from "./random.js";
