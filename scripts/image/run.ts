/**
 * Runs one external command of an image build (mmdebstrap, tar, buildah, npm, ...) to completion. Output is kept in
 * memory up to a bound, and a failure throws an error that ends with the last lines the command printed, so a broken
 * build explains itself without a log file to look for.
 */
import { spawn } from "node:child_process";

export const DEFAULT_RUN = {
  outputBytesMax: 4 * 1024 * 1024,
  failureTailLines: 40,
};

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Echo the command's output to stderr as it runs (long builds). */
  echo?: boolean;
}

export class CommandError extends Error {
  readonly code = "command_failed";
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

/** Runs `command args`, resolves with its standard output, rejects with a CommandError when it fails. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let combined = "";
    const keep = (text: string, into: string) => (into.length + text.length > DEFAULT_RUN.outputBytesMax ? (into + text).slice(-DEFAULT_RUN.outputBytesMax) : into + text);
    child.stdout.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      stdout = keep(text, stdout);
      combined = keep(text, combined);
      if (options.echo) process.stderr.write(text);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      combined = keep(text, combined);
      if (options.echo) process.stderr.write(text);
    });
    child.on("error", (err) => reject(new CommandError(`${command}: ${err.message}`, combined)));
    child.on("close", (code, signal) => {
      if (code === 0) {
        resolve(stdout);
        return;
      }
      const tail = combined.trimEnd().split("\n").slice(-DEFAULT_RUN.failureTailLines).join("\n");
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      reject(new CommandError(`${command} ${args.join(" ")} ${how}:\n${tail}`, combined));
    });
  });
}

/** Whether a program is on PATH. */
export async function available(program: string): Promise<boolean> {
  try {
    await run("sh", ["-c", 'command -v "$1"', "sh", program]);
    return true;
  } catch {
    return false;
  }
}
