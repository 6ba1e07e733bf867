/**
 * The seed of a randomized test run. Property tests draw their cases from `seededRandom(testSeed())` (lib/random.ts):
 * the seed is printed, so any failure replays exactly with `SEED=<seed>`, and a run without SEED explores new cases.
 */
import { randomInt } from "node:crypto";

/**
 * The seed for this run: SEED from the environment, or a fresh random one. It is printed either way (with `label`,
 * when given, to tell several seeded suites apart) so a failing run can be replayed.
 */
export function testSeed(label?: string): number {
  const fromEnv = process.env.SEED;
  let seed: number;
  if (fromEnv !== undefined && fromEnv !== "") {
    seed = Number(fromEnv);
    if (!Number.isSafeInteger(seed)) throw new Error(`SEED must be an integer, got ${JSON.stringify(fromEnv)}`);
  } else {
    seed = randomInt(0, 2 ** 31);
  }
  console.log(`${label ? `${label}: ` : ""}seed=${seed} (replay with SEED=${seed})`);
  return seed;
}
