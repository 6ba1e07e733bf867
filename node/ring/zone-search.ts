/**
 * Dynamic programming over block-spaced rings, for the zone-aware claim planner (zone-claim.ts).
 *
 * Walking the ring, the next owner either extends the current block or starts a new one, and a new block's member
 * is constrained only by the current block and the few blocks before it: its zone must differ from the zones of the
 * last w - 1 blocks. So the cheapest block-spaced ring is a shortest path through states "current member, length of
 * its run so far, and the blocks before it", each partition costing 1 when its owner changes, plus a price per member
 * and small costs for runs and for repeating a member within targetN blocks (spacing). With at least targetN zones
 * the earlier blocks are remembered by zone, which already keeps a member's blocks targetN apart; with fewer zones
 * they are remembered by member, so that repeats can be priced. Runs are bounded a little above what the zone's share
 * needs, because long runs concentrate replicas.
 *
 * Only the cheapest states per partition are kept (a beam), and a new block may start only with the partition's
 * current owner, the owners of the next few partitions (a block may start early to join them) or a zone's cheapest
 * member, which keeps a pass linear in Q.
 *
 * Two uses: `RingSearch` finds the cheapest block-spaced ring with no prices, which hands out the partitions of
 * leaving members and repairs whatever breaks the rule (the ring is a cycle: it is cut at a block boundary, an open
 * pass fixes the first block and the blocks before it, and the closed pass must end in exactly those blocks); then
 * `balanceMembers` rewrites short windows under balance prices until every member is within ⌊Q/S⌋..⌈Q/S⌉.
 */
import { zoneRuleHoldsAround, type BlockPlan, type ZoneModel } from "./zones.js";

/** The owner index of a partition whose owner is leaving. */
export const NOBODY = -1;

/** The most states a pass keeps per partition (the cheapest ones); bounds time and memory on large rings. */
const BEAM_STATES_MAX = 32;

/** States costlier than the cheapest by more than this are dropped: they would need that many moves saved later. */
const BEAM_MARGIN = 5;

/** The cost of extending a block into a run, and of repeating a member within targetN blocks: spacing, not moves. */
const RUN_COST = 0.3;
const REPEAT_COST = 0.3;

/** How much longer than the zone's share needs a run may be. */
const RUN_SLACK = 2;

/** The largest jitter added to a step's cost, so equally priced patterns can mix (see reshape.ts). */
const JITTER = 0.2;

/** What a partition of a member outside the band is worth when rewriting windows, against 1 per move; tried in order. */
const BALANCE_PRICES = [0.9, 1.6, 2.5];

/** Window rewrites: their lengths in multiples of w, the longer ones only for what the shorter ones leave. */
const WINDOW_LENGTHS_PER_W = [4, 8];

/** The longest run of partitions the last-resort repair reassigns at once. */
const REPAIR_LENGTH_MAX = 4;

/** How many sweeps over all windows each slack may take while they still change something. */
const SWEEPS_PER_SLACK_MAX = 3;

/** How many moves over the imbalance it removes a window rewrite may add, sweep by sweep. */
const SWEEP_SLACK = [0, 2, 6, 1_000_000];

/** How states are read; see the module comment. */
export interface SearchSpace {
  readonly q: number;
  readonly memberCount: number;
  readonly zoneOfMember: Int32Array;
  readonly membersOfZone: readonly (readonly number[])[];
  readonly w: number;
  /** How many blocks before the current one a state remembers. */
  readonly history: number;
  /** Whether they are remembered by member (fewer zones than targetN) or by zone. */
  readonly byMember: boolean;
  /** Values a history entry takes; `none` (= alphabet) marks "no block known". */
  readonly alphabet: number;
  /** powers[i] = (alphabet + 1)^i, for reading and pushing history entries. */
  readonly powers: Float64Array;
  /** The longest run each member's blocks may have (by zone): a little over what the zone's share needs. */
  readonly runMax: Int32Array;
  /** Candidate members per partition, at most: the next w + 1 owners, now and in the ring being rewritten, and one per zone. */
  readonly candidatesMax: number;
}

export function searchSpace(q: number, model: ZoneModel, w: number, targetN: number, plan: BlockPlan): SearchSpace {
  const memberCount = model.zoneOfMember.length;
  const byMember = model.names.length < targetN;
  const hi = Math.ceil(q / memberCount);
  // A zone whose members own up to s_z · ⌈Q/S⌉ partitions in at most F blocks needs runs of that many over F.
  const zoneRunMax = model.membersOfZone.map((members) => {
    const most = members.length * hi;
    return Math.ceil(most / Math.max(1, Math.min(most, plan.blocksMax))) + RUN_SLACK;
  });
  return {
    q,
    memberCount,
    zoneOfMember: model.zoneOfMember,
    membersOfZone: model.membersOfZone,
    w,
    history: byMember ? Math.max(0, targetN - 2) : Math.max(0, w - 2),
    byMember,
    alphabet: byMember ? memberCount : model.names.length,
    powers: Float64Array.from({ length: targetN + 1 }, (_, i) => Math.pow((byMember ? memberCount : model.names.length) + 1, i)),
    runMax: Int32Array.from(model.zoneOfMember, (zone) => zoneRunMax[zone] as number),
    candidatesMax: 2 * (w + 1) + model.names.length,
  };
}

/**
 * The state at a partition: the member of its block, how many partitions of the block end here, and the history
 * code of the blocks before that block.
 */
export interface State {
  member: number;
  run: number;
  code: number;
}

/**
 * The costs of one search: moves against `original`, and a price per member. `current`, when rewriting part of a
 * ring, offers its owners as candidates too, so the rewrite can keep what is there.
 */
export interface Costs {
  readonly original: Int32Array;
  readonly price: Float64Array;
  readonly current?: Int32Array;
}

/** The work of one whole-ring pass, in transitions weighed, for deciding whether a search is affordable. */
export function passWork(space: SearchSpace): number {
  return space.q * BEAM_STATES_MAX * (1 + space.candidatesMax);
}

// ---------------------------------------------------------------------------------------------------------------
// History codes: entries in base alphabet + 1, the most recent block in the lowest digit.

function entryAt(space: SearchSpace, code: number, index: number): number {
  return Math.floor(code / (space.powers[index] as number)) % (space.alphabet + 1);
}

function zoneOfEntry(space: SearchSpace, entry: number): number {
  if (entry === space.alphabet) return -1;
  return space.byMember ? (space.zoneOfMember[entry] as number) : entry;
}

function entryOf(space: SearchSpace, member: number): number {
  return space.byMember ? member : (space.zoneOfMember[member] as number);
}

/** The history once `member`'s block ends and a new one starts: `member` becomes the most recent entry. */
function pushEntry(space: SearchSpace, code: number, member: number): number {
  if (space.history === 0) return 0;
  const base = space.alphabet + 1;
  return (code * base + entryOf(space, member)) % (space.powers[space.history] as number);
}

function unknownHistory(space: SearchSpace): number {
  let code = 0;
  for (let i = 0; i < space.history; i++) code = code * (space.alphabet + 1) + space.alphabet;
  return code;
}

/**
 * Whether `next` may start a block right after a block of `member` whose history is `code`: -1 when its zone is
 * among the last w - 1 blocks', otherwise how many of the remembered blocks have the same member (priced as spacing).
 */
function admits(space: SearchSpace, member: number, code: number, next: number): number {
  const zone = space.zoneOfMember[next] as number;
  if (next === member || zone === space.zoneOfMember[member]) return -1;
  let repeats = 0;
  for (let i = 0; i < space.history; i++) {
    const entry = entryAt(space, code, i);
    if (i < space.w - 2 && zoneOfEntry(space, entry) === zone) return -1;
    if (space.byMember && entry === next) repeats++;
  }
  return repeats;
}

// ---------------------------------------------------------------------------------------------------------------
// The core pass.

/** A small fixed pseudo-random cost in [0, JITTER) for member m at partition p (an integer hash, the same everywhere). */
function jitter(p: number, m: number): number {
  let h = Math.imul(p + 1, 0x9e3779b1) ^ Math.imul(m + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 13;
  return ((h >>> 0) / 4294967296) * JITTER;
}

function stepCost(costs: Costs, p: number, m: number): number {
  return (costs.original[p] === m ? 0 : 1) + (costs.price[m] as number) + jitter(p, m);
}

/** Each zone's cheapest member under the prices (ties to the smaller index). */
function cheapestPerZone(space: SearchSpace, price: Float64Array): number[] {
  return space.membersOfZone.map((members) => {
    let cheapest = members[0] as number;
    for (const m of members) if ((price[m] as number) < (price[cheapest] as number)) cheapest = m;
    return cheapest;
  });
}

/**
 * Members worth starting a block with at partition p: its owner and the owners of the next w partitions (a block
 * may start early to join them), the same in the ring being rewritten, and each zone's cheapest member.
 */
function candidatesAt(space: SearchSpace, costs: Costs, cheapest: readonly number[], p: number, out: number[]): number[] {
  out.length = 0;
  for (const ring of costs.current === undefined ? [costs.original] : [costs.original, costs.current]) {
    for (let d = 0; d <= space.w; d++) {
      const owner = ring[(p + d) % space.q] as number;
      if (owner !== NOBODY && !out.includes(owner)) out.push(owner);
    }
  }
  for (const m of cheapest) if (!out.includes(m)) out.push(m);
  return out;
}

/** Run lengths in state keys are below this. */
const RUN_KEY = 4096;

/**
 * The buffers of one pass: per partition (relative to the pass's start) and beam slot, the member, history code and
 * the slot it came from; plus the next layer's candidates, de-duplicated through a small open-addressing table.
 */
class PassBuffers {
  readonly memberAt: Int32Array;
  readonly runAt: Int32Array;
  readonly codeAt: Float64Array;
  readonly prevAt: Int32Array;
  readonly sizeAt: Int32Array;
  dist = new Float64Array(BEAM_STATES_MAX);
  private spare = new Float64Array(BEAM_STATES_MAX);
  readonly nextMember: Int32Array;
  readonly nextRun: Int32Array;
  readonly nextCode: Float64Array;
  readonly nextPrev: Int32Array;
  readonly nextDist: Float64Array;
  readonly order: number[] = [];
  readonly tableKeys: Float64Array;
  readonly tableSlot: Int32Array;
  readonly tableStamp: Int32Array;
  stamp = 0;
  nextSize = 0;
  /** Scratch for `expand`: a state's decoded history, and the zones a new block may not have. */
  readonly entries = new Float64Array(16);
  readonly forbidden: Uint8Array;

  constructor(length: number, candidatesMax: number, zoneCount: number) {
    this.forbidden = new Uint8Array(zoneCount);
    this.memberAt = new Int32Array(length * BEAM_STATES_MAX);
    this.runAt = new Int32Array(length * BEAM_STATES_MAX);
    this.codeAt = new Float64Array(length * BEAM_STATES_MAX);
    this.prevAt = new Int32Array(length * BEAM_STATES_MAX);
    this.sizeAt = new Int32Array(length);
    const next = BEAM_STATES_MAX * (1 + candidatesMax) + BEAM_STATES_MAX;
    this.nextMember = new Int32Array(next);
    this.nextRun = new Int32Array(next);
    this.nextCode = new Float64Array(next);
    this.nextPrev = new Int32Array(next);
    this.nextDist = new Float64Array(next);
    let tableSize = 1;
    while (tableSize < 2 * next) tableSize *= 2;
    this.tableKeys = new Float64Array(tableSize);
    this.tableSlot = new Int32Array(tableSize);
    this.tableStamp = new Int32Array(tableSize);
  }

  startLayer(): void {
    this.nextSize = 0;
    this.stamp++;
  }

  offer(memberCount: number, member: number, run: number, code: number, prev: number, total: number): void {
    const key = (code * RUN_KEY + run) * memberCount + member;
    const mask = this.tableKeys.length - 1;
    let h = (Math.imul(member + 1, 0x9e3779b1) ^ Math.imul((code % 1_000_003) + 7, 0x85ebca6b) ^ Math.imul(run + 3, 0xc2b2ae35)) & mask;
    while (this.tableStamp[h] === this.stamp) {
      if (this.tableKeys[h] === key) {
        const slot = this.tableSlot[h] as number;
        if (total < (this.nextDist[slot] as number)) {
          this.nextDist[slot] = total;
          this.nextPrev[slot] = prev;
        }
        return;
      }
      h = (h + 1) & mask;
    }
    const slot = this.nextSize++;
    this.tableStamp[h] = this.stamp;
    this.tableKeys[h] = key;
    this.tableSlot[h] = slot;
    this.nextMember[slot] = member;
    this.nextRun[slot] = run;
    this.nextCode[slot] = code;
    this.nextPrev[slot] = prev;
    this.nextDist[slot] = total;
  }

  /**
   * Keeps the next layer's states within BEAM_MARGIN of the cheapest as layer `row`; when more than the beam
   * remain, the cheapest (ties by key, so every party keeps the same ones).
   */
  keep(row: number, memberCount: number): number {
    const dist = this.nextDist;
    let cheapest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.nextSize; i++) if ((dist[i] as number) < cheapest) cheapest = dist[i] as number;
    const order = this.order;
    order.length = 0;
    for (let i = 0; i < this.nextSize; i++) if ((dist[i] as number) <= cheapest + BEAM_MARGIN) order.push(i);
    if (order.length > BEAM_STATES_MAX) {
      const keys = this.nextCode;
      const runs = this.nextRun;
      const members = this.nextMember;
      order.sort(
        (a, b) =>
          (dist[a] as number) - (dist[b] as number) ||
          ((keys[a] as number) * RUN_KEY + (runs[a] as number)) * memberCount + (members[a] as number) -
            (((keys[b] as number) * RUN_KEY + (runs[b] as number)) * memberCount + (members[b] as number)),
      );
      order.length = BEAM_STATES_MAX;
    }
    const base = row * BEAM_STATES_MAX;
    const kept = this.spare;
    order.forEach((i, size) => {
      this.memberAt[base + size] = this.nextMember[i] as number;
      this.runAt[base + size] = this.nextRun[i] as number;
      this.codeAt[base + size] = this.nextCode[i] as number;
      this.prevAt[base + size] = this.nextPrev[i] as number;
      kept[size] = dist[i] as number;
    });
    this.spare = this.dist;
    this.dist = kept;
    this.sizeAt[row] = order.length;
    return order.length;
  }
}

/**
 * Runs the search over the `length` partitions from `from` (wrapping), from the states `initial` at the partition
 * before `from` (or, when `first` is given, with partition `from` forced to start a block of first.member with
 * history first.code). `end` accepts or rejects a final state. Returns the cheapest accepted path, or undefined.
 */
function pass(
  space: SearchSpace,
  costs: Costs,
  from: number,
  length: number,
  start: { before: State[] } | { first: State | undefined },
  end: (state: State) => boolean,
  reuse?: PassBuffers,
): { path: Int32Array; cost: number } | undefined {
  const { q, memberCount } = space;
  const buffers = reuse ?? new PassBuffers(length, space.candidatesMax, space.membersOfZone.length);
  const cheapest = cheapestPerZone(space, costs.price);
  const candidates: number[] = [];
  // Layer 0.
  buffers.startLayer();
  const p0 = from % q;
  candidatesAt(space, costs, cheapest, p0, candidates);
  if ("before" in start) {
    start.before.forEach((state, s) => expand(space, costs, buffers, state, 0, s, p0, candidates));
  } else if (start.first !== undefined) {
    buffers.offer(memberCount, start.first.member, 1, start.first.code, -1, stepCost(costs, p0, start.first.member));
  } else {
    const none = unknownHistory(space);
    for (const m of candidates) buffers.offer(memberCount, m, 1, none, -1, stepCost(costs, p0, m));
  }
  let size = buffers.keep(0, memberCount);
  for (let i = 1; i < length && size > 0; i++) {
    const p = (from + i) % q;
    candidatesAt(space, costs, cheapest, p, candidates);
    buffers.startLayer();
    const base = (i - 1) * BEAM_STATES_MAX;
    const dist = buffers.dist;
    const state: State = { member: 0, run: 0, code: 0 };
    for (let s = 0; s < size; s++) {
      state.member = buffers.memberAt[base + s] as number;
      state.run = buffers.runAt[base + s] as number;
      state.code = buffers.codeAt[base + s] as number;
      expand(space, costs, buffers, state, dist[s] as number, s, p, candidates);
    }
    size = buffers.keep(i, memberCount);
  }
  if (size === 0) return undefined;
  const row = (length - 1) * BEAM_STATES_MAX;
  let last = -1;
  for (let s = 0; s < size; s++) {
    if (!end({ member: buffers.memberAt[row + s] as number, run: buffers.runAt[row + s] as number, code: buffers.codeAt[row + s] as number })) continue;
    if (last === -1 || (buffers.dist[s] as number) < (buffers.dist[last] as number)) last = s;
  }
  if (last === -1) return undefined;
  const path = new Int32Array(length);
  let s = last;
  for (let i = length - 1; i >= 0; i--) {
    path[i] = buffers.memberAt[i * BEAM_STATES_MAX + s] as number;
    s = buffers.prevAt[i * BEAM_STATES_MAX + s] as number;
  }
  return { path, cost: buffers.dist[last] as number };
}

/** Offers the successors of `state` at partition p: its block extended (up to the run limit), or a new block. */
function expand(space: SearchSpace, costs: Costs, buffers: PassBuffers, state: State, dist: number, slot: number, p: number, candidates: readonly number[]): void {
  const { member, run, code } = state;
  if (run < (space.runMax[member] as number)) buffers.offer(space.memberCount, member, run + 1, code, slot, dist + stepCost(costs, p, member) + RUN_COST);
  // Decode the history once: the zones a new block may not have, and (by member) the members it should not repeat.
  const entries = buffers.entries;
  let rest = code;
  const base = space.alphabet + 1;
  for (let i = 0; i < space.history; i++) {
    entries[i] = rest % base;
    rest = Math.floor(rest / base);
  }
  const forbidden = buffers.forbidden;
  forbidden.fill(0);
  forbidden[space.zoneOfMember[member] as number] = 1;
  for (let i = 0; i < space.w - 2 && i < space.history; i++) {
    const zone = zoneOfEntry(space, entries[i] as number);
    if (zone >= 0) forbidden[zone] = 1;
  }
  const pushed = pushEntry(space, code, member);
  for (const next of candidates) {
    if (next === member || forbidden[space.zoneOfMember[next] as number] === 1) continue;
    let repeats = 0;
    if (space.byMember) for (let i = 0; i < space.history; i++) if (entries[i] === next) repeats++;
    buffers.offer(space.memberCount, next, 1, pushed, slot, dist + stepCost(costs, p, next) + repeats * REPEAT_COST);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Whole rings.

/** A cut for whole-ring passes: the first partition where the current ring changes between two staying owners. */
export function cutPosition(original: Int32Array): number {
  const q = original.length;
  for (let p = 0; p < q; p++) {
    const before = original[(p - 1 + q) % q] as number;
    if (original[p] !== before && original[p] !== NOBODY && before !== NOBODY) return p;
  }
  for (let p = 0; p < q; p++) if (original[p] !== original[(p - 1 + q) % q]) return p;
  return 0;
}

/**
 * A whole-ring search under fixed prices, cut at `cut`: an open pass fixes the first block and the blocks before
 * it, and `closedPass` then finds cheapest rings that end in exactly those blocks.
 */
export class RingSearch {
  private readonly first: State | undefined;
  private readonly cut: number;

  constructor(
    private readonly space: SearchSpace,
    private readonly original: Int32Array,
    cut: number,
  ) {
    const price = new Float64Array(space.memberCount);
    const open = pass(space, { original, price }, cut, space.q, { first: undefined }, () => true);
    let first = open && firstState(space, open.path);
    if (first === undefined && open !== undefined) {
      // The open path's end clashes with its start (it never had to join them): cut it instead at a block boundary
      // half way round, where the blocks before are its own and fit; the closed pass then mends the old join.
      let k = Math.floor(space.q / 2);
      while (k < space.q && open.path[k] === open.path[k - 1]) k++;
      if (k < space.q) {
        first = firstState(space, rotate(open.path, k));
        if (first !== undefined) cut = (cut + k) % space.q;
      }
    }
    this.first = first ?? firstState(space, rotate(original, cut));
    this.cut = cut;
  }

  /** The cheapest block-spaced ring under `price` (member indices per partition), or undefined if none closes. */
  closedPass(price: Float64Array): Int32Array | undefined {
    const first = this.first;
    if (first === undefined) return undefined;
    const found = pass(this.space, { original: this.original, price }, this.cut, this.space.q, { first }, (state) => closes(this.space, state, first));
    return found && rotate(found.path, this.space.q - this.cut);
  }
}

function rotate(values: Int32Array, by: number): Int32Array {
  const q = values.length;
  const out = new Int32Array(q);
  for (let p = 0; p < q; p++) out[p] = values[(p + by) % q] as number;
  return out;
}

/**
 * The first block of a whole ring `path` (read from its partition 0) with, as history, the blocks that precede it
 * around the ring, skipping a last run of the first member (a closed pass will end differently). Undefined when
 * those blocks clash with the first one.
 */
function firstState(space: SearchSpace, path: Int32Array): State | undefined {
  const q = path.length;
  const member = path[0] as number;
  if (member === NOBODY) return undefined;
  const needed = Math.max(space.history, space.w - 1);
  let p = q - 1;
  while (p > 0 && path[p] === member) p--;
  const previous: number[] = [];
  for (; p > 0 && previous.length < needed; p--) {
    const owner = path[p] as number;
    if (owner === NOBODY) return undefined;
    if (previous[previous.length - 1] !== owner) previous.push(owner);
  }
  if (previous.length < needed) return undefined;
  const zone = space.zoneOfMember[member] as number;
  for (let i = 0; i < space.w - 1; i++) if (space.zoneOfMember[previous[i] as number] === zone) return undefined;
  let code = 0;
  for (let i = space.history - 1; i >= 0; i--) code = code * (space.alphabet + 1) + entryOf(space, previous[i] as number);
  return { member, run: 1, code };
}

/** Whether a ring ending in `state` has, before the cut, exactly the blocks `first` assumed, and admits `first` after them. */
function closes(space: SearchSpace, state: State, first: State): boolean {
  return pushEntry(space, state.code, state.member) === first.code && admits(space, state.member, state.code, first.member) >= 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Window rewrites: correcting zone totals.

/**
 * How far each zone's total is from what balanced members can own: positive above s_z · ⌈Q/S⌉, negative below
 * s_z · ⌊Q/S⌋, zero inside. (With every zone inside its band, the larger shares used add up to Q mod S.)
 */
export function zoneExcess(counts: Int32Array, model: ZoneModel, partitions: number): number[] {
  const memberCount = model.zoneOfMember.length;
  const lo = Math.floor(partitions / memberCount);
  const hi = Math.ceil(partitions / memberCount);
  return model.membersOfZone.map((members) => {
    const total = members.reduce((sum, m) => sum + (counts[m] as number), 0);
    return total > members.length * hi ? total - members.length * hi : total < members.length * lo ? total - members.length * lo : 0;
  });
}

/**
 * Whether the fixed ring after a window ending in `state` stays block-spaced: the next w - 1 blocks that start after
 * it must still be admitted (later blocks only look back at fixed ones).
 */
function joinsRest(space: SearchSpace, ring: Int32Array, state: State, from: number, stop: number): boolean {
  let { member, run, code } = state;
  let started = 0;
  for (let i = 0; i < stop && started < space.w - 1; i++) {
    const next = ring[(from + i) % space.q] as number;
    if (next === member) {
      if (started === 0 && ++run > (space.runMax[member] as number)) return false;
      continue;
    }
    if (admits(space, member, code, next) < 0) return false;
    code = pushEntry(space, code, member);
    member = next;
    started++;
  }
  return true;
}

/** How far members are from balance: the partitions above ⌈Q/S⌉ plus those missing below ⌊Q/S⌋. */
export function memberImbalance(counts: Int32Array, partitions: number): number {
  const lo = Math.floor(partitions / counts.length);
  const hi = Math.ceil(partitions / counts.length);
  let imbalance = 0;
  for (const count of counts) imbalance += count > hi ? count - hi : count < lo ? lo - count : 0;
  return imbalance;
}

/**
 * Balances the members of a block-spaced `ring` by rewriting short windows, visited in a golden-ratio order so that
 * the rewrites spread evenly around the ring. Each window's cheapest rewrite under balance prices (members above the
 * band dearer, members below cheaper; when only one side is out, the members at the far edge of the band take the
 * other role) is applied at once when it reduces the imbalance for few enough added moves; later sweeps accept
 * costlier rewrites. Returns the balanced ring, or undefined if the sweeps end unbalanced.
 */
export function balanceMembers(space: SearchSpace, original: Int32Array, ring: Int32Array): Int32Array | undefined {
  const { q, memberCount } = space;
  const current = Int32Array.from(ring);
  const counts = new Int32Array(memberCount);
  for (const m of current) counts[m] = (counts[m] as number) + 1;
  // Short windows first; the last few partitions out of balance sometimes need a longer one.
  for (const perW of WINDOW_LENGTHS_PER_W) {
    const length = perW * space.w;
    if (q < length + 4 * space.w) break;
    // Windows start every w partitions, in an order that spreads.
    const starts = spreadOrder(Math.ceil(q / space.w)).map((k) => k * space.w);
    const buffers = new PassBuffers(length, space.candidatesMax, space.membersOfZone.length);
    for (const slack of SWEEP_SLACK) {
      for (let sweep = 0; sweep < SWEEPS_PER_SLACK_MAX; sweep++) {
        if (memberImbalance(counts, q) === 0) return current;
        if (!sweepWindows(space, original, current, counts, starts, length, slack, buffers)) break;
      }
    }
  }
  return repairResidual(space, original, current, counts) ? current : undefined;
}

/**
 * The last few partitions out of balance, when window rewrites of block-spaced rings cannot place them: tries every
 * assignment of up to REPAIR_LENGTH_MAX consecutive partitions among a few candidates (their current and former
 * owners, the owners just around them, and the members furthest below quota), and applies the one that removes some
 * imbalance for the fewest added moves while the zone rule still holds by its definition. The result may repeat a
 * member within a preference list's reach (a b a c: the second a is skipped), which block spacing never does.
 */
function repairResidual(space: SearchSpace, original: Int32Array, current: Int32Array, counts: Int32Array): boolean {
  const { q, memberCount } = space;
  const lo = Math.floor(q / memberCount);
  for (let round = memberImbalance(counts, q) + 2; round > 0; round--) {
    const imbalance = memberImbalance(counts, q);
    if (imbalance === 0) return true;
    const needy = Array.from(counts, (count, m) => ({ count, m }))
      .filter(({ count }) => count <= lo)
      .sort((a, b) => a.count - b.count || a.m - b.m)
      .slice(0, 3)
      .map(({ m }) => m);
    let best: { value: number; start: number; members: number[] } | undefined;
    for (let length = 1; length <= REPAIR_LENGTH_MAX && best === undefined; length++) {
      for (let start = 0; start < q; start++) {
        const options: number[][] = [];
        for (let i = 0; i < length; i++) {
          const p = (start + i) % q;
          const around = [current[p] as number, original[p] as number, current[(start - 1 + q) % q] as number, current[(start + length) % q] as number, ...needy];
          options.push([...new Set(around.filter((m) => m !== NOBODY))]);
        }
        forEachChoice(options, (members) => {
          let moves = 0;
          let changed = false;
          members.forEach((member, i) => {
            const p = (start + i) % q;
            if (member === current[p]) return;
            changed = true;
            counts[current[p] as number] = (counts[current[p] as number] as number) - 1;
            counts[member] = (counts[member] as number) + 1;
            moves += (member !== original[p] ? 1 : 0) - (current[p] !== original[p] ? 1 : 0);
          });
          const gain = imbalance - memberImbalance(counts, q);
          members.forEach((member, i) => {
            const p = (start + i) % q;
            if (member === current[p]) return;
            counts[current[p] as number] = (counts[current[p] as number] as number) + 1;
            counts[member] = (counts[member] as number) - 1;
          });
          if (!changed || gain <= 0) return;
          const value = moves - gain;
          if (best !== undefined && value >= best.value) return;
          const saved = Array.from({ length }, (_, i) => current[(start + i) % q] as number);
          members.forEach((member, i) => (current[(start + i) % q] = member));
          const holds = zoneRuleHoldsAround(current, space.zoneOfMember, space.w, start, length);
          saved.forEach((member, i) => (current[(start + i) % q] = member));
          if (holds) best = { value, start, members: [...members] };
        });
      }
    }
    if (best === undefined) return false;
    const { start, members } = best;
    members.forEach((member, i) => {
      const p = (start + i) % q;
      counts[current[p] as number] = (counts[current[p] as number] as number) - 1;
      counts[member] = (counts[member] as number) + 1;
      current[p] = member;
    });
  }
  return memberImbalance(counts, q) === 0;
}

/** Calls `visit` with every choice of one entry from each of `options` (the array passed is reused). */
function forEachChoice(options: readonly (readonly number[])[], visit: (choice: number[]) => void): void {
  const choice = options.map((entries) => entries[0] as number);
  const index = new Int32Array(options.length);
  while (true) {
    visit(choice);
    let i = 0;
    for (; i < options.length; i++) {
      const entries = options[i] as readonly number[];
      index[i] = (index[i] as number) + 1;
      if ((index[i] as number) < entries.length) {
        choice[i] = entries[index[i] as number] as number;
        break;
      }
      index[i] = 0;
      choice[i] = entries[0] as number;
    }
    if (i === options.length) return;
  }
}

/** One sweep over the windows of `length` from `starts`: applies each rewrite that removes imbalance within `slack`. */
function sweepWindows(space: SearchSpace, original: Int32Array, current: Int32Array, counts: Int32Array, starts: readonly number[], length: number, slack: number, buffers: PassBuffers): boolean {
  const q = space.q;
  let changed = false;
  for (const start of starts) {
    const imbalance = memberImbalance(counts, q);
    if (imbalance === 0) return changed;
    // A window helps only if it holds a partition of a member that should shed some (the dearest members).
    if (!holdsDearest(current, counts, start, length)) continue;
    const before = stateBefore(space, current, start);
    if (before === undefined) continue;
    for (const level of BALANCE_PRICES) {
      const price = balancePrices(counts, q, level);
      const found = pass(space, { original, price, current }, start, length, { before: [before] }, (state) => joinsRest(space, current, state, start + length, q - length), buffers);
      if (found === undefined) continue;
      const best = bestPrefix(space, original, current, counts, before, found.path, start, imbalance);
      if (best === undefined || best.value > slack) continue;
      for (let i = 0; i < best.length; i++) {
        const p = (start + i) % q;
        const member = found.path[i] as number;
        counts[current[p] as number] = (counts[current[p] as number] as number) - 1;
        counts[member] = (counts[member] as number) + 1;
        current[p] = member;
      }
      changed = true;
      break;
    }
  }
  return changed;
}

/** Whether the window of `length` partitions from `start` holds a partition of a member balancePrices makes dearer. */
function holdsDearest(current: Int32Array, counts: Int32Array, start: number, length: number): boolean {
  const q = current.length;
  const hi = Math.ceil(q / counts.length);
  const above = counts.some((count) => count > hi);
  for (let i = 0; i < length; i++) {
    const count = counts[current[(start + i) % q] as number] as number;
    if (count > hi || (!above && count === hi)) return true;
  }
  return false;
}

/**
 * The prefix of a window rewrite worth applying: prices are linear, so the cheapest rewrite often hands a member more
 * than it lacks; applying only its first k partitions (where the rest of the ring still joins) can be better. Returns
 * the length and value (moves added minus imbalance removed) of the best prefix that removes some imbalance.
 */
function bestPrefix(space: SearchSpace, original: Int32Array, current: Int32Array, counts: Int32Array, before: State, path: Int32Array, start: number, imbalance: number): { length: number; value: number } | undefined {
  const q = space.q;
  const after = Int32Array.from(counts);
  let state: State = before;
  let moves = 0;
  let best: { length: number; value: number } | undefined;
  for (let k = 0; k < path.length; k++) {
    const p = (start + k) % q;
    const member = path[k] as number;
    const old = current[p] as number;
    after[old] = (after[old] as number) - 1;
    after[member] = (after[member] as number) + 1;
    moves += (member !== original[p] ? 1 : 0) - (old !== original[p] ? 1 : 0);
    state = member === state.member ? { member, run: state.run + 1, code: state.code } : { member, run: 1, code: pushEntry(space, state.code, state.member) };
    if (member === old && k < path.length - 1) continue;
    const gain = imbalance - memberImbalance(after, q);
    if (gain <= 0) continue;
    const value = moves - gain;
    if (best !== undefined && value >= best.value) continue;
    if (!joinsRest(space, current, state, start + k + 1, q - k - 1)) continue;
    best = { length: k + 1, value };
  }
  return best;
}

/** 0..count-1 in golden-ratio order, so that any prefix of them is spread evenly around the ring. */
function spreadOrder(count: number): number[] {
  const seen = new Uint8Array(count);
  const order: number[] = [];
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let k = 0; order.length < count && k < 4 * count; k++) {
    const index = Math.floor(((k * phi) % 1) * count);
    if (seen[index] === 1) continue;
    seen[index] = 1;
    order.push(index);
  }
  for (let index = 0; index < count; index++) if (seen[index] === 0) order.push(index);
  return order;
}

/** The state at the partition before `start` in a block-spaced ring, read by walking back; undefined for one block. */
function stateBefore(space: SearchSpace, ring: Int32Array, start: number): State | undefined {
  const q = ring.length;
  const at = (i: number): number => ring[(((start - 1 - i) % q) + q) % q] as number;
  const member = at(0);
  let i = 0;
  while (i < q && at(i) === member) i++;
  if (i === q) return undefined;
  const run = i;
  const previous: number[] = [];
  while (previous.length < space.history && i < q) {
    const owner = at(i);
    if (previous[previous.length - 1] !== owner) previous.push(owner);
    i++;
  }
  // Blocks counted so far may wrap onto the current block in tiny rings; the history is then approximate, and the
  // final check of the whole ring catches anything it lets through.
  while (previous.length < space.history) previous.push(member);
  let code = 0;
  for (let k = space.history - 1; k >= 0; k--) code = code * (space.alphabet + 1) + entryOf(space, previous[k] as number);
  return { member, run, code };
}

/**
 * Prices that make a rewrite move partitions from members above the band to members below it. When only one side is
 * out of the band, the members at the far edge of the band take the other role.
 */
function balancePrices(counts: Int32Array, partitions: number, level: number): Float64Array {
  const lo = Math.floor(partitions / counts.length);
  const hi = Math.ceil(partitions / counts.length);
  const above = counts.some((count) => count > hi);
  const below = counts.some((count) => count < lo);
  return Float64Array.from(counts, (count) => {
    if (count > hi || (!above && count === hi)) return level;
    if (count < lo || (!below && count === lo)) return -level;
    return 0;
  });
}
