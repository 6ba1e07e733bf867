/**
 * Which member of a zone owns each block, once the ring's blocks and their zones are decided. Handing a whole block
 * to another member of its zone never breaks block spacing (the blocks around it are in other zones), so these steps
 * are free to balance members within zones:
 *
 * - `balanceWithinZones` evens out partition counts (the balance rule), moving the blocks that add fewest moves.
 * - `spreadReplicas` evens out the data members hold. A member holds a replica of every partition whose preference
 *   list it is in, and in a block-spaced ring a block is in the preference lists of the partitions of the targetN
 *   blocks ending with it; so a block's weight is their total length, and two members with equal partition counts can
 *   hold very different amounts of data when runs sit unevenly. Blocks are handed over or swapped within zones while
 *   that lowers moves plus replicas above the zone's even share.
 */
import { assert } from "../errors/index.js";
import { zoneRuleHoldsAround, type ZoneModel } from "./zones.js";

/** The most hand-overs and swaps `spreadReplicas` makes per zone. */
const SPREAD_STEPS_MAX = 4096;

/** How many of a member's densest (or sparsest) blocks `spreadReplicas` weighs for an exchange. */
const EXCHANGE_CANDIDATES = 10;

export interface Block {
  start: number;
  length: number;
  member: number;
}

/** The ring's blocks in ring order, starting at a block boundary (one block when a single member owns everything). */
export function blocksOf(owners: Int32Array): Block[] {
  const q = owners.length;
  let origin = 0;
  while (origin < q && owners[origin] === owners[(origin - 1 + q) % q]) origin++;
  if (origin === q) return [{ start: 0, length: q, member: owners[0] as number }];
  const blocks: Block[] = [];
  for (let i = 0; i < q; i++) {
    const p = (origin + i) % q;
    const last = blocks[blocks.length - 1];
    if (last !== undefined && last.member === owners[p]) last.length++;
    else blocks.push({ start: p, length: 1, member: owners[p] as number });
  }
  return blocks;
}

export function countsOf(owners: Int32Array, memberCount: number): Int32Array {
  const counts = new Int32Array(memberCount);
  for (const member of owners) if (member >= 0) counts[member] = (counts[member] as number) + 1;
  return counts;
}

/** How many partitions' preference lists of `targetN` members each member is in: the replicas it holds. */
export function replicaCounts(owners: Int32Array, memberCount: number, targetN: number): Int32Array {
  const q = owners.length;
  const held = new Int32Array(memberCount);
  const seen: number[] = [];
  for (let p = 0; p < q; p++) {
    seen.length = 0;
    for (let step = 0; step < q && seen.length < targetN; step++) {
      const member = owners[(p + step) % q] as number;
      if (!seen.includes(member)) seen.push(member);
    }
    for (const member of seen) held[member] = (held[member] as number) + 1;
  }
  return held;
}

/**
 * A replica beyond the spread the planner aims for weighs like this many moved partitions: evening out replicas is
 * worth moves until every member of a zone is within the aim, and then only while it saves more than it moves.
 */
const BEYOND_AIM_WEIGHT = 3;

/**
 * What a member holding `value` replicas costs when its zone's even share (rounded up) is `share`: each replica above
 * the share counts one, and each one further than half the aimed spread from the share (either way) counts
 * BEYOND_AIM_WEIGHT more. Members within half the aim of the share keep the zone's spread within the aim.
 */
export function replicaPenalty(value: number, share: number, aim: number): number {
  const margin = Math.floor(aim / 2);
  return Math.max(0, value - share) + BEYOND_AIM_WEIGHT * (Math.max(0, value - share - margin) + Math.max(0, share - margin - value));
}

/** `replicaPenalty` summed over all members, each against its zone's even share: how unevenly members hold data. */
export function replicaExcess(owners: Int32Array, model: ZoneModel, targetN: number, aim: number): number {
  const held = replicaCounts(owners, model.zoneOfMember.length, targetN);
  let excess = 0;
  for (const members of model.membersOfZone) {
    const share = Math.ceil(members.reduce((sum, m) => sum + (held[m] as number), 0) / members.length);
    for (const m of members) excess += replicaPenalty(held[m] as number, share, aim);
  }
  return excess;
}

/** The change in moved partitions (against `original`) if `block` goes from its member to `taker`. */
function movesAdded(block: Block, original: Int32Array, taker: number): number {
  const q = original.length;
  let added = 0;
  for (let i = 0; i < block.length; i++) {
    const kept = original[(block.start + i) % q] as number;
    added += (kept !== taker ? 1 : 0) - (kept !== block.member ? 1 : 0);
  }
  return added;
}

function handOver(owners: Int32Array, block: Block, taker: number): void {
  for (let i = 0; i < block.length; i++) owners[(block.start + i) % owners.length] = taker;
  block.member = taker;
}

/** Hands `block` to `taker` if the zone rule still holds around it; otherwise leaves everything as it was. */
function tryHandOver(owners: Int32Array, block: Block, taker: number, model: ZoneModel, w: number): boolean {
  const giver = block.member;
  handOver(owners, block, taker);
  if (zoneRuleHoldsAround(owners, model.zoneOfMember, w, block.start, block.length)) return true;
  handOver(owners, block, giver);
  return false;
}

/**
 * Moves whole blocks from members above quota to members of the same zone below it, each time the block that adds
 * the fewest moves and, on ties, crowds the receiver least. Returns undefined when some zone as a whole owns too many
 * or too few partitions (which only a change of the ring's blocks can fix) or block lengths do not allow balance.
 */
export function balanceWithinZones(ring: Int32Array, original: Int32Array, model: ZoneModel, targetN: number, w: number): Int32Array | undefined {
  const q = ring.length;
  const memberCount = model.zoneOfMember.length;
  const lo = Math.floor(q / memberCount);
  const owners = Int32Array.from(ring);
  const counts = countsOf(owners, memberCount);
  for (const members of model.membersOfZone) {
    const total = members.reduce((sum, m) => sum + (counts[m] as number), 0);
    if (total < members.length * lo || total > members.length * Math.ceil(q / memberCount)) return undefined;
  }
  const blocks = blocksOf(owners);
  for (const members of model.membersOfZone) {
    for (let guard = 0; guard < q; guard++) {
      const giver = extreme(members, counts, 1);
      const taker = extreme(members, counts, -1);
      const giverCount = counts[giver] as number;
      const takerCount = counts[taker] as number;
      const over = giverCount > lo + 1 || (giverCount === lo + 1 && takerCount < lo);
      if (!over || takerCount >= lo + 1) break;
      const lengthMax = Math.min(giverCount - lo, lo + 1 - takerCount);
      const options = blocks
        .filter((block) => block.member === giver && block.length <= lengthMax)
        .map((block) => ({ block, key: [movesAdded(block, original, taker), crowding(owners, block, taker, targetN), block.start] }))
        .sort((a, b) => (lexLess(a.key, b.key) ? -1 : lexLess(b.key, a.key) ? 1 : 0));
      // In a block-spaced ring any hand-over keeps the zone rule; where a member repeats to meet it, not always.
      const chosen = options.find(({ block }) => tryHandOver(owners, block, taker, model, w));
      if (chosen === undefined) return undefined;
      counts[giver] = giverCount - chosen.block.length;
      counts[taker] = takerCount + chosen.block.length;
    }
  }
  return counts.every((count) => count === lo || count === lo + 1) ? owners : undefined;
}

/** How many partitions of `member` lie within targetN - 1 of `block` on either side. */
function crowding(owners: Int32Array, block: Block, member: number, targetN: number): number {
  const q = owners.length;
  let found = 0;
  for (let d = 1; d < targetN; d++) {
    if (owners[(block.start - d + q) % q] === member) found++;
    if (owners[(block.start + block.length - 1 + d) % q] === member) found++;
  }
  return found;
}

/** The member with the most (direction 1) or fewest (direction -1) of `values`, ties to the smaller index. */
function extreme(members: readonly number[], values: Int32Array, direction: 1 | -1): number {
  let best = members[0] as number;
  for (const m of members) if (((values[m] as number) - (values[best] as number)) * direction > 0) best = m;
  return best;
}

function lexLess(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) if ((a[i] as number) !== (b[i] as number)) return (a[i] as number) < (b[i] as number);
  return false;
}

/**
 * Evens out replicas within zones: while the zone's member with the most replicas (x) holds more than its even share,
 * or the member with the fewest (y) holds less than the share minus half the `aim`, they exchange blocks: one block for nothing, or one block for blocks of the
 * other member of the same total length, keeping both within ⌊Q/S⌋..⌈Q/S⌉ partitions. A block's weight per partition tells whether handing it over
 * moves replicas: x gives its densest blocks and takes y's sparsest, so only the EXCHANGE_CANDIDATES densest of x
 * and sparsest of y are weighed. The step that lowers moves added plus `replicaPenalty` the most is taken, until
 * none lowers it. Block weights are exact when there are at least targetN zones and estimates otherwise.
 */
export function spreadReplicas(ring: Int32Array, original: Int32Array, model: ZoneModel, targetN: number, w: number, aim: number): Int32Array {
  const q = ring.length;
  const memberCount = model.zoneOfMember.length;
  const lo = Math.floor(q / memberCount);
  const hi = Math.ceil(q / memberCount);
  const owners = Int32Array.from(ring);
  const blocks = blocksOf(owners);
  if (blocks.length < targetN + 1) return owners;
  const weight = blocks.map((_, b) => {
    let total = 0;
    for (let k = 0; k < targetN; k++) total += (blocks[(b - k + blocks.length) % blocks.length] as Block).length;
    return total;
  });
  const counts = countsOf(owners, memberCount);
  const held = new Int32Array(memberCount);
  blocks.forEach((block, b) => (held[block.member] = (held[block.member] as number) + (weight[b] as number)));
  const density = (b: number): number => (weight[b] as number) / (blocks[b] as Block).length;
  const frozen = new Uint8Array(blocks.length);
  for (const members of model.membersOfZone) {
    if (members.length < 2) continue;
    const share = Math.ceil(members.reduce((sum, m) => sum + (held[m] as number), 0) / members.length);
    const over = (value: number): number => replicaPenalty(value, share, aim);
    const indices = blocks.map((_, b) => b).filter((b) => members.includes((blocks[b] as Block).member));
    for (let step = 0; step < SPREAD_STEPS_MAX; step++) {
      const x = extreme(members, held, 1);
      const y = extreme(members, held, -1);
      const heldX = held[x] as number;
      const heldY = held[y] as number;
      if (over(heldX) + over(heldY) === 0) break;
      const before = over(heldX) + over(heldY);
      const give = indices.filter((b) => (blocks[b] as Block).member === x && frozen[b] === 0).sort((a, b) => density(b) - density(a) || a - b).slice(0, EXCHANGE_CANDIDATES);
      const take = indices.filter((b) => (blocks[b] as Block).member === y && frozen[b] === 0).sort((a, b) => density(a) - density(b) || a - b).slice(0, EXCHANGE_CANDIDATES);
      let best: { value: number; gives: number[]; takes: number[] } | undefined;
      const weigh = (gives: number[], takes: number[]): void => {
        let length = 0;
        let shift = 0;
        let moves = 0;
        for (const b of gives) {
          length += (blocks[b] as Block).length;
          shift += weight[b] as number;
          moves += movesAdded(blocks[b] as Block, original, y);
        }
        for (const c of takes) {
          length -= (blocks[c] as Block).length;
          shift -= weight[c] as number;
          moves += movesAdded(blocks[c] as Block, original, x);
        }
        const countX = (counts[x] as number) - length;
        const countY = (counts[y] as number) + length;
        if (countX < lo || countX > hi || countY < lo || countY > hi || shift <= 0) return;
        const value = moves + over(heldX - shift) + over(heldY + shift) - before;
        if (best === undefined || value < best.value) best = { value, gives, takes };
      };
      // One block for nothing, or for blocks of the other member of the same total length (as many as fit, in
      // order of density, starting from each candidate in turn).
      const fill = (from: readonly number[], first: number, length: number): number[] => {
        const chosen: number[] = [];
        let left = length;
        for (let k = first; k < from.length && left > 0; k++) {
          const size = (blocks[from[k] as number] as Block).length;
          if (size <= left) {
            chosen.push(from[k] as number);
            left -= size;
          }
        }
        return left === 0 ? chosen : [];
      };
      for (const b of give) {
        weigh([b], []);
        for (let first = 0; first < take.length; first++) {
          const takes = fill(take, first, (blocks[b] as Block).length);
          if (takes.length > 0) weigh([b], takes);
        }
      }
      for (const c of take) {
        for (let first = 0; first < give.length; first++) {
          const gives = fill(give, first, (blocks[c] as Block).length);
          if (gives.length > 0) weigh(gives, [c]);
        }
      }
      const chosen = best as { value: number; gives: number[]; takes: number[] } | undefined;
      if (chosen === undefined || chosen.value >= 0) break;
      for (const b of chosen.gives) exchange(b, x, y);
      for (const c of chosen.takes) exchange(c, y, x);
      // In a block-spaced ring any exchange keeps the zone rule; where a member repeats to meet it, not always: then
      // undo it and leave those blocks alone.
      const touched = [...chosen.gives, ...chosen.takes];
      if (touched.every((b) => zoneRuleHoldsAround(owners, model.zoneOfMember, w, (blocks[b] as Block).start, (blocks[b] as Block).length))) continue;
      for (const b of chosen.gives) exchange(b, y, x);
      for (const c of chosen.takes) exchange(c, x, y);
      for (const b of touched) frozen[b] = 1;
    }
  }
  function exchange(b: number, from: number, to: number): void {
    const block = blocks[b] as Block;
    counts[from] = (counts[from] as number) - block.length;
    counts[to] = (counts[to] as number) + block.length;
    held[from] = (held[from] as number) - (weight[b] as number);
    held[to] = (held[to] as number) + (weight[b] as number);
    handOver(owners, block, to);
  }
  assert(counts.every((count) => count >= lo && count <= hi), "spreading replicas broke the balance");
  return owners;
}
