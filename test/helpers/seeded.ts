/**
 * A small seeded PRNG (mulberry32) for integration and chaos tests, so a failing scenario replays from its seed.
 */

export interface Rng {
  seed: number;
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

export function rng(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed, next, int: (n) => Math.floor(next() * n), pick: (items) => items[Math.floor(next() * items.length)]! };
}

/** The seed from SEED, or a fresh one; printed either way so the run can be replayed. */
export function seedFromEnv(label: string): number {
  const seed = process.env.SEED !== undefined ? Number(process.env.SEED) : Math.floor(Math.random() * 2 ** 31);
  console.log(`    ${label}: seed=${seed} (replay with SEED=${seed})`);
  return seed;
}
