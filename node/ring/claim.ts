/**
 * The claim planner: given the current owners and the desired member set, it returns the next owners array. It is a
 * pure, deterministic function of its inputs (member order does not matter), so the operator, the dev supervisor and
 * every node compute the same plan. Its rules, in priority order:
 *
 * 1. Balance: every member owns ⌊Q/S⌋ or ⌈Q/S⌉ partitions; members not in the set own nothing.
 * 2. Spacing: any `targetN` consecutive partitions have distinct owners, whenever a balanced ring can have that
 *    (`spacingFeasible`); when it cannot, the planner still prefers spaced placements but does not pay moves for them.
 * 3. Few moves: close to `minimumMoves`, the fewest any balanced plan could move.
 *
 * The incremental plan works on member indices. It matches the partitions of departing members to members below
 * quota that they do not crowd (a maximum matching by augmenting paths); then members still below quota take
 * partitions from members above quota, preferring partitions whose donor is crowded there and that keep the
 * receiver evenly spread. When no single move is allowed, it tries a two-step chain (A takes the partition, A gives
 * one of its own to B). Spacing violations that remain are repaired by swapping two owners, cheapest swap first, or
 * failing that by rotating three.
 *
 * That is usually the minimum. When it is not (or it breaks spacing), two more candidates are computed and the valid
 * plan with the fewest moves wins: the cheapest spaced rings found by dynamic programming (`reshape.ts`, affordable
 * when P(S, targetN - 1) is small, which is exactly when S is close to targetN and greedy moves do worst), and the
 * striped layout re-mapped onto the current owners (`layout.ts`), which always meets spacing when it is feasible.
 */
import { assert } from "../errors/index.js";
import { canonicalMembers, minimumMoves, quotasFromCounts } from "./balance.js";
import { remapLayout, stripedLayout } from "./layout.js";
import { rebalanceBySearch, reshapeBySearch } from "./reshape.js";
import { spacingFeasible, spacingViolations } from "./spacing.js";
import { planZoneClaim } from "./zone-claim.js";
import { zoneModel, zoneSpreadFeasible, zoneViolationsOf, type ZoneMap, type ZoneModel } from "./zones.js";

/** How far (in partitions, each way) searches for a partner partition look; see `around`. */
const SEARCH_RADIUS = 512;

/** How many three-way rotations spacing repair weighs for one violation before settling for the best so far. */
const ROTATION_CANDIDATES_MAX = 400_000;

/** The owner index of a partition whose owner is leaving, or of a partition not yet assigned. */
const NOBODY = -1;

/** Mutable working state of one plan; `owner` starts as `original` and ends as the plan. */
interface ClaimState {
  readonly partitions: number;
  /** Two partitions of one member closer than this (going either way) break the spacing rule. */
  readonly reach: number;
  readonly original: Int32Array;
  readonly owner: Int32Array;
  readonly count: Int32Array;
  readonly quota: Int32Array;
  /** Whether spacing can hold; if not, placements still avoid crowding but never pay extra moves for it. */
  readonly spacing: boolean;
}

/**
 * Plans the next owners array for `members` from `owners` (length Q; ids not in `members`, and empty strings, mark
 * partitions whose owner is leaving or was never set). See the module comment for the rules. With `zones` naming
 * two or more zones among the members, the zone-aware planner (zone-claim.ts) decides instead.
 */
export function planClaim(owners: readonly string[], members: readonly string[], targetN: number, zones?: ZoneMap): string[] {
  assert(owners.length >= 1, "owners must have one entry per partition");
  assert(Number.isInteger(targetN) && targetN >= 1, `targetN must be a positive integer, got ${targetN}`);
  const ids = canonicalMembers(members);
  assert(ids.length >= 1, "a ring needs at least one member");
  const indexOf = new Map(ids.map((id, index) => [id, index] as const));
  const original = Int32Array.from(owners, (id) => indexOf.get(id) ?? NOBODY);
  const zoned = zonedPlan(original, ids, targetN, zones);
  if (zoned !== undefined) return zoned;
  const feasible = spacingFeasible(owners.length, ids.length, targetN);
  const chosen = choosePlan(original, ids.length, targetN, feasible, minimumMoves(owners, ids));
  const next = Array.from(chosen, (index) => ids[index] as string);
  assertPlan(next, ids, targetN, feasible);
  return next;
}

/**
 * The incremental plan when it is valid and within `closeEnough` of the minimum; otherwise the best valid plan among
 * it, the reshaped plans (when the search is affordable) and the re-mapped striped layout.
 */
function choosePlan(original: Int32Array, memberCount: number, targetN: number, feasible: boolean, minimum: number): Int32Array {
  // Nothing stays where it is, so the plain striped layout is as cheap as anything and the most regular.
  if (original.every((member) => member === NOBODY)) return stripedLayout(original.length, memberCount, targetN);
  const incremental = completePlan(original, original, memberCount, targetN, feasible);
  let best = { plan: incremental, score: score(original, incremental, targetN) };
  if (best.score.violations === 0 && best.score.moves <= minimum + closeEnough(minimum, original.length)) return incremental;
  const candidates: Int32Array[] = [];
  // The search declines by itself when its state space is too large, which happens with many members, exactly where
  // greedy moves are already close to the minimum.
  if (feasible) {
    for (const reshaped of reshapeBySearch(original, memberCount, targetN)) {
      const balanced = rebalanceBySearch(original, reshaped, memberCount, targetN);
      candidates.push(balanced ?? completePlan(original, reshaped, memberCount, targetN, feasible));
    }
  }
  candidates.push(remapLayout(stripedLayout(original.length, memberCount, targetN), original, memberCount));
  for (const plan of candidates) {
    const planScore = score(original, plan, targetN);
    if (better(planScore, best.score, feasible)) best = { plan, score: planScore };
  }
  return best.plan;
}

/**
 * The owners array of a brand-new ring: the striped layout over the members in canonical order, or with members in
 * two or more zones, the frame layout (zone-layout.ts).
 */
export function initialClaim(partitions: number, members: readonly string[], targetN: number, zones?: ZoneMap): string[] {
  assert(Number.isInteger(partitions) && partitions >= 1, `partitions must be a positive integer, got ${partitions}`);
  assert(Number.isInteger(targetN) && targetN >= 1, `targetN must be a positive integer, got ${targetN}`);
  const ids = canonicalMembers(members);
  assert(ids.length >= 1, "a ring needs at least one member");
  const zoned = zonedPlan(new Int32Array(partitions).fill(NOBODY), ids, targetN, zones);
  if (zoned !== undefined) return zoned;
  return Array.from(stripedLayout(partitions, ids.length, targetN), (label) => ids[label] as string);
}

/**
 * The zone-aware plan when the members span two or more zones and a balanced ring can spread preference lists over
 * at least two of them; undefined otherwise, and the plain planner decides (spacing, balance, moves).
 */
function zonedPlan(original: Int32Array, ids: readonly string[], targetN: number, zones: ZoneMap | undefined): string[] | undefined {
  const model: ZoneModel = zoneModel(ids, zones);
  if (model.names.length < 2) return undefined;
  const w = zoneSpreadFeasible(original.length, model.membersOfZone.map((m) => m.length), targetN);
  if (w < 2) return undefined;
  const plan = planZoneClaim({ original, model, targetN, w });
  const low = Math.floor(plan.length / ids.length);
  const counts = new Int32Array(ids.length);
  for (const member of plan) counts[member] = (counts[member] as number) + 1;
  counts.forEach((count, member) => assert(count === low || count === low + 1, `claim left ${ids[member]} with ${count} partitions, outside ${low}..${low + 1}`));
  assert(zoneViolationsOf(plan, model.zoneOfMember, w).length === 0, `claim broke the zone rule for ${w} zones where it can hold`);
  return Array.from(plan, (index) => ids[index] as string);
}

/**
 * How many moves over the minimum a valid incremental plan may use and still be taken without weighing the other
 * candidates. Up to 1024 partitions they are cheap, so they are always weighed; on larger rings they cost seconds and
 * rebuild large parts of the ring, so they are only weighed when the incremental plan is more than 1/16 off.
 */
function closeEnough(minimum: number, partitions: number): number {
  return partitions <= 1024 ? 0 : Math.floor(minimum / 16);
}

/**
 * Balances `start` (member indices, -1 for unassigned partitions) and, where spacing is feasible, repairs its spacing.
 * Moves are counted against `original`.
 */
function completePlan(original: Int32Array, start: Int32Array, memberCount: number, targetN: number, feasible: boolean): Int32Array {
  const count = new Int32Array(memberCount);
  for (const member of start) if (member !== NOBODY) count[member] = (count[member] as number) + 1;
  const state: ClaimState = {
    partitions: original.length,
    reach: Math.min(targetN - 1, original.length - 1),
    original,
    owner: Int32Array.from(start),
    count,
    quota: Int32Array.from(quotasFromCounts(Array.from(count), original.length)),
    spacing: feasible,
  };
  fillFreedPartitions(state);
  takeFromSurplus(state);
  if (state.spacing) repairSpacing(state);
  return state.owner;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers on the working state.

function deficit(state: ClaimState, member: number): number {
  return (state.quota[member] as number) - (state.count[member] as number);
}

function assign(state: ClaimState, partition: number, member: number): void {
  const previous = state.owner[partition] as number;
  if (previous !== NOBODY) state.count[previous] = (state.count[previous] as number) - 1;
  state.owner[partition] = member;
  state.count[member] = (state.count[member] as number) + 1;
}

/** How many partitions of `member` lie within spacing reach of `partition`, not counting `ignore`. */
function conflictsAt(state: ClaimState, member: number, partition: number, ignore = NOBODY): number {
  const q = state.partitions;
  let conflicts = 0;
  for (let d = 1; d <= state.reach; d++) {
    const after = (partition + d) % q;
    const before = (partition - d + q) % q;
    if (after !== ignore && state.owner[after] === member) conflicts++;
    if (before !== ignore && before !== after && state.owner[before] === member) conflicts++;
  }
  return conflicts;
}

/** The change in moved partitions if `partition` goes to `member` (-1 when it returns to its original owner). */
function moveCost(state: ClaimState, partition: number, member: number): number {
  const original = state.original[partition] as number;
  const wasMoved = state.owner[partition] !== original ? 1 : 0;
  const willMove = member !== original ? 1 : 0;
  return willMove - wasMoved;
}

/** For every partition, the distance to the nearest partition of `member` (Q when it owns none). */
function distancesTo(state: ClaimState, member: number): Int32Array {
  const q = state.partitions;
  const distance = new Int32Array(q).fill(q);
  // Two passes around the ring in each direction carry the distance across the wrap.
  let last = -q;
  for (let i = 0; i < 2 * q; i++) {
    const p = i % q;
    if (state.owner[p] === member) last = i;
    distance[p] = Math.min(distance[p] as number, i - last);
  }
  last = 3 * q;
  for (let i = 2 * q - 1; i >= 0; i--) {
    const p = i % q;
    if (state.owner[p] === member) last = i;
    distance[p] = Math.min(distance[p] as number, last - i);
  }
  return distance;
}

/**
 * The partitions within SEARCH_RADIUS of `center` (all others when the ring is small enough), nearest first. Searches
 * for a partner partition look only here: on rings up to 1024 partitions that is the whole ring, and on larger ones
 * it keeps each search bounded, while a nearby partner is as good as a distant one.
 */
function around(state: ClaimState, center: number): number[] {
  const q = state.partitions;
  const reach = Math.min(SEARCH_RADIUS, Math.floor((q - 1) / 2));
  const positions: number[] = [];
  for (let d = 1; d <= reach; d++) positions.push((center + d) % q, (center - d + q) % q);
  if (q % 2 === 0 && reach === (q - 2) / 2) positions.push((center + q / 2) % q);
  return positions;
}

/** Members still below quota, in index order. */
function receivers(state: ClaimState): number[] {
  const found: number[] = [];
  for (let m = 0; m < state.quota.length; m++) if (deficit(state, m) > 0) found.push(m);
  return found;
}

/**
 * Compares candidate tuples lexicographically; every field is "smaller is better", so callers negate the fields
 * they want large.
 */
function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) < (b[i] as number);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Step 1: partitions of departing members go to members below quota.

function fillFreedPartitions(state: ClaimState): void {
  const freed: number[] = [];
  for (let p = 0; p < state.partitions; p++) if (state.owner[p] === NOBODY) freed.push(p);
  if (freed.length === 0) return;
  const matched = matchFreed(state, freed);
  for (const p of freed) {
    const receiver = matched.get(p);
    if (receiver !== undefined) assign(state, p, receiver);
  }
  for (const p of freed) {
    if (matched.has(p)) continue;
    const receiver = bestReceiverFor(state, p);
    if (receiver !== NOBODY) assign(state, p, receiver);
    else if (!state.spacing || !chainIntoFreed(state, p)) assign(state, p, leastCrowdedReceiver(state, p));
  }
}

/**
 * A matching of freed partitions to members below quota that they do not crowd, as large as possible (augmenting
 * paths, as in Kuhn's algorithm, with each member taking up to its deficit). Taking the best receiver partition by
 * partition can strand the last partitions with nobody left who fits; augmenting paths re-route earlier choices
 * instead. Candidates are tried best first (most room, then farthest from their own partitions), and partitions with
 * the fewest candidates go first. Two freed partitions given to one member may still crowd each other; they are far
 * apart in practice, and spacing repair handles the rest.
 */
function matchFreed(state: ClaimState, freed: readonly number[]): Map<number, number> {
  const open = receivers(state);
  const candidates = new Map<number, number[]>();
  for (const p of freed) {
    const fitting = open.filter((m) => conflictsAt(state, m, p) === 0);
    const distance = new Map(fitting.map((m) => [m, nearestOwn(state, m, p)] as const));
    fitting.sort((a, b) => deficit(state, b) - deficit(state, a) || (distance.get(b) as number) - (distance.get(a) as number) || a - b);
    candidates.set(p, fitting);
  }
  const order = [...freed].sort((a, b) => (candidates.get(a) as number[]).length - (candidates.get(b) as number[]).length || a - b);
  const holderOf = new Map<number, number>();
  const heldBy = new Map<number, Set<number>>(open.map((m) => [m, new Set<number>()] as const));
  const take = (p: number, m: number): void => {
    const previous = holderOf.get(p);
    if (previous !== undefined) heldBy.get(previous)?.delete(p);
    holderOf.set(p, m);
    heldBy.get(m)?.add(p);
  };
  const augment = (p: number, visited: Set<number>): boolean => {
    for (const m of candidates.get(p) as number[]) {
      if (visited.has(m)) continue;
      visited.add(m);
      const held = heldBy.get(m) as Set<number>;
      if (held.size < deficit(state, m)) {
        take(p, m);
        return true;
      }
      for (const other of [...held]) {
        if (augment(other, visited)) {
          take(p, m);
          return true;
        }
      }
    }
    return false;
  };
  for (const p of order) augment(p, new Set<number>());
  return holderOf;
}

/** The member below quota that `partition` would not crowd: largest deficit, then farthest from its own. */
function bestReceiverFor(state: ClaimState, partition: number): number {
  let best = NOBODY;
  let bestKey: number[] = [];
  for (const m of receivers(state)) {
    if (conflictsAt(state, m, partition) !== 0) continue;
    const key = [-deficit(state, m), -nearestOwn(state, m, partition)];
    if (best === NOBODY || lexLess(key, bestKey)) {
      best = m;
      bestKey = key;
    }
  }
  return best;
}

/** The distance from `partition` to the nearest partition of `member`, looking no further than its ideal spacing. */
function nearestOwn(state: ClaimState, member: number, partition: number): number {
  const q = state.partitions;
  const horizon = Math.max(state.reach + 1, Math.floor(q / Math.max(1, state.quota[member] as number)));
  for (let d = 1; d < horizon && d <= q / 2; d++) {
    if (state.owner[(partition + d) % q] === member || state.owner[(partition - d + q) % q] === member) return d;
  }
  return horizon;
}

/** Nobody below quota fits at `partition`: let some A take it and hand one of A's partitions to a B below quota. */
function chainIntoFreed(state: ClaimState, partition: number): boolean {
  const open = receivers(state);
  let best: { key: number[]; giver: number; handed: number; taker: number } | undefined;
  for (const s of around(state, partition)) {
    const giver = state.owner[s] as number;
    if (giver === NOBODY || deficit(state, giver) > 0) continue;
    if (conflictsAt(state, giver, partition, s) !== 0) continue;
    for (const taker of open) {
      if (taker === giver || conflictsAt(state, taker, s) !== 0) continue;
      const key = [moveCost(state, s, taker), -deficit(state, taker), s, taker];
      if (best === undefined || lexLess(key, best.key)) best = { key, giver, handed: s, taker };
    }
  }
  if (best === undefined) return false;
  assign(state, partition, best.giver);
  assign(state, best.handed, best.taker);
  return true;
}

/** The member below quota that `partition` crowds least; spacing repair deals with the rest. */
function leastCrowdedReceiver(state: ClaimState, partition: number): number {
  let best = NOBODY;
  let bestKey: number[] = [];
  for (const m of receivers(state)) {
    const key = [conflictsAt(state, m, partition), -deficit(state, m)];
    if (best === NOBODY || lexLess(key, bestKey)) {
      best = m;
      bestKey = key;
    }
  }
  assert(best !== NOBODY, "a freed partition found no member below quota");
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Step 2: members below quota take partitions from members above quota.

function takeFromSurplus(state: ClaimState): void {
  while (true) {
    const open = receivers(state);
    if (open.length === 0) return;
    // The member furthest below quota takes one partition at a time, so receivers interleave.
    const taker = open.reduce((a, b) => (deficit(state, b) > deficit(state, a) ? b : a));
    const partition = bestSurplusPartition(state, taker) ?? NOBODY;
    if (partition !== NOBODY) assign(state, partition, taker);
    else if (!state.spacing || !chainFromSurplus(state, taker)) assign(state, leastCrowdedSurplusPartition(state, taker), taker);
  }
}

function hasSurplus(state: ClaimState, member: number): boolean {
  return member !== NOBODY && deficit(state, member) < 0;
}

/**
 * The partition `taker` should take from a member above quota without crowding itself: cheapest first, then one
 * where its donor is crowded, then the one farthest from the taker's own partitions, then from the donor with the
 * largest surplus.
 */
function bestSurplusPartition(state: ClaimState, taker: number): number | undefined {
  const distance = distancesTo(state, taker);
  let best: number | undefined;
  let bestKey: number[] = [];
  for (let p = 0; p < state.partitions; p++) {
    const donor = state.owner[p] as number;
    if (!hasSurplus(state, donor) || conflictsAt(state, taker, p) !== 0) continue;
    const crowded = conflictsAt(state, donor, p) > 0 ? 1 : 0;
    const key = [moveCost(state, p, taker), -crowded, -(distance[p] as number), deficit(state, donor)];
    if (best === undefined || lexLess(key, bestKey)) {
      best = p;
      bestKey = key;
    }
  }
  return best;
}

/** No surplus partition fits `taker`: it takes one from some A instead, and A takes a surplus partition. */
function chainFromSurplus(state: ClaimState, taker: number): boolean {
  let best: { key: number[]; middle: number; via: number; from: number } | undefined;
  for (let s = 0; s < state.partitions; s++) {
    // A chain that moves nothing but its two partitions is as cheap as chains normally get; stop at the first.
    if (best !== undefined && (best.key[0] as number) <= 2) break;
    const middle = state.owner[s] as number;
    if (middle === NOBODY || middle === taker || hasSurplus(state, middle)) continue;
    if (conflictsAt(state, taker, s) !== 0) continue;
    for (const from of around(state, s)) {
      if (!hasSurplus(state, state.owner[from] as number) || conflictsAt(state, middle, from, s) !== 0) continue;
      const key = [moveCost(state, s, taker) + moveCost(state, from, middle), s, from];
      if (best === undefined || lexLess(key, best.key)) best = { key, middle, via: s, from };
    }
  }
  if (best === undefined) return false;
  assign(state, best.via, taker);
  assign(state, best.from, best.middle);
  return true;
}

function leastCrowdedSurplusPartition(state: ClaimState, taker: number): number {
  let best = NOBODY;
  let bestKey: number[] = [];
  for (let p = 0; p < state.partitions; p++) {
    if (!hasSurplus(state, state.owner[p] as number)) continue;
    const key = [conflictsAt(state, taker, p), moveCost(state, p, taker)];
    if (best === NOBODY || lexLess(key, bestKey)) {
      best = p;
      bestKey = key;
    }
  }
  assert(best !== NOBODY, "a member below quota found no member above quota");
  return best;
}

// ---------------------------------------------------------------------------------------------------------------
// Step 3: swap owners to remove the spacing violations that are left.

/**
 * Repeatedly takes the first violating pair and swaps one of its partitions with another partition such that neither
 * swapped owner is crowded afterwards, choosing the swap that adds the fewest moves. Each swap removes at least one
 * violating pair and adds none, so the loop ends; it gives up when a violation has no such swap.
 */
function repairSpacing(state: ClaimState): boolean {
  // Repairs never create violations, so the scan can resume where the last one was found.
  let from = 0;
  while (true) {
    const pair = firstViolation(state, from);
    if (pair === undefined) return true;
    from = pair[0];
    const swap = cheapestSwap(state, pair);
    if (swap !== undefined) {
      const [a, b] = swap;
      const ownerA = state.owner[a] as number;
      state.owner[a] = state.owner[b] as number;
      state.owner[b] = ownerA;
      continue;
    }
    const rotation = cheapestRotation(state, pair);
    if (rotation === undefined) return false;
    rotate(state, rotation);
  }
}

/** Moves the owner of rotation[0] to rotation[1], that of rotation[1] to rotation[2], and that of rotation[2] to rotation[0]. */
function rotate(state: ClaimState, [a, b, c]: readonly [number, number, number]): void {
  const ownerC = state.owner[c] as number;
  state.owner[c] = state.owner[b] as number;
  state.owner[b] = state.owner[a] as number;
  state.owner[a] = ownerC;
}

/**
 * When no swap fixes a violating partition a, a three-way rotation may: a's owner moves to b, b's owner to c, and c's
 * owner to a. b and c are taken from around a, and the search, quadratic in their number, stops after
 * ROTATION_CANDIDATES_MAX candidates, keeping the cheapest valid rotation seen so far.
 */
function cheapestRotation(state: ClaimState, pair: readonly [number, number]): [number, number, number] | undefined {
  let best: { key: number[]; rotation: [number, number, number] } | undefined;
  let budget = ROTATION_CANDIDATES_MAX;
  for (const a of pair) {
    const member = state.owner[a] as number;
    const nearby = around(state, a);
    for (const b of nearby) {
      if (budget <= 0) break;
      const second = state.owner[b] as number;
      if (second === member || conflictsAt(state, member, b, a) !== 0) continue;
      for (const c of nearby) {
        if (budget <= 0) break;
        const third = state.owner[c] as number;
        if (c === a || c === b || third === second || third === member) continue;
        budget--;
        if (conflictsAt(state, second, c, b) !== 0) continue;
        const rotation: [number, number, number] = [a, b, c];
        const key = [moveCost(state, b, member) + moveCost(state, c, second) + moveCost(state, a, third), a, b, c];
        if (best !== undefined && !lexLess(key, best.key)) continue;
        // The three positions may be within reach of each other, so check the rotated ring itself.
        rotate(state, rotation);
        const fits = conflictsAt(state, member, b) === 0 && conflictsAt(state, second, c) === 0 && conflictsAt(state, third, a) === 0;
        rotate(state, [c, b, a]);
        if (fits) best = { key, rotation };
      }
    }
  }
  return best?.rotation;
}

function firstViolation(state: ClaimState, from: number): [number, number] | undefined {
  const q = state.partitions;
  for (let p = from; p < q; p++) {
    for (let d = 1; d <= state.reach; d++) {
      if (state.owner[p] === state.owner[(p + d) % q]) return [p, (p + d) % q];
    }
  }
  return undefined;
}

function cheapestSwap(state: ClaimState, pair: readonly [number, number]): [number, number] | undefined {
  let best: { key: number[]; swap: [number, number] } | undefined;
  for (const a of pair) {
    const member = state.owner[a] as number;
    for (const b of around(state, a)) {
      const other = state.owner[b] as number;
      if (other === member) continue;
      if (conflictsAt(state, member, b, a) !== 0 || conflictsAt(state, other, a, b) !== 0) continue;
      const key = [moveCost(state, a, other) + moveCost(state, b, member), a, b];
      if (best === undefined || lexLess(key, best.key)) best = { key, swap: [a, b] };
    }
  }
  return best?.swap;
}

// ---------------------------------------------------------------------------------------------------------------
// Choosing between the incremental and the striped plan.

interface PlanScore {
  moves: number;
  violations: number;
}

function score(original: Int32Array, plan: Int32Array, targetN: number): PlanScore {
  return {
    moves: movesFrom(original, plan),
    violations: spacingViolations(Array.from(plan, String), targetN).length,
  };
}

function movesFrom(original: Int32Array, plan: Int32Array): number {
  let moves = 0;
  for (let p = 0; p < original.length; p++) if (original[p] !== plan[p]) moves++;
  return moves;
}

/** Whether plan `a` is better than plan `b`: a valid plan beats an invalid one, then fewer moves, then fewer violations. */
function better(a: PlanScore, b: PlanScore, feasible: boolean): boolean {
  if (feasible && (a.violations === 0) !== (b.violations === 0)) return a.violations === 0;
  if (a.moves !== b.moves) return a.moves < b.moves;
  return a.violations < b.violations;
}

function assertPlan(next: readonly string[], ids: readonly string[], targetN: number, feasible: boolean): void {
  const low = Math.floor(next.length / ids.length);
  const counts = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const owner of next) counts.set(owner, (counts.get(owner) ?? 0) + 1);
  for (const [id, count] of counts) {
    assert(count === low || count === low + 1, `claim left ${id} with ${count} partitions, outside ${low}..${low + 1}`);
  }
  if (feasible) assert(spacingViolations(next, targetN).length === 0, "claim broke the spacing rule where it can hold");
}
