/**
 * The command line of the benchmark scripts that parse their own flags: `--help` prints the usage and exits 0, and an
 * unknown flag or a bad value prints one line naming it, then the usage, and exits 2, instead of a stack trace.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { numberFlag } from "./ycsb/options.js";

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

export class BenchCommandLine<const O extends FlagOptions> {
  readonly values: ReturnType<typeof parseArgs<{ options: O; strict: true }>>["values"];

  constructor(
    private readonly name: string,
    private readonly usage: string,
    options: O,
    argv: string[] = process.argv.slice(2),
  ) {
    if (argv.includes("--help") || argv.includes("-h")) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    this.values = this.checked(() => parseArgs({ args: argv, options, strict: true }).values);
  }

  /** A numeric flag's value (see numberFlag); a bad one ends the run with the usage. */
  number(raw: string | undefined, flag: string, fallback: number, min: number, integer = true): number {
    return this.checked(() => numberFlag(raw, flag, fallback, min, integer));
  }

  /** Runs a check of the flags; its error ends the run with the usage and exit code 2. */
  checked<T>(check: () => T): T {
    try {
      return check();
    } catch (error) {
      process.stderr.write(`${this.name}: ${(error as Error).message}\n${this.usage}\n`);
      process.exit(2);
    }
  }
}
