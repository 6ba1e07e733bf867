/**
 * `npm run k8s:up`: a local Kubernetes for a person, in the foreground until Ctrl-C. It builds the images, starts the
 * sandbox with the whole cluster inside (harness/local-cluster.ts), and forwards the API server to this machine's
 * loopback, so kubectl, helm and `kubectl port-forward` work from any shell with the kubeconfig it prints. Pod and
 * Service addresses (198.19.0.0/16) are only reachable inside the sandbox; `nsenter` (printed too) opens a shell there.
 *
 * The same file is the program inside the sandbox: with the sandbox's environment variable set, it starts the
 * cluster instead.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_CONTROL_PLANE } from "./harness/control-plane/control-plane.js";
import { renderKubeconfig } from "./harness/control-plane/kubeconfig.js";
import { readPem } from "./harness/control-plane/pki.js";
import { LocalCluster } from "./harness/local-cluster.js";
import { sandboxProgram } from "./harness/sandbox/program.js";
import { sandboxInfo } from "./harness/sandbox/sandbox-info.js";

export const DEFAULT_UP = {
  /** The API server's port on this machine's loopback; DYNAMO_K8S_API_PORT overrides it (0 picks a free one). */
  apiPort: 16443,
  kubeconfig: join(process.env.DYNAMO_K8S_CACHE ?? join(homedir(), ".cache", "dynamo-k8s"), "up", "kubeconfig"),
};

/** The listening socket on this machine's loopback that the sandbox forwards to the API server. */
function listenForApi(): Promise<Server> {
  const port = Number(process.env.DYNAMO_K8S_API_PORT ?? DEFAULT_UP.apiPort);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", (err) => reject(new Error(`k8s:up: cannot listen on 127.0.0.1:${port} for the API server (${err.message}); set DYNAMO_K8S_API_PORT`)));
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** Inside the sandbox: start the cluster, forward the API, write the kubeconfig, wait for a signal. */
async function inside(): Promise<number> {
  const info = sandboxInfo();
  const cluster = new LocalCluster(info);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${signal}: stopping the local Kubernetes...`);
    rmSync(DEFAULT_UP.kubeconfig, { force: true });
    await cluster.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));

  const started = await cluster.start().catch((err: unknown) => {
    throw new Error(`k8s:up: the cluster did not start (${err instanceof Error ? err.message : String(err)}); logs in ${info.runDir}/logs with DYNAMO_K8S_KEEP=1`);
  });
  if (info.apiForwardFd !== undefined && info.apiForwardAddress) {
    createServer((client) => {
      const upstream = connect(DEFAULT_CONTROL_PLANE.apiPort, "127.0.0.1");
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    }).listen({ fd: info.apiForwardFd });
    const { pki } = cluster.controlPlane.endpoints;
    mkdirSync(join(DEFAULT_UP.kubeconfig, ".."), { recursive: true });
    writeFileSync(
      DEFAULT_UP.kubeconfig,
      renderKubeconfig(`https://${info.apiForwardAddress}`, readPem(pki.ca.cert), { name: "admin", clientCertPem: readPem(pki.admin.cert), clientKeyPem: readPem(pki.admin.key) }),
      { mode: 0o600 },
    );
  }
  console.log(`Local Kubernetes is up in ${(started.startupMs / 1000).toFixed(1)} s: node ${started.nodeName}, image ${started.dynamoImage} loaded.`);
  console.log("Use it from another shell with:");
  console.log(`  export KUBECONFIG=${DEFAULT_UP.kubeconfig}`);
  console.log(`  export PATH=${info.binDir}:$PATH    # the pinned kubectl and helm`);
  console.log("Ctrl-C stops everything.");
  await new Promise(() => undefined);
  return 0;
}

await sandboxProgram(
  {
    entry: fileURLToPath(import.meta.url),
    apiForward: listenForApi,
    onStarted: (initPid) => {
      process.stderr.write(`sandbox started; a shell inside it, where pod and Service addresses work: nsenter --target ${initPid} --net --mount --pid bash\n`);
    },
  },
  inside,
);
