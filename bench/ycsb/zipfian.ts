/**
 * YCSB-style scrambled zipfian key choice. Ranks are drawn from a zipfian distribution (constant 0.99) over a very
 * large item space, as YCSB's ScrambledZipfianGenerator does, then hashed (FNV-1a, 64 bit) onto the record count. The
 * hash spreads the popular items over the key space instead of piling them on the first records; drawing over the
 * large space keeps the skew YCSB users know (the hottest key takes about 4% of requests) whatever the record count.
 *
 * The draw is Gray et al.'s method ("Quickly generating billion-record synthetic databases", SIGMOD 1994), which
 * needs zeta(n, theta) = sum over i in 1..n of 1/i^theta; for the large n it is computed with Euler-Maclaurin.
 */
import type { SeededRandom as Random } from "../../lib/random.js";

export const ZIPFIAN_CONSTANT = 0.99;
/** The item space ranks are drawn from before scrambling; YCSB uses ten billion. */
export const ZIPFIAN_ITEM_COUNT = 10_000_000_000;

/** Terms summed exactly before the tail is approximated; the approximation error is far below double precision. */
const ZETA_EXACT_TERMS = 100_000;

/** zeta(n, theta): exact up to ZETA_EXACT_TERMS, then the Euler-Maclaurin formula for the tail. */
export function zeta(n: number, theta: number): number {
  const exact = Math.min(n, ZETA_EXACT_TERMS);
  let sum = 0;
  // Adding the smallest terms first loses less precision.
  for (let i = exact; i >= 1; i--) sum += 1 / Math.pow(i, theta);
  if (n === exact) return sum;
  const f = (x: number): number => Math.pow(x, -theta);
  const df = (x: number): number => -theta * Math.pow(x, -theta - 1);
  const a = exact;
  const integral = (Math.pow(n, 1 - theta) - Math.pow(a, 1 - theta)) / (1 - theta);
  // The sum from a to n, minus f(a) because that term was already counted exactly.
  const tail = integral + (f(a) + f(n)) / 2 + (df(n) - df(a)) / 12 - f(a);
  return sum + tail;
}

export class ZipfianGenerator {
  readonly #items: number;
  readonly #theta: number;
  readonly #zetan: number;
  readonly #alpha: number;
  readonly #eta: number;
  readonly #halfPowTheta: number;

  constructor(items: number, theta = ZIPFIAN_CONSTANT) {
    this.#items = items;
    this.#theta = theta;
    this.#zetan = zeta(items, theta);
    const zeta2 = zeta(2, theta);
    this.#alpha = 1 / (1 - theta);
    this.#eta = (1 - Math.pow(2 / items, 1 - theta)) / (1 - zeta2 / this.#zetan);
    this.#halfPowTheta = 1 + Math.pow(0.5, theta);
  }

  get zetan(): number {
    return this.#zetan;
  }

  /** A rank in [0, items): 0 is the most popular. */
  next(random: Random): number {
    const u = random.next();
    const uz = u * this.#zetan;
    if (uz < 1) return 0;
    if (uz < this.#halfPowTheta) return 1;
    const rank = Math.floor(this.#items * Math.pow(this.#eta * u - this.#eta + 1, this.#alpha));
    return Math.min(rank, this.#items - 1);
  }

  get theta(): number {
    return this.#theta;
  }
}

const FNV_OFFSET_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 0x100000001b3n;
const MASK_64 = 0xffffffffffffffffn;

/** FNV-1a over the eight little-endian bytes of `value`. */
export function fnv1a64(value: number): bigint {
  let hash = FNV_OFFSET_64;
  let rest = BigInt(value);
  for (let i = 0; i < 8; i++) {
    hash ^= rest & 0xffn;
    hash = (hash * FNV_PRIME_64) & MASK_64;
    rest >>= 8n;
  }
  return hash;
}

/** Picks record indexes in [0, records) with YCSB's scrambled zipfian skew. */
export class ScrambledZipfian {
  readonly #records: bigint;
  readonly #zipfian: ZipfianGenerator;

  constructor(records: number, zipfian: ZipfianGenerator = new ZipfianGenerator(ZIPFIAN_ITEM_COUNT)) {
    this.#records = BigInt(records);
    this.#zipfian = zipfian;
  }

  next(random: Random): number {
    return Number(fnv1a64(this.#zipfian.next(random)) % this.#records);
  }
}
