// Pod IPs for the process kubelet. Every pod gets a loopback address of its own, which its
// containers bind, so three pods can all listen on port 8080. Several clusters may run on one
// machine at once (people run suites side by side), so each run first reserves a /24 of its own,
// 127.0.<n>.0, through an exclusive lock file naming its process; a lock whose process is gone is
// taken over. As a second guard, a subnet where anything already listens (per /proc/net/tcp) is
// skipped even when its lock is free. DYNAMO_K8S_POD_SUBNET (e.g. "127.0.0") forces a prefix.
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const DEFAULT_POD_NETWORK = {
  /** Third octets tried for a run's subnet; 0 is left to other test layers, which use 127.0.0.x. */
  subnetFirst: 1,
  subnetLast: 254,
  /** Host part of pod IPs: .10 to .250. */
  hostFirst: 10,
  hostLast: 250,
  lockDir: join(tmpdir(), "dynamo-k8s-subnets"),
};

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

// The lock file is created complete, through a hard link of a file that already holds our pid, so
// no other run can ever read it half written and mistake it for a stale lock.
function createLock(path: string): boolean {
  const staged = `${path}.${process.pid}`;
  writeFileSync(staged, String(process.pid));
  try {
    linkSync(staged, path);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(staged, { force: true });
  }
}

function tryLock(path: string): boolean {
  if (createLock(path)) return true;
  const owner = Number(readFileSync(path, "utf8").trim());
  if (alive(owner)) return false;
  rmSync(path, { force: true });
  return createLock(path);
}

/** Third octets of 127.0.x.y addresses with a listening TCP socket on this machine. */
function listeningSubnets(): Set<number> {
  const subnets = new Set<number>();
  const table = "/proc/net/tcp";
  if (!existsSync(table)) return subnets;
  for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
    const [, local, , state] = line.trim().split(/\s+/);
    if (state !== "0A" || !local) continue;
    // The address is four bytes of hex in host (little-endian) order: 0A01007F is 127.0.1.10.
    const bytes = (local.split(":")[0] ?? "").match(/../g)?.map((b) => parseInt(b, 16)).reverse() ?? [];
    if (bytes[0] === 127 && bytes[1] === 0 && bytes[2] !== undefined) subnets.add(bytes[2]);
  }
  return subnets;
}

export class PodNetwork {
  readonly prefix: string;
  private readonly lockFile: string | undefined;
  private readonly byUid = new Map<string, string>();

  constructor() {
    const forced = process.env.DYNAMO_K8S_POD_SUBNET;
    if (forced) {
      this.prefix = forced.replace(/\.$/, "");
      return;
    }
    mkdirSync(DEFAULT_POD_NETWORK.lockDir, { recursive: true });
    const busy = listeningSubnets();
    for (let n = DEFAULT_POD_NETWORK.subnetFirst; n <= DEFAULT_POD_NETWORK.subnetLast; n++) {
      if (busy.has(n)) continue;
      const lock = join(DEFAULT_POD_NETWORK.lockDir, `127.0.${n}`);
      if (tryLock(lock)) {
        this.prefix = `127.0.${n}`;
        this.lockFile = lock;
        return;
      }
    }
    throw new Error(`no free pod subnet: every 127.0.n.0/24 is locked under ${DEFAULT_POD_NETWORK.lockDir}`);
  }

  /** The pod's IP: the lowest free one, or the one it already has. */
  allocate(uid: string): string {
    const existing = this.byUid.get(uid);
    if (existing) return existing;
    const used = new Set(this.byUid.values());
    for (let host = DEFAULT_POD_NETWORK.hostFirst; host <= DEFAULT_POD_NETWORK.hostLast; host++) {
      const ip = `${this.prefix}.${host}`;
      if (!used.has(ip)) {
        this.byUid.set(uid, ip);
        return ip;
      }
    }
    throw new Error(`the process kubelet ran out of pod IPs in ${this.prefix}.0/24`);
  }

  release(uid: string): void {
    this.byUid.delete(uid);
  }

  close(): void {
    if (this.lockFile) rmSync(this.lockFile, { force: true });
  }
}
