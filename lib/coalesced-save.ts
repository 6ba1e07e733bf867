/**
 * A save that many changes ask for and few writes serve. `request` asks for the current state to be written; requests
 * made while a write waits to start join it (the write reads the state when it starts, so it holds all of them), and
 * writes start at most once per `intervalMs`. A burst of changes, such as a receiver's transfers each finishing pages,
 * so costs one write per interval instead of one per change. `flush` writes what was asked for without waiting out
 * the interval, and resolves once it is written: a component that stops calls it last.
 */
export class CoalescedSave {
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private lastStart = -Infinity;
  private hurry = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly write: () => Promise<void>,
    private readonly intervalMs: number,
    /** A failed write; the next request writes again. */
    private readonly onError: (err: Error) => void,
  ) {}

  request(): void {
    if (this.queued) return;
    this.queued = true;
    this.chain = this.chain
      .then(async () => {
        const waitMs = this.lastStart + this.intervalMs - performance.now();
        if (waitMs > 0 && !this.hurry) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, waitMs);
            this.wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          this.wake = undefined;
        }
        this.queued = false;
        this.lastStart = performance.now();
        await this.write();
      })
      .catch((err: Error) => this.onError(err));
  }

  /** Writes what was asked for now, and waits for it; requests after a flush write at once too. */
  async flush(): Promise<void> {
    this.hurry = true;
    this.wake?.();
    await this.chain;
  }
}
