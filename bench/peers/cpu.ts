/**
 * CPU time of the systems under test, from /proc: a system is the process trees under the processes the harness
 * started (a `dynamo dev` supervisor and its nodes, three JVMs, three etcd members, one Redis), and its CPU over a
 * measured window is the sum of user and system time every process in those trees gained during it. Divided by the
 * operations completed in the window this is the server's CPU cost per operation, which unlike throughput does not
 * depend much on what else the shared machine is doing.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** User and system CPU time in clock ticks, all threads together (fields 14 and 15 of /proc/PID/stat). */
  utimeTicks: number;
  stimeTicks: number;
}

/**
 * Parses one /proc/PID/stat line. The command name (field 2) is in parentheses and may itself contain spaces and
 * parentheses, so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  const pid = Number(text.slice(0, open).trim());
  // After ")": field 3 (state) is rest[0], so field N is rest[N - 3].
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number): number => {
    const value = Number(rest[n - 3]);
    if (!Number.isFinite(value)) throw new Error(`/proc stat of ${pid} has no numeric field ${n}`);
    return value;
  };
  return { pid, ppid: field(4), pgrp: field(5), utimeTicks: field(14), stimeTicks: field(15) };
}

/** The processes in `stats` that are one of `roots` or descend from one. */
export function processTrees(stats: readonly ProcStat[], roots: readonly number[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(stat);
    else children.set(stat.ppid, [stat]);
  }
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  const found = new Map<number, ProcStat>();
  const pending = roots.map((pid) => byPid.get(pid)).filter((stat): stat is ProcStat => stat !== undefined);
  while (pending.length > 0) {
    const stat = pending.pop()!;
    if (found.has(stat.pid)) continue;
    found.set(stat.pid, stat);
    pending.push(...(children.get(stat.pid) ?? []));
  }
  return [...found.values()];
}

/** CPU ticks per process id, for the processes of some trees at one moment. */
export type CpuSample = Map<number, number>;

export function sampleOf(stats: readonly ProcStat[]): CpuSample {
  return new Map(stats.map((stat) => [stat.pid, stat.utimeTicks + stat.stimeTicks]));
}

/**
 * Ticks gained between two samples: each process's growth, counting a process that appeared in between from zero. A
 * process that exited in between is lost with its time (the kernel keeps it only for a parent that waits for it);
 * nothing exits during a measured window unless a node crashes.
 */
export function ticksBetween(before: CpuSample, after: CpuSample): number {
  let ticks = 0;
  for (const [pid, now] of after) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return ticks;
}

/** Milliseconds of CPU per operation; undefined when nothing completed. */
export function cpuMsPerOperation(cpuSeconds: number, operations: number): number | undefined {
  return operations > 0 ? (cpuSeconds * 1000) / operations : undefined;
}

/** Every process's stat line; processes that exit while being read are skipped. */
export function readProcStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      stats.push(parseProcStat(readFileSync(`/proc/${entry}/stat`, "utf8")));
    } catch {
      // Gone between the listing and the read.
    }
  }
  return stats;
}

let ticksPerSecond: number | undefined;

/** The kernel's clock tick rate (USER_HZ), in which /proc reports CPU time; 100 on every common Linux build. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** A CPU sample of the trees under `roots` now. */
export function sampleTrees(roots: readonly number[]): CpuSample {
  return sampleOf(processTrees(readProcStats(), roots));
}

/** Whether any process is still in process group `pgid`. */
export function groupAlive(pgid: number): boolean {
  return readProcStats().some((stat) => stat.pgrp === pgid);
}

/** Server and driver CPU over one window: opened by `start`, closed by `end`. */
export class CpuWindow {
  #serverBefore: CpuSample | undefined;
  #driverBefore: NodeJS.CpuUsage | undefined;
  #startedAt = 0;
  #result: { seconds: number; serverCpuSeconds: number; driverCpuSeconds: number } | undefined;

  constructor(private readonly roots: () => readonly number[]) {}

  start(): void {
    this.#startedAt = performance.now();
    this.#serverBefore = sampleTrees(this.roots());
    this.#driverBefore = process.cpuUsage();
  }

  end(): void {
    if (this.#serverBefore === undefined || this.#driverBefore === undefined) throw new Error("CpuWindow.end before start");
    const driver = process.cpuUsage(this.#driverBefore);
    const serverTicks = ticksBetween(this.#serverBefore, sampleTrees(this.roots()));
    this.#result = {
      seconds: (performance.now() - this.#startedAt) / 1000,
      serverCpuSeconds: serverTicks / clockTicksPerSecond(),
      driverCpuSeconds: (driver.user + driver.system) / 1e6,
    };
  }

  get result(): { seconds: number; serverCpuSeconds: number; driverCpuSeconds: number } {
    if (this.#result === undefined) throw new Error("CpuWindow was never closed");
    return this.#result;
  }
}
