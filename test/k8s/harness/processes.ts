/**
 * Every process the harness starts (etcd, the control plane, containerd, the kubelet, an operator) runs in a process
 * group of its own, so that stopping it also stops whatever it started, with its output in a log file of the run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";

export const DEFAULT_PROCESS_STOP = {
  gracePeriodMs: 5_000,
};

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One started process group, with a promise for its leader's exit. */
export class ProcessGroup {
  readonly exited: Promise<Exit>;
  private exitInfo: Exit | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise<Exit>((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      // A spawn failure (for example a missing binary) emits "error" and never "exit".
      child.once("error", () => {
        this.exitInfo = { code: 127, signal: null };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exit(): Exit | undefined {
    return this.exitInfo;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is already gone.
    }
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the leader has exited. */
  async stop(gracePeriodMs = DEFAULT_PROCESS_STOP.gracePeriodMs): Promise<Exit> {
    if (this.exitInfo) {
      // Children of an exited leader may linger in its group.
      this.signal("SIGKILL");
      return this.exitInfo;
    }
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), gracePeriodMs);
    const exit = await this.exited;
    clearTimeout(timer);
    this.signal("SIGKILL");
    return exit;
  }
}

/**
 * The live process groups of one run, stopped gracefully in reverse start order at teardown. Nothing more is needed
 * to make sure none outlives the run: they all live in the sandbox's PID namespace (sandbox/launcher.ts), which the
 * kernel empties when the run ends, however it ends.
 */
export class ProcessSupervisor {
  private readonly groups = new Set<ProcessGroup>();

  start(options: StartOptions): ProcessGroup {
    mkdirSync(dirname(options.logFile), { recursive: true });
    const log = openSync(options.logFile, "a");
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    const group = new ProcessGroup(options.name, child);
    this.groups.add(group);
    void group.exited.then(() => {
      // The group may still hold children after the leader exits; they go with it.
      group.signal("SIGKILL");
      this.groups.delete(group);
    });
    return group;
  }

  /** Stops every group, in reverse start order, each gracefully. */
  async stopAll(gracePeriodMs?: number): Promise<void> {
    for (const group of [...this.groups].reverse()) await group.stop(gracePeriodMs);
  }
}
