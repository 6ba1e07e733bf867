/**
 * The spacing rule: any `targetN` consecutive partitions (wrapping around the end of the ring) have distinct owners,
 * so every preference list of length up to `targetN` is found within `targetN` steps and a member's partitions are
 * spread around the ring. With balanced ownership the rule can be met exactly when ⌈Q/S⌉ · targetN ≤ Q: a member that
 * owns c partitions needs c gaps of at least `targetN`, and conversely the striped layout (see `layout.ts`) meets the
 * rule whenever that inequality holds. For example S = targetN only works when S divides Q, which a power-of-two Q
 * never allows for S = 3.
 */
import { assert } from "../errors/index.js";

/** Whether a balanced ring of `partitions` partitions over `memberCount` members can meet the spacing rule. */
export function spacingFeasible(partitions: number, memberCount: number, targetN: number): boolean {
  assert(Number.isInteger(partitions) && partitions >= 1, `partitions must be a positive integer, got ${partitions}`);
  assert(Number.isInteger(memberCount) && memberCount >= 1, `memberCount must be a positive integer, got ${memberCount}`);
  assert(Number.isInteger(targetN) && targetN >= 1, `targetN must be a positive integer, got ${targetN}`);
  return Math.ceil(partitions / memberCount) * targetN <= partitions;
}

/**
 * The partitions whose owner owns another partition less than `targetN` steps clockwise: one entry per violating
 * pair, keyed by its first partition. An empty result means the spacing rule holds.
 */
export function spacingViolations(owners: readonly string[], targetN: number): number[] {
  const q = owners.length;
  const reach = Math.min(targetN - 1, q - 1);
  const violations: number[] = [];
  for (let p = 0; p < q; p++) {
    for (let d = 1; d <= reach; d++) {
      if (owners[p] === owners[(p + d) % q]) violations.push(p);
    }
  }
  return violations;
}
