/**
 * For the lab's cleanup test: creates a lab, starts a long-lived process in one of its namespaces, prints
 * `{"runId", "pid"}` and waits to be killed. Whatever kills it, the reaper must remove the lab.
 */
import { NetLab } from "./lab.js";

const lab = await NetLab.create({ nodes: 1 });
const sleeper = lab.spawn(lab.description.nodes[0]!, ["sleep", "600"], { stdio: "ignore" });
console.log(JSON.stringify({ runId: lab.runId, pid: sleeper.pid, dir: lab.dir }));
setInterval(() => undefined, 60_000);
