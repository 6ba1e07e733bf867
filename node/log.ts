/**
 * Log lines a person can follow: one line per event, a UTC timestamp, the node id, a level, and a sentence. Lines go
 * to stderr so stdout stays free for command output. Messages often carry what clients sent (keys, bucket names,
 * error text), so every control character is escaped on the way out: a key holding a newline or a terminal escape
 * sequence can neither forge a log line nor repaint the terminal of whoever reads the log.
 */

export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function createLogger(component: string, sink: (line: string) => void = (line) => process.stderr.write(line + "\n")): Logger {
  const write = (level: LogLevel, message: string) => sink(`${new Date().toISOString()} ${component} ${level} ${escapeControls(message)}`);
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

/** C0 and C1 control characters, DEL, and the two Unicode line separators: everything that can break or repaint a line. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** The text with every control character written as an escape (`\n`, `\x1b`, `\u2028`), so it stays one printable line. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
  });
}

/** A key as a log message shows it: in quotes, so a key with spaces or escapes is told apart from the words around it. */
export function keyForLog(bucket: string, key: Buffer): string {
  return `${bucket}/${JSON.stringify(key.toString("utf8"))}`;
}
