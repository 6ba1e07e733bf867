/**
 * The pace of a node's partition streaming (handoff and rebuilds, on both the sending and the receiving side): a byte
 * rate that backs off when client work on this node suffers and climbs back when it does not. Streaming competes with
 * client requests for the event loop and the cores; the sign that it takes too much is the event loop falling behind,
 * which every client request on the node waits for. So every `windowMs` the pace reads the event loop's delay (its
 * 99th percentile over the window) and halves the rate when that is over the target, or raises it by a step when it
 * is not (multiplicative both ways, between `floor` and `ceiling`: half down per bad window; up per good one, doubling
 * from the rate a burst of streaming starts at (`startBytesPerSecond`, by default the floor) until the first bad
 * window above it, then by a quarter;
 * on a node without clients the start quadruples instead, see `slowStartGrowth`).
 * A burst starts when streaming begins after a pause of `restartAfterMs`; shorter pauses keep the rate.
 * Up by a quarter rather than by a fixed step: from a low rate a fixed step of the ceiling's size would multiply the
 * rate many times over in one window, which on a machine whose cores the clients already fill is a burst that the
 * next window can only report after the clients have waited for it.
 *
 * The target is relative to what the node sees without streaming: a machine that is busy anyway has a slow event loop
 * with or without handoff, and streaming should not stop because of it. Windows in which nothing streamed measure
 * that level; the target is the larger of `lagTargetMs` and `idleFactor` times it. Those windows must be measured
 * while nothing streams, so the node calls `sample()` once per window throughout: a pace that only looked when
 * streaming asked for bytes took its first look at a step as the level without streaming, and that look covered
 * everything since the last burst, minutes of it. In `bench:rebalance` it covered the bulk load before the first step
 * (a server-side p99 of 61 ms against 13-25 ms in the quiet seconds before the step), so the senders of a scale-out
 * held client latency to 76 ms and climbed to the ceiling while the clients' p99 doubled.
 *
 * The event loop is not the only place streaming slows clients: the cores it takes from LevelDB's threads, from the
 * other replicas a request waits for, and the writes it adds to the disk show in no event loop's delay. So the pace
 * also reads the node's own client request latency (`latency`, its 99th percentile over the window) and holds it
 * against the same measure in windows without streaming: over `latencyFactor` times that level, it backs off too.
 * Client work comes first; the rate is what is left.
 *
 * A window in which the node served no request at all (no client request, no replica read or write for another
 * node's coordinator) has nobody to protect: only streaming itself and the node's gossip wait for the event loop. Such
 * a window is held to the looser `quietLagTargetMs`, which only has to keep the loop well inside what failure detection
 * tolerates. Without it a scale-in with nothing else to do ran at one of two speeds (17-19 or 31-33 MB/s): a window
 * over 20 ms of delay in the step's first second, when the ring's install, the transfers' start and four processes
 * woke on two cores at once, ended the slow start, and the rate then climbed by a quarter per window for seconds. When
 * requests come back, the first window with requests takes the rate back to what it was in the last window that served
 * requests, if that was lower, instead of halving from a rate no client was there to measure.
 *
 * A burst on a node that has served nothing for `QUIET_START_WINDOWS` windows starts at the ceiling rather than
 * climbing to it: nobody on it waits, and in a step without clients (`bench:rebalance --clients 0`) the climb from
 * 1 MiB/s took the first second of a two-second stream, with every sender and receiver at a few MiB/s. Requests that
 * then arrive take the rate down to the start rate at once (no window with requests measured the ceiling), as above.
 * A node that has just started has served nothing either and counts as quiet from its start: a joining node, which
 * takes in everything a scale-out moves, otherwise climbed from 1 MiB/s through the first second of a three-second
 * stream (`bench:rebalance --clients 0`: 35-39 MB/s while streaming, 50-51 without the climb).
 */

export interface AdaptivePaceOptions {
  /** The rate never goes above this (the configured handoff rate) nor below `floorBytesPerSecond`. */
  ceilingBytesPerSecond: number;
  floorBytesPerSecond: number;
  /**
   * The rate a burst of streaming starts at, between the floor and the ceiling (default the floor). Above the floor,
   * a node without clients climbs to the ceiling in fewer windows, while one whose clients suffer still halves down
   * to the floor within a few windows.
   */
  startBytesPerSecond?: number;
  /** Event-loop delay (99th percentile, ms) that streaming may always cause. */
  lagTargetMs: number;
  /** How much worse than without streaming the event loop may get. */
  idleFactor: number;
  windowMs: number;
  /**
   * Streaming that pauses longer than this starts again from the start rate, as a new burst (default eight windows).
   * A shorter pause keeps the rate: a transfer waiting for its next page, or between two partitions, is the same
   * burst, and starting it over made every such gap cost seconds of climbing.
   */
  restartAfterMs?: number;
  /** The event loop's delay since the last call (99th percentile, ms); each call starts a new measurement. */
  lag: () => number;
  /**
   * The node's client request latency since the last call (99th percentile, ms), undefined when too few requests came
   * to tell (a node without clients); each call starts a new measurement. Without it the pace follows the event loop
   * alone.
   */
  latency?: () => number | undefined;
  /** How much worse than without streaming client latency may get (1.25: a quarter). */
  latencyFactor?: number;
  /**
   * Requests the node served since the last call (client requests and replica operations for other nodes, streaming's
   * own aside); each call starts a new count. Without it every window counts as one with requests.
   */
  served?: () => number;
  /** Event-loop delay (99th percentile, ms) that streaming may cause in a window in which the node served nothing. */
  quietLagTargetMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** What the pace decided at its last adjustment, for metrics and tests. */
export interface PaceState {
  bytesPerSecond: number;
  lagMs: number;
  idleLagMs: number | undefined;
  targetMs: number;
  /** Client p99 in the last window, its level without streaming, and the latency the pace holds streaming to. */
  latencyMs: number | undefined;
  idleLatencyMs: number | undefined;
  latencyTargetMs: number | undefined;
  /** Whether the last window served no request, so that the looser delay target applied. */
  quiet: boolean;
}

export class AdaptivePace {
  private rate: number;
  /** Until the first back-off of a burst of streaming the rate doubles (or quadruples) per good window (slow start). */
  private slowStart = true;
  private tokens: number;
  private lastRefill: number;
  private windowStart: number;
  /** When streaming last asked for bytes or was waiting for them; a window without that is idle. */
  private lastActive = -Infinity;
  private waiting = 0;
  private idleLagMs: number | undefined;
  private lastLagMs = 0;
  private idleLatencyMs: number | undefined;
  private lastLatencyMs: number | undefined;
  /** The rate after the last window in which the node served requests; undefined before the first. */
  private servedRate: number | undefined;
  private lastQuiet = false;
  /**
   * Windows in a row in which the node served no request. A node that has just started has served none: it counts as
   * quiet from its start, so a joining node's first transfers start at the ceiling rather than climbing to it.
   */
  private quietRun: number;
  /** The rate a burst starts at: `startBytesPerSecond` held between the floor and the ceiling. */
  private readonly startRate: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: AdaptivePaceOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()));
    const { floorBytesPerSecond: floor, ceilingBytesPerSecond: ceiling, startBytesPerSecond: start } = options;
    this.startRate = Math.min(ceiling, Math.max(floor, start ?? floor));
    this.quietRun = options.served ? QUIET_START_WINDOWS : 0;
    this.rate = this.burstStartRate();
    this.tokens = this.capacity();
    this.lastRefill = this.now();
    this.windowStart = this.lastRefill;
  }

  get state(): PaceState {
    return {
      bytesPerSecond: this.rate,
      lagMs: this.lastLagMs,
      idleLagMs: this.idleLagMs,
      targetMs: this.target(this.lastQuiet),
      quiet: this.lastQuiet,
      latencyMs: this.lastLatencyMs,
      idleLatencyMs: this.idleLatencyMs,
      latencyTargetMs: this.latencyTarget(),
    };
  }

  /**
   * Closes the current window if it is over, as `take` does: the node calls this every `windowMs` so that windows
   * without streaming measure the levels streaming is then held to, right up to a burst's first bytes.
   */
  sample(): void {
    this.adapt();
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

  /**
   * The bytes one page of streaming should hold now: one window's worth at the current rate, so that a page that is
   * decoded and merged in one go on the event loop is small while the pace is low.
   */
  pageBytes(): number {
    return this.capacity();
  }

  private capacity(): number {
    return (this.rate * this.options.windowMs) / 1000;
  }

  private target(quiet: boolean): number {
    const target = Math.max(this.options.lagTargetMs, this.options.idleFactor * (this.idleLagMs ?? 0));
    return quiet ? Math.max(target, this.options.quietLagTargetMs ?? target) : target;
  }

  /** Undefined until a window without streaming has measured the level, or without a latency to read. */
  private latencyTarget(): number | undefined {
    if (this.idleLatencyMs === undefined) return undefined;
    // A millisecond of slack: at sub-millisecond latencies the bucket a percentile falls in is noise.
    return Math.max(this.idleLatencyMs + 1, (this.options.latencyFactor ?? 1.25) * this.idleLatencyMs);
  }

  private adapt(): void {
    const now = this.now();
    if (now - this.windowStart < this.options.windowMs) return;
    const lag = this.options.lag();
    const latency = this.options.latency?.();
    const quiet = this.options.served !== undefined && this.options.served() === 0;
    this.lastLagMs = lag;
    this.lastLatencyMs = latency;
    this.lastQuiet = quiet;
    this.quietRun = quiet ? this.quietRun + 1 : 0;
    const idle = this.waiting <= 1 && now - this.lastActive > 2 * this.options.windowMs;
    this.windowStart = now;
    if (idle) {
      // The levels without streaming, smoothed. After a longer pause the next burst of work starts from the start rate
      // and doubles per window (quadruples without clients) until the first window in which clients or the event loop
      // suffer, then climbs by a quarter (slow start, then steady): started at the ceiling, a scale-in's receivers,
      // which serve clients, took in 100 MB/s each for the second it took the pace to see client p99 rise 13-fold.
      this.idleLagMs = smoothed(this.idleLagMs, lag);
      if (latency !== undefined) this.idleLatencyMs = smoothed(this.idleLatencyMs, latency);
      if (now - this.lastActive > (this.options.restartAfterMs ?? 8 * this.options.windowMs)) {
        this.rate = this.burstStartRate();
        this.slowStart = true;
        // A new burst is measured afresh: the rate requests held the last one to is no cap on this one's start.
        this.servedRate = undefined;
      }
      return;
    }
    const servedCap = this.servedRate ?? this.startRate;
    if (!quiet && this.rate > servedCap) {
      // Requests are back after windows without any: the rate those windows reached was never measured against them.
      // A burst that started without requests has no such rate, and goes back to where a burst with them starts.
      this.rate = servedCap;
    }
    const latencyTarget = this.latencyTarget();
    const clientsSuffer = latency !== undefined && latencyTarget !== undefined && latency > latencyTarget;
    const { floorBytesPerSecond: floor, ceilingBytesPerSecond: ceiling } = this.options;
    if (lag > this.target(quiet) || clientsSuffer) {
      // At the rate a burst starts at (or below it) streaming is not what put the window over: a node's first
      // seconds (compiling the streaming code) or a neighbour's burst on shared cores. Such a window leaves the slow
      // start on, which otherwise ended at a step's first window and left the rate to climb by a quarter for seconds.
      if (this.rate > this.startRate) this.slowStart = false;
      this.rate = Math.max(floor, this.rate / 2);
    } else {
      this.rate = Math.min(ceiling, this.rate * (this.slowStart ? slowStartGrowth(latency) : 1.25));
    }
    if (!quiet) this.servedRate = this.rate;
  }

  /** Where a burst starts: the ceiling on a node that has served nothing for a while (or since it started). */
  private burstStartRate(): number {
    return this.quietRun >= QUIET_START_WINDOWS ? this.options.ceilingBytesPerSecond : this.startRate;
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.capacity(), this.tokens + ((now - this.lastRefill) / 1000) * this.rate);
    this.lastRefill = now;
  }
}

/** Two seconds of windows without a single request: the node has no clients, not a lull between two of them. */
const QUIET_START_WINDOWS = 8;

/**
 * The level of a measure over the windows without streaming: each window moves it an eighth of the way, about two
 * seconds of memory at four windows a second. One window's p99 is the second or third slowest of a few hundred
 * requests (13-61 ms in the same quiet second of a loaded node), so a level that moved half the way per window was
 * mostly its last window's luck.
 */
function smoothed(level: number | undefined, window: number): number {
  return level === undefined ? window : level + (window - level) / 8;
}

/**
 * How much the rate grows per good window during a slow start. Doubling from the floor takes seven windows (1.75 s)
 * to reach 128 MiB/s, and most of a handoff step without clients went to that climb: in a `bench:rebalance --timeline`
 * run every receiver's readings stayed at half the delay target all the way up, and the joining node, once at the
 * ceiling, took in 55 MB/s. A node whose window saw too few client requests to measure (`latency` undefined) has no
 * clients of its own to protect, so it quadruples: four windows to the ceiling. The event loop's delay still halves
 * the rate on it, and the nodes it streams with, if they serve clients, hold the stream to their own pace.
 */
function slowStartGrowth(latency: number | undefined): number {
  return latency === undefined ? 4 : 2;
}
