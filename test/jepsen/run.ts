/**
 * The Jepsen run's entry point inside the lab (started by ./main.ts or the CI test through `runInLab`): runs the
 * scenario, prints its log, and ends with one `REPORT {json}` line; exits 1 when any check failed.
 * Usage: run.ts --seed S --seconds N --nodes 5 --kinds partition,link,... --long-partition-seconds L --out DIR
 */
import { parseArgs } from "node:util";
import { exitWithLauncher } from "../netns/launch.js";
import { FAULT_KINDS, type FaultKind } from "./nemesis.js";
import { runJepsen } from "./scenario.js";

exitWithLauncher();
const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seconds: { type: "string" },
    nodes: { type: "string", default: "5" },
    kinds: { type: "string", default: FAULT_KINDS.join(",") },
    "long-partition-seconds": { type: "string", default: "0" },
    "convergence-bound-seconds": { type: "string", default: "60" },
    out: { type: "string" },
  },
});
const kinds = values.kinds!.split(",").filter(Boolean) as FaultKind[];
for (const kind of kinds) if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${kind}; known: ${FAULT_KINDS.join(", ")}`);
const report = await runJepsen({
  seed: Number(values.seed),
  durationMs: Number(values.seconds) * 1000,
  nodes: Number(values.nodes),
  kinds,
  longPartitionMs: Number(values["long-partition-seconds"]) * 1000,
  convergenceBoundMs: Number(values["convergence-bound-seconds"]) * 1000,
  outDir: values.out!,
  log: (line) => console.log(line),
});
console.log(`REPORT ${JSON.stringify(report)}`);
process.exit(report.violations.length > 0 ? 1 : 0);
