/**
 * The soak's entry point inside the lab (started by ./main.ts through `runInLab`): runs it, prints its log, and ends
 * with one `REPORT {json}` line; exits 1 when a measure did not stay flat.
 */
import { parseArgs } from "node:util";
import { exitWithLauncher } from "../netns/launch.js";
import { runSoak } from "./soak.js";

exitWithLauncher();
const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    minutes: { type: "string" },
    records: { type: "string" },
    clients: { type: "string" },
    "value-bytes": { type: "string" },
    out: { type: "string" },
  },
});
const minutes = Number(values.minutes);
const report = await runSoak({
  seed: Number(values.seed),
  durationMs: minutes * 60_000,
  records: Number(values.records),
  clients: Number(values.clients),
  valueBytes: Number(values["value-bytes"]),
  // A fifth of the run, at most five minutes: caches fill, the JIT settles, LevelDB compacts its first levels.
  warmupMs: Math.min(5 * 60_000, (minutes * 60_000) / 5),
  ringChangeEveryMs: Math.max(60_000, Math.min(5 * 60_000, (minutes * 60_000) / 6)),
  sampleEveryMs: minutes >= 10 ? 10_000 : 2000,
  outDir: values.out!,
  log: (line) => console.log(line),
});
console.log(`REPORT ${JSON.stringify(report)}`);
process.exit(report.violations.length > 0 ? 1 : 0);
