/**
 * A token bucket of any unit: a caller asks for permission before each batch and waits when it has used its share,
 * so anti-entropy's tree builds never read more than `perSecond` records a second, and handoff never sends more than
 * `perSecond` bytes.
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
