/**
 * Log lines a person can follow: one line per event, a UTC timestamp, the node id, a level, and a sentence. Lines go
 * to stderr so stdout stays free for command output.
 */

export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(component: string, sink: (line: string) => void = (line) => process.stderr.write(line + "\n")): Logger {
  const write = (level: LogLevel, message: string) => sink(`${new Date().toISOString()} ${component} ${level} ${message}`);
  return {
    info: (message) => write("info", message),
    warn: (message) => write("warn", message),
    error: (message) => write("error", message),
  };
}

/** Emits at most one line per `intervalMs` for a repeating condition, with a count of what was suppressed. */
export function rateLimited(log: (message: string) => void, intervalMs: number): (message: string) => void {
  let lastAt = 0;
  let suppressed = 0;
  return (message) => {
    const now = Date.now();
    if (now - lastAt < intervalMs) {
      suppressed += 1;
      return;
    }
    lastAt = now;
    log(suppressed > 0 ? `${message} (${suppressed} similar messages suppressed)` : message);
    suppressed = 0;
  };
}
