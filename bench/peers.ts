/**
 * `npm run bench:peers`: parses the command line and runs the store against its peers (see docs/benchmarks.md,
 * "Against the peers"). Exit codes: 0 ok, 1 the run failed, 2 bad usage, 130 interrupted. Every process the run
 * started is stopped on the way out, Ctrl-C included.
 */
import { parsePeersOptions, PEERS_USAGE, runPeers, stopEverything, type PeersOptions } from "./peers/index.js";
import { resolveRuntimeFlag } from "./runtime.js";

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(argv: string[]): Promise<number> {
  let options: PeersOptions | undefined;
  try {
    options = parsePeersOptions(argv);
  } catch (error) {
    process.stderr.write(`bench:peers: ${(error as Error).message}\n${PEERS_USAGE}\n`);
    return 2;
  }
  if (options === undefined) {
    log(PEERS_USAGE);
    return 0;
  }
  const runtime = await resolveRuntimeFlag(options.runtime, "bench:peers", log);
  if (runtime === undefined) return 2;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping every system this run started`);
    void stopEverything().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  try {
    const command = ["npm run bench:peers", ...(argv.length > 0 ? ["--", ...argv] : [])].join(" ");
    const { jsonPath, markdownPath, failures } = await runPeers(options, command, log, runtime);
    log(`results written to ${markdownPath} and ${jsonPath}`);
    if (failures > 0) process.stderr.write(`bench:peers: ${failures} system start(s) or run(s) failed; see the notes under the tables\n`);
    return failures > 0 ? 1 : 0;
  } catch (error) {
    process.stderr.write(`bench:peers: ${(error as Error).message}\n`);
    await stopEverything();
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
