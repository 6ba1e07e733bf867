/**
 * The claim planner for members in two or more zones. Its rules, in priority order:
 *
 * 1. Balance: every member owns ⌊Q/S⌋ or ⌈Q/S⌉ partitions; members not in the set own nothing.
 * 2. The zone rule for w zones (zones.ts): w = min(targetN, Z), or the largest smaller w that a balanced ring allows.
 * 3. Few moves, weighed against data balance: each replica a member holds beyond its zone's even share counts like
 *    one more moved partition. (Partition counts are balanced by rule 1, but with runs in the ring two members with
 *    equal counts can hold different numbers of replicas; see zone-assign.ts.)
 * 4. Spacing (any targetN consecutive partitions have distinct owners) as a tie-breaker only: the zone rule itself
 *    needs repeated owners whenever the zones' partition counts differ, and three zones never split a power-of-two
 *    ring evenly.
 *
 * Every plan is block-spaced (zones.ts), which is what makes rule 2 hold. Candidates, the valid one with the lowest
 * score winning:
 *
 * - The current ring itself when it is balanced and meets the rule: nothing to do.
 * - The incremental plan: the blocks of leaving members go whole to members of another zone than their neighbours',
 *   then members above quota hand whole blocks to members of their zone below it. When no zone's share changes
 *   (a replacement, or a member joining each zone), this is the minimum.
 * - The searched plan: the cheapest block-spaced ring (zone-search.ts: at first with the leaving members' partitions
 *   handed out, then balanced by rewriting short windows).
 * - The frame layout (zone-layout.ts) re-mapped onto the current owners, valid and evenly spread by construction.
 *
 * Each is finished by `spreadReplicas`.
 */
import { assert } from "../errors/index.js";
import { balanceWithinZones, countsOf, replicaExcess, spreadReplicas } from "./zone-assign.js";
import { frameLayout, remapFrameLayout } from "./zone-layout.js";
import { NOBODY, RingSearch, balanceMembers, cutPosition, passWork, searchSpace } from "./zone-search.js";
import { blockPlan, zoneViolationsOf, type BlockPlan, type ZoneModel } from "./zones.js";

/** The most transitions one whole-ring search pass may weigh; beyond it the search is skipped. */
const TRANSITIONS_PER_PASS_MAX = 40_000_000;

export interface ZonePlanInput {
  /** Member index per partition, NOBODY (-1) for partitions of leaving members. */
  readonly original: Int32Array;
  readonly model: ZoneModel;
  readonly targetN: number;
  /** The number of distinct zones every preference list must reach; 2 ≤ w ≤ min(targetN, Z). */
  readonly w: number;
}

/** The zone-aware plan: member indices per partition, balanced and block-spaced with window `w`. */
export function planZoneClaim(input: ZonePlanInput): Int32Array {
  const { original, model, w, targetN } = input;
  const q = original.length;
  const memberCount = model.zoneOfMember.length;
  const plan = blockPlan(q, model.membersOfZone.map((members) => members.length), w);
  assert(plan !== undefined, `no balanced ring spreads preference lists over ${w} zones`);
  if (original.every((member) => member === NOBODY)) return frameLayout(q, model, plan);
  if (isBalanced(original, memberCount) && zoneViolationsOf(original, model.zoneOfMember, w).length === 0) return Int32Array.from(original);

  const candidates: Int32Array[] = [];
  const incremental = incrementalPlan(input);
  if (incremental !== undefined) candidates.push(incremental);
  const searched = searchedPlan(input, plan);
  if (searched !== undefined) candidates.push(searched);
  candidates.push(remapFrameLayout(frameLayout(q, model, plan), original, model));

  let best: { plan: Int32Array; score: number; spacing: number } | undefined;
  for (const candidate of candidates) {
    const finished = spreadReplicas(candidate, original, model, targetN, w);
    if (!isBalanced(finished, memberCount) || zoneViolationsOf(finished, model.zoneOfMember, w).length > 0) continue;
    const score = movesFrom(original, finished) + replicaExcess(finished, model, targetN);
    const spacing = spacingViolationCount(finished, targetN);
    if (best === undefined || score < best.score || (score === best.score && spacing < best.spacing)) best = { plan: finished, score, spacing };
  }
  assert(best !== undefined, "the frame layout broke the zone rule");
  return best.plan;
}

// ---------------------------------------------------------------------------------------------------------------
// Measures.

function isBalanced(owners: Int32Array, memberCount: number): boolean {
  const lo = Math.floor(owners.length / memberCount);
  const counts = countsOf(owners, memberCount);
  return owners.every((member) => member !== NOBODY) && counts.every((count) => count === lo || count === lo + 1);
}

function movesFrom(original: Int32Array, plan: Int32Array): number {
  let moves = 0;
  for (let p = 0; p < original.length; p++) if (original[p] !== plan[p]) moves++;
  return moves;
}

function spacingViolationCount(owners: Int32Array, targetN: number): number {
  const q = owners.length;
  const reach = Math.min(targetN - 1, q - 1);
  let violations = 0;
  for (let p = 0; p < q; p++) for (let d = 1; d <= reach; d++) if (owners[p] === owners[(p + d) % q]) violations++;
  return violations;
}

// ---------------------------------------------------------------------------------------------------------------
// Candidates.

/**
 * Each run of a leaving member goes whole to one member of a zone other than its neighbours' (the one furthest below
 * quota, ties to the smaller index), then members are balanced within zones. Undefined when that cannot balance.
 */
function incrementalPlan(input: ZonePlanInput): Int32Array | undefined {
  const { original, model } = input;
  const q = original.length;
  const memberCount = model.zoneOfMember.length;
  const owners = Int32Array.from(original);
  const counts = countsOf(owners, memberCount);
  for (const [start, length] of runsOf(owners, NOBODY)) {
    const before = owners[(start - 1 + q) % q] as number;
    const after = owners[(start + length) % q] as number;
    let best = NOBODY;
    for (let m = 0; m < memberCount; m++) {
      const zone = model.zoneOfMember[m] as number;
      if ((before !== NOBODY && model.zoneOfMember[before] === zone) || (after !== NOBODY && model.zoneOfMember[after] === zone)) continue;
      if (best === NOBODY || (counts[m] as number) < (counts[best] as number)) best = m;
    }
    if (best === NOBODY) return undefined;
    for (let i = 0; i < length; i++) owners[(start + i) % q] = best;
    counts[best] = (counts[best] as number) + length;
  }
  if (zoneViolationsOf(owners, model.zoneOfMember, input.w).length > 0) return undefined;
  return balanceWithinZones(owners, original, model, input.targetN, input.w);
}

/** [start, length] of each maximal run of `member` in `owners`, found from a partition where no run wraps. */
function runsOf(owners: Int32Array, member: number): [number, number][] {
  const q = owners.length;
  let origin = 0;
  while (origin < q && owners[origin] === member) origin++;
  if (origin === q) return [[0, q]];
  const runs: [number, number][] = [];
  for (let i = 0; i < q; i++) {
    const p = (origin + i) % q;
    if (owners[p] !== member) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && (last[0] + last[1]) % q === p) last[1]++;
    else runs.push([p, 1]);
  }
  return runs;
}

/**
 * The searched plan: the cheapest block-spaced ring at no balance price (which hands out the leaving members'
 * partitions and repairs whatever breaks the rule), balanced by window rewrites, then within zones.
 */
function searchedPlan(input: ZonePlanInput, plan: BlockPlan): Int32Array | undefined {
  const { original, model } = input;
  const q = original.length;
  const space = searchSpace(q, model, input.w, input.targetN, plan);
  if (q < 4 * input.w || passWork(space) > TRANSITIONS_PER_PASS_MAX) return undefined;
  const repaired = new RingSearch(space, original, cutPosition(original)).closedPass(new Float64Array(model.zoneOfMember.length));
  if (repaired === undefined) return undefined;
  const balanced = balanceMembers(space, original, repaired);
  return balanced && balanceWithinZones(balanced, original, model, input.targetN, input.w);
}
