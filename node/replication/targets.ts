/**
 * Which nodes hold a key's replicas right now: a pure function of the ring and of which members are believed up.
 * Primaries are the partition's preference list. A partition in transfer also goes to its receiving member, so
 * writes made during the transfer are not missed. When sloppy quorum is allowed, each primary believed down is
 * stood in for by the next live fallback, which keeps the write as a hint for that primary.
 */
import { fallbackList, preferenceList } from "../ring/index.js";
import type { Ring } from "../ring/types.js";

export interface ReplicaTarget {
  id: string;
  /** Set when this target stands in for a primary that is down; it keeps the write as a hint for that member. */
  hintFor?: string;
  /** True for the n primaries of the preference list (these count towards pr/pw). */
  primary: boolean;
}

export interface ReplicaPlan {
  partition: number;
  primaries: string[];
  targets: ReplicaTarget[];
}

export function planReplicas(
  ring: Ring,
  partition: number,
  n: number,
  isUp: (id: string) => boolean,
  options: { sloppy: boolean } = { sloppy: true },
): ReplicaPlan {
  const primaries = preferenceList(ring, partition, n);
  const targets: ReplicaTarget[] = [];
  const used = new Set<string>(primaries);
  // Fallbacks cost a walk of the whole ring, so they are only computed when a primary is down.
  let fallbacks: string[] | undefined;
  for (const id of primaries) {
    if (isUp(id) || !options.sloppy) {
      targets.push({ id, primary: true });
      continue;
    }
    fallbacks ??= fallbackList(ring, partition, n).filter((f) => isUp(f));
    const standIn = fallbacks.find((f) => !used.has(f));
    if (standIn === undefined) {
      // No live fallback is left: still try the primary, which may be up after all.
      targets.push({ id, primary: true });
      continue;
    }
    used.add(standIn);
    targets.push({ id: standIn, hintFor: id, primary: false });
  }
  for (const transfer of ring.pending) {
    if (transfer.partition !== partition || used.has(transfer.to)) continue;
    if (!primaries.includes(transfer.from)) continue;
    used.add(transfer.to);
    targets.push({ id: transfer.to, primary: false });
  }
  return { partition, primaries, targets };
}
