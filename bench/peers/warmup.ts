/**
 * Warming a freshly started system up before it is measured. Every system starts cold (new JVMs, new Node and Go
 * processes), and the JVMs in particular keep compiling for minutes on a busy two-core machine: in a trial run,
 * Cassandra's YCSB-A cost 1.39, then 0.84, then 0.45 ms of server CPU per operation in three 20 s runs one after the
 * other. Measuring after a fixed short warm-up would compare the store with a Cassandra still in its JIT. So each
 * system runs unmeasured YCSB-A in 10 s slices until its server CPU per operation stops reaching new lows, or until a
 * time limit. Single slices are noisy on a shared machine (a slice may cost more than the one before while the trend
 * still falls), so the test is against the best slice so far, not against the previous one.
 */
import { runWorkload, type RunOptions } from "../ycsb/runner.js";
import type { SeededRandom as Random } from "../../lib/random.js";
import type { KvTarget } from "../ycsb/target.js";
import { WORKLOADS } from "../ycsb/workloads.js";
import { cpuMsPerOperation, CpuWindow } from "./cpu.js";

export const WARMUP_SLICE_SECONDS = 10;
/** Settled once the last two slices got no more than this fraction below the best slice before them. */
export const WARMUP_SETTLED_DROP = 0.1;

export interface WarmupSlice {
  seconds: number;
  opsPerSec: number;
  serverCpuMsPerOp: number | undefined;
}

/**
 * Whether the system has stopped getting cheaper: at least three slices, and the cheaper of the last two is within
 * WARMUP_SETTLED_DROP of the cheapest slice before them. A slice in which nothing completed settles nothing.
 */
export function warmupSettled(slices: readonly WarmupSlice[]): boolean {
  if (slices.length < 3) return false;
  const cpu = slices.map((slice) => slice.serverCpuMsPerOp);
  if (cpu.some((value) => value === undefined)) return false;
  const values = cpu as number[];
  const earlierBest = Math.min(...values.slice(0, -2));
  const recentBest = Math.min(...values.slice(-2));
  return recentBest >= earlierBest * (1 - WARMUP_SETTLED_DROP);
}

/** Runs YCSB-A slices against `target` until settled or `maxSeconds` have passed; returns every slice. */
export async function warmUp(
  target: KvTarget,
  roots: () => readonly number[],
  base: Omit<RunOptions, "seconds" | "warmupSeconds" | "random" | "window">,
  random: Random,
  maxSeconds: number,
): Promise<WarmupSlice[]> {
  const slices: WarmupSlice[] = [];
  let elapsed = 0;
  while (elapsed < maxSeconds && !warmupSettled(slices)) {
    const seconds = Math.min(WARMUP_SLICE_SECONDS, maxSeconds - elapsed);
    const cpu = new CpuWindow(roots);
    const window = { onStart: () => cpu.start(), onEnd: () => cpu.end() };
    const result = await runWorkload(target, WORKLOADS.A, { ...base, seconds, warmupSeconds: 0, random: random.fork(), window });
    slices.push({
      seconds,
      opsPerSec: result.total.opsPerSec,
      serverCpuMsPerOp: cpuMsPerOperation(cpu.result.serverCpuSeconds, result.total.count),
    });
    elapsed += seconds;
  }
  return slices;
}
