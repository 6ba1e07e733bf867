/**
 * The pace of a node's partition streaming (handoff and rebuilds, on both the sending and the receiving side): a byte
 * rate that backs off when client work on this node suffers and climbs back when it does not. Streaming competes with
 * client requests for the event loop and the cores; the sign that it takes too much is the event loop falling behind,
 * which every client request on the node waits for. So every `windowMs` the pace reads the event loop's delay (its
 * 99th percentile over the window) and halves the rate when that is over the target, or raises it by a step when it
 * is not (additive increase, multiplicative decrease, between `floor` and `ceiling`).
 *
 * The target is relative to what the node sees without streaming: a machine that is busy anyway has a slow event loop
 * with or without handoff, and streaming should not stop because of it. Windows in which nothing streamed measure
 * that level; the target is the larger of `lagTargetMs` and `idleFactor` times it.
 */

export interface AdaptivePaceOptions {
  /** The rate never goes above this (the configured handoff rate) nor below `floorBytesPerSecond`. */
  ceilingBytesPerSecond: number;
  floorBytesPerSecond: number;
  /** Event-loop delay (99th percentile, ms) that streaming may always cause. */
  lagTargetMs: number;
  /** How much worse than without streaming the event loop may get. */
  idleFactor: number;
  windowMs: number;
  /** The event loop's delay since the last call (99th percentile, ms); each call starts a new measurement. */
  lag: () => number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What the pace decided at its last adjustment, for metrics and tests. */
export interface PaceState {
  bytesPerSecond: number;
  lagMs: number;
  idleLagMs: number | undefined;
  targetMs: number;
}

export class AdaptivePace {
  private rate: number;
  private tokens: number;
  private lastRefill: number;
  private windowStart: number;
  /** When streaming last asked for bytes or was waiting for them; a window without that is idle. */
  private lastActive = -Infinity;
  private waiting = 0;
  private idleLagMs: number | undefined;
  private lastLagMs = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: AdaptivePaceOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
    this.rate = options.ceilingBytesPerSecond;
    this.tokens = this.capacity();
    this.lastRefill = this.now();
    this.windowStart = this.lastRefill;
  }

  get state(): PaceState {
    return { bytesPerSecond: this.rate, lagMs: this.lastLagMs, idleLagMs: this.idleLagMs, targetMs: this.target() };
  }

  /**
   * Waits until `bytes` more may be streamed at the current rate. The bucket holds one window's worth, so streaming
   * that starts (or speeds up) does so in small steps the adjustment can follow; a page larger than that goes once
   * the bucket is full and leaves a debt the following pages pay back, so the rate holds on average.
   */
  async take(bytes: number): Promise<void> {
    this.waiting += 1;
    try {
      for (;;) {
        this.adapt();
        this.refill();
        const capacity = this.capacity();
        if (this.tokens >= bytes || this.tokens >= capacity) {
          this.tokens -= bytes;
          return;
        }
        const waitMs = Math.ceil(((Math.min(bytes, capacity) - this.tokens) / this.rate) * 1000);
        await this.sleep(Math.max(1, Math.min(waitMs, this.options.windowMs)));
      }
    } finally {
      this.waiting -= 1;
      this.lastActive = this.now();
    }
  }

  private capacity(): number {
    return (this.rate * this.options.windowMs) / 1000;
  }

  private target(): number {
    return Math.max(this.options.lagTargetMs, this.options.idleFactor * (this.idleLagMs ?? 0));
  }

  private adapt(): void {
    const now = this.now();
    if (now - this.windowStart < this.options.windowMs) return;
    const lag = this.options.lag();
    this.lastLagMs = lag;
    const idle = this.waiting <= 1 && now - this.lastActive > 2 * this.options.windowMs;
    this.windowStart = now;
    if (idle) {
      // The delay without streaming, smoothed; the rate starts over from the ceiling for the next burst of work.
      this.idleLagMs = this.idleLagMs === undefined ? lag : (this.idleLagMs + lag) / 2;
      this.rate = this.options.ceilingBytesPerSecond;
      return;
    }
    const { floorBytesPerSecond: floor, ceilingBytesPerSecond: ceiling } = this.options;
    this.rate = lag > this.target() ? Math.max(floor, this.rate / 2) : Math.min(ceiling, this.rate + ceiling / 8);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.lastRefill) / 1000) * this.rate);
    this.lastRefill = now;
  }
}
