/**
 * Storage nodes started one by one, without the `dynamo dev` supervisor, each on a loopback address of its own
 * (127.0.0.x) with the standard ports, as pods would be, and with mutual TLS on the peer port from a CA of the
 * fleet's own (made with the same PKI as `dynamo dev`). Tests drive their ring with the RingDriver directly, in a
 * separate process they can kill.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminClient } from "../../driver/index.js";
import { CLIENT_TLS_NAME, DevPki, devTlsRoot } from "../../dev/pki.js";
import { CLI } from "./dev-cluster.js";

export interface FleetNode {
  id: string;
  host: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  child: ChildProcess | undefined;
}

export class Fleet {
  readonly dir = mkdtempSync(join(tmpdir(), "dynamo-fleet-"));
  readonly tokenPath = join(this.dir, "token");
  readonly token = `fleet-token-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  readonly nodes = new Map<string, FleetNode>();
  /** The TLS directory of the fleet's clients (the driver, tests), holding a certificate from the fleet's CA. */
  readonly clientTlsDir = join(devTlsRoot(this.dir), CLIENT_TLS_NAME);
  private pki: Promise<DevPki> | undefined;

  constructor(
    private readonly subnet: number,
    private readonly configPath?: string,
  ) {
    writeFileSync(this.tokenPath, this.token, { mode: 0o600 });
  }

  /** Node `index` listens on 127.<subnet>.0.<index + 10>:8080 (clients) and :8081 (peers). */
  describe(index: number): FleetNode {
    const id = `node-${index}`;
    const existing = this.nodes.get(id);
    if (existing) return existing;
    const host = `127.${this.subnet}.0.${index + 10}`;
    const node = { id, host, clientUrl: `http://${host}:8080`, peerUrl: `https://${host}:8081`, dataDir: join(this.dir, id), child: undefined };
    this.nodes.set(id, node);
    return node;
  }

  async start(index: number): Promise<FleetNode> {
    const node = this.describe(index);
    this.pki ??= DevPki.open(this.dir);
    const tlsDir = await (await this.pki).ensure(node.id, [node.host]);
    const args = [CLI, "node", "--id", node.id, "--host", node.host, "--data-dir", node.dataDir, "--token-file", this.tokenPath, "--tls-dir", tlsDir];
    if (this.configPath) args.push("--config", this.configPath);
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const log = createWriteStream(join(this.dir, `${node.id}.log`), { flags: "a" });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    node.child = child;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`${node.id} exited during start-up; see ${join(this.dir, node.id + ".log")}`);
      try {
        if ((await fetch(`${node.clientUrl}/healthz`, { signal: AbortSignal.timeout(500) })).ok) return node;
      } catch {
        // Not up yet.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${node.id} did not become healthy`);
  }

  async stop(index: number, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const node = this.describe(index);
    const child = node.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await exited;
  }

  /** An admin client for the fleet's peer ports. */
  async admin(): Promise<AdminClient> {
    this.pki ??= DevPki.open(this.dir);
    const pki = await this.pki;
    return new AdminClient(this.token, 10_000, () => pki.clientTls());
  }

  addresses(indices: number[]): { id: string; peerUrl: string; clientUrl: string }[] {
    return indices.map((i) => {
      const n = this.describe(i);
      return { id: n.id, peerUrl: n.peerUrl, clientUrl: n.clientUrl };
    });
  }

  async destroy(): Promise<void> {
    for (const [id] of this.nodes) await this.stop(Number(id.slice(5)), "SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
