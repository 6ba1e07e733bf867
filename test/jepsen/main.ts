/**
 * `npm run test:jepsen -- --minutes N --seed S [--kinds partition,link,skew,...] [--long-partition-seconds L]`:
 * a Jepsen-style run of N minutes in a fresh network lab. Prints the seed (replay with --seed), the fault schedule,
 * each checker's report and where the timeline (JSON lines and an HTML plot) was written; exits 1 if any check
 * failed, 2 on bad usage. Needs root and the lab's Debian packages (see docs/fault-testing.md).
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runInLab } from "../netns/launch.js";
import { FAULT_KINDS } from "./nemesis.js";

const USAGE = "usage: npm run test:jepsen -- --minutes N [--seed S] [--kinds k1,k2] [--long-partition-seconds L] [--nodes 5] [--out DIR]";
let values;
try {
  ({ values } = parseArgs({
    options: {
      minutes: { type: "string", default: "5" },
      seed: { type: "string" },
      kinds: { type: "string", default: FAULT_KINDS.join(",") },
      "long-partition-seconds": { type: "string", default: "60" },
      nodes: { type: "string", default: "5" },
      out: { type: "string" },
    },
  }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
const minutes = Number(values.minutes);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const nodes = Number(values.nodes);
if (!(minutes > 0) || !Number.isSafeInteger(seed) || !Number.isInteger(nodes) || nodes < 3) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const out = values.out ?? join(tmpdir(), `dynamo-jepsen-${seed}-${Date.now()}`);
console.log(`jepsen: ${minutes} min of ${values.kinds}, seed=${seed} (replay with --seed ${seed}); results in ${out}`);
const args = ["--seed", String(seed), "--seconds", String(Math.round(minutes * 60)), "--nodes", String(nodes), "--kinds", values.kinds!];
args.push("--long-partition-seconds", values["long-partition-seconds"]!, "--out", out);
const result = await runInLab("test/jepsen/run.ts", args, {
  nodes,
  onLab: (lab) => console.log(`network lab ${lab.runId}`),
  onLine: (line) => {
    if (!line.startsWith("REPORT ")) console.log(line);
  },
});
const reportLine = result.output.split("\n").find((l) => l.startsWith("REPORT "));
if (!reportLine) {
  console.log(`the run ended without a report (exit ${result.code})`);
  process.exit(1);
}
const report = JSON.parse(reportLine.slice(7)) as { violations: string[]; plot: string; timeline: string };
console.log(`timeline: ${report.timeline}\nplot: ${report.plot}`);
if (report.violations.length > 0) {
  console.log(`${report.violations.length} violations (seed ${seed}):`);
  for (const v of report.violations.slice(0, 50)) console.log(`  ${v}`);
  process.exit(1);
}
console.log(`no violations (seed ${seed})`);
