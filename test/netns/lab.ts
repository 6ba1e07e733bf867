/**
 * The network lab: every storage node in a network namespace of its own, joined by a veth pair to a bridge that lives
 * in a switch namespace, and the test's clients in one more namespace on the same segment. Addresses come from
 * 198.18.0.0/16 (RFC 2544's range for network test beds): node i is 198.18.0.(10 + i), the clients 198.18.100.1.
 *
 * Nothing is made on the host but the namespaces themselves: links, bridge, nftables rules and qdiscs all live inside
 * them, so deleting a run's namespaces (after killing the processes in them) removes everything it made. A run is
 * named by a random id; its namespaces are `dnf<id>-sw`, `dnf<id>-cl`, `dnf<id>-n0`..., its files are under
 * /tmp/dynamo-netlab-<id>, and its lock file /run/dynamo-netlab/<id>.json names the process that owns it. A detached
 * reaper process removes the run when that owner dies, however it dies. A new run refuses to start while a dead run's
 * namespaces or lock are still there, and says how to remove them: it never removes what it did not make.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { run, runIn } from "./exec.js";

export const LAB_PREFIX = "dnf";
export const LAB_STATE_DIR = "/run/dynamo-netlab";
export const LAB_SUBNET = "198.18.0.0/16";
const REPO_ROOT = resolve(new URL("../..", import.meta.url).pathname);

export interface LabHost {
  /** A short name for logs: `n0`, `n1`, ..., `cl`. */
  name: string;
  /** The network namespace. */
  ns: string;
  /** The host's address on the lab segment. */
  address: string;
  /** Its link's far end in the switch namespace (a port of the bridge, or of a relay while the link is impaired). */
  switchPort: string;
}

/** What a process inside the lab needs to know about it; passed as JSON in DYNAMO_NETLAB. */
export interface LabDescription {
  runId: string;
  dir: string;
  switchNs: string;
  bridge: string;
  client: LabHost;
  nodes: LabHost[];
}

export interface Leftover {
  runId: string;
  namespaces: string[];
  lockFile: string | undefined;
  dir: string | undefined;
  owner: string;
}

export class LabLeftoversError extends Error {
  constructor(readonly leftovers: Leftover[]) {
    super(
      `network lab leftovers from a run that did not clean up:\n` +
        leftovers.map((l) => `  run ${l.runId} (${l.owner}): ${[...l.namespaces.map((n) => `netns ${n}`), l.lockFile, l.dir].filter(Boolean).join(", ")}`).join("\n") +
        `\nRemove them with 'npm run netns:clean' (every dead run) or 'npm run netns:clean -- --run ${leftovers[0]!.runId}'; ` +
        `nothing was removed.`,
    );
    this.name = "LabLeftoversError";
  }
}

export function nodeAddress(index: number): string {
  return `198.18.0.${10 + index}`;
}

export const CLIENT_ADDRESS = "198.18.100.1";

/** Why this machine cannot run the lab (not root, a missing tool), or undefined when it can. */
export async function labUnsupportedReason(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "the network lab needs root (network namespaces, nftables, tc)";
  for (const [tool, pkg] of [
    ["ip", "iproute2"],
    ["nft", "nftables"],
    ["tc", "iproute2"],
    ["ethtool", "ethtool"],
  ]) {
    try {
      await run(["sh", "-c", `command -v ${tool}`]);
    } catch {
      return `'${tool}' is missing; install the Debian package ${pkg}`;
    }
  }
  return undefined;
}

export class NetLab {
  private reaper: ChildProcess | undefined;
  private destroyed = false;

  private constructor(readonly description: LabDescription) {}

  /** Creates a lab with `nodes` node namespaces and a client namespace; refuses when a dead run left anything. */
  static async create(options: { nodes: number }): Promise<NetLab> {
    const unsupported = await labUnsupportedReason();
    if (unsupported) throw new Error(unsupported);
    const leftovers = await findLeftovers();
    if (leftovers.length > 0) throw new LabLeftoversError(leftovers);

    const runId = randomBytes(3).toString("hex");
    const prefix = `${LAB_PREFIX}${runId}`;
    const dir = join(tmpdir(), `dynamo-netlab-${runId}`);
    mkdirSync(dir, { recursive: true });
    mkdirSync(LAB_STATE_DIR, { recursive: true });
    writeFileSync(lockPath(runId), JSON.stringify({ runId, pid: process.pid, pidStart: processStart(process.pid), startedAt: new Date().toISOString(), dir }));

    const host = (name: string, address: string, port: string): LabHost => ({ name, ns: `${prefix}-${name}`, address, switchPort: port });
    const description: LabDescription = {
      runId,
      dir,
      switchNs: `${prefix}-sw`,
      bridge: "br0",
      client: host("cl", CLIENT_ADDRESS, "vcl"),
      nodes: Array.from({ length: options.nodes }, (_, i) => host(`n${i}`, nodeAddress(i), `v${i}`)),
    };
    const lab = new NetLab(description);
    lab.startReaper();
    try {
      await lab.build();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  get runId(): string {
    return this.description.runId;
  }

  get dir(): string {
    return this.description.dir;
  }

  /** Starts `argv` inside `host`'s namespace. */
  spawn(host: LabHost, argv: string[], options: SpawnOptions = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", host.ns, ...argv], options);
  }

  /** Kills every process in the lab's namespaces, deletes them, and removes the run's files (unless DYNAMO_TEST_KEEP=1). */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await removeRun(this.runId, { keepDir: process.env.DYNAMO_TEST_KEEP === "1" });
    if (process.env.DYNAMO_TEST_KEEP === "1") console.log(`    kept the lab's files in ${this.dir}`);
    // The reaper sees its input close and exits; the run is already gone.
    this.reaper?.stdin?.end();
  }

  private async build(): Promise<void> {
    const { switchNs, bridge } = this.description;
    await run(["ip", "netns", "add", switchNs]);
    await run(["ip", "-n", switchNs, "link", "add", bridge, "type", "bridge"]);
    // Forward at once: a bridge that spends 15 s learning would swallow the first packets of every test.
    await run(["ip", "-n", switchNs, "link", "set", bridge, "type", "bridge", "forward_delay", "0", "stp_state", "0"]);
    await run(["ip", "-n", switchNs, "link", "set", bridge, "up"]);
    await run(["ip", "-n", switchNs, "link", "set", "lo", "up"]);
    for (const h of [this.description.client, ...this.description.nodes]) await this.addHost(h);
  }

  private async addHost(h: LabHost): Promise<void> {
    const { switchNs, bridge } = this.description;
    await run(["ip", "netns", "add", h.ns]);
    await run(["ip", "-n", switchNs, "link", "add", h.switchPort, "type", "veth", "peer", "name", "eth0", "netns", h.ns]);
    await run(["ip", "-n", switchNs, "link", "set", h.switchPort, "master", bridge, "up"]);
    await run(["ip", "-n", h.ns, "addr", "add", `${h.address}/16`, "dev", "eth0"]);
    await run(["ip", "-n", h.ns, "link", "set", "eth0", "up"]);
    await run(["ip", "-n", h.ns, "link", "set", "lo", "up"]);
    // Full-size frames with finished checksums on the wire: the packet relay that impairs a link copies frames
    // between interfaces, and offloaded (unsegmented, checksum-less) frames would not survive the copy.
    await runIn(h.ns, ["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
    await runIn(switchNs, ["ethtool", "-K", h.switchPort, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
  }

  private startReaper(): void {
    const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "test", "netns", "reaper.ts"), this.runId], {
      cwd: REPO_ROOT,
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
      env: { ...process.env },
    });
    child.unref();
    // The pipe must not keep this process alive; it only has to close when this process dies.
    // A child's stdio pipe is a net.Socket, whose unref lets go of the pipe's handle.
    (child.stdin as Socket | null)?.unref();
    child.stdin?.on("error", () => undefined);
    this.reaper = child;
  }
}

function lockPath(runId: string): string {
  return join(LAB_STATE_DIR, `${runId}.json`);
}

/** The start time of a process (clock ticks since boot), so a recycled pid is not mistaken for the owner. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

interface LockFile {
  runId: string;
  pid: number;
  pidStart?: string;
  dir?: string;
}

function readLock(runId: string): LockFile | undefined {
  try {
    return JSON.parse(readFileSync(lockPath(runId), "utf8")) as LockFile;
  } catch {
    return undefined;
  }
}

function ownerAlive(lock: LockFile | undefined): boolean {
  if (!lock) return false;
  const start = processStart(lock.pid);
  return start !== undefined && (lock.pidStart === undefined || lock.pidStart === start);
}

async function labNamespaces(): Promise<string[]> {
  const out = await run(["ip", "netns", "list"]);
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[0] ?? "")
    .filter((name) => name.startsWith(LAB_PREFIX) && /^dnf[0-9a-f]{6}-/.test(name));
}

/** Every run whose owner is gone but whose namespaces or lock file remain. Live runs (other tests) are not listed. */
export async function findLeftovers(): Promise<Leftover[]> {
  const runs = new Map<string, string[]>();
  for (const ns of await labNamespaces()) {
    const id = ns.slice(LAB_PREFIX.length, LAB_PREFIX.length + 6);
    runs.set(id, [...(runs.get(id) ?? []), ns]);
  }
  if (existsSync(LAB_STATE_DIR)) {
    for (const file of readdirSync(LAB_STATE_DIR)) {
      const m = /^([0-9a-f]{6})\.json$/.exec(file);
      if (m && !runs.has(m[1]!)) runs.set(m[1]!, []);
    }
  }
  const leftovers: Leftover[] = [];
  for (const [runId, namespaces] of runs) {
    const lock = readLock(runId);
    if (ownerAlive(lock)) continue;
    const dir = lock?.dir && existsSync(lock.dir) ? lock.dir : undefined;
    leftovers.push({
      runId,
      namespaces,
      lockFile: existsSync(lockPath(runId)) ? lockPath(runId) : undefined,
      dir,
      owner: lock ? `owner pid ${lock.pid} is gone` : "no lock file",
    });
  }
  return leftovers;
}

/**
 * Removes one run: kills every process in its namespaces (they are the run's nodes, relays and runner, nothing
 * else can be in them), deletes the namespaces (and with them every link, rule and qdisc inside), its files and its
 * lock. Idempotent; the reaper, the lab's own destroy and `npm run netns:clean` all call it.
 */
export async function removeRun(runId: string, options: { keepDir?: boolean } = {}): Promise<void> {
  const lock = readLock(runId);
  const namespaces = (await labNamespaces()).filter((ns) => ns.startsWith(`${LAB_PREFIX}${runId}-`));
  for (let attempt = 0; attempt < 50; attempt++) {
    const pids = new Set<number>();
    for (const ns of namespaces) {
      const out = await run(["ip", "netns", "pids", ns]).catch(() => "");
      for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) if (pid !== process.pid) pids.add(pid);
    }
    if (pids.size === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const ns of namespaces) await run(["ip", "netns", "delete", ns]).catch(() => undefined);
  const dir = lock?.dir ?? join(tmpdir(), `dynamo-netlab-${runId}`);
  if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  rmSync(lockPath(runId), { force: true });
}

/** The lab this process runs in, from DYNAMO_NETLAB (set by `runInLab`). */
export function currentLab(): LabDescription {
  const text = process.env.DYNAMO_NETLAB;
  if (!text) throw new Error("not inside a network lab: DYNAMO_NETLAB is not set (start through runInLab)");
  return JSON.parse(text) as LabDescription;
}
