/**
 * Network faults made by the kernel inside the lab. A `NetworkState` describes every fault at once — cuts between
 * groups of hosts and impaired links — and `LabNetwork.apply` makes the namespaces match it:
 *
 * - A cut drops packets from `from` hosts at the `to` hosts' nftables input hook (a black hole: the sender waits for
 *   its timeouts), or rejects them at the senders' output hook (TCP reset, ICMP unreachable: the sender fails at
 *   once). Scope `all` cuts every packet,
 *   so even TCP connections opened from the other side die (their replies are lost); scope `connect` cuts only
 *   packets for the client and peer ports, so `from` cannot reach `to`'s servers while `to` still reaches `from`'s —
 *   a connection-level asymmetric partition.
 * - A link's loss is an nftables rule (`numgen random`) on the host's interface, both directions; its bandwidth cap a
 *   `tbf` qdisc on both ends of its veth pair; its delay, jitter, duplication and reordering the packet relay
 *   (./relay.py), spliced into the link in the switch namespace while any of them is set.
 *
 * Everything lives inside the lab's namespaces, so deleting them removes it, whatever state a run dies in.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { run, runIn } from "./exec.js";
import type { LabDescription, LabHost } from "./lab.js";

const RELAY = resolve(new URL(".", import.meta.url).pathname, "relay.py");
const NODE_PORTS = [8080, 8081];
const TABLE = "dynamo_faults";

export interface Cut {
  /** Host names (`n0`, `cl`...) whose packets are cut... */
  from: string[];
  /** ...on their way to these hosts. */
  to: string[];
  mode: "drop" | "reject";
  scope: "all" | "connect";
}

export interface LinkImpairment {
  delayMs?: number;
  jitterMs?: number;
  /** Probabilities in [0, 1]. */
  loss?: number;
  duplicate?: number;
  reorder?: number;
  /** Bandwidth cap of each direction, in kilobits a second. */
  rateKbit?: number;
}

export interface NetworkState {
  cuts: Cut[];
  /** Impairment of each host's link, by host name. */
  links: Record<string, LinkImpairment>;
}

export const HEALTHY: NetworkState = { cuts: [], links: {} };

/** Cuts that split `groups` from each other in both directions (a partition); hosts in no group keep every link. */
export function partitionCuts(groups: string[][], mode: Cut["mode"] = "drop"): Cut[] {
  const cuts: Cut[] = [];
  for (let i = 0; i < groups.length; i++) {
    for (let j = 0; j < groups.length; j++) {
      if (i !== j && groups[i]!.length > 0 && groups[j]!.length > 0) cuts.push({ from: groups[i]!, to: groups[j]!, mode, scope: "all" });
    }
  }
  return cuts;
}

/** The nftables script that gives `host` the input rules and loss of `state` (a pure function, unit-tested). */
export function hostRules(state: NetworkState, host: string, addressOf: (name: string) => string): string {
  const input: string[] = [];
  const output: string[] = [];
  const ports = `tcp dport { ${NODE_PORTS.join(", ")} }`;
  for (const cut of state.cuts) {
    if (cut.mode === "drop" && cut.to.includes(host)) {
      // Dropped where it arrives: the sender's packets leave and vanish, as in a black hole.
      const sources = cut.from.filter((h) => h !== host).map(addressOf);
      if (sources.length > 0) input.push(`ip saddr { ${sources.join(", ")} }${cut.scope === "connect" ? ` ${ports}` : ""} drop`);
    }
    if (cut.mode === "reject" && cut.from.includes(host)) {
      // Refused where it is sent: the sender's own stack answers with a reset or an unreachable at once. (Refused at
      // the receiver, the reset would meet the receiver's own cut on its way back and be lost.)
      const targets = cut.to.filter((h) => h !== host).map(addressOf);
      if (targets.length === 0) continue;
      const match = `ip daddr { ${targets.join(", ")} }${cut.scope === "connect" ? ` ${ports}` : ""}`;
      output.push(`${match} meta l4proto tcp reject with tcp reset`, `${match} reject`);
    }
  }
  const loss = Math.min(1, state.links[host]?.loss ?? 0);
  if (loss > 0) {
    const match = loss >= 1 ? "" : ` numgen random mod 10000 < ${Math.max(1, Math.round(loss * 10_000))}`;
    input.push(`iifname "eth0"${match} drop`);
    output.push(`oifname "eth0"${match} drop`);
  }
  const chain = (name: string, hook: string, rules: string[]) =>
    `  chain ${name} {\n    type filter hook ${hook} priority 0; policy accept;\n${rules.map((r) => `    ${r}\n`).join("")}  }\n`;
  return `table inet ${TABLE}\ndelete table inet ${TABLE}\ntable inet ${TABLE} {\n${chain("input", "input", input)}${chain("output", "output", output)}}\n`;
}

function needsRelay(link: LinkImpairment | undefined): boolean {
  return !!link && ((link.delayMs ?? 0) > 0 || (link.jitterMs ?? 0) > 0 || (link.duplicate ?? 0) > 0 || (link.reorder ?? 0) > 0);
}

interface Relay {
  child: ChildProcess;
  near: string;
  far: string;
  params: string;
}

export class LabNetwork {
  private state: NetworkState = HEALTHY;
  private readonly scripts = new Map<string, string>();
  private readonly rates = new Map<string, number>();
  private readonly relays = new Map<string, Relay>();
  private relaySeed: number;

  constructor(
    private readonly lab: LabDescription,
    seed = 1,
  ) {
    this.relaySeed = seed;
  }

  get current(): NetworkState {
    return this.state;
  }

  private hosts(): LabHost[] {
    return [this.lab.client, ...this.lab.nodes];
  }

  private host(name: string): LabHost {
    const host = this.hosts().find((h) => h.name === name);
    if (!host) throw new Error(`no lab host named ${name}`);
    return host;
  }

  /** Makes the kernel match `next`: only hosts whose rules, relay or rate change are touched. */
  async apply(next: NetworkState): Promise<void> {
    for (const name of [...next.cuts.flatMap((c) => [...c.from, ...c.to]), ...Object.keys(next.links)]) this.host(name);
    const addressOf = (name: string) => this.host(name).address;
    for (const host of this.hosts()) {
      const script = hostRules(next, host.name, addressOf);
      if (this.scripts.get(host.name) !== script) {
        await runIn(host.ns, ["nft", "-f", "-"], { input: script });
        this.scripts.set(host.name, script);
      }
      await this.applyRate(host, next.links[host.name]?.rateKbit ?? 0);
      await this.applyRelay(host, next.links[host.name]);
    }
    this.state = structuredClone(next);
  }

  async heal(): Promise<void> {
    await this.apply(HEALTHY);
  }

  /** Stops every relay (end of a run); the namespaces' deletion removes the rest. */
  async close(): Promise<void> {
    for (const host of this.hosts()) await this.applyRelay(host, undefined).catch(() => undefined);
  }

  private async applyRate(host: LabHost, rateKbit: number): Promise<void> {
    if ((this.rates.get(host.name) ?? 0) === rateKbit) return;
    const ends: [string, string][] = [
      [host.ns, "eth0"],
      [this.lab.switchNs, host.switchPort],
    ];
    for (const [ns, dev] of ends) {
      if (rateKbit > 0) {
        // A burst of a few frames and a queue of half a second, as a congested access link has.
        const burst = Math.max(3200, Math.round((rateKbit * 1000) / 8 / 100));
        await runIn(ns, ["tc", "qdisc", "replace", "dev", dev, "root", "tbf", "rate", `${rateKbit}kbit`, "burst", String(burst), "latency", "500ms"]);
      } else {
        await runIn(ns, ["tc", "qdisc", "del", "dev", dev, "root"]).catch(() => undefined);
      }
    }
    this.rates.set(host.name, rateKbit);
  }

  private async applyRelay(host: LabHost, link: LinkImpairment | undefined): Promise<void> {
    const existing = this.relays.get(host.name);
    if (!needsRelay(link)) {
      if (existing) await this.removeRelay(host, existing);
      return;
    }
    const params = JSON.stringify({
      delayMs: link!.delayMs ?? 0,
      jitterMs: link!.jitterMs ?? 0,
      duplicate: link!.duplicate ?? 0,
      reorder: link!.reorder ?? 0,
    });
    if (existing) {
      if (existing.params !== params) existing.child.stdin!.write(params + "\n");
      existing.params = params;
      return;
    }
    this.relays.set(host.name, await this.insertRelay(host, params));
  }

  private async insertRelay(host: LabHost, params: string): Promise<Relay> {
    const sw = this.lab.switchNs;
    const near = host.switchPort;
    const far = `r${host.name}`;
    const bridgeSide = `b${host.name}`;
    await run(["ip", "-n", sw, "link", "add", bridgeSide, "type", "veth", "peer", "name", far]);
    for (const dev of [bridgeSide, far]) await runIn(sw, ["ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
    await run(["ip", "-n", sw, "link", "set", far, "promisc", "on", "up"]);
    await run(["ip", "-n", sw, "link", "set", near, "promisc", "on"]);
    const child = spawn("ip", ["netns", "exec", sw, "python3", RELAY, near, far, String(this.relaySeed++)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    child.stdin!.on("error", () => undefined);
    child.stdin!.write(params + "\n");
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    // The link is re-plugged only once the relay listens on both ends, so no frame falls in between.
    const ready = await new Promise<boolean>((resolve) => {
      child.stdout!.once("data", () => resolve(true));
      child.once("exit", () => resolve(false));
    });
    if (!ready) throw new Error(`packet relay for ${host.name} exited at once: ${stderr}`);
    await run(["ip", "-n", sw, "link", "set", near, "nomaster"]);
    await run(["ip", "-n", sw, "link", "set", bridgeSide, "master", this.lab.bridge, "up"]);
    return { child, near, far, params };
  }

  private async removeRelay(host: LabHost, relay: Relay): Promise<void> {
    const sw = this.lab.switchNs;
    const exited = new Promise((r) => relay.child.once("exit", r));
    relay.child.stdin!.end();
    const timer = setTimeout(() => relay.child.kill("SIGKILL"), 2000);
    if (relay.child.exitCode === null && relay.child.signalCode === null) await exited;
    clearTimeout(timer);
    await run(["ip", "-n", sw, "link", "del", `b${host.name}`]).catch(() => undefined);
    await run(["ip", "-n", sw, "link", "set", relay.near, "promisc", "off", "master", this.lab.bridge, "up"]);
    this.relays.delete(host.name);
  }
}

