/**
 * Files a running node re-reads when they change: the client certificate and key, the client tokens. They are read
 * and compared by content every few seconds rather than watched with inotify, because Kubernetes updates a mounted
 * Secret by swapping a symlink, which inotify on the file itself never sees. A change that does not parse is refused
 * (and logged) and the node keeps what it had, so a half-written file can never lock every client out.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "../log.js";

export const FILE_CHECK_INTERVAL_MS = 2000;

export interface WatchedFilesOptions<T> {
  paths: readonly string[];
  /** Turns the files' contents into the value in use; throws to refuse a change. */
  parse: (contents: Buffer[]) => T;
  /** Called with each new value after a change was parsed. */
  apply: (value: T) => void;
  log: Pick<Logger, "info" | "warn">;
  intervalMs?: number;
}

/**
 * Reads and parses the files once (throwing if they cannot be read or parsed: a node must not start without them),
 * then keeps checking them until `stop` is called. Returns the first value.
 */
export function watchFiles<T>(options: WatchedFilesOptions<T>): { value: T; stop: () => void } {
  const first = readAll(options.paths);
  const value = options.parse(first);
  let seen = digest(first);
  let failing = "";
  // The same problem is reported once, not every few seconds.
  const report = (message: string) => {
    if (message !== failing) options.log.warn(message);
    failing = message;
  };
  const timer = setInterval(() => {
    let contents: Buffer[];
    try {
      contents = readAll(options.paths);
    } catch (err) {
      report(`cannot read ${options.paths.join(", ")}: ${(err as Error).message}; keeping what was loaded before`);
      return;
    }
    const now = digest(contents);
    if (now === seen) return;
    try {
      options.apply(options.parse(contents));
      seen = now;
      failing = "";
      options.log.info(`reloaded ${options.paths.join(", ")}`);
    } catch (err) {
      report(`refused the new ${options.paths.join(", ")}: ${(err as Error).message}; keeping what was loaded before`);
    }
  }, options.intervalMs ?? FILE_CHECK_INTERVAL_MS);
  timer.unref();
  return { value, stop: () => clearInterval(timer) };
}

function readAll(paths: readonly string[]): Buffer[] {
  return paths.map((p) => readFileSync(p));
}

function digest(contents: Buffer[]): string {
  const hash = createHash("sha256");
  for (const c of contents) hash.update(createHash("sha256").update(c).digest());
  return hash.digest("hex");
}
