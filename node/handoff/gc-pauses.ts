/**
 * The longest garbage-collection pause since the last reading, for the handoff pace (node/handoff/adaptive-pace.ts).
 *
 * The pace reads the event loop's delay to tell whether streaming takes the loop from clients. A full collection of
 * a node's heap stops the loop for 16-30 ms on two shared cores, and in a window of 250 ms (about 23 delay samples)
 * one such stop is the window's 99th percentile by itself. A debug build that logged each receiver's readings next
 * to every pause over 5 ms (a 4 -> 3 `bench:rebalance` without clients) found that every window over the delay
 * target followed a full collection: one ended the pace's slow start at 4-8 MiB/s, and the rate then climbed by a
 * quarter per window for seconds, with the receiver using a tenth to a third of a core. Halving the rate does not
 * make the next collection shorter, so the pace takes the window's longest pause off its delay reading. A pause that
 * clients feel is still seen: the pace's other signal, the node's own client latency, includes it.
 *
 * The reading is about the window's largest delay sample, and the subtraction assumes the pause fell in that sample.
 * A window with a long stall of streaming's own and a separate pause reads low by up to the pause; the next window
 * without a pause reads the stall in full.
 */
import { PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";

export class GcPauses {
  private longestMs = 0;
  private readonly observer = new PerformanceObserver((list) => this.record(list.getEntries()));

  constructor() {
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** The longest pause (ms) since the last call; each call starts a new measurement. */
  take(): number {
    const ms = this.longestMs;
    this.longestMs = 0;
    return ms;
  }

  stop(): void {
    this.observer.disconnect();
  }

  private record(entries: PerformanceEntry[]): void {
    for (const entry of entries) if (entry.duration > this.longestMs) this.longestMs = entry.duration;
  }
}
