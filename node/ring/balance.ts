/**
 * How many partitions each member should own. A balanced ring gives every one of its S members ⌊Q/S⌋ or ⌈Q/S⌉
 * partitions; which members get the larger share is chosen to keep as many partitions where they are as possible.
 * This module also measures plans: how many partitions a plan moves and the fewest any balanced plan could move.
 */
import { assert } from "../errors/index.js";

/** Orders member ids by code unit, the same on every machine, unlike `localeCompare`. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The member set in its canonical order (sorted, without duplicates), so plans do not depend on the caller's order. */
export function canonicalMembers(members: readonly string[]): string[] {
  for (const id of members) assert(typeof id === "string" && id.length > 0, "member ids must be non-empty strings");
  return [...new Set(members)].sort(compareIds);
}

/** How many partitions each id in `owners` owns. Members that own nothing do not appear. */
export function partitionsPerMember(owners: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const owner of owners) counts[owner] = (counts[owner] ?? 0) + 1;
  return counts;
}

/**
 * The target partition count of each member of `sortedMembers` (canonical order) on a ring of `owners.length`
 * partitions. The Q mod S larger shares go to the members that own the most partitions now, ties to the smaller id:
 * that choice maximises the partitions that can stay put, hence minimises the moves.
 */
export function quotasFor(owners: readonly string[], sortedMembers: readonly string[]): number[] {
  const counts = partitionsPerMember(owners);
  return quotasFromCounts(
    sortedMembers.map((id) => counts[id] ?? 0),
    owners.length,
  );
}

/**
 * Quotas for members whose current partition counts are `counts` (in canonical member order) on a ring of
 * `partitions` partitions; see `quotasFor`.
 */
export function quotasFromCounts(counts: readonly number[], partitions: number): number[] {
  const s = counts.length;
  assert(s > 0, "a ring needs at least one member");
  const base = Math.floor(partitions / s);
  const larger = partitions % s;
  const byCount = counts.map((count, index) => ({ index, count }));
  byCount.sort((a, b) => b.count - a.count || a.index - b.index);
  const quotas = new Array<number>(s).fill(base);
  for (let rank = 0; rank < larger; rank++) quotas[(byCount[rank] as { index: number }).index] = base + 1;
  return quotas;
}

/**
 * The fewest partitions that must change owner for `owners` to become balanced over `members`: every partition of a
 * member that is not in `members`, plus each member's surplus over its quota (with the larger quotas chosen as in
 * `quotasFor`). The claim planner can need more than this when spacing rules forbid the cheapest placement.
 */
export function minimumMoves(owners: readonly string[], members: readonly string[]): number {
  const sorted = canonicalMembers(members);
  const quotas = quotasFor(owners, sorted);
  const counts = partitionsPerMember(owners);
  let kept = 0;
  sorted.forEach((id, index) => {
    kept += Math.min(counts[id] ?? 0, quotas[index] as number);
  });
  return owners.length - kept;
}

/** The partitions whose owner differs between two owner arrays of the same length, ascending. */
export function movedPartitions(before: readonly string[], after: readonly string[]): number[] {
  assert(before.length === after.length, `owner arrays differ in length: ${before.length} and ${after.length}`);
  const moved: number[] = [];
  for (let p = 0; p < before.length; p++) if (before[p] !== after[p]) moved.push(p);
  return moved;
}
