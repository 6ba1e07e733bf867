/**
 * The command line of every `dynamo` command, on commander: each command declares its flags, their defaults and
 * their validation once; `--help` (or `-h`) prints the command's usage and exits 0; a command that reads its
 * environment takes every flag not given on the command line from `DYNAMO_<FLAG>` (dashes become underscores), so
 * `--peer-port` is also `DYNAMO_PEER_PORT` and the switch `--leader-elect` is also `DYNAMO_LEADER_ELECT=1`. Bad usage
 * is a `UsageError`, which the `dynamo` binary reports on one line with exit code 2 (a runtime failure exits 1).
 */
import { Command, CommanderError, type Option } from "commander";

export { Command } from "commander";

export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Runs `cmd` over `argv` and hands the flags and arguments to `run`; `--help` prints the usage on stdout and exits 0.
 */
export async function runCommand<T>(cmd: Command, argv: readonly string[], run: (options: T, args: string[]) => Promise<number>): Promise<number> {
  const parsed = parseCommand<T>(cmd, argv);
  if (parsed.help !== undefined) {
    process.stdout.write(parsed.help);
    return EXIT_OK;
  }
  return run(parsed.options, parsed.args);
}

/** Exit codes of every command (DESIGN.md §2). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Commands whose flags fall back to environment variables. */
const readingEnvironment = new WeakSet<Command>();

/**
 * A command that reports instead of printing and exiting: commander's own output and `process.exit` are turned off,
 * so the caller decides where the help goes and what the exit code is, and a test can parse the same command often.
 */
export function command(name: string, summary: string): Command {
  return new Command(`dynamo ${name}`)
    .description(summary)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined })
    .helpOption("-h, --help", "print this help")
    .showSuggestionAfterError(true);
}

/** The environment variable of a flag: `--peer-port` is `DYNAMO_PEER_PORT`. */
export function environmentVariable(option: Pick<Option, "long" | "name">): string {
  return `DYNAMO_${option.name().toUpperCase().replace(/-/g, "_")}`;
}

/**
 * Makes every flag of `cmd` (but --help) fall back to its environment variable, and says so in the help. Call it
 * once all the flags are declared.
 */
export function readsEnvironment(cmd: Command): Command {
  for (const option of flags(cmd)) option.description = `${option.description} [env ${environmentVariable(option)}]`.trim();
  readingEnvironment.add(cmd);
  return cmd;
}

function flags(cmd: Command): Option[] {
  return cmd.options.filter((option) => option.long !== "--help");
}

/** What a parse found: either a request for help (with the text to print), or the flags and positional arguments. */
export type Parsed<T> = { help: string } | { help?: undefined; options: T; args: string[] };

/**
 * Parses `argv` (the arguments after the command's name) with `cmd`. Throws a UsageError for anything commander or a
 * flag's own validation refuses; returns `{help}`, the usage to print on stdout, for --help.
 */
export function parseCommand<T>(cmd: Command, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Parsed<T> {
  // Help wins over everything else on the line, even a flag that would be refused.
  const beforeEnd = argv.includes("--") ? argv.slice(0, argv.indexOf("--")) : argv;
  if (beforeEnd.includes("--help") || beforeEnd.includes("-h")) return { help: cmd.helpInformation() };
  const fromEnvironment = readingEnvironment.has(cmd) ? environmentArguments(cmd, argv, env) : [];
  try {
    cmd.parse([...argv, ...fromEnvironment], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return { help: cmd.helpInformation() };
      throw new UsageError(err.message.replace(/^error: /, ""));
    }
    throw err;
  }
  return { options: cmd.opts<T & object>(), args: [...cmd.args] };
}

/**
 * The flags the environment supplies: each flag absent from `argv` whose variable is set and not empty. A switch's
 * variable says yes or no (`1`, `true`, `on`, `yes` or `0`, `false`, `off`, `no`), so `DYNAMO_LEADER_ELECT=false`
 * means what it says.
 */
export function environmentArguments(cmd: Command, argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const extra: string[] = [];
  for (const option of flags(cmd)) {
    const long = option.long!;
    const given = argv.some((arg) => arg === long || arg.startsWith(`${long}=`) || (option.short !== undefined && arg === option.short));
    const variable = environmentVariable(option);
    const value = env[variable];
    if (given || value === undefined || value === "") continue;
    if (option.required || option.optional) extra.push(long, value);
    else if (switchValue(variable, value)) extra.push(long);
  }
  return extra;
}

function switchValue(variable: string, value: string): boolean {
  if (/^(1|true|on|yes)$/i.test(value)) return true;
  if (/^(0|false|off|no)$/i.test(value)) return false;
  throw new UsageError(`${variable} must be 1 or 0 (true or false), got '${value}'`);
}

/** A TCP port, 1-65535. */
export function port(flag: string): (value: string) => number {
  return wholeNumber(flag, 1, 65535, "a port number");
}

/** A whole number in [min, max]. */
export function wholeNumber(flag: string, min: number, max: number, what = "a whole number"): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || n < min || n > max) throw new UsageError(`--${flag} must be ${what} between ${min} and ${max}, got '${value}'`);
    return n;
  };
}

/** `on` or `off` (also `true` or `false`). */
export function onOff(flag: string): (value: string) => boolean {
  return (value) => {
    if (value === "on" || value === "true") return true;
    if (value === "off" || value === "false") return false;
    throw new UsageError(`--${flag} must be on or off, got '${value}'`);
  };
}

/** A value that must match `pattern`; `what` describes the pattern for the message. */
export function matching(flag: string, pattern: RegExp, what: string): (value: string) => string {
  return (value) => {
    if (!pattern.test(value)) throw new UsageError(`--${flag} '${value}' must be ${what}`);
    return value;
  };
}

/** A flag that may be given several times, each time possibly comma-separated: `--bucket a,b --bucket c`. */
export function list(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(",").map((item) => item.trim()).filter(Boolean)];
}
