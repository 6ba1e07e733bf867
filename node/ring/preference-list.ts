/**
 * Who holds a partition. The preference list of a partition is the first N distinct members met walking clockwise
 * from it through the owners array; the fallbacks are everyone else, nearest first, and stand in for unreachable
 * preference-list members under sloppy quorum. Both are pure functions of the ring, so every node that holds the same
 * ring epoch agrees on them.
 */
import { assert } from "../errors/index.js";
import { compareIds } from "./balance.js";
import { PARTITIONS_MAX } from "./hash.js";
import type { Ring, Transfer } from "./types.js";

/**
 * The distinct owners met walking clockwise from `partition`, in walk order, stopping after `limit` of them. The walk
 * visits each partition at most once, so it ends even when the ring has fewer than `limit` distinct owners.
 */
function walkDistinctOwners(ring: Ring, partition: number, limit: number): string[] {
  const q = ring.owners.length;
  checkPartition(ring, partition);
  const seen = new Set<string>();
  const found: string[] = [];
  for (let step = 0; step < q && found.length < limit; step++) {
    const owner = ring.owners[(partition + step) % q] as string;
    if (!seen.has(owner)) {
      seen.add(owner);
      found.push(owner);
    }
  }
  return found;
}

function checkPartition(ring: Ring, partition: number): void {
  const q = ring.owners.length;
  assert(Number.isInteger(partition) && partition >= 0 && partition < q, `partition ${partition} is outside 0..${q - 1}`);
}

/**
 * Each ring's preference lists, by n and partition (`n * PARTITIONS_MAX + partition`), made on first use: rings are
 * never changed in place, and every key-value request asks for one, which cost a walk, a Set and an array each time
 * (1.2 µs of a YCSB-A operation, performance round 37).
 */
const preferenceLists = new WeakMap<Ring, Map<number, readonly string[]>>();

/**
 * The first `n` distinct members walking clockwise from `partition` (fewer if the ring has fewer distinct owners). The
 * list is shared by every caller that asks for it on the same ring: it is typed read-only, and not frozen, since V8
 * iterates a frozen array on its slow path (a Set made from one cost five times as much, round 37).
 */
export function preferenceList(ring: Ring, partition: number, n: number): readonly string[] {
  return listOf(preferenceLists, ring, partition, n, walkDistinctOwners);
}

type MakeList = (ring: Ring, partition: number, n: number) => readonly string[];

/**
 * The list of `lists` for (ring, n, partition), made with `make` on first use. `make` is a plain function rather than
 * a closure, so a lookup that finds its list allocates nothing.
 */
function listOf(lists: WeakMap<Ring, Map<number, readonly string[]>>, ring: Ring, partition: number, n: number, make: MakeList): readonly string[] {
  assert(Number.isInteger(n) && n >= 1, `n must be a positive integer, got ${n}`);
  // Checked before the lookup: an out-of-range partition could otherwise name another n's entry.
  checkPartition(ring, partition);
  let byKey = lists.get(ring);
  if (byKey === undefined) lists.set(ring, (byKey = new Map()));
  const key = n * PARTITIONS_MAX + partition;
  let list = byKey.get(key);
  if (list === undefined) {
    list = make(ring, partition, n);
    byKey.set(key, list);
  }
  return list;
}

/** Each ring's fallback lists, keyed like `preferenceLists`, made on first use. */
const fallbackLists = new WeakMap<Ring, Map<number, readonly string[]>>();

/**
 * The members that may stand in for the preference list of `partition`: the remaining owners in the same clockwise
 * walk order, then the members that own no partition (joining members, say), sorted by id. Never repeats a member and
 * never includes one from the preference list. Made once per ring, n and partition and shared like `preferenceList`'s
 * lists: while a member is down, every request for one of its partitions asks, and the walk goes round the whole
 * ring (3.6 µs of a YCSB-A operation with one node of three down, performance round 38).
 */
export function fallbackList(ring: Ring, partition: number, n: number): readonly string[] {
  return listOf(fallbackLists, ring, partition, n, walkFallbacks);
}

function walkFallbacks(ring: Ring, partition: number, n: number): string[] {
  const walk = walkDistinctOwners(ring, partition, Number.POSITIVE_INFINITY);
  const owning = new Set(walk);
  const idle = Object.keys(ring.members)
    .filter((id) => !owning.has(id))
    .sort(compareIds);
  return [...walk.slice(n), ...idle];
}

/** The partitions `memberId` owns, in ascending order. */
export function ownedPartitions(ring: Ring, memberId: string): number[] {
  const owned: number[] = [];
  ring.owners.forEach((owner, partition) => {
    if (owner === memberId) owned.push(partition);
  });
  return owned;
}

const NO_TRANSFERS: readonly Transfer[] = [];
/** Each ring's pending transfers by partition, indexed once per ring: rings are never changed in place. */
const pendingIndex = new WeakMap<Ring, Map<number, Transfer[]>>();

/**
 * The pending transfers of `partition`, in the ring's order. Every request asks (the coordinator to plan its
 * replicas, a replica whether it may vote), and during a ring change hundreds of transfers are pending: a loop over all
 * of them per request showed in the profile of a ring change under client load.
 */
export function pendingTransfers(ring: Ring, partition: number): readonly Transfer[] {
  if (ring.pending.length === 0) return NO_TRANSFERS;
  let index = pendingIndex.get(ring);
  if (index === undefined) {
    index = new Map();
    for (const transfer of ring.pending) {
      const list = index.get(transfer.partition);
      if (list) list.push(transfer);
      else index.set(transfer.partition, [transfer]);
    }
    pendingIndex.set(ring, index);
  }
  return index.get(partition) ?? NO_TRANSFERS;
}
