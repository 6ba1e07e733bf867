/**
 * The claim planner for members in two or more zones. Its rules, in priority order:
 *
 * 1. Balance: every member owns ⌊Q/S⌋ or ⌈Q/S⌉ partitions; members not in the set own nothing.
 * 2. The zone rule for w zones (zones.ts): w = min(targetN, Z), or the largest smaller w that a balanced ring allows.
 * 3. Few moves, weighed against data balance: each replica a member holds beyond its zone's even share counts like
 *    one more moved partition. (Partition counts are balanced by rule 1, but with runs in the ring two members with
 *    equal counts can hold different numbers of replicas; see zone-assign.ts.) A plan whose members of one zone hold
 *    replicas within the spread aimed for (`replicaSpreadAimed`) beats any plan beyond it, whatever their scores, on
 *    rings of at least 8 partitions per member.
 * 4. Spacing (any targetN consecutive partitions have distinct owners) as a tie-breaker only: the zone rule itself
 *    needs repeated owners whenever the zones' partition counts differ, and three zones never split a power-of-two
 *    ring evenly.
 *
 * Every plan is block-spaced (zones.ts), which is what makes rule 2 hold. Candidates, the valid one with the lowest
 * score winning:
 *
 * - The current ring itself when it is balanced and meets the rule: nothing to do.
 * - The incremental plan: the blocks of leaving members go whole to members of another zone than their neighbours'
 *   (a run left by neighbouring members of several zones, as one block per zone the rule allows there), then members
 *   above quota hand whole blocks to members of their zone below it. When no zone's share changes
 *   (a replacement, or a member joining each zone), this is the minimum.
 * - The shifted plan: as the incremental one, but first the zones' shares are corrected one partition at a time by
 *   shifting block boundaries between zones (and, where a zone must lose blocks, by removing w consecutive blocks):
 *   what a member joining or leaving one zone needs.
 * - The searched plan: the cheapest block-spaced ring (zone-search.ts: at first with the leaving members' partitions
 *   handed out, then balanced by rewriting short windows).
 * - The frame layout (zone-layout.ts) re-mapped onto the current owners, valid and evenly spread by construction.
 *
 * Each is finished by `spreadReplicas`.
 */
import { assert } from "../errors/index.js";
import { balanceWithinZones, blocksOf, countsOf, replicaCounts, replicaExcess, spreadReplicas, type Block } from "./zone-assign.js";
import { frameLayout, remapFrameLayout } from "./zone-layout.js";
import { NOBODY, RingSearch, balanceMembers, cutPosition, passWork, searchSpace } from "./zone-search.js";
import { blockPlan, zoneRuleHoldsAround, zoneViolationsOf, type BlockPlan, type ZoneModel } from "./zones.js";

/** Up to this many partitions the searched plan is always weighed; above, only when no other plan was found. */
const SEARCH_ALWAYS_UP_TO = 1024;

/** From this many partitions per member on, a plan within the aimed replica spread beats any plan beyond it. */
const AIM_HELD_FROM_PARTITIONS_PER_MEMBER = 8;

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
  // Shifted boundaries can leave runs that concentrate replicas beyond what evening them out repairs; that plan is
  // taken only within the replica spread the planner aims for (docs/ring.md, "Zones").
  const aim = replicaSpreadAimed(q, memberCount, targetN);
  // With fewer zones than targetN the replicas a block carries are estimates (zone-assign.ts), too rough to pay
  // moves for: there only the replicas above a zone's even share count.
  const weighedAim = model.names.length >= targetN ? aim : Number.POSITIVE_INFINITY;
  const shifted = shiftedPlan(input, plan);
  if (shifted !== undefined && replicaSpreadWithinZones(spreadReplicas(shifted, original, model, targetN, w, weighedAim), model, targetN) <= aim) {
    candidates.push(shifted);
  }
  // On large rings the search costs seconds to minutes; it is kept for when nothing cheaper than the frame layout
  // exists (measured in docs/ring.md, "Zones").
  const searched = q <= SEARCH_ALWAYS_UP_TO || candidates.length === 0 ? searchedPlan(input, plan) : undefined;
  if (searched !== undefined) candidates.push(searched);
  candidates.push(remapFrameLayout(frameLayout(q, model, plan), original, model));

  // A plan within the replica spread aimed for wins over one beyond it, whatever their scores: weighing replicas
  // beyond the aim like moves still let a cheap plan leave one member of a zone holding far more data than another.
  // Not on rings of a few partitions per member, where one block is a large share of a member's replicas and evening
  // them out can cost most of the ring (seed 3003 of the property test: 22 moves against a minimum of 3 at Q = 32).
  const holdAim = q / memberCount >= AIM_HELD_FROM_PARTITIONS_PER_MEMBER;
  let best: { plan: Int32Array; within: boolean; score: number; spacing: number } | undefined;
  for (const candidate of candidates) {
    const finished = spreadReplicas(candidate, original, model, targetN, w, weighedAim);
    if (!isBalanced(finished, memberCount) || zoneViolationsOf(finished, model.zoneOfMember, w).length > 0) continue;
    const within = !holdAim || replicaSpreadWithinZones(finished, model, targetN) <= weighedAim;
    const score = movesFrom(original, finished) + replicaExcess(finished, model, targetN, weighedAim);
    const spacing = spacingViolationCount(finished, targetN);
    const better =
      best === undefined ||
      (within && !best.within) ||
      (within === best.within && (score < best.score || (score === best.score && spacing < best.spacing)));
    if (better) best = { plan: finished, within, score, spacing };
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

/** The largest difference between the replicas two members of one zone hold. */
function replicaSpreadWithinZones(owners: Int32Array, model: ZoneModel, targetN: number): number {
  const held = replicaCounts(owners, model.zoneOfMember.length, targetN);
  let spread = 0;
  for (const members of model.membersOfZone) {
    const values = members.map((m) => held[m] as number);
    spread = Math.max(spread, Math.max(...values) - Math.min(...values));
  }
  return spread;
}

/** The replica spread within a zone the planner aims for: a few replicas, or 15% of a member's share on large rings. */
export function replicaSpreadAimed(partitions: number, memberCount: number, targetN: number): number {
  return Math.max(2 * targetN + 2, Math.ceil((0.15 * partitions * targetN) / memberCount));
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
  const owners = handOutLeaving(input);
  return owners && balanceWithinZones(owners, input.original, input.model, input.targetN, input.w);
}

/**
 * The leaving members' runs handed out whole, each to the member furthest below quota among the zones that none of
 * the w - 1 blocks on either side of it has (those share a window with it), or failing that among the zones other
 * than its neighbours'; undefined when a run has no such member or the result breaks the zone rule.
 */
function handOutLeaving(input: ZonePlanInput): Int32Array | undefined {
  const { original, model, w } = input;
  const q = original.length;
  const memberCount = model.zoneOfMember.length;
  const zoneOf = model.zoneOfMember;
  const owners = Int32Array.from(original);
  const counts = countsOf(owners, memberCount);
  const near = new Uint8Array(model.names.length);
  const neighbours = new Uint8Array(model.names.length);
  for (const [start, length] of runsOf(owners, NOBODY)) {
    near.fill(0);
    neighbours.fill(0);
    // The zones of the w - 1 blocks on either side (nearest first), up to a partition whose owner is leaving too.
    const sides: number[][] = [];
    for (const [from, step] of [
      [start - 1, -1],
      [start + length, 1],
    ] as const) {
      const first = owners[((from % q) + q) % q] as number;
      if (first !== NOBODY) neighbours[zoneOf[first] as number] = 1;
      const zones: number[] = [];
      let last = NOBODY;
      for (let i = 0; i < q && zones.length < w - 1; i++) {
        const member = owners[(((from + i * step) % q) + q) % q] as number;
        if (member === NOBODY) break;
        if (member !== last) {
          zones.push(zoneOf[member] as number);
          near[zoneOf[member] as number] = 1;
        }
        last = member;
      }
      sides.push(zones);
    }
    const pick = (excluded: Uint8Array): number => {
      let best = NOBODY;
      for (let m = 0; m < memberCount; m++) {
        if (excluded[zoneOf[m] as number] === 1) continue;
        if (best === NOBODY || (counts[m] as number) < (counts[best] as number)) best = m;
      }
      return best;
    };
    let best = pick(near);
    if (best === NOBODY) {
      // No one zone fits between both sides: a run left by members of several zones side by side (their blocks
      // were neighbours) is handed out as several blocks again, one per zone the window rule allows there.
      const pieces = splitRun(sides[0] as number[], sides[1] as number[], length, model.names.length, w);
      if (pieces !== undefined) {
        let at = start;
        let previous = owners[(start - 1 + q) % q] as number;
        for (const [index, { zone, size }] of pieces.entries()) {
          const following = index === pieces.length - 1 ? (owners[(start + length) % q] as number) : NOBODY;
          let member = NOBODY;
          for (const m of model.membersOfZone[zone] as number[]) {
            if (m === previous || m === following) continue;
            if (member === NOBODY || (counts[m] as number) < (counts[member] as number)) member = m;
          }
          if (member === NOBODY) break;
          for (let i = 0; i < size; i++) owners[(at + i) % q] = member;
          counts[member] = (counts[member] as number) + size;
          at += size;
          previous = member;
        }
        if (at === start + length) continue;
        for (let i = 0; i < length; i++) {
          const p = (start + i) % q;
          if (owners[p] !== NOBODY) counts[owners[p] as number] = (counts[owners[p] as number] as number) - 1;
          owners[p] = NOBODY;
        }
      }
      best = pick(neighbours);
    }
    if (best === NOBODY) return undefined;
    for (let i = 0; i < length; i++) owners[(start + i) % q] = best;
    counts[best] = (counts[best] as number) + length;
  }
  if (zoneViolationsOf(owners, zoneOf, w).length > 0) return undefined;
  return owners;
}

/**
 * The fewest blocks (2 up to w, and no more than `length` partitions allow) whose zones, between the zones of the
 * w - 1 blocks on the left (`left`, nearest first) and on the right (`right`, nearest first), put w distinct zones
 * in every w consecutive blocks; the run's partitions split between them as evenly as they go. Undefined when none do.
 */
export function splitRun(left: readonly number[], right: readonly number[], length: number, zoneCount: number, w: number): { zone: number; size: number }[] | undefined {
  const before = [...left].reverse();
  for (let k = 2; k <= Math.min(w, length); k++) {
    const zones = new Array<number>(k).fill(0);
    for (let combination = 0; combination < zoneCount ** k; combination++) {
      let rest = combination;
      for (let i = 0; i < k; i++) {
        zones[i] = rest % zoneCount;
        rest = Math.floor(rest / zoneCount);
      }
      const sequence = [...before, ...zones, ...right];
      let ok = true;
      for (let i = 0; ok && i + 1 < sequence.length; i++) {
        for (let j = i + 1; j < Math.min(sequence.length, i + w); j++) if (sequence[i] === sequence[j]) ok = false;
      }
      if (ok) return zones.map((zone, i) => ({ zone, size: Math.floor((length * (i + 1)) / k) - Math.floor((length * i) / k) }));
    }
  }
  return undefined;
}

/**
 * The shifted plan, for a change of the zones' shares (a member joining or leaving one zone only): the leaving
 * members' runs handed out as in the incremental plan, then partitions moved between zones one at a time by shifting
 * the boundary between two neighbouring blocks of different zones, which keeps the sequence of blocks (and so the
 * zone rule) as it is; then members are balanced within zones. Each shift moves one partition, which is how a zone
 * gains or loses its share at about the minimum. From a zone over its share, the member owning most gives; to a zone
 * under it, the neighbouring member owning least takes. Undefined when the shares cannot be reached this way.
 */
function shiftedPlan(input: ZonePlanInput, plan: BlockPlan): Int32Array | undefined {
  const { original, model } = input;
  const q = original.length;
  const owners = handOutLeaving(input);
  if (owners === undefined) return undefined;
  const memberCount = model.zoneOfMember.length;
  const zoneOf = model.zoneOfMember;
  const counts = countsOf(owners, memberCount);
  const zoneCounts = model.membersOfZone.map((members) => members.reduce((sum, m) => sum + (counts[m] as number), 0));
  const excess = zoneCounts.map((count, z) => count - (plan.zonePartitions[z] as number));
  if (excess.every((e) => e === 0)) return undefined;
  const hi = Math.ceil(q / memberCount);
  for (let guard = 0; guard < q && excess.some((e) => e !== 0); guard++) {
    // One pass over every boundary: the best single shift from a zone over its share into one under it.
    let best: { from: number; to: number; key: number; at: number } | undefined;
    for (let p = 0; p < q; p++) {
      const next = (p + 1) % q;
      const left = owners[p] as number;
      const right = owners[next] as number;
      if (left === right) continue;
      const zl = zoneOf[left] as number;
      const zr = zoneOf[right] as number;
      if (zl === zr) continue;
      // Shift p (the left block's last partition) to the right block, or next (the right block's first) to the left.
      for (const [giver, taker, at] of [
        [left, right, p],
        [right, left, next],
      ] as const) {
        if ((excess[zoneOf[giver] as number] as number) <= 0 || (excess[zoneOf[taker] as number] as number) >= 0) continue;
        const before = owners[(at - (at === p ? 1 : -1) + q) % q];
        if (before !== giver) continue; // the giver's block must keep at least one partition
        // Undoing an earlier move is free; otherwise prefer the most loaded giver and the least loaded taker.
        const key = (original[at] === taker ? -2 * q : original[at] === giver ? 2 * q : 0) - (counts[giver] as number) + (counts[taker] as number);
        if (best === undefined || key < best.key) best = { from: giver, to: taker, key, at };
      }
    }
    if (best === undefined) {
      // A zone over its share whose blocks are all single partitions where they meet the zones under theirs can only
      // shrink by losing blocks: w consecutive blocks go, and their partitions join the blocks on either side.
      if (!removeFrame(owners, original, zoneOf, input.w, excess, counts, hi)) return undefined;
      continue;
    }
    owners[best.at] = best.to;
    counts[best.from] = (counts[best.from] as number) - 1;
    counts[best.to] = (counts[best.to] as number) + 1;
    excess[zoneOf[best.from] as number] = (excess[zoneOf[best.from] as number] as number) - 1;
    excess[zoneOf[best.to] as number] = (excess[zoneOf[best.to] as number] as number) + 1;
  }
  if (excess.some((e) => e !== 0) || zoneViolationsOf(owners, zoneOf, input.w).length > 0) return undefined;
  return balanceWithinZones(owners, original, model, input.targetN, input.w);
}

/** How many windows of blocks `removeFrame` tries, best first, before it gives up. */
const FRAME_TRIES_MAX = 64;

/**
 * Removes a run of w consecutive blocks that contains a block of a zone over its share and whose removal keeps the
 * zone rule: its partitions go to the blocks on either side, split where the zones' excesses (updated in place, as
 * are the members' `counts`) end up smallest. Among the windows that shrink the excesses most, the one adding the
 * fewest moves wins (a partition of a leaving member moves anyway, so a window around one is cheaper), counting a
 * partition pushed above ⌈Q/S⌉ (`hi`) as a move, since a later hand-over within the zone must move it; then the one
 * leaving the shortest blocks around it, which spreads removals around the ring instead of piling them up in one
 * place, where they would concentrate replicas. Returns false when no window can go.
 */
function removeFrame(owners: Int32Array, original: Int32Array, zoneOf: Int32Array, w: number, excess: number[], counts: Int32Array, hi: number): boolean {
  const q = owners.length;
  const blocks = blocksOf(owners);
  const count = blocks.length;
  if (count < 2 * w + 2) return false;
  const excessNow = excess.reduce((sum, e) => sum + Math.abs(e), 0);
  const options: { first: number; length: number; split: number; key: [number, number, number] }[] = [];
  for (let b = 0; b < count; b++) {
    const left = blocks[(b - 1 + count) % count] as Block;
    const right = blocks[(b + w) % count] as Block;
    if (left.member === right.member) continue;
    let length = 0;
    let over = false;
    const next = [...excess];
    let leftInside = 0;
    let rightInside = 0;
    for (let k = 0; k < w; k++) {
      const block = blocks[(b + k) % count] as Block;
      length += block.length;
      const zone = zoneOf[block.member] as number;
      if ((excess[zone] as number) > 0) over = true;
      next[zone] = (next[zone] as number) - block.length;
      if (block.member === left.member) leftInside += block.length;
      if (block.member === right.member) rightInside += block.length;
    }
    if (!over) continue;
    const start = (blocks[b] as Block).start;
    const zl = zoneOf[left.member] as number;
    const zr = zoneOf[right.member] as number;
    // Moves added if the first k partitions go left and the rest right: prefix sums over the window.
    const addedLeft = new Int32Array(length + 1);
    const addedRight = new Int32Array(length + 1);
    for (let i = 0; i < length; i++) {
      const p = (start + i) % q;
      const paid = owners[p] !== original[p] ? 1 : 0;
      addedLeft[i + 1] = (addedLeft[i] as number) + (original[p] !== left.member ? 1 : 0) - paid;
    }
    for (let i = length - 1; i >= 0; i--) {
      const p = (start + i) % q;
      const paid = owners[p] !== original[p] ? 1 : 0;
      addedRight[i] = (addedRight[i + 1] as number) + (original[p] !== right.member ? 1 : 0) - paid;
    }
    let best: { split: number; key: [number, number, number] } | undefined;
    for (let split = 0; split <= length; split++) {
      next[zl] = (next[zl] as number) + split;
      next[zr] = (next[zr] as number) + length - split;
      const remaining = next.reduce((sum, e) => sum + Math.abs(e), 0);
      next[zl] = (next[zl] as number) - split;
      next[zr] = (next[zr] as number) - (length - split);
      if (remaining >= excessNow) continue;
      const overQuota =
        Math.max(0, (counts[left.member] as number) - leftInside + split - hi) + Math.max(0, (counts[right.member] as number) - rightInside + length - split - hi);
      const key: [number, number, number] = [remaining, (addedLeft[split] as number) + (addedRight[split] as number) + overQuota, Math.max(left.length + split, right.length + length - split)];
      if (best === undefined || lexLess(key, best.key)) best = { split, key };
    }
    if (best !== undefined) options.push({ first: b, length, split: best.split, key: best.key });
  }
  options.sort((a, b) => (lexLess(a.key, b.key) ? -1 : lexLess(b.key, a.key) ? 1 : a.first - b.first));
  for (const { first, length, split } of options.slice(0, FRAME_TRIES_MAX)) {
    const left = blocks[(first - 1 + count) % count] as Block;
    const right = blocks[(first + w) % count] as Block;
    const start = (blocks[first] as Block).start;
    const saved = Int32Array.from({ length }, (_, i) => owners[(start + i) % q] as number);
    for (let i = 0; i < length; i++) owners[(start + i) % q] = i < split ? left.member : right.member;
    if (zoneRuleHoldsAround(owners, zoneOf, w, start, length)) {
      saved.forEach((member, i) => {
        const now = owners[(start + i) % q] as number;
        counts[member] = (counts[member] as number) - 1;
        counts[now] = (counts[now] as number) + 1;
        excess[zoneOf[member] as number] = (excess[zoneOf[member] as number] as number) - 1;
        excess[zoneOf[now] as number] = (excess[zoneOf[now] as number] as number) + 1;
      });
      return true;
    }
    saved.forEach((member, i) => (owners[(start + i) % q] = member));
  }
  return false;
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) < (b[i] as number);
  return false;
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
