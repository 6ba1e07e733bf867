/**
 * Quorum bookkeeping for one request: counts successes and failures of the replicas asked, and says as soon as the
 * outcome is known, either because enough replicas answered or because too many failed for a quorum to be possible.
 * Pure; the coordinator feeds it replies and waits on `done`.
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
  private resolveAll!: () => void;
  readonly replies: { id: string; value: T }[] = [];
  readonly errors: { id: string; error: Error }[] = [];
  readonly done: Promise<QuorumOutcome>;
  /** Resolves once every replica asked has answered or failed, for work that wants the late replies too. */
  readonly allAnswered: Promise<void>;

  constructor(
    private readonly requirement: QuorumRequirement,
    private readonly asked: number,
    private readonly primariesAsked: number,
  ) {
    this.done = new Promise((resolve) => (this.resolve = resolve));
    this.allAnswered = new Promise((resolve) => (this.resolveAll = resolve));
    this.check();
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
    if (this.outstanding === 0) this.resolveAll();
    if (this.settled) return;
    const { total, primaries } = this.requirement;
    if (this.successes >= total && this.primarySuccesses >= primaries) {
      this.finish({ ok: true });
    } else if (this.asked - this.failures < total) {
      this.finish({ ok: false, reason: `${this.failures} of ${this.asked} replicas failed; ${total} needed (${this.firstError()})` });
    } else if (this.primariesAsked - this.primaryFailures < primaries) {
      this.finish({ ok: false, reason: `${this.primaryFailures} primary replicas failed; ${primaries} primaries needed (${this.firstError()})` });
    }
  }

  /** The first failure, so an operator reading the error learns why a replica failed, not only that it did. */
  private firstError(): string {
    const first = this.errors[0];
    return first ? `${first.id}: ${first.error.message}` : "no replica answered";
  }

  private finish(outcome: QuorumOutcome): void {
    this.settled = true;
    this.resolve(outcome);
  }
}
