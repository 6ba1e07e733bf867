/**
 * Small measurements from inside a lab namespace, for tests of the lab itself: whether a TCP connection from one host
 * to an address opens, is refused or times out (and how long it took), and a listener to connect to.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { runIn } from "./exec.js";
import type { LabHost } from "./lab.js";

export type ProbeOutcome = "connected" | "refused" | "timeout" | "error";

const PROBE = `
const net = require("node:net");
const [host, port, timeout] = process.argv.slice(1);
const started = performance.now();
const socket = net.connect({ host, port: Number(port) });
const done = (outcome) => { console.log(JSON.stringify({ outcome, ms: performance.now() - started })); process.exit(0); };
socket.setTimeout(Number(timeout), () => done("timeout"));
socket.on("connect", () => done("connected"));
socket.on("error", (e) => done(e.code === "ECONNREFUSED" || e.code === "ECONNRESET" ? "refused" : e.code === "ETIMEDOUT" ? "timeout" : "error:" + e.code));
`;

/** Opens a TCP connection from `from`'s namespace to address:port. */
export async function probe(from: LabHost, address: string, port: number, timeoutMs = 800): Promise<{ outcome: ProbeOutcome; ms: number }> {
  const out = await runIn(from.ns, [process.execPath, "-e", PROBE, address, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 10_000 });
  return JSON.parse(out.trim()) as { outcome: ProbeOutcome; ms: number };
}

/** A TCP server in `host`'s namespace that accepts and holds connections; kill the process to stop it. */
export async function listener(host: LabHost, port: number): Promise<ChildProcess> {
  const script = `require("node:net").createServer((s) => s.on("error", () => {})).listen(${port}, "${host.address}", () => console.log("listening"));`;
  const child = spawn("ip", ["netns", "exec", host.ns, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await once(child.stdout!, "data");
  return child;
}
