/**
 * Quorum bookkeeping for one request: counts successes and failures of the replicas asked, and says as soon as the
 * outcome is known, either because enough replicas answered or because too many failed for a quorum to be possible.
 * The coordinator feeds it replies and waits on `done`; its only timer is the deadline the coordinator gives it.
 */

export interface QuorumRequirement {
  /** Replies needed in all. */
  total: number;
  /** Replies needed from primaries (pr/pw); 0 when sloppiness is acceptable. */
  primaries: number;
}

export type QuorumOutcome = { ok: true } | { ok: false; reason: string };

export class QuorumTracker<T> {
  private successes = 0;
  private primarySuccesses = 0;
  private failures = 0;
  private primaryFailures = 0;
  private settled = false;
  private resolve!: (outcome: QuorumOutcome) => void;
  private deadline: NodeJS.Timeout | undefined;
  private whenAllAnswered: (() => void) | undefined;
  readonly replies: { id: string; value: T }[] = [];
  readonly errors: { id: string; error: Error }[] = [];
  readonly done: Promise<QuorumOutcome>;

  constructor(
    private readonly requirement: QuorumRequirement,
    private readonly asked: number,
    private readonly primariesAsked: number,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
    this.check();
  }

  /**
   * Settles `done` as failed unless the outcome is known within `ms`. The tracker keeps the timer and clears it when
   * it settles, so that a request waits on one promise: a wrapper racing `done` against a timer costs every request
   * two promises more. The reason is written only when the deadline passes, not for every request.
   */
  expireAfter(ms: number): void {
    if (this.settled) return;
    this.deadline = setTimeout(() => this.finish({ ok: false, reason: this.lateReason(ms) }), ms);
  }

  /**
   * Calls `callback` once every replica asked has answered or failed (at once if they have), for work that wants the
   * late replies too. A callback rather than a promise: most requests never ask, and a promise costs each of them.
   */
  onAllAnswered(callback: () => void): void {
    if (this.outstanding === 0) callback();
    else this.whenAllAnswered = callback;
  }

  success(id: string, primary: boolean, value: T): void {
    this.successes += 1;
    if (primary) this.primarySuccesses += 1;
    this.replies.push({ id, value });
    this.check();
  }

  failure(id: string, primary: boolean, error: Error): void {
    this.failures += 1;
    if (primary) this.primaryFailures += 1;
    this.errors.push({ id, error });
    this.check();
  }

  /** True once the outcome is known. */
  get isSettled(): boolean {
    return this.settled;
  }

  get outstanding(): number {
    return this.asked - this.successes - this.failures;
  }

  private check(): void {
    if (!this.settled) this.decide();
    // After the outcome, so that a callback that throws cannot keep the request waiting for its deadline.
    if (this.outstanding === 0 && this.whenAllAnswered !== undefined) {
      const callback = this.whenAllAnswered;
      this.whenAllAnswered = undefined;
      callback();
    }
  }

  private decide(): void {
    const { total, primaries } = this.requirement;
    if (this.successes >= total && this.primarySuccesses >= primaries) {
      this.finish({ ok: true });
    } else if (this.asked - this.failures < total) {
      this.finish({ ok: false, reason: `${this.failures} of ${this.asked} replicas failed; ${total} needed (${this.firstError()})` });
    } else if (this.primariesAsked - this.primaryFailures < primaries) {
      this.finish({ ok: false, reason: `${this.primaryFailures} primary replicas failed; ${primaries} primaries needed (${this.firstError()})` });
    }
  }

  private lateReason(ms: number): string {
    const { total, primaries } = this.requirement;
    const fromPrimaries = primaries > 0 ? ` (${this.primarySuccesses} of the ${primaries} from primaries)` : "";
    return `${this.successes} of the ${total} replies needed${fromPrimaries} came within ${ms} ms`;
  }

  /** The first failure, so an operator reading the error learns why a replica failed, not only that it did. */
  private firstError(): string {
    const first = this.errors[0];
    return first ? `${first.id}: ${first.error.message}` : "no replica answered";
  }

  private finish(outcome: QuorumOutcome): void {
    this.settled = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    this.resolve(outcome);
  }
}
