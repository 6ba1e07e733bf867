/**
 * The first program inside a sandbox (see launcher.ts), run by its init: it gives the empty namespaces what a node
 * needs, then runs the command and exits with its status, which ends the sandbox.
 *
 * - network: loopback up, and node 0's address on a veth pair whose two ends both stay inside (the namespace has no
 *   other way out, so nothing sent here can reach any real network), with the Service range routed to it;
 *   forwarding and bridge netfilter on, which kube-proxy's Service rules need for traffic between pods on one bridge.
 * - mounts, private to the sandbox: a tmpfs for the run directory (unless it is kept), and fresh tmpfs over /run,
 *   /var/lib and /var/log, where containerd, runc, the CNI plugins and the kubelet keep state at paths they do not let
 *   us choose (/run/netns, /var/lib/cni, /var/log/containers, ...). They hide the host's directories from this
 *   sandbox only, and vanish with it.
 */
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { NETWORK_PLAN, nodeAddresses } from "./network-plan.js";
import { sandboxInfo } from "./sandbox-info.js";

export const DEFAULT_SANDBOX_MOUNTS = {
  runDirSize: "8g",
  /** Host directories hidden behind an empty tmpfs inside the sandbox. */
  hidden: ["/run", "/var/lib", "/var/log"],
};

function sh(command: string, args: string[]): void {
  execFileSync(command, args, { stdio: ["ignore", "ignore", "inherit"] });
}

function setUpNetwork(): void {
  const node = nodeAddresses(0);
  sh("ip", ["link", "set", "lo", "up"]);
  sh("ip", ["link", "add", node.link, "type", "veth", "peer", "name", node.linkPeer]);
  sh("ip", ["addr", "add", `${node.ip}/24`, "dev", node.link]);
  sh("ip", ["link", "set", node.link, "up"]);
  sh("ip", ["link", "set", node.linkPeer, "up"]);
  // The node's own connections to Service addresses need a route to leave by: kube-proxy rewrites their destination
  // only after the route is chosen. (Pods send them to their gateway, the bridge, and need nothing here.)
  sh("ip", ["route", "add", NETWORK_PLAN.services, "dev", node.link]);
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
  // Per network namespace since Linux 5.3; the module is loaded by the host (or compiled in).
  if (existsSync("/proc/sys/net/bridge/bridge-nf-call-iptables")) writeFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
}

function setUpMounts(runDir: string, keep: boolean): void {
  if (!keep) sh("mount", ["-t", "tmpfs", "-o", `size=${DEFAULT_SANDBOX_MOUNTS.runDirSize},mode=0700`, "dynamo-k8s-run", runDir]);
  for (const dir of DEFAULT_SANDBOX_MOUNTS.hidden) {
    mkdirSync(dir, { recursive: true });
    sh("mount", ["-t", "tmpfs", "-o", "mode=0755", "dynamo-k8s-run", dir]);
  }
}

async function main(): Promise<number> {
  const separator = process.argv.indexOf("--");
  const [command, ...args] = process.argv.slice(separator + 1);
  if (separator < 0 || !command) throw new Error("usage: inside.ts -- COMMAND [ARGS...]");
  const info = sandboxInfo();
  setUpNetwork();
  setUpMounts(info.runDir, info.keep);
  // The API forwarding socket (fd 3), when there is one, goes on to the command at the same number.
  const stdio = info.apiForwardFd === undefined ? "inherit" : (["inherit", "inherit", "inherit", info.apiForwardFd] as const);
  const child = spawn(command, args, { stdio: stdio as "inherit", env: process.env });
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => {
    child.on("error", (err) => {
      process.stderr.write(`[sandbox] ${command}: ${err.message}\n`);
      resolve(127);
    });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[sandbox] ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
