/**
 * The frame layout: a balanced block-spaced ring built from scratch, the zone-aware counterpart of the striped layout.
 * The claim planner uses it for brand-new rings whose members span several zones, and as the candidate that is
 * always valid, re-mapped onto the current owners to keep as many partitions in place as it can.
 *
 * Construction, given a block plan (zones.ts: each zone's partitions c_z and blocks B_z ≤ F):
 *
 * 1. Block zones. List the zones' blocks grouped by zone (zones with more blocks first) and deal them into m = F
 *    frames, element i going to frame i mod m at row ⌊i / m⌋; concatenate the frames. No zone has more than m blocks,
 *    so a zone appears at most once per frame; consecutive blocks of a zone sit in consecutive frames at the same row
 *    (or one row later across the last frame), so they are a whole frame apart, and every frame has at least w blocks
 *    because B ≥ w · F. Hence any w consecutive blocks are in distinct zones.
 * 2. Members. Zone z's blocks, in ring order, go to its members in turn (members with a larger share first), so each
 *    member's blocks are spread around the ring.
 * 3. Lengths. Each member's partitions are spread over its blocks as evenly as possible; blocks longer than one
 *    partition are the runs the zone's extra partitions need.
 */
import { assert } from "../errors/index.js";
import { greedyMatch } from "./layout.js";
import type { BlockPlan, ZoneModel } from "./zones.js";

/** The frame layout for `partitions` partitions: member indices per partition. */
export function frameLayout(partitions: number, model: ZoneModel, plan: BlockPlan): Int32Array {
  const memberCount = model.zoneOfMember.length;
  const lo = Math.floor(partitions / memberCount);
  const zoneCount = model.names.length;
  const blockZones = frameZones(plan.zoneBlocks);
  // Each zone's blocks go round-robin to its owning members, those with a larger share first.
  const owning = model.membersOfZone.map((members, z) => {
    const shares = plan.largerShares[z] as number;
    return members
      .map((member, rank) => ({ member, quota: lo + (rank < shares ? 1 : 0) }))
      .filter((entry) => entry.quota > 0);
  });
  const blockMember = new Int32Array(blockZones.length);
  const seen = new Int32Array(zoneCount);
  const blocksOf = new Int32Array(memberCount);
  blockZones.forEach((zone, block) => {
    const members = owning[zone] as { member: number }[];
    const member = (members[(seen[zone] as number) % members.length] as { member: number }).member;
    seen[zone] = (seen[zone] as number) + 1;
    blockMember[block] = member;
    blocksOf[member] = (blocksOf[member] as number) + 1;
  });
  const quotaOf = new Int32Array(memberCount);
  for (const members of owning) for (const { member, quota } of members) quotaOf[member] = quota;
  const owners = new Int32Array(partitions);
  const used = new Int32Array(memberCount);
  let p = 0;
  for (const member of blockMember) {
    const blocks = blocksOf[member] as number;
    const quota = quotaOf[member] as number;
    assert(quota >= blocks, `member ${member} has ${blocks} blocks for ${quota} partitions`);
    const index = used[member] as number;
    used[member] = index + 1;
    const extra = quota % blocks;
    const length = Math.floor(quota / blocks) + (Math.floor(((index + 1) * extra) / blocks) > Math.floor((index * extra) / blocks) ? 1 : 0);
    for (let i = 0; i < length; i++) owners[p++] = member;
  }
  assert(p === partitions, `frame layout filled ${p} of ${partitions} partitions`);
  return owners;
}

/** The zone of each block: blocks grouped by zone (most blocks first) dealt into as many frames as the largest zone has blocks. */
export function frameZones(zoneBlocks: readonly number[]): Int32Array {
  const order = zoneBlocks.map((blocks, zone) => ({ zone, blocks })).filter((entry) => entry.blocks > 0);
  order.sort((a, b) => b.blocks - a.blocks || a.zone - b.zone);
  const grouped: number[] = [];
  for (const { zone, blocks } of order) for (let i = 0; i < blocks; i++) grouped.push(zone);
  const frames = Math.max(1, ...zoneBlocks);
  const byFrame: number[][] = Array.from({ length: frames }, () => []);
  grouped.forEach((zone, i) => (byFrame[i % frames] as number[]).push(zone));
  return Int32Array.from(byFrame.flat());
}

/** The most partition visits one re-mapping may make over all the rotations it weighs. */
const REMAP_WORK_MAX = 4_000_000;

/**
 * Rotates `layout` and maps its members onto members of the same zone so that as many partitions as possible keep
 * their current owner (`current[p]`, -1 for an owner that is going away). For each rotation, members are matched
 * within each zone greedily by agreement (largest first, ties by index); the best rotation wins, the first on ties.
 * Beyond REMAP_WORK_MAX partition visits only a regular sample of the rotations is weighed.
 */
export function remapFrameLayout(layout: Int32Array, current: Int32Array, model: ZoneModel): Int32Array {
  const q = layout.length;
  const memberCount = model.zoneOfMember.length;
  const agreement = new Int32Array(memberCount * memberCount);
  const stride = Math.max(1, Math.ceil((q * q) / REMAP_WORK_MAX));
  let best: { score: number; rotation: number; memberOf: Int32Array } | undefined;
  for (let rotation = 0; rotation < q; rotation += stride) {
    const touched: number[] = [];
    for (let p = 0; p < q; p++) {
      const member = current[p] as number;
      if (member < 0) continue;
      const label = layout[(p + rotation) % q] as number;
      if (model.zoneOfMember[label] !== model.zoneOfMember[member]) continue;
      const cell = label * memberCount + member;
      if (agreement[cell] === 0) touched.push(cell);
      agreement[cell] = (agreement[cell] as number) + 1;
    }
    const { score, memberOf } = matchWithinZones(agreement, touched, model);
    for (const cell of touched) agreement[cell] = 0;
    if (best === undefined || score > best.score) best = { score, rotation, memberOf };
  }
  assert(best !== undefined, "no rotation was tried");
  const owners = new Int32Array(q);
  for (let p = 0; p < q; p++) owners[p] = best.memberOf[layout[(p + best.rotation) % q] as number] as number;
  return owners;
}

/** Greedy maximum-agreement matching of layout members to members of the same zone; left-overs pair in index order. */
function matchWithinZones(agreement: Int32Array, touched: number[], model: ZoneModel): { score: number; memberOf: Int32Array } {
  const { score, memberOf, taken } = greedyMatch(agreement, touched, model.zoneOfMember.length);
  for (const members of model.membersOfZone) {
    const free = members.filter((member) => taken[member] === 0);
    for (const label of members) {
      if (memberOf[label] !== -1) continue;
      const member = free.shift() as number;
      memberOf[label] = member;
      taken[member] = 1;
    }
  }
  return { score, memberOf };
}
