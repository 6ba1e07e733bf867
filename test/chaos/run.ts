/**
 * `npm run test:chaos -- --seconds N --seed S`: a longer chaos run than CI's, printing its fault schedule and a
 * Jepsen-style set report; exits 1 if any acknowledged write was lost.
 */
import { parseArgs } from "node:util";
import { runChaos } from "./scenario.js";

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, seed: { type: "string" } } });
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0 || !Number.isInteger(seed)) {
  process.stderr.write("usage: npm run test:chaos -- --seconds N --seed S\n");
  process.exit(2);
}
console.log(`chaos: ${seconds} s of faults, seed=${seed} (replay with --seed ${seed})`);
const report = await runChaos({ seconds, seed, log: (line) => console.log(`  ${line}`) });
if (report.lost.length > 0) {
  console.log(`LOST ${report.lost.length} acknowledged elements: ${report.lost.slice(0, 20).join(", ")}`);
  process.exit(1);
}
console.log("no acknowledged write lost");
