/**
 * The Kubernetes suite inside its sandbox: starts the one local cluster of the run, then runs mocha with its test
 * files in parallel workers (each file works in namespaces of its own, so they share the cluster safely), each worker
 * attaching to the running cluster instead of starting one. Most of a Kubernetes test is waiting (for pods, transfers,
 * controllers), so on two cores three workers finish the suite in about three quarters of the time two take (10 against
 * 13 minutes at load 20, every test passing). Files that install something cluster-wide (the chart's operator watches
 * every namespace) run first, each in a phase of its own, with only the files that never create a DynamoCluster beside
 * the first of them. Within a phase mocha hands the files to its workers in the order given, so they go longest first
 * (DEFAULT_SUITE.seconds): the longest file starts at once instead of last on a worker that is already busy, and the
 * short ones fill the gaps at the end. Exits 0 only if every file passed.
 *
 *   node --import tsx test/k8s/harness/suite.ts -- MOCHA FILES...    (test/k8s/run.ts starts it in a sandbox)
 */
import { spawn } from "node:child_process";
import { LocalCluster } from "./local-cluster.js";
import { ATTACH_ENV } from "./fixture.js";
import { sandboxInfo } from "./sandbox/sandbox-info.js";
import { DEFAULT_SUITE, phases } from "./schedule.js";

/** Runs mocha on `files` and resolves with its exit status. */
function runMocha(mocha: string, files: string[], parallelJobs: number): Promise<number> {
  const parallel = parallelJobs > 1 && files.length > 1 ? ["--parallel", "--jobs", String(parallelJobs)] : [];
  const child = spawn(process.execPath, [mocha, "--config", "test/k8s/.mocharc.json", ...parallel, ...files], {
    stdio: "inherit",
    env: { ...process.env, [ATTACH_ENV]: "1" },
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward("SIGINT");
  const onTerm = forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return new Promise<number>((resolve) =>
    child.on("exit", (code, signal) => {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(code ?? (signal ? 128 : 1));
    }),
  );
}

async function main(): Promise<number> {
  const separator = process.argv.indexOf("--");
  const [mocha, ...files] = separator < 0 ? [] : process.argv.slice(separator + 1);
  if (!mocha || files.length === 0) throw new Error("usage: suite.ts -- MOCHA FILES...");
  const cluster = new LocalCluster(sandboxInfo());
  try {
    const info = await cluster.start();
    console.error(`[k8s suite] local cluster up in ${info.startupMs} ms (node ${info.nodeName} ${info.nodeIp}, image ${info.dynamoImage})`);
  } catch (err) {
    console.error(`[k8s suite] the local cluster did not start: ${err instanceof Error ? err.message : String(err)}`);
    console.error(`[k8s suite] component logs: ${cluster.runDir}/logs (DYNAMO_K8S_KEEP=1 keeps them after the run)`);
    return 1;
  }
  const jobs = Number(process.env.DYNAMO_K8S_JOBS ?? DEFAULT_SUITE.jobs);
  let code = 0;
  for (const phase of phases(files)) {
    const started = Date.now();
    code = Math.max(code, await runMocha(mocha, phase, jobs));
    console.error(`[k8s suite] ${phase.length} files in ${((Date.now() - started) / 1000).toFixed(0)} s: ${phase.join(" ")}`);
  }
  await cluster.stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`[k8s suite] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
