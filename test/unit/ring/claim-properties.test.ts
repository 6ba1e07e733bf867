import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import {
  initialClaim,
  minimumMoves,
  movedPartitions,
  partitionsPerMember,
  planClaim,
  spacingFeasible,
  spacingViolations,
} from "../../../node/ring/index.js";
import type { SeededRandom } from "../../../lib/random.js";
import { seededRandom } from "../../../lib/random.js";
import { testSeed } from "../../helpers/random.js";

/**
 * Seeded random join/leave sequences, checking after every step that the plan is balanced, spaced whenever spacing
 * is feasible, independent of member order, and within the documented slack of the minimum moves (docs/ring.md).
 *
 * RING_SLACK_SURVEY=<file> turns the slack check into a survey: every plan appends a line
 * "targetN regime Q membersBefore membersAfter moved minimum staying" to the file instead, which is how the slack in
 * docs/ring.md was measured.
 */

const surveyFile = process.env.RING_SLACK_SURVEY || undefined;

interface Scenario {
  partitions: number;
  targetN: number;
  /** Member counts wander between 1 and this; small clusters are where spacing constrains the most. */
  membersMax: number;
  steps: number;
}

const SCENARIOS: Scenario[] = [
  { partitions: 8, targetN: 3, membersMax: 64, steps: 30 },
  { partitions: 32, targetN: 3, membersMax: 10, steps: 40 },
  { partitions: 64, targetN: 3, membersMax: 64, steps: 30 },
  { partitions: 256, targetN: 3, membersMax: 10, steps: 30 },
  { partitions: 256, targetN: 3, membersMax: 64, steps: 20 },
  { partitions: 1024, targetN: 3, membersMax: 10, steps: 12 },
  { partitions: 1024, targetN: 3, membersMax: 64, steps: 12 },
  { partitions: 32, targetN: 2, membersMax: 8, steps: 30 },
  { partitions: 256, targetN: 2, membersMax: 64, steps: 20 },
  { partitions: 64, targetN: 4, membersMax: 12, steps: 30 },
  { partitions: 256, targetN: 4, membersMax: 12, steps: 20 },
  { partitions: 32, targetN: 5, membersMax: 14, steps: 30 },
  { partitions: 256, targetN: 5, membersMax: 14, steps: 16 },
];

/**
 * Where a plan sits. `free`: spacing cannot hold, so the plan must move exactly the minimum. `rigid`: S = targetN, where
 * the only spaced balanced rings repeat every S partitions. `tight`: targetN < S < 2 · targetN, where spacing still
 * constrains placements a lot. `roomy`: S ≥ 2 · targetN.
 */
type Regime = "free" | "rigid" | "tight" | "roomy";

function regimeOf(partitions: number, memberCount: number, targetN: number): Regime {
  if (!spacingFeasible(partitions, memberCount, targetN)) return "free";
  if (memberCount === targetN) return "rigid";
  return memberCount < 2 * targetN ? "tight" : "roomy";
}

/**
 * The most partitions a plan may move, per regime (measured in docs/ring.md; at most about 60% of these allowances
 * was used over 54 surveyed seeds). The roomy regime almost always hits the minimum. In the tight regime the minimum
 * is usually unreachable: spaced rings with few members are stiff, so filling a freed partition means changing its
 * neighbours too. In the rigid regime the planner picks the best of the S! · S periodic rings, which keeps at least
 * their average: 1/S of the `staying` partitions, those whose owner remains a member.
 */
function movesAllowed(regime: Regime, minimum: number, partitions: number, staying: number, memberCount: number): number {
  switch (regime) {
    case "free":
      return minimum;
    case "roomy":
      return 2 * minimum + 4;
    case "tight":
      return 3 * minimum + Math.ceil(partitions / 4);
    case "rigid":
      return partitions - Math.ceil(staying / memberCount);
  }
}

interface Tally {
  plans: number;
  moved: number;
  minimum: number;
  atMinimum: number;
  worstExtra: number;
  worst: string;
}

const tallies = new Map<string, Tally>();

function record(key: string, moved: number, minimum: number, description: string): void {
  const tally = tallies.get(key) ?? { plans: 0, moved: 0, minimum: 0, atMinimum: 0, worstExtra: -1, worst: "" };
  tally.plans++;
  tally.moved += moved;
  tally.minimum += minimum;
  if (moved === minimum) tally.atMinimum++;
  if (moved - minimum > tally.worstExtra) {
    tally.worstExtra = moved - minimum;
    tally.worst = `${description}: ${moved} vs ${minimum}`;
  }
  tallies.set(key, tally);
}

function printTallies(): void {
  const rows = [...tallies.entries()].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
  console.log("      moves vs minimum (all steps of all scenarios)");
  console.log(`      ${"targetN regime".padEnd(16)}${"plans".padStart(6)}${"at min".padStart(8)}${"moved".padStart(8)}${"minimum".padStart(9)}${"ratio".padStart(7)}  worst extra`);
  for (const [key, t] of rows) {
    const ratio = t.minimum === 0 ? 1 : t.moved / t.minimum;
    console.log(
      `      ${key.padEnd(16)}${String(t.plans).padStart(6)}${String(t.atMinimum).padStart(8)}${String(t.moved).padStart(8)}` +
        `${String(t.minimum).padStart(9)}${ratio.toFixed(3).padStart(7)}  +${t.worstExtra} (${t.worst})`,
    );
  }
}

/** The next member set: joins, leaves, a replacement, or a jump to a random size, between 1 and `membersMax`. */
function nextMembers(random: SeededRandom, members: string[], membersMax: number, fresh: () => string): string[] {
  const next = [...members];
  const join = (count: number): void => {
    for (let i = 0; i < count && next.length < membersMax; i++) next.push(fresh());
  };
  const leave = (count: number): void => {
    for (let i = 0; i < count && next.length > 1; i++) next.splice(random.int(next.length), 1);
  };
  const roll = random.next();
  if (roll < 0.35) join(random.between(1, 3));
  else if (roll < 0.7) leave(random.between(1, 3));
  else if (roll < 0.85) {
    leave(1);
    join(1);
  } else {
    const target = random.between(1, membersMax);
    if (target > next.length) join(target - next.length);
    else leave(next.length - target);
  }
  return next;
}

describe("claim planner under seeded random joins and leaves", function () {
  this.timeout(120_000);
  const seed = testSeed("ring claim properties");

  after(printTallies);

  SCENARIOS.forEach((scenario, index) => {
    const { partitions, targetN, membersMax, steps } = scenario;
    it(`Q=${partitions}, targetN=${targetN}, up to ${membersMax} members: balanced, spaced when feasible, order-independent, within slack`, () => {
      const random = seededRandom(seed * 31 + index);
      let serial = 0;
      const fresh = (): string => `m${serial++}`;
      let members = Array.from({ length: random.between(1, membersMax) }, fresh);
      let owners = initialClaim(partitions, members, targetN);
      for (let step = 0; step < steps; step++) {
        const previous = members;
        members = nextMembers(random, members, membersMax, fresh);
        const context = `seed ${seed}, Q=${partitions}, targetN=${targetN}, step ${step}, ${previous.length} -> ${members.length} members`;
        const plan = planClaim(owners, members, targetN);

        const counts = partitionsPerMember(plan);
        const low = Math.floor(partitions / members.length);
        for (const id of Object.keys(counts)) assert.ok(members.includes(id), `${context}: ${id} left but still owns partitions`);
        for (const id of members) {
          const count = counts[id] ?? 0;
          assert.ok(count === low || count === low + 1, `${context}: ${id} owns ${count}, outside ${low}..${low + 1}`);
        }

        if (spacingFeasible(partitions, members.length, targetN)) {
          assert.deepEqual(spacingViolations(plan, targetN), [], `${context}: spacing broken`);
        }

        if (partitions <= 256 || step % 4 === 0) {
          const shuffled = random.shuffle(members);
          assert.deepEqual(planClaim(owners, shuffled, targetN), plan, `${context}: plan depends on member order`);
        }

        const moved = movedPartitions(owners, plan).length;
        const minimum = minimumMoves(owners, members);
        const staying = owners.filter((owner) => members.includes(owner)).length;
        const regime = regimeOf(partitions, members.length, targetN);
        record(`${targetN} ${regime}`, moved, minimum, `Q=${partitions} ${previous.length}->${members.length}`);
        owners = plan;
        if (surveyFile !== undefined) {
          appendFileSync(surveyFile, `${targetN} ${regime} ${partitions} ${previous.length} ${members.length} ${moved} ${minimum} ${staying}\n`);
          continue;
        }
        const allowed = movesAllowed(regime, minimum, partitions, staying, members.length);
        assert.ok(moved <= allowed, `${context}: moved ${moved}, minimum ${minimum}, allowed ${allowed} (${regime})`);
      }
    });
  });
});
