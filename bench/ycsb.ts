/**
 * `npm run bench`: parses the command line and runs the YCSB-style benchmark (see docs/benchmarks.md). Exit codes:
 * 0 ok, 1 the run failed, 2 bad usage.
 */
import { resolveRuntimeFlag } from "./runtime.js";
import { BENCH_USAGE, parseBenchOptions, runBenchmark, type BenchOptions } from "./ycsb/index.js";

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n${BENCH_USAGE}\n`);
    return 2;
  }
  if (options === undefined) {
    log(BENCH_USAGE);
    return 0;
  }
  const runtime = await resolveRuntimeFlag(options.runtime, "bench", log);
  if (runtime === undefined) return 2;
  try {
    const { path } = await runBenchmark(options, log, runtime);
    log(`\nresults written to ${path}`);
    return 0;
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
