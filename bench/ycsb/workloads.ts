/**
 * The YCSB core workloads this benchmark runs, and the record naming they share with the load phase. An "update" is
 * a read-modify-write, the way a Dynamo client updates a key: read it, then write the new value with the context
 * the read returned, so the store can tell the new version supersedes what was read.
 */

export type WorkloadName = "A" | "B" | "C";
/** `all` stands for every operation of a run together. */
export type Operation = "insert" | "read" | "update" | "all";

export interface Workload {
  name: WorkloadName;
  description: string;
  /** Fraction of operations that are reads; the rest are updates. */
  readProportion: number;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  A: { name: "A", description: "update heavy: 50% reads, 50% updates", readProportion: 0.5 },
  B: { name: "B", description: "read mostly: 95% reads, 5% updates", readProportion: 0.95 },
  C: { name: "C", description: "read only: 100% reads", readProportion: 1 },
};

export function parseWorkloads(list: string): Workload[] {
  const names = list
    .split(",")
    .map((name) => name.trim().toUpperCase())
    .filter((name) => name !== "");
  if (names.length === 0) throw new Error("--workloads is empty");
  return names.map((name) => {
    const workload = WORKLOADS[name as WorkloadName];
    if (workload === undefined) throw new Error(`unknown workload '${name}': choose from ${Object.keys(WORKLOADS).join(", ")}`);
    return workload;
  });
}

/** Record i's key, as YCSB names them. */
export function recordKey(index: number): string {
  return `user${index}`;
}
