/**
 * The YCSB-style benchmark: closed-loop workloads A/B/C with scrambled zipfian keys against the store, measured side
 * by side with a floor of the same message pattern. `bench/ycsb.ts` is its command line.
 */
export { runBenchmark } from "./benchmark.js";
export type { BenchReport } from "./benchmark.js";
export { BENCH_USAGE, DEFAULT_BENCH_OPTIONS, parseBenchOptions } from "./options.js";
export type { BenchOptions } from "./options.js";
export { PHASES } from "./phases.js";
export type { Phase, Targets } from "./phases.js";
