/**
 * The processes of a `dynamo dev` cluster as the profiler sees them: the supervisor and each node (named by its
 * `--id`), with their CPU time and resident memory read from /proc.
 */
import { readFileSync } from "node:fs";
import { clockTicksPerSecond, processTrees, readProcStats } from "../peers/cpu.js";

export interface ClusterProcess {
  pid: number;
  /** `supervisor`, or the node's id. */
  role: string;
}

/** The supervisor and its node processes, named from their command lines. */
export function clusterProcesses(supervisorPid: number): ClusterProcess[] {
  return processTrees(readProcStats(), [supervisorPid]).map((stat) => ({ pid: stat.pid, role: stat.pid === supervisorPid ? "supervisor" : roleOf(stat.pid) }));
}

function roleOf(pid: number): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const id = args.indexOf("--id");
    return id >= 0 && args[id + 1] ? args[id + 1]! : `pid ${pid}`;
  } catch {
    return `pid ${pid}`;
  }
}

/** CPU seconds (user + system, all threads) of one process so far; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  const stat = readProcStats().find((s) => s.pid === pid);
  return stat ? (stat.utimeTicks + stat.stimeTicks) / clockTicksPerSecond() : 0;
}

/** Resident set size of a process in bytes (VmRSS), or undefined once it is gone. */
export function rssBytesOf(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
