/**
 * Seeded randomness, for tests, the fault lab and the benchmarks: one seed replays a whole run exactly (property tests
 * take theirs from `testSeed()` in test/helpers/random.ts, which prints it).
 *
 * The generator is SFC32 (Chris Doty-Humphrey's small fast counting generator, public domain): 128 bits of state,
 * good statistical quality for tests, and identical output on every platform because it only uses 32-bit integer
 * arithmetic. It is not for anything security-related.
 */
export interface SeededRandom {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** An integer in [low, high], both included. */
  between(low: number, high: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy of `items` (Fisher-Yates); the input is left alone. */
  shuffle<T>(items: readonly T[]): T[];
  /** An independent stream seeded from this one, for a worker that must not share state with others. */
  fork(): SeededRandom;
}

export function seededRandom(seed: number): SeededRandom {
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);
  // Spread the seed over the state with a SplitMix-style mix, so nearby seeds start far apart.
  let mixer = seed >>> 0;
  const mix = (): number => {
    mixer = (mixer + 0x9e3779b9) >>> 0;
    let z = mixer;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = mix() ^ Math.floor(seed / 2 ** 32);
  let b = mix();
  let c = mix();
  let d = 1;
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The first outputs still carry the structure of the seed; drop them.
  for (let i = 0; i < 12; i++) nextUint32();

  const next = (): number => nextUint32() / 2 ** 32;
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };
  return {
    seed,
    next,
    int,
    between: (low, high) => low + int(high - low + 1),
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new Error("pick() needs a non-empty array");
      return items[int(items.length)] as T;
    },
    shuffle: <T>(items: readonly T[]): T[] => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
      }
      return copy;
    },
    fork: () => seededRandom(int(2 ** 32)),
  };
}
