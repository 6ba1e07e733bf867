/**
 * A small seeded PRNG for the benchmark (sfc32, seeded through splitmix32). The benchmark prints its seed so a run's
 * key sequence and operation mix can be replayed; Math.random cannot be seeded, so it is not used.
 */

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). */
  int(bound: number): number;
  /** An independent stream derived from this one, for a worker that must not share state with others. */
  fork(): Random;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function seededRandom(seed: number): Random {
  const init = splitmix32(seed);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // A few rounds mix the initial state so that nearby seeds do not start with correlated outputs.
  for (let i = 0; i < 12; i++) nextUint32();
  const random: Random = {
    next: () => nextUint32() / 0x1_0000_0000,
    int: (bound) => Math.floor(random.next() * bound),
    fork: () => seededRandom(nextUint32()),
  };
  return random;
}
