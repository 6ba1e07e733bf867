/**
 * `npm run netns:clean [-- --run ID]`: removes what crashed network-lab runs left behind (namespaces with their
 * processes, links, rules and qdiscs; files; lock). Runs whose owner is still alive are never touched.
 */
import { parseArgs } from "node:util";
import { findLeftovers, removeRun } from "./lab.js";

const { values } = parseArgs({ options: { run: { type: "string" } } });
const leftovers = (await findLeftovers()).filter((l) => values.run === undefined || l.runId === values.run);
if (values.run !== undefined && leftovers.length === 0) {
  process.stderr.write(`netns:clean: no dead run ${values.run} (it is gone already, or its owner is alive)\n`);
  process.exit(1);
}
for (const leftover of leftovers) {
  await removeRun(leftover.runId);
  console.log(`removed run ${leftover.runId}: ${[...leftover.namespaces, leftover.lockFile, leftover.dir].filter(Boolean).join(", ") || "nothing left"}`);
}
if (leftovers.length === 0) console.log("netns:clean: nothing to remove");
