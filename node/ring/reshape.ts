/**
 * Reshaping a ring by dynamic programming, for the cases greedy moves handle badly: with fewer than 2 · targetN
 * members a spaced ring is so constrained that filling one freed partition forces changes around it, and a sequence
 * of good local choices can still end far from the cheapest spaced ring.
 *
 * Walking the ring, the only thing that limits the next owner is the last targetN - 1 owners, so the cheapest spaced
 * ring is a shortest path through states "last targetN - 1 owners" (P(S, targetN - 1) of them), where choosing owner m
 * at partition p costs 1 if m is not p's current owner. Balance is not a property of a path, so it enters as a price
 * per member (a Lagrange multiplier) added to every partition that member takes: members with too many partitions
 * get dearer, members with too few cheaper, and the path is recomputed until the counts fall within ⌊Q/S⌋..⌈Q/S⌉ or
 * stop improving. A tiny fixed jitter on every cost lets the path mix two equally priced local patterns instead of
 * always picking the same one, which is what makes counts between the two reachable. The ring is a cycle, so the
 * first targetN - 1 owners are fixed (to the start of the cheapest unconstrained path) and the last state must join
 * them without breaking spacing across the wrap.
 *
 * The result is spaced but possibly not quite balanced; the claim planner finishes it with its greedy steps.
 */

/** The most transitions one pass over the ring may weigh (states × choices per state × Q); beyond it, no search. */
const TRANSITIONS_PER_PASS_MAX = 2_000_000;

/** The most price adjustments, and how many rounds without a better path end the search early. */
const PRICE_ROUNDS_MAX = 40;
const PRICE_ROUNDS_STALLED_MAX = 8;

/** The most transitions one rebalancing round may weigh over all its windows; beyond it, windows are skipped. */
const TRANSITIONS_PER_ROUND_MAX = 1_000_000;

/** The most window rewrites when finishing the balance of a path. */
const REBALANCE_ROUNDS_MAX = 16;

/** How much a partition taken by a member outside the balance band is worth, against 1 per moved partition. */
const BALANCE_PRICE = 2.5;

/** How many of the best paths found are handed back for the planner to finish and compare. */
const PATHS_RETURNED = 3;

/** The first price change of a member, against a cost of 1 per moved partition. */
const PRICE_STEP_FIRST = 0.25;

/** The largest jitter added to a step's cost; small against the cost 1 of a move. */
const JITTER = 0.25;

interface StateSpace {
  readonly memberCount: number;
  readonly width: number;
  readonly count: number;
  /** The state of a tuple of recent owners, keyed by the tuple read as a number in base memberCount. */
  readonly stateByCode: Map<number, number>;
  /** members[state * width + i]: the state's recent owners, oldest first. */
  readonly members: Int32Array;
  /** The moves out of state s are entries offset[s]..offset[s+1]-1 of `nextMember` and `nextState`. */
  readonly offset: Int32Array;
  readonly nextMember: Int32Array;
  readonly nextState: Int32Array;
}

/**
 * Spaced owners arrays (member indices) that move few partitions from `original` (-1 marks a partition whose owner is
 * leaving) and are close to balanced, best first; none when the search would be too expensive or the ring too short.
 */
export function reshapeBySearch(original: Int32Array, memberCount: number, targetN: number): Int32Array[] {
  const q = original.length;
  const width = targetN - 1;
  if (width < 1 || memberCount < targetN || q < 2 * targetN) return [];
  const transitions = permutations(memberCount, width) * (memberCount - width) * q;
  if (transitions > TRANSITIONS_PER_PASS_MAX) return [];
  const space = buildStateSpace(memberCount, width);
  const low = Math.floor(q / memberCount);
  const high = Math.ceil(q / memberCount);
  const price = new Float64Array(memberCount);
  const step = new Float64Array(memberCount).fill(PRICE_STEP_FIRST);
  const lastDirection = new Int8Array(memberCount);
  const open = cheapestPath(space, original, price, undefined);
  if (open === undefined) return [];
  const start = stateWith(space, open.subarray(0, width));
  const found: { path: Int32Array; score: number }[] = [];
  let bestScore = Number.POSITIVE_INFINITY;
  let stalled = 0;
  for (let round = 0; round < PRICE_ROUNDS_MAX && stalled < PRICE_ROUNDS_STALLED_MAX; round++) {
    const path = cheapestPath(space, original, price, start);
    if (path === undefined) break;
    const counts = new Int32Array(memberCount);
    let moves = 0;
    path.forEach((member, p) => {
      counts[member] = (counts[member] as number) + 1;
      if (member !== original[p]) moves++;
    });
    const excess = Array.from(counts, (count) => (count > high ? count - high : count < low ? count - low : 0));
    const imbalance = excess.reduce((sum, e) => sum + Math.abs(e), 0);
    // Finishing the balance costs at least one move per misplaced partition, usually about two with spacing.
    const score = moves + imbalance;
    found.push({ path, score });
    if (score < bestScore) {
      bestScore = score;
      stalled = 0;
    } else {
      stalled++;
    }
    if (imbalance === 0) break;
    // Each member's price moves by its own step, which grows while the member stays on one side of its band and
    // halves when it crosses over: counts jump between patterns, so plain gradient steps keep overshooting.
    excess.forEach((e, m) => {
      const direction = Math.sign(e);
      if (direction === 0) return;
      step[m] = (step[m] as number) * (direction === lastDirection[m] ? 1.5 : lastDirection[m] === 0 ? 1 : 0.5);
      lastDirection[m] = direction;
      price[m] = (price[m] as number) + direction * (step[m] as number);
    });
  }
  found.sort((a, b) => a.score - b.score);
  return found.slice(0, PATHS_RETURNED).map((entry) => entry.path);
}

/**
 * Finishes the balance of a spaced path by rewriting short windows of it. Each round prices the members outside the
 * band (too many: dearer, too few: cheaper), finds for every window of `targetN` · 3 partitions the cheapest spaced
 * rewrite that joins the partitions around it, and applies the rewrites that reduce the imbalance for the fewest added
 * moves, several per round when they are far enough apart. Returns the balanced path, or undefined if a round finds
 * no window that helps.
 */
export function rebalanceBySearch(original: Int32Array, path: Int32Array, memberCount: number, targetN: number): Int32Array | undefined {
  const q = original.length;
  const width = targetN - 1;
  const length = 3 * targetN;
  if (width < 1 || memberCount < targetN || q < length + 2 * width) return undefined;
  const perWindow = permutations(memberCount, width) * (memberCount - width) * length;
  const stride = Math.max(1, Math.ceil((perWindow * q) / TRANSITIONS_PER_ROUND_MAX));
  const space = buildStateSpace(memberCount, width);
  const scratch = windowScratch(space, length);
  const current = Int32Array.from(path);
  const counts = new Int32Array(memberCount);
  for (const member of current) counts[member] = (counts[member] as number) + 1;
  for (let round = 0; round < REBALANCE_ROUNDS_MAX; round++) {
    if (imbalanceOf(counts, q) === 0) return current;
    const price = balancePrices(counts, q);
    const rewrites: { start: number; rewrite: Int32Array; value: number }[] = [];
    for (let start = 0; start < q; start += stride) {
      const rewrite = cheapestWindow(space, scratch, original, current, price, start, length);
      if (rewrite === undefined) continue;
      const { imbalance, moves } = effectOf(original, current, counts, rewrite, start);
      const gain = imbalanceOf(counts, q) - imbalance;
      if (gain > 0) rewrites.push({ start, rewrite, value: moves - gain });
    }
    if (rewrites.length === 0) return undefined;
    // Apply the best rewrites that do not touch each other's windows or the owners those windows join, re-checking
    // each against the counts the earlier ones left.
    rewrites.sort((a, b) => a.value - b.value || a.start - b.start);
    const touched = new Uint8Array(q);
    for (const { start, rewrite } of rewrites) {
      let free = true;
      for (let i = -width; i < length + width && free; i++) free = touched[(((start + i) % q) + q) % q] === 0;
      if (!free) continue;
      if (effectOf(original, current, counts, rewrite, start).imbalance >= imbalanceOf(counts, q)) continue;
      for (let i = -width; i < length + width; i++) touched[(((start + i) % q) + q) % q] = 1;
      rewrite.forEach((member, i) => {
        const p = (start + i) % q;
        counts[current[p] as number] = (counts[current[p] as number] as number) - 1;
        counts[member] = (counts[member] as number) + 1;
        current[p] = member;
      });
    }
  }
  return imbalanceOf(counts, q) === 0 ? current : undefined;
}

/** How far counts are from balance: the partitions above ⌈Q/S⌉ plus those missing below ⌊Q/S⌋. */
function imbalanceOf(counts: Int32Array, partitions: number): number {
  const low = Math.floor(partitions / counts.length);
  const high = Math.ceil(partitions / counts.length);
  let imbalance = 0;
  for (const count of counts) imbalance += count > high ? count - high : count < low ? low - count : 0;
  return imbalance;
}

/**
 * Prices that make a rewrite move partitions from members above the band to members below it. When only one side is
 * out of the band, the members at the far edge of the band take the other role.
 */
function balancePrices(counts: Int32Array, partitions: number): Float64Array {
  const low = Math.floor(partitions / counts.length);
  const high = Math.ceil(partitions / counts.length);
  const above = counts.some((count) => count > high);
  const below = counts.some((count) => count < low);
  return Float64Array.from(counts, (count) => {
    if (count > high || (!above && count === high)) return BALANCE_PRICE;
    if (count < low || (!below && count === low)) return -BALANCE_PRICE;
    return 0;
  });
}

/** The imbalance and the moves (against `original`) after putting `rewrite` at `start`. */
function effectOf(original: Int32Array, current: Int32Array, counts: Int32Array, rewrite: Int32Array, start: number): { imbalance: number; moves: number } {
  const q = original.length;
  const after = Int32Array.from(counts);
  let moves = 0;
  rewrite.forEach((member, i) => {
    const p = (start + i) % q;
    const old = current[p] as number;
    after[old] = (after[old] as number) - 1;
    after[member] = (after[member] as number) + 1;
    moves += (member !== original[p] ? 1 : 0) - (old !== original[p] ? 1 : 0);
  });
  return { imbalance: imbalanceOf(after, q), moves };
}

/** Buffers one rebalancing run reuses for every window it weighs. */
interface WindowScratch {
  dist: Float64Array;
  next: Float64Array;
  came: Int32Array;
  entry: Int32Array;
  exit: Int32Array;
}

function windowScratch(space: StateSpace, length: number): WindowScratch {
  return {
    dist: new Float64Array(space.count),
    next: new Float64Array(space.count),
    came: new Int32Array(length * space.count),
    entry: new Int32Array(space.width),
    exit: new Int32Array(space.width),
  };
}

/**
 * The cheapest spaced rewrite of the `length` partitions from `start` (wrapping), entering from the owners just
 * before it and joining the owners just after it; undefined when it would not change anything.
 */
function cheapestWindow(
  space: StateSpace,
  scratch: WindowScratch,
  original: Int32Array,
  current: Int32Array,
  price: Float64Array,
  start: number,
  length: number,
): Int32Array | undefined {
  const q = original.length;
  const { width, count, members, offset, nextMember, nextState } = space;
  const { came, entry, exit } = scratch;
  for (let i = 0; i < width; i++) {
    entry[i] = current[(start - width + i + q) % q] as number;
    exit[i] = current[(start + length + i) % q] as number;
  }
  let { dist, next } = scratch;
  dist.fill(Number.POSITIVE_INFINITY);
  dist[stateWith(space, entry)] = 0;
  for (let i = 0; i < length; i++) {
    next.fill(Number.POSITIVE_INFINITY);
    const p = (start + i) % q;
    const kept = original[p] as number;
    for (let state = 0; state < count; state++) {
      const base = dist[state] as number;
      if (base === Number.POSITIVE_INFINITY) continue;
      for (let k = offset[state] as number, end = offset[state + 1] as number; k < end; k++) {
        const m = nextMember[k] as number;
        const to = nextState[k] as number;
        const total = base + (kept === m ? 0 : 1) + (price[m] as number);
        if (total < (next[to] as number)) {
          next[to] = total;
          came[i * count + to] = state;
        }
      }
    }
    [dist, next] = [next, dist];
  }
  let last = -1;
  for (let state = 0; state < count; state++) {
    if (dist[state] === Number.POSITIVE_INFINITY || !joinsOwners(members.subarray(state * width, state * width + width), exit)) continue;
    if (last === -1 || (dist[state] as number) < (dist[last] as number)) last = state;
  }
  if (last === -1) return undefined;
  const rewrite = new Int32Array(length);
  let state = last;
  let changed = false;
  for (let i = length - 1; i >= 0; i--) {
    rewrite[i] = members[state * width + width - 1] as number;
    if (rewrite[i] !== current[(start + i) % q]) changed = true;
    state = came[i * count + state] as number;
  }
  return changed ? rewrite : undefined;
}

/** The state whose recent owners are `owners`; throws when they repeat a member, which no state does. */
function stateWith(space: StateSpace, owners: Int32Array): number {
  let code = 0;
  for (let i = 0; i < space.width; i++) code = code * space.memberCount + (owners[i] as number);
  const state = space.stateByCode.get(code);
  if (state === undefined) throw new Error("invariant violated: owners that break spacing cannot form a state");
  return state;
}

/** Whether `before` followed by `after` keeps every window of before.length + 1 owners distinct. */
function joinsOwners(before: Int32Array, after: Int32Array): boolean {
  const width = before.length;
  // Within `before` and within `after` owners are already distinct; only pairs across the seam can clash, and only
  // when they are less than width + 1 apart.
  for (let i = 0; i < width; i++) {
    for (let j = 0; j < width; j++) {
      if (width - i + j <= width && before[i] === after[j]) return false;
    }
  }
  return true;
}

function permutations(n: number, k: number): number {
  let count = 1;
  for (let i = 0; i < k; i++) count *= n - i;
  return count;
}

function buildStateSpace(memberCount: number, width: number): StateSpace {
  const tuples: number[][] = [];
  const extend = (prefix: number[]): void => {
    if (prefix.length === width) {
      tuples.push(prefix);
      return;
    }
    for (let m = 0; m < memberCount; m++) if (!prefix.includes(m)) extend([...prefix, m]);
  };
  extend([]);
  const indexOf = new Map(tuples.map((tuple, index) => [tuple.join(","), index] as const));
  const offset = new Int32Array(tuples.length + 1);
  const nextMember: number[] = [];
  const nextState: number[] = [];
  tuples.forEach((tuple, state) => {
    for (let m = 0; m < memberCount; m++) {
      if (tuple.includes(m)) continue;
      nextMember.push(m);
      nextState.push(indexOf.get([...tuple.slice(1), m].join(",")) as number);
    }
    offset[state + 1] = nextMember.length;
  });
  const stateByCode = new Map(tuples.map((tuple, index) => [tuple.reduce((code, m) => code * memberCount + m, 0), index] as const));
  return {
    memberCount,
    width,
    count: tuples.length,
    stateByCode,
    members: Int32Array.from(tuples.flat()),
    offset,
    nextMember: Int32Array.from(nextMember),
    nextState: Int32Array.from(nextState),
  };
}

/**
 * The cheapest path over all partitions under `price`, whose first `width` owners form `start` (any state when
 * undefined). With a start, only end states that join it across the wrap qualify.
 */
function cheapestPath(space: StateSpace, original: Int32Array, price: Float64Array, start: number | undefined): Int32Array | undefined {
  const q = original.length;
  const { width, count, members, offset, nextMember, nextState } = space;
  const memberCount = price.length;
  const costs = new Float64Array(memberCount);
  const costsAt = (p: number): Float64Array => {
    for (let m = 0; m < memberCount; m++) costs[m] = (original[p] === m ? 0 : 1) + (price[m] as number) + jitter(p, m);
    return costs;
  };
  let dist = new Float64Array(count).fill(Number.POSITIVE_INFINITY);
  const head = Array.from({ length: width }, (_, p) => Float64Array.from(costsAt(p)));
  for (let state = 0; state < count; state++) {
    if (start !== undefined && state !== start) continue;
    let total = 0;
    for (let i = 0; i < width; i++) total += (head[i] as Float64Array)[members[state * width + i] as number] as number;
    dist[state] = total;
  }
  // came[(p - width) * count + s] is the state before the step that reached state s at partition p.
  const came = new Int32Array((q - width) * count);
  let next = new Float64Array(count);
  for (let p = width; p < q; p++) {
    next.fill(Number.POSITIVE_INFINITY);
    const row = (p - width) * count;
    const cost = costsAt(p);
    for (let state = 0; state < count; state++) {
      const base = dist[state] as number;
      if (base === Number.POSITIVE_INFINITY) continue;
      for (let i = offset[state] as number, end = offset[state + 1] as number; i < end; i++) {
        const to = nextState[i] as number;
        const total = base + (cost[nextMember[i] as number] as number);
        if (total < (next[to] as number)) {
          next[to] = total;
          came[row + to] = state;
        }
      }
    }
    [dist, next] = [next, dist];
  }
  let last = -1;
  for (let state = 0; state < count; state++) {
    if (dist[state] === Number.POSITIVE_INFINITY) continue;
    const ending = members.subarray(state * width, state * width + width);
    if (start !== undefined && !joinsOwners(ending, members.subarray(start * width, start * width + width))) continue;
    if (last === -1 || (dist[state] as number) < (dist[last] as number)) last = state;
  }
  if (last === -1) return undefined;
  const path = new Int32Array(q);
  let state = last;
  for (let p = q - 1; p >= width; p--) {
    path[p] = members[state * width + width - 1] as number;
    state = came[(p - width) * count + state] as number;
  }
  for (let i = 0; i < width; i++) path[i] = members[state * width + i] as number;
  return path;
}

/**
 * A small fixed pseudo-random cost in [0, JITTER) for member m at partition p (an integer hash, so the same on every
 * machine). Where the prices make two local patterns equally good, it picks one at some places and the other
 * elsewhere, so the path can mix them.
 */
function jitter(p: number, m: number): number {
  let h = Math.imul(p + 1, 0x9e3779b1) ^ Math.imul(m + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 13;
  return ((h >>> 0) / 4294967296) * JITTER;
}
