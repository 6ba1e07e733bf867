/**
 * A token bucket measured in records: anti-entropy asks for permission before reading each batch, and waits when it
 * has used its share, so tree builds and key scans never take more than `perSecond` records a second from the disk.
 */

export class RateLimiter {
  private tokens: number;
  private lastRefill: number;

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = perSecond;
    this.lastRefill = now();
  }

  async take(count: number): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= count || this.tokens >= this.perSecond) {
        this.tokens -= count;
        return;
      }
      const waitMs = Math.ceil(((count - this.tokens) / this.perSecond) * 1000);
      await new Promise((r) => setTimeout(r, Math.min(waitMs, 1000)));
    }
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.lastRefill) / 1000) * this.perSecond);
    this.lastRefill = now;
  }
}
