// Every process the harness starts (etcd, the control plane, each pod's containers) runs in a process
// group of its own, so that stopping it also stops whatever it started. This module keeps the set of
// live groups and guarantees none outlives the harness: a graceful stop for normal teardown, a
// synchronous SIGKILL of every group when the Node process exits, and a detached reaper process that
// kills the groups if the harness itself is killed with SIGKILL, which no exit handler can see.
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const DEFAULT_PROCESS_STOP = {
  gracePeriodMs: 5_000,
  reaperPollMs: 1_000,
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

/** The live process groups of one harness run, guarded by exit handlers and a reaper process. */
export class ProcessSupervisor {
  private readonly groups = new Set<ProcessGroup>();
  private readonly pidFile: string;
  private readonly onExit = (): void => this.killAllNow();
  private reaper: ChildProcess | undefined;

  constructor(readonly runDir: string) {
    this.pidFile = join(runDir, "process-groups");
    writeFileSync(this.pidFile, "");
    process.once("exit", this.onExit);
    this.startReaper();
  }

  start(options: StartOptions): ProcessGroup {
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
    this.recordGroups();
    void group.exited.then(() => {
      // The group may still hold children after the leader exits; they are killed here rather
      // than left to the reaper.
      group.signal("SIGKILL");
      this.groups.delete(group);
      this.recordGroups();
    });
    return group;
  }

  /** Stops every group, in reverse start order, each gracefully. */
  async stopAll(gracePeriodMs?: number): Promise<void> {
    for (const group of [...this.groups].reverse()) await group.stop(gracePeriodMs);
  }

  /** Tears the guard down after a clean stop. */
  close(): void {
    this.killAllNow();
    process.removeListener("exit", this.onExit);
    this.reaper?.kill("SIGKILL");
    this.reaper = undefined;
  }

  private killAllNow(): void {
    for (const group of this.groups) group.signal("SIGKILL");
  }

  private recordGroups(): void {
    writeFileSync(this.pidFile, [...this.groups].map((g) => g.pid).join("\n"));
  }

  // The reaper is a tiny detached Node process that polls whether this process is still alive and,
  // once it is not, kills every group listed in the pid file. It lives in its own group so that
  // Ctrl-C in a terminal reaches the harness first and the reaper only acts when the harness is gone.
  private startReaper(): void {
    const script = `
      const fs = require("node:fs");
      const [parent, pidFile, pollMs] = process.argv.slice(1);
      const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
      setInterval(() => {
        if (alive(Number(parent))) return;
        let pids = [];
        try { pids = fs.readFileSync(pidFile, "utf8").split("\\n").filter(Boolean).map(Number); } catch {}
        for (const pid of pids) { try { process.kill(-pid, "SIGKILL"); } catch {} }
        process.exit(0);
      }, Number(pollMs));`;
    this.reaper = spawn(
      process.execPath,
      ["-e", script, String(process.pid), this.pidFile, String(DEFAULT_PROCESS_STOP.reaperPollMs)],
      { detached: true, stdio: "ignore" },
    );
    this.reaper.unref();
  }
}
