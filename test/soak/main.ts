/**
 * `npm run soak -- --minutes 30 [--seed S] [--records 20000] [--clients 8] [--value-bytes 512] [--out DIR]`: mixed
 * YCSB load with periodic faults and ring changes in a fresh network lab, reporting each node's resident memory,
 * event-loop lag, open handles, LevelDB size and hint store over time; exits 1 if any of them did not stay flat after
 * warm-up. Needs root and the lab's Debian packages (docs/fault-testing.md). Run it niced on a shared machine.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runInLab } from "../netns/launch.js";
import type { SoakReport } from "./soak.js";

const USAGE = "usage: npm run soak -- --minutes N [--seed S] [--records 20000] [--clients 8] [--value-bytes 512] [--out DIR]";
let values;
try {
  ({ values } = parseArgs({
    options: {
      minutes: { type: "string", default: "30" },
      seed: { type: "string" },
      records: { type: "string", default: "20000" },
      clients: { type: "string", default: "8" },
      "value-bytes": { type: "string", default: "512" },
      out: { type: "string" },
    },
  }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
const minutes = Number(values.minutes);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const numbers = [values.records, values.clients, values["value-bytes"]].map(Number);
if (!(minutes >= 1) || !Number.isSafeInteger(seed) || numbers.some((n) => !Number.isInteger(n) || n < 1)) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const out = values.out ?? join(tmpdir(), `dynamo-soak-${seed}-${Date.now()}`);
console.log(`soak: ${minutes} min, seed=${seed} (replay with --seed ${seed}); results in ${out}`);
const args = ["--seed", String(seed), "--minutes", String(minutes), "--records", values.records!, "--clients", values.clients!];
args.push("--value-bytes", values["value-bytes"]!, "--out", out);
const result = await runInLab("test/soak/run.ts", args, {
  nodes: 5,
  onLab: (lab) => console.log(`network lab ${lab.runId}`),
  onLine: (line) => {
    if (!line.startsWith("REPORT ")) console.log(line);
  },
});
const line = result.output.split("\n").find((l) => l.startsWith("REPORT "));
if (!line) {
  console.log(`the soak ended without a report (exit ${result.code})`);
  process.exit(1);
}
const report = JSON.parse(line.slice(7)) as SoakReport;
const mib = (b: number) => (b / 1024 / 1024).toFixed(0);
console.log("\nafter warm-up, first quarter → last quarter (max):");
console.log("node     RSS MiB          heap MiB         lag p99 ms       handles      fds          LevelDB MiB      hints (max)   RSS slope MiB/h");
for (const n of report.nodes) {
  console.log(
    `${n.node.padEnd(8)} ${`${mib(n.rssBytes.first)} → ${mib(n.rssBytes.last)} (${mib(n.rssBytes.max)})`.padEnd(16)} ` +
      `${`${mib(n.heapUsedBytes.first)} → ${mib(n.heapUsedBytes.last)} (${mib(n.heapUsedBytes.max)})`.padEnd(16)} ` +
      `${`${n.eventLoopLagMs.first.toFixed(0)} → ${n.eventLoopLagMs.last.toFixed(0)} (${n.eventLoopLagMs.max.toFixed(0)})`.padEnd(16)} ` +
      `${`${n.handles.first} → ${n.handles.last}`.padEnd(12)} ${`${n.openFds.first} → ${n.openFds.last}`.padEnd(12)} ${`${mib(n.diskBytes.first)} → ${mib(n.diskBytes.last)} (${mib(n.diskBytes.max)})`.padEnd(16)} ` +
      `${String(n.hints.max).padEnd(13)} ${(n.rssBytes.slopePerHour / 1024 / 1024).toFixed(1)}`,
  );
}
console.log(`plot: ${report.plot}`);
if (report.violations.length > 0) {
  console.log(`${report.violations.length} measures did not stay flat (seed ${seed}):`);
  for (const v of report.violations) console.log(`  ${v}`);
  process.exit(1);
}
console.log(`every measure stayed flat after warm-up (seed ${seed})`);
