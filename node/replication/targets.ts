/**
 * Which nodes hold a key's replicas right now: a pure function of the ring and of which members are believed up.
 * Primaries are the partition's preference list. A partition in transfer also goes to its receiving member, so
 * writes made during the transfer are not missed. When sloppy quorum is allowed, each primary believed down is
 * stood in for by a live fallback, which keeps the write as a hint for that primary.
 *
 * Which fallback: without zones, the first live one in walk order. With zones, one in another zone than the down
 * primary's, in the zone holding the fewest of the partition's replicas so far; among zones tied on both, the
 * partition number picks one in turn. Walk order alone would not do: in a zone-spread ring the member after a
 * preference list is usually in the same zone as its first member, so when a whole zone fails, every one of its
 * partitions would hand its hints to the same next zone, doubling that zone's load while another stays idle.
 */
import { fallbackList, pendingTransfers, preferenceList } from "../ring/index.js";
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
  primaries: readonly string[];
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
  // The members given a role so far; needed only when a primary is down or the partition is in transfer, which is
  // when it is made, since nearly every request has neither.
  let used: Set<string> | undefined;
  // The live fallbacks, computed only when a primary is down.
  let fallbacks: string[] | undefined;
  for (const id of primaries) {
    if (isUp(id) || !options.sloppy) {
      targets.push({ id, primary: true });
      continue;
    }
    fallbacks ??= fallbackList(ring, partition, n).filter((f) => isUp(f));
    used ??= fallbacks.length > 0 ? new Set(primaries) : undefined;
    // With no live fallback (always so in a cluster of n members or fewer) there is nothing to choose from: still
    // try the primary, which may be up after all.
    const standIn = used && chooseFallback(ring, partition, id, fallbacks, used, [...primaries.filter(isUp), ...targets.filter((t) => !t.primary).map((t) => t.id)]);
    if (used === undefined || standIn === undefined) {
      targets.push({ id, primary: true });
      continue;
    }
    used.add(standIn);
    targets.push({ id: standIn, hintFor: id, primary: false });
  }
  for (const transfer of pendingTransfers(ring, partition)) {
    used ??= new Set(primaries);
    if (used.has(transfer.to)) continue;
    if (!primaries.includes(transfer.from)) continue;
    used.add(transfer.to);
    targets.push({ id: transfer.to, primary: false });
  }
  return { partition, primaries, targets };
}

/** The zone of a member; members without one share the unnamed zone. */
function zoneOf(ring: Ring, id: string): string {
  return ring.members[id]?.zone ?? "";
}

/**
 * The fallback to stand in for `down`, from the live `fallbacks` in walk order, not yet in `used`; `holding` are the
 * members already taking the partition's writes. See the module comment.
 */
function chooseFallback(ring: Ring, partition: number, down: string, fallbacks: readonly string[], used: ReadonlySet<string>, holding: readonly string[]): string | undefined {
  const free = fallbacks.filter((f) => !used.has(f));
  if (free.length <= 1 || !Object.values(ring.members).some((m) => m.zone)) return free[0];
  const downZone = zoneOf(ring, down);
  const held = new Map<string, number>();
  for (const id of holding) held.set(zoneOf(ring, id), (held.get(zoneOf(ring, id)) ?? 0) + 1);
  const rank = (zone: string): [number, number] => [zone === downZone ? 1 : 0, held.get(zone) ?? 0];
  let best: [number, number] | undefined;
  for (const f of free) {
    const r = rank(zoneOf(ring, f));
    if (best === undefined || r[0] < best[0] || (r[0] === best[0] && r[1] < best[1])) best = r;
  }
  const tied = [...new Set(free.map((f) => zoneOf(ring, f)))].filter((zone) => rank(zone)[0] === best![0] && rank(zone)[1] === best![1]).sort();
  const zone = tied[partition % tied.length];
  return free.find((f) => zoneOf(ring, f) === zone);
}

/**
 * The order in which a read asks a key's targets: primaries believed up first (this node first among them, since its
 * own copy costs no message), then the other live targets (stand-ins, a partition's receiving member, which may not
 * hold the data yet), then those believed down. A read asks the first r and goes down the list only when one fails
 * or is slow, so the replicas it counts on are the ones most likely to hold every acknowledged write, and pr is met
 * from the primaries whenever enough of them are up.
 */
export function readOrder(targets: readonly ReplicaTarget[], self: string, isUp: (id: string) => boolean): ReplicaTarget[] {
  // An insertion sort on the rank, stable, without the closures a map/sort/map chain would make on every read: V8
  // kept compiling those afresh under steady load. A key has n targets or a few more.
  const ordered: ReplicaTarget[] = [];
  const ranks: number[] = [];
  for (const target of targets) {
    const rank = (target.id === self || isUp(target.id) ? 0 : 4) + (target.primary ? 0 : 2) + (target.id === self ? 0 : 1);
    let at = ordered.length;
    while (at > 0 && (ranks[at - 1] as number) > rank) at--;
    ordered.splice(at, 0, target);
    ranks.splice(at, 0, rank);
  }
  return ordered;
}
