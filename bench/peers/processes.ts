/**
 * The server processes the harness starts. Each runs in a process group of its own (so a terminal's Ctrl-C reaches
 * only the harness, which then stops them in order) with its output in a log file. Every group is remembered until it
 * is gone, and an exit hook SIGKILLs whatever is left when the harness ends in any way short of SIGKILL, so no JVM,
 * etcd or Redis outlives a failed or interrupted run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import net from "node:net";
import { groupAlive } from "./cpu.js";

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const managed of live) managed.killGroup("SIGKILL");
  });
}

/** Stops every process still running, in parallel; for signal handlers and `finally` blocks. */
export async function stopAllProcesses(graceMs = 10_000): Promise<void> {
  await Promise.all([...live].map((managed) => managed.stop(graceMs)));
}

export interface SpawnOptions {
  /** Short name for messages, e.g. `cassandra-2`. */
  name: string;
  command: string;
  args: readonly string[];
  /** stdout and stderr go here. */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(options: SpawnOptions, child: ChildProcess) {
    this.name = options.name;
    this.logFile = options.logFile;
    this.#child = child;
    if (child.pid === undefined) throw new Error(`${options.name}: ${options.command} could not be started`);
    this.pid = child.pid;
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void this.#exited.then(() => live.delete(this));
  }

  static spawn(options: SpawnOptions): Promise<ManagedProcess> {
    installExitHook();
    const log = openSync(options.logFile, "a");
    try {
      const child = spawn(options.command, options.args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        detached: true,
        stdio: ["ignore", log, log],
      });
      return new Promise((resolve, reject) => {
        child.once("error", (error) => reject(new Error(`${options.name}: cannot run ${options.command}: ${error.message}`)));
        child.once("spawn", () => {
          const managed = new ManagedProcess(options, child);
          live.add(managed);
          resolve(managed);
        });
      });
    } finally {
      closeSync(log);
    }
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** How the process ended, for an error message; undefined while it runs. */
  get exitDescription(): string | undefined {
    if (this.running) return undefined;
    return this.#child.signalCode ? `killed by ${this.#child.signalCode}` : `exited with code ${this.#child.exitCode}`;
  }

  /**
   * Signals the whole process group: the process and anything it started. Once the leader has exited, only while a
   * member is left, so a group id the kernel has since handed to someone else's processes is never signalled.
   */
  killGroup(signal: NodeJS.Signals): void {
    if (!this.running && !groupAlive(this.pid)) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) {
      // The leader is gone, but a child it left in the group may not be.
      this.killGroup("SIGKILL");
      live.delete(this);
      return;
    }
    this.killGroup("SIGTERM");
    const timer = setTimeout(() => this.killGroup("SIGKILL"), graceMs);
    await this.#exited;
    clearTimeout(timer);
    this.killGroup("SIGKILL");
  }

  /** SIGKILL at once, as a crash: for stopping one node of a cluster under load. */
  async crash(): Promise<void> {
    this.killGroup("SIGKILL");
    await this.#exited;
  }

  /** The last `bytes` of the log, to explain a failed start. */
  logTail(bytes = 2_000): string {
    try {
      return readFileSync(this.logFile, "utf8").slice(-bytes).trim();
    } catch {
      return "";
    }
  }
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `host:port` accepts connections; fails early, with the log's tail, if the process exits first. */
export async function waitForPort(managed: ManagedProcess, host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!managed.running) throw new Error(`${managed.name} ${managed.exitDescription} before listening on ${host}:${port}\n${managed.logTail()}`);
    if (await canConnect(host, port)) return;
    await sleep(250);
  }
  throw new Error(`${managed.name} did not listen on ${host}:${port} within ${timeoutMs / 1000} s\n${managed.logTail()}`);
}
