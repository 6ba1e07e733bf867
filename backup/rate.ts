/**
 * The backup's budget on the cluster: pages of records arrive no faster than a rate in bytes and a rate in records,
 * whichever is tighter, so a backup takes a bounded share of the nodes' disks and CPU while clients keep working.
 * Both are token buckets (lib/rate-limiter.ts), shared by every partition read at once.
 */
import { RateLimiter } from "../lib/rate-limiter.js";

export interface RateLimits {
  /** Bytes of scanned pages per second, summed over the replicas read; 0 for no limit. */
  bytesPerSecond: number;
  /** Records of scanned pages per second, summed over the replicas read; 0 for no limit. */
  recordsPerSecond: number;
}

export class PageBudget {
  private readonly bytes: RateLimiter | undefined;
  private readonly records: RateLimiter | undefined;

  constructor(limits: RateLimits) {
    this.bytes = limits.bytesPerSecond > 0 ? new RateLimiter(limits.bytesPerSecond) : undefined;
    this.records = limits.recordsPerSecond > 0 ? new RateLimiter(limits.recordsPerSecond) : undefined;
  }

  /** Waits until a page of this size fits the budget. */
  async spend(bytes: number, records: number): Promise<void> {
    await this.bytes?.take(bytes);
    await this.records?.take(records);
  }
}
