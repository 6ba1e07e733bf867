/**
 * A closed-loop YCSB-A client load for the benchmarks that measure what an operation costs the clients (a ring
 * change, a backup): C clients, each reading a scrambled-zipfian key and, half the time, writing it back with the
 * context it read, and recording each operation's latency into whichever window is current.
 */
import type { DynamoClient } from "../../client/index.js";
import { LatencyHistogram } from "./histogram.js";
import type { SeededRandom as Random } from "../../lib/random.js";
import { ScrambledZipfian } from "./zipfian.js";

export class ClosedLoad {
  private stopped = false;
  private loops: Promise<void>[] = [];
  window = new LatencyHistogram();
  /** A second, shorter window that `tick()` cuts, for a timeline inside the current window. */
  private tickWindow = new LatencyHistogram();
  private tickErrors = 0;
  errors = 0;

  constructor(
    private readonly client: DynamoClient,
    private readonly random: Random,
    private readonly keys: number,
    private readonly clients: number,
  ) {}

  start(): void {
    const keys = new ScrambledZipfian(this.keys);
    const value = Buffer.alloc(1024, 120);
    this.loops = Array.from({ length: this.clients }, () => {
      const random = this.random.fork();
      return (async () => {
        while (!this.stopped) {
          const key = `user${keys.next(random)}`;
          const started = process.hrtime.bigint();
          try {
            const got = await this.client.get("default", key);
            if (random.next() < 0.5) await this.client.put("default", key, value, { context: got.context });
            const us = Number((process.hrtime.bigint() - started) / 1000n);
            this.window.record(us);
            this.tickWindow.record(us);
          } catch {
            this.errors += 1;
            this.tickErrors += 1;
          }
        }
      })();
    });
  }

  /** Starts a new latency window and returns the one that ends. */
  cut(): LatencyHistogram {
    const ended = this.window;
    this.window = new LatencyHistogram();
    return ended;
  }

  /** Starts a new tick window and returns the one that ends with the errors counted in it; `window` is unaffected. */
  tick(): { latency: LatencyHistogram; errors: number } {
    const ended = { latency: this.tickWindow, errors: this.tickErrors };
    this.tickWindow = new LatencyHistogram();
    this.tickErrors = 0;
    return ended;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}
