/**
 * `npm run bench:zone-claim`: moves and CPU time of the zone-aware claim planner on the membership changes that
 * matter in practice (targetN 3, members m0, m1, ... in three zones round-robin as `dynamo dev --zones a,b,c` assigns
 * them): a member added to each zone, one member joining or leaving one zone, a member leaving each of two zones (12 -> 10:
 * the last two; 12 -> 10n: two whose blocks neighbour each other on the ring), at Q = 256 to 4096. Prints one row per
 * change: moved, the minimum any balanced plan moves, their ratio, the largest difference between the replicas two
 * members of one zone hold, and the CPU time of the plan (the median of --runs runs).
 * Flags: --runs R (default 3) --q LIST (default 256,1024,4096)
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { initialClaim, minimumMoves, movedPartitions, planClaim, replicaSpreadByZone } from "../node/ring/index.js";

const { values: flags } = parseArgs({ options: { runs: { type: "string", default: "3" }, q: { type: "string", default: "256,1024,4096" } } });
const RUNS = Number(flags.runs);
const SIZES = flags.q.split(",").map(Number);
const TARGET_N = 3;
const ZONES = 3;

/** Member changes: [members before, members after]; members are m0..m(k-1), so k -> k-1 removes the last one. */
const CHANGES: [number, number][] = [
  [6, 9],
  [9, 8],
  [7, 8],
  [8, 7],
  [11, 12],
  [12, 11],
  [12, 10],
  // The same, but the two who leave are neighbours on the ring: the owner of partition 0 and of the next block.
  [12, -10],
];

function membersOf(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `m${i}`);
}

function zonesOf(count: number): Record<string, string> {
  return Object.fromEntries(membersOf(count).map((id, i) => [id, `zone-${i % ZONES}`]));
}


console.log(`zone-aware planClaim, targetN ${TARGET_N}, ${ZONES} zones round-robin, median CPU of ${RUNS} runs, load average ${loadavg()[0]?.toFixed(1)}`);
console.log(`${"Q".padStart(6)}  ${"members".padEnd(9)}${"moved".padStart(7)}${"minimum".padStart(9)}${"ratio".padStart(7)}${"spread".padStart(8)}${"CPU ms".padStart(9)}`);
for (const q of SIZES) {
  for (const [before, after] of CHANGES) {
    const zones = zonesOf(Math.max(before, Math.abs(after)));
    const owners = initialClaim(q, membersOf(before), TARGET_N, zones);
    const neighbours = [owners[0], owners.find((owner) => owner !== owners[0])];
    const members = after >= 0 ? membersOf(after) : membersOf(before).filter((id) => !neighbours.includes(id));
    const times: number[] = [];
    let plan: string[] = [];
    for (let run = 0; run < RUNS; run++) {
      const start = process.cpuUsage();
      plan = planClaim(owners, members, TARGET_N, zones);
      const used = process.cpuUsage(start);
      times.push((used.user + used.system) / 1000);
    }
    times.sort((a, b) => a - b);
    const moved = movedPartitions(owners, plan).length;
    const minimum = minimumMoves(owners, members);
    const ratio = minimum === 0 ? 1 : moved / minimum;
    console.log(
      `${String(q).padStart(6)}  ${`${before} -> ${Math.abs(after)}${after < 0 ? "n" : ""}`.padEnd(9)}${String(moved).padStart(7)}${String(minimum).padStart(9)}` +
        `${ratio.toFixed(2).padStart(7)}${String(replicaSpreadByZone(plan, zones, TARGET_N)).padStart(8)}${(times[Math.floor(RUNS / 2)] as number).toFixed(0).padStart(9)}`,
    );
  }
}
