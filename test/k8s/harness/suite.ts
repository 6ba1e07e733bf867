/**
 * The Kubernetes suite inside its sandbox: starts the one local cluster of the run, then runs mocha with its test
 * files in parallel workers (each file works in namespaces of its own, so they share the cluster safely), each worker
 * attaching to the running cluster instead of starting one. Most of a Kubernetes test is waiting (for pods, transfers,
 * controllers), so on two cores three workers finish the suite in about three quarters of the time two take (10 against
 * 13 minutes at load 20, every test passing). Files that install something cluster-wide (the chart's operator watches
 * every namespace) run first, on their own. Exits 0 only if every file passed.
 *
 *   node --import tsx test/k8s/harness/suite.ts -- MOCHA FILES...    (test/k8s/run.ts starts it in a sandbox)
 */
import { spawn } from "node:child_process";
import { LocalCluster } from "./local-cluster.js";
import { ATTACH_ENV } from "./fixture.js";
import { sandboxInfo } from "./sandbox/sandbox-info.js";

export const DEFAULT_SUITE = {
  /** Parallel mocha workers; DYNAMO_K8S_JOBS overrides (1 runs the files one after another, 2 is gentler on a busy machine). */
  jobs: 3,
  /** Test files that must have the cluster to themselves: what they install acts on every namespace. */
  exclusive: /\/chart\//,
};

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
  const exclusive = files.filter((f) => DEFAULT_SUITE.exclusive.test(f));
  const shared = files.filter((f) => !DEFAULT_SUITE.exclusive.test(f));
  let code = 0;
  if (exclusive.length > 0) code = Math.max(code, await runMocha(mocha, exclusive, 1));
  if (shared.length > 0) code = Math.max(code, await runMocha(mocha, shared, jobs));
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
