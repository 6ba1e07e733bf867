/**
 * Running the kernel's network tools (`ip`, `nft`, `tc`, `ethtool`) for the lab, inside a chosen network namespace or
 * on the host. Every command has a timeout, and a failure carries the command line and its stderr, so a broken lab
 * says what the kernel refused rather than failing somewhere later.
 */
import { execFile } from "node:child_process";

export class LabCommandError extends Error {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(`'${command}' failed${exitCode === null ? "" : ` (exit ${exitCode})`}: ${stderr.trim() || "no output"}`);
    this.name = "LabCommandError";
  }
}

export interface RunOptions {
  /** Text written to the command's standard input (for `nft -f -`). */
  input?: string;
  timeoutMs?: number;
}

/** Runs `argv` on the host and returns its standard output. */
export function run(argv: string[], options: RunOptions = {}): Promise<string> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = execFile(file!, args, { timeout: options.timeoutMs ?? 20_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === "number" ? ((err as { code: number }).code) : null;
        reject(new LabCommandError(argv.join(" "), stderr || err.message, code));
        return;
      }
      resolve(stdout);
    });
    // A command that exits before reading its input must not fail the call with EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

/** Runs `argv` inside network namespace `ns` (`ip netns exec`, which execs, so no extra process stays behind). */
export function runIn(ns: string, argv: string[], options: RunOptions = {}): Promise<string> {
  return run(["ip", "netns", "exec", ns, ...argv], options);
}

/** The argv prefix that starts a program inside `ns`; spawn(argv[0], [...argv.slice(1), program, ...]). */
export function inNamespace(ns: string): string[] {
  return ["ip", "netns", "exec", ns];
}
