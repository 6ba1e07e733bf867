/**
 * The names integration and chaos tests use for seeded randomness; the generator is the shared one in ./random.ts.
 */
export { seededRandom as rng, testSeed as seedFromEnv } from "./random.js";
export type { SeededRandom as Rng } from "./random.js";
