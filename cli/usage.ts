/**
 * Shared command-line plumbing: flags that fall back to `DYNAMO_<FLAG>` environment variables, and the error type
 * that means "bad usage" (exit code 2) as opposed to a runtime failure (exit code 1).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parses flags; a flag not given on the command line is read from DYNAMO_<FLAG> (dashes become underscores) unless
 * `fromEnv` is false.
 */
export function parseFlags<T extends Options>(argv: string[], options: T, allowPositionals = false, fromEnv = true) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  for (const [name, spec] of fromEnv ? Object.entries(options) : []) {
    if (values[name] !== undefined || spec.type !== "string") continue;
    const fromEnv = process.env[`DYNAMO_${name.toUpperCase().replace(/-/g, "_")}`];
    if (fromEnv !== undefined && fromEnv !== "") values[name] = fromEnv;
  }
  return { values, positionals: parsed.positionals };
}

export function portFlag(value: string | boolean | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (typeof value !== "string" || !/^[0-9]+$/.test(value) || port < 1 || port > 65535) {
    throw new UsageError(`--${name} must be a port number between 1 and 65535, got '${String(value)}'`);
  }
  return port;
}

export function intFlag(value: string | boolean | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^[0-9]+$/.test(value) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number between ${min} and ${max}, got '${String(value)}'`);
  }
  return n;
}
