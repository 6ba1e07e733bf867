/**
 * A phi-accrual failure detector (Hayashibara et al.; Cassandra's and Akka's). Instead of a yes/no timeout it keeps,
 * per member, the recent intervals between heartbeats and reports phi = -log10(P(no heartbeat for this long)): phi 1
 * means a 10% chance the member is merely slow, phi 8 one in a hundred million. A member is suspected down when phi
 * exceeds the threshold, and up again at its next heartbeat. Pure: the caller supplies every timestamp.
 */

export interface FailureDetectorOptions {
  /** phi above which a member is considered down. */
  phiThreshold: number;
  /** Heartbeat intervals remembered per member. */
  windowSize: number;
  /** Floor for the standard deviation, so a perfectly regular heartbeat does not make phi jump at the first delay. */
  minStdDevMs: number;
  /** Extra pause tolerated before suspicion grows (a GC pause, a busy event loop). */
  acceptablePauseMs: number;
  /** Interval assumed before a member has sent two heartbeats. */
  firstIntervalMs: number;
  /**
   * Longer gaps between heartbeats are not recorded as intervals (Cassandra's rule). A gap that long is an outage —
   * of the member, or of this process (frozen, starved) — not the member's rhythm; recorded, it would inflate the
   * mean and deviation and slow every detection for the next `windowSize` heartbeats.
   */
  intervalMaxMs: number;
}

export const DEFAULT_FAILURE_DETECTOR: FailureDetectorOptions = {
  phiThreshold: 8,
  windowSize: 100,
  minStdDevMs: 100,
  acceptablePauseMs: 500,
  firstIntervalMs: 1000,
  intervalMaxMs: 2000,
};

interface History {
  intervals: number[];
  next: number;
  lastAt: number;
  sum: number;
  sumSquares: number;
}

export class PhiAccrualDetector {
  private readonly members = new Map<string, History>();

  constructor(private readonly options: FailureDetectorOptions = DEFAULT_FAILURE_DETECTOR) {}

  /** The longest gap recorded as an interval; longer ones are outages. */
  get intervalMaxMs(): number {
    return this.options.intervalMaxMs;
  }

  heartbeat(member: string, nowMs: number): void {
    const history = this.members.get(member);
    if (!history) {
      const first = this.options.firstIntervalMs;
      this.members.set(member, { intervals: [first], next: 1, lastAt: nowMs, sum: first, sumSquares: first * first });
      return;
    }
    const interval = nowMs - history.lastAt;
    history.lastAt = nowMs;
    if (interval <= 0 || interval > this.options.intervalMaxMs) return;
    if (history.intervals.length < this.options.windowSize) {
      history.intervals.push(interval);
    } else {
      const evicted = history.intervals[history.next]!;
      history.sum -= evicted;
      history.sumSquares -= evicted * evicted;
      history.intervals[history.next] = interval;
      history.next = (history.next + 1) % this.options.windowSize;
    }
    history.sum += interval;
    history.sumSquares += interval * interval;
  }

  /** phi for a member; Infinity for a member never heard from. */
  phi(member: string, nowMs: number): number {
    const history = this.members.get(member);
    if (!history) return Infinity;
    const n = history.intervals.length;
    const mean = history.sum / n + this.options.acceptablePauseMs;
    const variance = Math.max(0, history.sumSquares / n - (history.sum / n) ** 2);
    const stdDev = Math.max(Math.sqrt(variance), this.options.minStdDevMs);
    const elapsed = nowMs - history.lastAt;
    // Logistic approximation of the normal distribution's tail (as in Akka), accurate enough and never log(0).
    const y = (elapsed - mean) / stdDev;
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    const pLater = elapsed > mean ? e / (1 + e) : 1 - 1 / (1 + e);
    return -Math.log10(Math.max(pLater, Number.MIN_VALUE));
  }

  isAvailable(member: string, nowMs: number): boolean {
    return this.phi(member, nowMs) < this.options.phiThreshold;
  }

  lastHeardAt(member: string): number | undefined {
    return this.members.get(member)?.lastAt;
  }

  forget(member: string): void {
    this.members.delete(member);
  }
}
