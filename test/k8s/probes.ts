// Container probes as the kubelet runs them: httpGet (any status from 200 to 399 passes; HTTPS unverified), tcpSocket
// and exec, with initialDelaySeconds, periodSeconds, timeoutSeconds and the success and failure
// thresholds. A Prober owns one probe of one running container and reports each change of result.
import { spawn } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { V1Container, V1Probe } from "@kubernetes/client-node";

export type ProbeResult = "success" | "failure";

export interface ProbeTarget {
  podIp: string;
  container: V1Container;
  /** Runs an exec probe's command the way the container's own command is run. */
  exec(command: string[], timeoutMs: number): Promise<boolean>;
}

function port(container: V1Container, value: number | string | undefined): number {
  if (typeof value === "number") return value;
  const named = container.ports?.find((p) => p.name === value);
  if (named) return named.containerPort;
  const numeric = Number(value);
  if (!Number.isInteger(numeric)) throw new Error(`probe port "${value}" is not a port of container ${container.name}`);
  return numeric;
}

async function attempt(probe: V1Probe, target: ProbeTarget): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  if (probe.httpGet) {
    const get = probe.httpGet;
    const host = get.host || target.podIp;
    const scheme = (get.scheme ?? "HTTP").toLowerCase();
    const url = `${scheme}://${host}:${port(target.container, get.port)}${get.path ?? "/"}`;
    const headers = Object.fromEntries((get.httpHeaders ?? []).map((h) => [h.name, h.value]));
    return new Promise((resolve, reject) => {
      // Like the kubelet, an HTTPS probe does not verify the server's certificate: it only asks whether it answers.
      const req = (scheme === "https" ? httpsRequest : httpRequest)(url, { headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
        res.resume();
        res.on("end", () => resolve((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`probe ${url} timed out`)));
      req.on("error", reject);
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const host = probe.tcpSocket.host || target.podIp;
    const tcpPort = port(target.container, probe.tcpSocket.port);
    return new Promise((resolve) => {
      const socket = connect({ host, port: tcpPort, timeout: timeoutMs });
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("timeout", () => (socket.destroy(), resolve(false)));
      socket.once("error", () => resolve(false));
    });
  }
  if (probe.exec) return target.exec(probe.exec.command ?? [], timeoutMs);
  throw new Error(`container ${target.container.name} has a probe with no handler`);
}

/** Runs one probe on its period until stopped; `onResult` hears every change of result. */
export class Prober {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private stopped = false;
  result: ProbeResult | undefined;

  constructor(
    private readonly probe: V1Probe,
    private readonly target: ProbeTarget,
    private readonly onResult: (result: ProbeResult) => void,
  ) {}

  start(): void {
    this.schedule((this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), delayMs);
  }

  private async tick(): Promise<void> {
    let passed: boolean;
    try {
      passed = await attempt(this.probe, this.target);
    } catch {
      passed = false;
    }
    if (this.stopped) return;
    if (passed) {
      this.successes += 1;
      this.failures = 0;
      if (this.result !== "success" && this.successes >= (this.probe.successThreshold ?? 1)) this.report("success");
    } else {
      this.failures += 1;
      this.successes = 0;
      if (this.result !== "failure" && this.failures >= (this.probe.failureThreshold ?? 3)) this.report("failure");
    }
    this.schedule((this.probe.periodSeconds ?? 10) * 1000);
  }

  private report(result: ProbeResult): void {
    this.result = result;
    this.onResult(result);
  }
}

/** Runs a command to completion with a deadline; true when it exits 0. */
export function runToCompletion(executable: string, argv: string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(executable, argv, { env, cwd, stdio: "ignore", timeout: timeoutMs, killSignal: "SIGKILL" });
    child.once("exit", (code) => resolve(code === 0));
    child.once("error", () => resolve(false));
  });
}
