/**
 * Per-node clock skew for the lab, made by libfaketime (Debian's `libfaketime`): every node process runs with it
 * preloaded and reads its offset from a file of its own, re-read at most once a second, so a nemesis can move one
 * node's wall clock forwards or backwards while it runs. Only the wall clock moves (`Date.now()`, what the hybrid
 * logical clock and heartbeat generations read); the monotonic clock behind timers and `performance.now()` does not,
 * as on a real machine whose NTP steps the time.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const LIBFAKETIME_PATHS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"];

export function libfaketimePath(): string | undefined {
  return LIBFAKETIME_PATHS.find((p) => existsSync(p));
}

export class LabClocks {
  private readonly skews = new Map<string, number>();

  constructor(private readonly dir: string) {}

  file(host: string): string {
    return join(this.dir, `clock-${host}`);
  }

  /** The environment that makes a process follow `host`'s clock file (created at offset 0 when new). */
  env(host: string): Record<string, string> {
    const lib = libfaketimePath();
    if (!lib) throw new Error("libfaketime is missing; install the Debian package libfaketime");
    if (!existsSync(this.file(host))) this.set(host, this.skews.get(host) ?? 0);
    return {
      LD_PRELOAD: lib,
      FAKETIME_TIMESTAMP_FILE: this.file(host),
      FAKETIME_CACHE_DURATION: "1",
      FAKETIME_DONT_FAKE_MONOTONIC: "1",
    };
  }

  /** Moves `host`'s wall clock `offsetMs` away from the real time (applied within a second). */
  set(host: string, offsetMs: number): void {
    const seconds = (offsetMs / 1000).toFixed(3);
    writeFileSync(this.file(host), `${offsetMs >= 0 ? "+" : ""}${seconds}s\n`);
    this.skews.set(host, offsetMs);
  }

  skew(host: string): number {
    return this.skews.get(host) ?? 0;
  }

  all(): Record<string, number> {
    return Object.fromEntries(this.skews);
  }
}
