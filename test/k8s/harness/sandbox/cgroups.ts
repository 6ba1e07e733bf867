/**
 * The cgroup root of one test run. The kubelet puts every pod and container under its `cgroupRoot`, which must exist
 * in every hierarchy beforehand; cgroups are not tied to any namespace, so they are the one thing of a run the kernel
 * does not clean up when the run's namespaces go. Each run therefore creates `<hierarchy>/<run name>` in every
 * hierarchy, removes the whole tree (deepest first) when it ends, and sweeps the trees of earlier runs whose launcher
 * is dead, which is what a killed run leaves behind.
 *
 * Works on cgroup v1 and hybrid hosts (a hierarchy per controller plus the unified one) and on pure v2 hosts (one
 * unified hierarchy, where the root's controllers are delegated to the run's subtree).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const RUN_NAME_PREFIX = "dynamo-k8s-run-";

export const DEFAULT_CGROUPS = {
  /**
   * The CPU weight of a run's pods, together, in processes' worth at nice 0. A cgroup competes for CPU as one entity
   * of its parent, so without this all the pods of a run would weigh what one process does against the run's own
   * control plane, test processes and load generators (which sit beside them in the root cgroup), and against every
   * other process on the machine: on a shared machine they were starved to a few percent of a core. Eight processes'
   * worth is about what the storage nodes of a run weighed when they were plain processes.
   */
  podCpuWeightInProcesses: 8,
};

export interface CgroupMount {
  path: string;
  version: 1 | 2;
}

/** The cgroup hierarchies mounted on this machine, from a /proc/<pid>/mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split("\n")) {
    // Fields: id parent major:minor root mount-point options [optional...] - fstype source super-options
    const [before, after] = line.split(" - ");
    const fstype = after?.split(" ")[0];
    const mountPoint = before?.split(" ")[4];
    if (!mountPoint || (fstype !== "cgroup" && fstype !== "cgroup2")) continue;
    mounts.push({ path: mountPoint.replace(/\\040/g, " "), version: fstype === "cgroup2" ? 2 : 1 });
  }
  return mounts;
}

export function cgroupMounts(): CgroupMount[] {
  return parseCgroupMounts(readFileSync("/proc/self/mountinfo", "utf8"));
}

/**
 * A run's name, `dynamo-k8s-run-<PID namespace>-<launcher pid>-<random>`: the pid tells a later run whether this one
 * is over, and the PID namespace (its inode number) says whether that later run can tell at all. A pid means nothing
 * outside its namespace: a launcher inside a sandbox must never judge the runs of the host, or the reverse.
 */
export function runName(pidNamespace: number, pid: number, random: string): string {
  return `${RUN_NAME_PREFIX}${pidNamespace}-${pid}-${random}`;
}

/** The PID namespace and launcher pid inside a run's name, or undefined for names of something else. */
export function parseRunName(name: string): { pidNamespace: number; pid: number } | undefined {
  const match = new RegExp(`^${RUN_NAME_PREFIX}(\\d+)-(\\d+)-[0-9a-z]+$`).exec(name);
  return match ? { pidNamespace: Number(match[1]), pid: Number(match[2]) } : undefined;
}

/** Of the names found, those of runs launched in `pidNamespace` whose launcher is no longer alive. */
export function staleRuns(names: string[], pidNamespace: number, isAlive: (pid: number) => boolean): string[] {
  return names.filter((name) => {
    const run = parseRunName(name);
    return run !== undefined && run.pidNamespace === pidNamespace && !isAlive(run.pid);
  });
}

/** This process's PID namespace, as the inode number the kernel names it by (`pid:[4026531836]`). */
export function currentPidNamespace(): number {
  const link = readlinkSync("/proc/self/ns/pid");
  const match = /\[(\d+)\]/.exec(link);
  if (!match) throw new Error(`cannot read the PID namespace from ${link}`);
  return Number(match[1]);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the run's cgroup in every hierarchy, with the CPU weight of DEFAULT_CGROUPS. */
export function createCgroupRoot(name: string, mounts = cgroupMounts()): void {
  const unifiedOnly = mounts.length === 1 && mounts[0]?.version === 2;
  for (const mount of mounts) {
    const dir = join(mount.path, name);
    mkdirSync(dir, { recursive: true });
    // v1 weighs a process at nice 0 as 1024 shares, v2 as a weight of 100.
    const processes = DEFAULT_CGROUPS.podCpuWeightInProcesses;
    if (mount.version === 1 && existsSync(join(dir, "cpu.shares"))) writeFileSync(join(dir, "cpu.shares"), String(1024 * processes));
    if (mount.version === 2 && existsSync(join(dir, "cpu.weight"))) writeFileSync(join(dir, "cpu.weight"), String(100 * processes));
    // A v1 cpuset group starts with no CPUs and no memory nodes; tasks cannot join it until it has its parent's.
    for (const file of ["cpuset.cpus", "cpuset.mems"]) {
      if (mount.version === 1 && existsSync(join(dir, file))) writeFileSync(join(dir, file), readFileSync(join(mount.path, file)));
    }
    if (unifiedOnly) delegateControllers(mount.path, dir);
  }
}

// On a pure v2 host the kubelet needs the controllers enabled for the run's subtree, and a v2 controller is available
// to a group only when its parent enables it in cgroup.subtree_control.
function delegateControllers(parent: string, dir: string): void {
  const available = readFileSync(join(parent, "cgroup.controllers"), "utf8").trim().split(/\s+/).filter(Boolean);
  const wanted = available.filter((c) => ["cpu", "cpuset", "memory", "pids", "io", "hugetlb"].includes(c));
  if (wanted.length > 0) writeFileSync(join(dir, "cgroup.subtree_control"), wanted.map((c) => `+${c}`).join(" "));
}

/** Removes the run's cgroup tree in every hierarchy, deepest first; answers the directories that would not go. */
export function removeCgroupRoot(name: string, mounts = cgroupMounts()): string[] {
  const left: string[] = [];
  const remove = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) remove(join(dir, entry.name));
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const mount of mounts) {
    const dir = join(mount.path, name);
    if (existsSync(dir)) remove(dir);
  }
  return left;
}

/** The run names that have a cgroup root in any hierarchy. */
export function cgroupRunNames(mounts = cgroupMounts()): string[] {
  const names = new Set<string>();
  for (const mount of mounts) {
    for (const entry of readdirSync(mount.path, { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name.startsWith(RUN_NAME_PREFIX)) names.add(entry.name);
    }
  }
  return [...names];
}
