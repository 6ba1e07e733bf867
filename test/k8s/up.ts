// `npm run k8s:up`: starts the local cluster for a person, prints how to point kubectl and helm at
// it, and stays in the foreground until Ctrl-C (or SIGTERM), which stops every process it started.
import { toolchainBinDir } from "./control-plane.js";
import { LocalCluster } from "./local-cluster.js";

const cluster = new LocalCluster();
let stopping = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.error(`\n${signal}: stopping the local Kubernetes...`);
  await cluster.stop();
  process.exit(0);
}

process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

try {
  const info = await cluster.start();
  console.log(`Local Kubernetes is up in ${(info.startupMs / 1000).toFixed(1)} s (node ${info.nodeName}, run directory ${info.runDir}).`);
  console.log(`API server: ${info.server}`);
  console.log("Use it from another shell with:");
  console.log(`  export KUBECONFIG=${info.kubeconfig}`);
  console.log(`  export PATH=${toolchainBinDir()}:$PATH    # for the pinned helm`);
  console.log("Ctrl-C stops everything.");
} catch (err) {
  console.error(`k8s:up failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
