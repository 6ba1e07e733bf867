/**
 * A tiny seeded PRNG for the versioning property tests (mulberry32), so a failing randomized run replays exactly from
 * its seed. The seed is printed once per run; `SEED=<n>` replays it. This stands in until a shared
 * `test/helpers/random.ts` exists.
 */

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). */
  int(bound: number): number;
  pick<T>(items: readonly T[]): T;
  chance(probability: number): boolean;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
  const int = (bound: number): number => Math.floor(next() * bound);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error("cannot pick from an empty list");
      return items[int(items.length)] as T;
    },
    chance: (probability: number): boolean => next() < probability,
  };
}

let announcedSeed: number | undefined;

/** The seed for this run: `SEED` from the environment, else a fresh one. Printed once so a failure can be replayed. */
export function testSeed(): number {
  if (announcedSeed === undefined) {
    const fromEnv = process.env.SEED;
    announcedSeed = fromEnv !== undefined && fromEnv !== "" ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
    console.log(`  versioning property tests: SEED=${announcedSeed} (set SEED to replay)`);
  }
  return announcedSeed;
}
