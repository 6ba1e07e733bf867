/**
 * The lab's reaper: started detached (its own session, so a Ctrl-C or a kill of the test's process group misses it)
 * with a pipe from the process that owns the run. When that pipe closes — the owner finished, crashed or was
 * SIGKILLed — it removes whatever of the run is left. Usage: node --import tsx test/netns/reaper.ts <run id>
 */
import { removeRun } from "./lab.js";

const runId = process.argv[2];
if (!runId || !/^[0-9a-f]{6}$/.test(runId)) {
  process.stderr.write("usage: reaper.ts <run id>\n");
  process.exit(2);
}
for (const signal of ["SIGINT", "SIGHUP", "SIGTERM"] as const) process.on(signal, () => undefined);

let reaping = false;
const reap = (): void => {
  if (reaping) return;
  reaping = true;
  removeRun(runId, { keepDir: process.env.DYNAMO_TEST_KEEP === "1" }).finally(() => process.exit(0));
};
process.stdin.on("end", reap);
process.stdin.on("close", reap);
process.stdin.on("error", reap);
process.stdin.resume();
