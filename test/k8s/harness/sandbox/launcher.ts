/**
 * Runs a command inside a sandbox: new network, mount and PID namespaces, entered through
 *
 *   setpriv --pdeathsig SIGKILL -- unshare --net --mount --pid --fork --kill-child=SIGKILL ... -- catatonit -- node inside.ts -- COMMAND
 *
 * Everything the Kubernetes test ground starts (etcd, the API server, containerd, the kubelet, every container) lives
 * in those namespaces, so ending the run is the kernel's work: when the sandbox's init (catatonit, PID 1 there) exits,
 * every process in it is killed, and with the last of them go the mounts (container root filesystems, volumes, the
 * tmpfs run directory), the network devices, the pod network namespaces and the iptables rules. The chain of death
 * signals makes this hold even when this launcher is SIGKILLed: setpriv makes unshare die with the launcher, and
 * unshare's --kill-child takes catatonit with it. Only cgroups outlive namespaces; the launcher removes the run's
 * cgroup tree when the command ends, and sweeps the trees and run directories that killed runs (of its own PID
 * namespace, where their launcher pids mean something) left behind.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RUN_NAME_PREFIX, cgroupRunNames, createCgroupRoot, currentPidNamespace, isAlive, removeCgroupRoot, runName, staleRuns } from "./cgroups.js";
import { SANDBOX_ENV, type SandboxInfo } from "./sandbox-info.js";

export const DEFAULT_LAUNCHER = {
  /** Processes die asynchronously after the sandbox's init; their cgroups can be removed only once they are gone. */
  cgroupRemoveAttempts: 50,
  cgroupRemoveIntervalMs: 100,
  /** Programs the sandbox and the node need on this machine (.ci/run installs them). */
  requiredPrograms: ["unshare", "setpriv", "catatonit", "ip", "mount", "iptables", "conntrack", "runc", "openssl"],
};

const INSIDE = fileURLToPath(new URL("./inside.ts", import.meta.url));
const KEEP_MARKER = ".keep";

export interface LaunchOptions {
  command: string[];
  binDir: string;
  images: SandboxInfo["images"];
  /** Keep the run directory (logs, etcd data, volumes) on disk after the run, for a post-mortem. */
  keep?: boolean;
  /** A server listening in this (the host's) network namespace, whose connections are forwarded to the API server. */
  apiForward?: Server;
  /** Called with the sandbox's init pid (in this namespace) once it runs: `nsenter --target PID` enters the sandbox. */
  onStarted?: (initPid: number) => void;
}

export function requireSandboxPrerequisites(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("the Kubernetes test layer needs root: it creates namespaces, cgroups and mounts, and runs a kubelet");
  }
  const path = (process.env.PATH ?? "").split(":");
  const missing = DEFAULT_LAUNCHER.requiredPrograms.filter((p) => !path.some((dir) => existsSync(join(dir, p))));
  if (missing.length > 0) {
    throw new Error(`the Kubernetes test layer needs ${missing.join(", ")} (on Debian: apt-get install runc catatonit conntrack iptables); .ci/run installs them`);
  }
}

/** Removes the cgroup trees and run directories of runs whose launcher died without cleaning up. */
export function sweepStaleRuns(): void {
  const pidNamespace = currentPidNamespace();
  for (const name of staleRuns(cgroupRunNames(), pidNamespace, isAlive)) removeCgroupRoot(name);
  const runDirs = readdirSync(tmpdir()).filter((f) => f.startsWith(RUN_NAME_PREFIX));
  for (const name of staleRuns(runDirs, pidNamespace, isAlive)) {
    if (!existsSync(join(tmpdir(), name, KEEP_MARKER))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/** The pid (in this namespace) of the sandbox's init: unshare's only child. */
function sandboxInit(unsharePid: number): number | undefined {
  try {
    const tasks = readdirSync(`/proc/${unsharePid}/task`);
    const children = tasks.flatMap((t) => readFileSync(`/proc/${unsharePid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean));
    return children[0] ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function removeCgroups(name: string): Promise<void> {
  let left: string[] = [];
  for (let attempt = 0; attempt < DEFAULT_LAUNCHER.cgroupRemoveAttempts; attempt++) {
    left = removeCgroupRoot(name);
    if (left.length === 0) return;
    await new Promise((r) => setTimeout(r, DEFAULT_LAUNCHER.cgroupRemoveIntervalMs));
  }
  process.stderr.write(`[sandbox] could not remove ${left.length} cgroups, e.g. ${left[0]}; the next run sweeps them\n`);
}

/** Runs `options.command` in a new sandbox and resolves with its exit code once everything of the run is gone. */
export async function launchSandbox(options: LaunchOptions): Promise<number> {
  requireSandboxPrerequisites();
  sweepStaleRuns();
  const name = runName(currentPidNamespace(), process.pid, randomBytes(3).toString("hex"));
  const runDir = join(tmpdir(), name);
  mkdirSync(runDir, { mode: 0o700 });
  if (options.keep) writeFileSync(join(runDir, KEEP_MARKER), "kept for a post-mortem; delete at will\n");
  createCgroupRoot(name);
  // A listening socket keeps its network namespace for life: handed to the sandbox as fd 3, it accepts connections
  // made on this machine's loopback, which the sandbox forwards to the API server inside.
  // Node has no public accessor for a listening server's descriptor; its handle carries it.
  const handle = options.apiForward ? (Reflect.get(options.apiForward, "_handle") as { fd?: number } | undefined) : undefined;
  const forwardFd = handle?.fd;
  const forwardAddress = options.apiForward?.address();
  const info: SandboxInfo = {
    name,
    runDir,
    keep: options.keep ?? false,
    cgroupRoot: `/${name}`,
    binDir: options.binDir,
    images: options.images,
    ...(forwardFd !== undefined && typeof forwardAddress === "object" && forwardAddress
      ? { apiForwardFd: 3, apiForwardAddress: `${forwardAddress.address}:${forwardAddress.port}` }
      : {}),
  };
  const child = spawn(
    "setpriv",
    [
      "--pdeathsig", "SIGKILL", "--",
      "unshare", "--net", "--mount", "--pid", "--fork", "--kill-child=SIGKILL", "--mount-proc", "--propagation", "private", "--",
      "catatonit", "--",
      process.execPath, "--import", "tsx", INSIDE, "--", ...options.command,
    ],
    {
      // A process group of its own, so a terminal's Ctrl-C reaches the sandbox once, through this launcher.
      detached: true,
      stdio: ["inherit", "inherit", "inherit", ...(forwardFd !== undefined ? [forwardFd] : [])],
      env: { ...process.env, [SANDBOX_ENV]: JSON.stringify(info) },
    },
  );
  // unshare ignores SIGINT and SIGTERM while it waits; the sandbox's init forwards them to the command, which shuts
  // its cluster down gracefully.
  const forward = (signal: NodeJS.Signals) => {
    const init = child.pid ? sandboxInit(child.pid) : undefined;
    if (init) process.kill(init, signal);
  };
  if (options.onStarted && child.pid) {
    const unshare = child.pid;
    const notify = options.onStarted;
    void (async () => {
      for (let i = 0; i < 50; i++) {
        const init = sandboxInit(unshare);
        if (init) return notify(init);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  }
  const onInt = () => forward("SIGINT");
  const onTerm = () => forward("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  const code = await new Promise<number>((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`[sandbox] could not start: ${err.message}\n`);
      resolve(1);
    });
    child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  });
  process.off("SIGINT", onInt);
  process.off("SIGTERM", onTerm);
  await removeCgroups(name);
  if (options.keep) process.stderr.write(`[sandbox] run directory kept: ${runDir}\n`);
  else rmSync(runDir, { recursive: true, force: true });
  return code;
}
