// Pod IPs for the process kubelet. Every pod gets a loopback address of its own, which its
// containers bind, so three pods can all listen on port 8080. Several clusters may run on one
// machine at once (people run suites side by side), so each run first reserves a /24 of its own,
// 127.0.<n>.0, through an exclusive lock file naming its process; a lock whose process is gone is
// taken over. DYNAMO_K8S_POD_SUBNET (e.g. "127.0.0") forces a prefix instead.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryLock(path: string): boolean {
  try {
    writeFileSync(path, String(process.pid), { flag: "wx" });
    return true;
  } catch {
    const owner = Number(readFileSync(path, "utf8").trim());
    if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
    rmSync(path, { force: true });
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      return true;
    } catch {
      return false;
    }
  }
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
    for (let n = DEFAULT_POD_NETWORK.subnetFirst; n <= DEFAULT_POD_NETWORK.subnetLast; n++) {
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
