/**
 * Zones: failure domains (a cloud availability zone, a rack) that members live in. The zone rule asks that the first
 * n members of every preference list lie in min(n, Z) distinct zones, Z being the number of zones, for every n up to
 * targetN; equivalently, that the first w = min(targetN, Z) members of every preference list are in w distinct zones.
 * Losing one whole zone then loses at most one replica of any key when Z ≥ n.
 *
 * This module holds the rule's check, when a balanced ring can meet it (for the planner: the largest w it can
 * promise), and the per-member zone table the planner works on. A member without a zone is in the unnamed zone "",
 * so a ring whose members carry no zones has one zone and the rule holds trivially.
 *
 * The planner builds rings out of blocks: a block is a run of consecutive partitions with one owner, and a ring is
 * block-spaced with window w when any w consecutive blocks (wrapping around) are in distinct zones. A block-spaced
 * ring meets the zone rule, because the walk from any partition meets the rest of its block and then w - 1 more
 * blocks of w - 1 other zones. See docs/ring.md for when such a ring exists.
 */
import { assert } from "../errors/index.js";
import { compareIds } from "./balance.js";

/** Zones by member id; a missing or empty entry is the unnamed zone. */
export type ZoneMap = Readonly<Record<string, string | undefined>>;

/** The zone of each member of a canonical member list, as small integers, with the zones' names and sizes. */
export interface ZoneModel {
  /** zoneOfMember[m] is the zone index of member m (canonical order). */
  readonly zoneOfMember: Int32Array;
  /** Zone names in sorted order; index = zone index. */
  readonly names: readonly string[];
  /** membersOfZone[z]: the member indices in zone z, ascending. */
  readonly membersOfZone: readonly (readonly number[])[];
}

/** The zone model of `sortedMembers` (canonical order) under `zones`. */
export function zoneModel(sortedMembers: readonly string[], zones: ZoneMap | undefined): ZoneModel {
  const zoneNames = sortedMembers.map((id) => zones?.[id] ?? "");
  const names = [...new Set(zoneNames)].sort(compareIds);
  const indexOf = new Map(names.map((name, index) => [name, index] as const));
  const zoneOfMember = Int32Array.from(zoneNames, (name) => indexOf.get(name) as number);
  const membersOfZone = names.map(() => [] as number[]);
  zoneOfMember.forEach((zone, member) => (membersOfZone[zone] as number[]).push(member));
  return { zoneOfMember, names, membersOfZone };
}

/**
 * The partitions whose preference list breaks the zone rule: its first w members are not in w distinct zones, where
 * w is `zonesRequired` or, by default, min(targetN, Z) with Z the number of zones among the owners. Ascending; empty
 * when the rule holds.
 */
export function zoneViolations(owners: readonly string[], zones: ZoneMap, targetN: number, zonesRequired?: number): number[] {
  assert(Number.isInteger(targetN) && targetN >= 1, `targetN must be a positive integer, got ${targetN}`);
  const { ring, model } = indexed(owners, zones);
  return zoneViolationsOf(ring, model.zoneOfMember, zonesRequired ?? Math.min(targetN, model.names.length));
}

/**
 * The fewest distinct zones found among the first n members of any preference list: what survives the loss of
 * zones. With n = 3 and a spread of 3, any one zone can be lost and every key keeps two replicas.
 */
export function zoneSpread(owners: readonly string[], zones: ZoneMap, n: number): number {
  assert(Number.isInteger(n) && n >= 1, `n must be a positive integer, got ${n}`);
  const { ring, model } = indexed(owners, zones);
  const q = ring.length;
  let fewest = Number.POSITIVE_INFINITY;
  const members: number[] = [];
  const spread = new Set<number>();
  for (let p = 0; p < q; p++) {
    members.length = 0;
    spread.clear();
    for (let step = 0; step < q && members.length < n; step++) {
      const member = ring[(p + step) % q] as number;
      if (members.includes(member)) continue;
      members.push(member);
      spread.add(model.zoneOfMember[member] as number);
    }
    fewest = Math.min(fewest, spread.size);
  }
  return fewest;
}

function indexed(owners: readonly string[], zones: ZoneMap): { ring: Int32Array; model: ZoneModel } {
  const ids = [...new Set(owners)].sort(compareIds);
  const model = zoneModel(ids, zones);
  const indexOf = new Map(ids.map((id, index) => [id, index] as const));
  return { ring: Int32Array.from(owners, (id) => indexOf.get(id) as number), model };
}

/** `zoneViolations` on member indices, for a rule of `w` distinct zones. */
export function zoneViolationsOf(ring: Int32Array, zoneOfMember: Int32Array, w: number): number[] {
  const q = ring.length;
  const violations: number[] = [];
  if (w <= 1) return violations;
  const members: number[] = [];
  const zonesSeen: number[] = [];
  for (let p = 0; p < q; p++) {
    members.length = 0;
    zonesSeen.length = 0;
    let ok = true;
    for (let step = 0; step < q && members.length < w; step++) {
      const member = ring[(p + step) % q] as number;
      if (members.includes(member)) continue;
      const zone = zoneOfMember[member] as number;
      if (zonesSeen.includes(zone)) {
        ok = false;
        break;
      }
      members.push(member);
      zonesSeen.push(zone);
    }
    if (!ok) violations.push(p);
  }
  return violations;
}

/**
 * Whether the preference lists that can reach the partitions from..from+length-1 still meet the rule for `w` zones:
 * those starting in any block from BLOCKS_BACK blocks before `from` on. (A preference list is the same for every
 * partition of a block, so one is checked per block.) For checking a local change without walking the whole ring.
 */
export function zoneRuleHoldsAround(ring: Int32Array, zoneOfMember: Int32Array, w: number, from: number, length: number): boolean {
  const q = ring.length;
  if (w <= 1) return true;
  const first = ((from % q) + q) % q;
  // Walk back to the first partition of the block BLOCKS_BACK · w blocks before.
  let p = first;
  let back = 0;
  for (let blocks = 0; back < q; back++) {
    const before = (p - 1 + q) % q;
    if (ring[before] !== ring[p] && ++blocks > BLOCKS_BACK * w) break;
    p = before;
  }
  const span = Math.min(q, back + length);
  const members: number[] = [];
  const zonesSeen: number[] = [];
  for (let i = 0; i < span; i++) {
    const x = (p + i) % q;
    if (i > 0 && ring[x] === ring[(x - 1 + q) % q]) continue;
    members.length = 0;
    zonesSeen.length = 0;
    for (let step = 0; step < q && members.length < w; step++) {
      const member = ring[(x + step) % q] as number;
      if (members.includes(member)) continue;
      const zone = zoneOfMember[member] as number;
      if (zonesSeen.includes(zone)) return false;
      members.push(member);
      zonesSeen.push(zone);
    }
  }
  return true;
}

/** How many blocks (in multiples of w) before a change `zoneRuleHoldsAround` looks for preference lists reaching it. */
const BLOCKS_BACK = 2;

/**
 * How a balanced block-spaced ring with window w can be built: the partitions of each zone (`zonePartitions`, which
 * follow from giving the Q mod S larger shares to chosen members), and F, the most blocks any zone has. Each zone z
 * gets min(c_z, F) blocks; the rest of its partitions lengthen blocks into runs, so a larger F means fewer runs.
 */
export interface BlockPlan {
  readonly w: number;
  readonly blocksMax: number;
  /** Larger shares (⌈Q/S⌉ instead of ⌊Q/S⌋) per zone. */
  readonly largerShares: readonly number[];
  readonly zonePartitions: readonly number[];
  readonly zoneBlocks: readonly number[];
}

/**
 * The block plan for window `w` with the most blocks, or undefined when no balanced block-spaced ring exists.
 *
 * With S members, ⌊Q/S⌋ = lo and Q mod S larger shares, zone z (s_z members) owns c_z = s_z · lo plus its larger
 * shares. When lo ≥ 1 every member needs a block of its own, so zone z needs between s_z and c_z blocks. A ring of
 * B blocks in which any w consecutive ones are in distinct zones exists exactly when no zone has more than B / w of
 * them (the frame layout in zone-layout.ts builds one). Taking min(c_z, F) blocks per zone, a plan exists when some
 * F ≥ max s_z has Σ min(c_z, F) ≥ w · F, with the larger shares given first to zones below F. When lo = 0 (Q < S)
 * each owning member has one partition and one block, and the larger shares go to the zones with the fewest.
 */
export function blockPlan(partitions: number, zoneSizes: readonly number[], w: number): BlockPlan | undefined {
  const memberCount = zoneSizes.reduce((sum, size) => sum + size, 0);
  assert(memberCount >= 1 && zoneSizes.every((size) => size >= 1), "every zone needs at least one member");
  const lo = Math.floor(partitions / memberCount);
  const larger = partitions % memberCount;
  if (w <= 1) return planFor(zoneSizes, lo, spreadShares(zoneSizes.map((s) => s * lo), zoneSizes, larger, partitions), Number.POSITIVE_INFINITY, 1);
  if (lo === 0) {
    // Every owning member has one partition; the shares go where they keep zones even.
    const shares = spreadShares(zoneSizes.map(() => 0), zoneSizes, larger, Number.POSITIVE_INFINITY);
    const most = Math.max(...shares);
    return most * w <= partitions ? planFor(zoneSizes, lo, shares, most, w) : undefined;
  }
  const fewestBlocks = Math.max(...zoneSizes);
  const mostBlocks = Math.min(Math.floor(partitions / w), Math.max(...zoneSizes.map((size) => size * lo + Math.min(size, larger))));
  for (let blocks = mostBlocks; blocks >= fewestBlocks; blocks--) {
    const shares = spreadShares(zoneSizes.map((s) => s * lo), zoneSizes, larger, blocks);
    const total = zoneSizes.reduce((sum, size, z) => sum + Math.min(size * lo + (shares[z] as number), blocks), 0);
    if (total >= w * blocks) return planFor(zoneSizes, lo, shares, blocks, w);
  }
  return undefined;
}

/**
 * Gives `larger` extra partitions, at most one per member, first to the zones furthest below `cap` partitions (ties
 * to the smaller zone index), then to the zones with the fewest partitions.
 */
function spreadShares(base: readonly number[], zoneSizes: readonly number[], larger: number, cap: number): number[] {
  const shares = zoneSizes.map(() => 0);
  for (let given = 0; given < larger; given++) {
    let best = -1;
    let bestKey: [number, number] = [0, 0];
    for (let z = 0; z < zoneSizes.length; z++) {
      if ((shares[z] as number) >= (zoneSizes[z] as number)) continue;
      const count = (base[z] as number) + (shares[z] as number);
      const key: [number, number] = [count < cap ? 0 : 1, count];
      if (best === -1 || key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) {
        best = z;
        bestKey = key;
      }
    }
    assert(best !== -1, "more larger shares than members");
    shares[best] = (shares[best] as number) + 1;
  }
  return shares;
}

function planFor(zoneSizes: readonly number[], lo: number, shares: readonly number[], blocksMax: number, w: number): BlockPlan {
  const zonePartitions = zoneSizes.map((size, z) => size * lo + (shares[z] as number));
  return {
    w,
    blocksMax,
    largerShares: shares,
    zonePartitions,
    zoneBlocks: zonePartitions.map((count) => Math.min(count, blocksMax)),
  };
}

/**
 * The number of distinct zones the planner promises in every preference list of `targetN` members for a balanced ring
 * of `partitions` partitions over zones of the given sizes: min(targetN, Z) when a block-spaced ring exists for it,
 * otherwise the largest smaller window that has one (at least 1).
 */
export function zoneSpreadFeasible(partitions: number, zoneSizes: readonly number[], targetN: number): number {
  assert(Number.isInteger(partitions) && partitions >= 1, `partitions must be a positive integer, got ${partitions}`);
  assert(Number.isInteger(targetN) && targetN >= 1, `targetN must be a positive integer, got ${targetN}`);
  for (let w = Math.min(targetN, zoneSizes.length); w >= 2; w--) if (blockPlan(partitions, zoneSizes, w) !== undefined) return w;
  return 1;
}

/**
 * The largest difference between the replicas (of the targetN-member preference lists) held by two members of one
 * zone: how evenly a zone shares its load. The property tests bound it; the planner's benchmark reports it.
 */
export function replicaSpreadByZone(owners: readonly string[], zones: ZoneMap, targetN: number): number {
  const q = owners.length;
  const held = new Map<string, number>();
  for (let p = 0; p < q; p++) {
    const seen: string[] = [];
    for (let step = 0; step < q && seen.length < targetN; step++) {
      const owner = owners[(p + step) % q] as string;
      if (!seen.includes(owner)) seen.push(owner);
    }
    for (const owner of seen) held.set(owner, (held.get(owner) ?? 0) + 1);
  }
  const byZone = new Map<string, number[]>();
  for (const [id, count] of held) byZone.set(zones[id] as string, [...(byZone.get(zones[id] as string) ?? []), count]);
  return Math.max(0, ...[...byZone.values()].map((counts) => Math.max(...counts) - Math.min(...counts)));
}
