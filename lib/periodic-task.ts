/**
 * A background loop: runs a round every `intervalMs`, never more than `roundsMax` at once (a tick that finds them all
 * still running is skipped), reports a failed round to `onError` and carries on with the next, and on `stop` waits
 * for the rounds in flight, so a component that stops has truly stopped touching the store and the network. The
 * timer does not keep the process alive.
 */
export interface PeriodicTaskOptions<T> {
  intervalMs: number;
  round: () => Promise<T>;
  /** A failed round; the loop goes on. */
  onError: (err: Error) => void;
  /**
   * Rounds that may run at once (default 1). More than one suits a round whose slow peer must not delay the others'
   * messages, such as gossip.
   */
  roundsMax?: number;
}

export class PeriodicTask<T = void> {
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<T>>();
  private stopped = false;

  constructor(private readonly options: PeriodicTaskOptions<T>) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (this.inFlight.size < (this.options.roundsMax ?? 1)) this.launch().catch((err: Error) => this.options.onError(err));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /**
   * One round now, outside the timer (tests, an admin request); with a round already running and no room for
   * another, its result is shared. Rejects when the round fails.
   */
  runOnce(): Promise<T> {
    if (this.inFlight.size >= (this.options.roundsMax ?? 1)) return [...this.inFlight][0]!;
    return this.launch();
  }

  /** Stops the timer and waits for every round in flight; their failures were already reported. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Whether `stop` was called; a long round checks it between steps to end early. */
  get isStopped(): boolean {
    return this.stopped;
  }

  private launch(): Promise<T> {
    const round = this.options.round();
    this.inFlight.add(round);
    const forget = () => this.inFlight.delete(round);
    round.then(forget, forget);
    return round;
  }
}
