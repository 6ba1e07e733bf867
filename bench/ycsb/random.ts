/**
 * Seeded randomness for the benchmark: the project's test generator (test/helpers/random.ts), plus `fork` so each
 * client loop gets a stream of its own. The benchmark prints its seed so a run's key sequence and operation mix can
 * be replayed; Math.random cannot be seeded, so it is not used.
 */
import { seededRandom as generator } from "../../test/helpers/random.js";

export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, bound). */
  int(bound: number): number;
  /** An independent stream derived from this one, for a worker that must not share state with others. */
  fork(): Random;
}

export function seededRandom(seed: number): Random {
  const base = generator(seed);
  return { next: base.next, int: base.int, fork: () => seededRandom(base.int(2 ** 32)) };
}
