/**
 * The striped layout: a balanced arrangement of S members over Q partitions that meets the spacing rule whenever any
 * balanced arrangement can (⌈Q/S⌉ · targetN ≤ Q). The claim planner uses it for brand-new rings and as its fallback,
 * re-labelled and rotated to agree with the current owners as much as possible.
 *
 * Layouts here are arrays of labels 0..S-1; labels below Q mod S own ⌈Q/S⌉ partitions, the rest ⌊Q/S⌋.
 *
 * Construction. When S divides Q the layout is 0, 1, …, S-1 repeated. Otherwise it is L = ⌈Q/S⌉ laps through the
 * labels in order, where each of the K = S - (Q mod S) "short" labels sits out exactly one lap, short label i sitting
 * out lap i mod L. Between two consecutive appearances of a label the ring passes every other label once, minus the
 * labels sitting out in between; round-robin sitting out keeps that loss at most ⌈K/L⌉ ≤ S - targetN, except at the
 * lap boundary that wraps from lap L-1 to lap 0 when L divides K, where it can be one more. That case only matters
 * when the bound is tight (Q = L · targetN), and then the "diagonal" layout below is used instead.
 */
import { assert } from "../errors/index.js";

/** The striped layout for `partitions` partitions over `memberCount` members (labels 0..memberCount-1). */
export function stripedLayout(partitions: number, memberCount: number, targetN: number): Int32Array {
  assert(partitions >= 1 && memberCount >= 1, "a layout needs at least one partition and one member");
  const larger = partitions % memberCount;
  const laps = Math.ceil(partitions / memberCount);
  const short = memberCount - larger;
  if (larger !== 0 && laps >= 3 && short % laps === 0 && laps * targetN === partitions) {
    return diagonalLayout(partitions, memberCount, laps, targetN);
  }
  return lapLayout(partitions, memberCount);
}

function lapLayout(partitions: number, memberCount: number): Int32Array {
  const larger = partitions % memberCount;
  const laps = Math.ceil(partitions / memberCount);
  const labels = new Int32Array(partitions);
  let p = 0;
  for (let lap = 0; lap < laps; lap++) {
    for (let label = 0; label < memberCount; label++) {
      const sitsOut = larger !== 0 && label >= larger && (label - larger) % laps === lap;
      if (!sitsOut) labels[p++] = label;
    }
  }
  assert(p === partitions, `lap layout filled ${p} of ${partitions} partitions`);
  return labels;
}

/**
 * The tight case Q = L · targetN with L dividing K: L frames of exactly `targetN` partitions. The larger labels sit
 * at the same offset in every frame. The short labels form K/L groups of L; in frame k, group g's label j (j ≠ k)
 * sits at offset (k - j) mod L within the group's L-1 slots, so it moves one slot later each frame, which keeps it
 * `targetN` apart from itself, and it jumps back to the first slot after the frame it sits out.
 */
function diagonalLayout(partitions: number, memberCount: number, laps: number, targetN: number): Int32Array {
  const larger = partitions % memberCount;
  const groups = (memberCount - larger) / laps;
  assert(larger + groups * (laps - 1) === targetN, "diagonal layout used outside the tight case");
  const labels = new Int32Array(partitions);
  for (let frame = 0; frame < laps; frame++) {
    const start = frame * targetN;
    for (let label = 0; label < larger; label++) labels[start + label] = label;
    for (let group = 0; group < groups; group++) {
      for (let j = 0; j < laps; j++) {
        if (j === frame) continue;
        const slot = (frame - j + laps) % laps;
        labels[start + larger + group * (laps - 1) + slot - 1] = larger + group * laps + j;
      }
    }
  }
  return labels;
}

/**
 * Rotates `labels` and maps its labels onto members so that as many partitions as possible keep their current owner.
 * `current[p]` is the index of the member owning p now, or -1 for an owner that is going away. For each rotation the
 * label-to-member mapping is chosen by agreement count, exactly (all permutations) for up to EXACT_MATCH_MEMBERS_MAX
 * members and greedily beyond; the best rotation wins, the first on ties. Work is bounded by REMAP_WORK_MAX: beyond
 * Q = 2048 only a regular sample of the rotations is weighed.
 * Returns member indices per partition. Cost: O(Q · (Q log Q)) in the worst case, a few milliseconds at Q = 1024.
 */
export function remapLayout(labels: Int32Array, current: Int32Array, memberCount: number): Int32Array {
  const q = labels.length;
  assert(current.length === q, "layout and owners differ in length");
  const agreement = new Int32Array(memberCount * memberCount);
  let best: { score: number; rotation: number; memberOf: Int32Array } | undefined;
  // A layout that repeats every S partitions has only S distinct rotations.
  const rotations = q % memberCount === 0 && labels.every((label, p) => label === p % memberCount) ? memberCount : q;
  // Each rotation costs O(Q); on very large rings only every stride-th rotation is weighed, which bounds the work.
  const stride = Math.max(1, Math.ceil((rotations * q) / REMAP_WORK_MAX));
  for (let rotation = 0; rotation < rotations; rotation += stride) {
    const touched: number[] = [];
    for (let p = 0; p < q; p++) {
      const member = current[p] as number;
      if (member < 0) continue;
      const cell = (labels[(p + rotation) % q] as number) * memberCount + member;
      if (agreement[cell] === 0) touched.push(cell);
      agreement[cell] = (agreement[cell] as number) + 1;
    }
    const { score, memberOf } = memberCount <= EXACT_MATCH_MEMBERS_MAX ? matchLabelsExactly(agreement, memberCount) : matchLabels(agreement, touched, memberCount);
    for (const cell of touched) agreement[cell] = 0;
    if (best === undefined || score > best.score) best = { score, rotation, memberOf };
  }
  assert(best !== undefined, "no rotation was tried");
  const owners = new Int32Array(q);
  for (let p = 0; p < q; p++) owners[p] = best.memberOf[labels[(p + best.rotation) % q] as number] as number;
  return owners;
}

/** The most partition visits one re-mapping may make over all the rotations it weighs. */
const REMAP_WORK_MAX = 4_000_000;

/** Up to this many members, labels are matched to members by trying every permutation (6! = 720). */
const EXACT_MATCH_MEMBERS_MAX = 6;

/** The label-to-member permutation with the most agreement, trying all of them in a fixed order (first wins ties). */
function matchLabelsExactly(agreement: Int32Array, memberCount: number): { score: number; memberOf: Int32Array } {
  const memberOf = Int32Array.from({ length: memberCount }, (_, i) => i);
  const best = { score: -1, memberOf: Int32Array.from(memberOf) };
  const used = new Uint8Array(memberCount);
  const place = (label: number, score: number): void => {
    if (label === memberCount) {
      if (score > best.score) {
        best.score = score;
        best.memberOf.set(memberOf);
      }
      return;
    }
    for (let member = 0; member < memberCount; member++) {
      if (used[member] === 1) continue;
      used[member] = 1;
      memberOf[label] = member;
      place(label + 1, score + (agreement[label * memberCount + member] as number));
      used[member] = 0;
    }
  };
  place(0, 0);
  return best;
}

/**
 * Greedy maximum-agreement matching of labels to members: the largest agreement cells first, ties by cell index.
 * Labels left over take the left-over members in index order.
 */
function matchLabels(agreement: Int32Array, touched: number[], memberCount: number): { score: number; memberOf: Int32Array } {
  const { score, memberOf, taken } = greedyMatch(agreement, touched, memberCount);
  let nextMember = 0;
  for (let label = 0; label < memberCount; label++) {
    if (memberOf[label] !== -1) continue;
    while (taken[nextMember] === 1) nextMember++;
    memberOf[label] = nextMember;
    taken[nextMember] = 1;
  }
  return { score, memberOf };
}

/**
 * The greedy part of matching labels to members (cell = label * memberCount + member): the largest agreement cells
 * first, ties by cell index; labels and members it leaves unmatched are -1 in `memberOf` and 0 in `taken`.
 */
export function greedyMatch(agreement: Int32Array, touched: number[], memberCount: number): { score: number; memberOf: Int32Array; taken: Uint8Array } {
  // Sorting plain numbers is much faster than sorting with a comparator: the key orders by agreement descending,
  // then by cell ascending, and stays an exact integer below 2^53.
  const cells = memberCount * memberCount;
  const keys = new Float64Array(touched.length);
  touched.forEach((cell, i) => {
    keys[i] = -(agreement[cell] as number) * cells + cell;
  });
  keys.sort();
  const memberOf = new Int32Array(memberCount).fill(-1);
  const taken = new Uint8Array(memberCount);
  let score = 0;
  for (const key of keys) {
    const cell = ((key % cells) + cells) % cells;
    const label = Math.floor(cell / memberCount);
    const member = cell % memberCount;
    if (memberOf[label] !== -1 || taken[member] === 1) continue;
    memberOf[label] = member;
    taken[member] = 1;
    score += agreement[cell] as number;
  }
  return { score, memberOf, taken };
}
