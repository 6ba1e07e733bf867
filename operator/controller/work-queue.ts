/**
 * A work queue of reconcile keys (`namespace/name`), shaped like client-go's: a key is queued at most once however
 * many events name it; a key is never handled by two workers at once (an event that arrives while it is being
 * handled marks it to run again afterwards); a failing key is retried with exponential backoff, reset by a success;
 * a handler may ask to be called again after some time. The number of distinct keys waiting is bounded: past the
 * bound new keys are dropped and counted, and the periodic resync brings them back.
 */

export const DEFAULT_WORK_QUEUE = {
  workers: 2,
  keysMax: 10_000,
  backoffBaseMs: 500,
  backoffMaxMs: 60_000,
};

export type WorkQueueOptions = typeof DEFAULT_WORK_QUEUE;

/** What a handler returns: `requeueAfterMs` to be called again later, undefined when done until the next event. */
export type Handler = (key: string) => Promise<{ requeueAfterMs?: number } | undefined>;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface WorkQueueEvents {
  onDropped?(key: string): void;
  onResult?(key: string, outcome: "ok" | "error", durationMs: number, error?: unknown): void;
}

export class WorkQueue {
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, unknown>();
  private readonly failures = new Map<string, number>();
  private running = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: Handler,
    private readonly options: WorkQueueOptions = DEFAULT_WORK_QUEUE,
    private readonly events: WorkQueueEvents = {},
    private readonly timers: Timers = realTimers,
    private readonly now: () => number = Date.now,
  ) {}

  get depth(): number {
    return this.queued.size;
  }

  add(key: string): void {
    if (this.stopped) return;
    const timer = this.delayed.get(key);
    if (timer !== undefined) {
      this.timers.clearTimeout(timer);
      this.delayed.delete(key);
    }
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    if (this.queued.size >= this.options.keysMax) {
      this.events.onDropped?.(key);
      return;
    }
    this.queued.add(key);
    this.waiting.push(key);
    this.pump();
  }

  /** Queues `key` after `ms`, unless an earlier add (or an earlier delayed add) comes first. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    if (this.delayed.has(key) || this.queued.has(key)) return;
    this.delayed.set(
      key,
      this.timers.setTimeout(() => {
        this.delayed.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** The backoff before retry number `failures` (1-based). */
  backoffMs(failures: number): number {
    return Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.max(0, failures - 1));
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.delayed.values()) this.timers.clearTimeout(timer);
    this.delayed.clear();
    this.waiting.length = 0;
    this.queued.clear();
  }

  /** Resolves once no key is waiting or being handled (for tests and clean shutdown). */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.workers && this.waiting.length > 0) {
      const key = this.waiting.shift() as string;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.handle(key);
    }
    if (this.running === 0 && this.waiting.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private async handle(key: string): Promise<void> {
    const started = this.now();
    let requeueAfterMs: number | undefined;
    try {
      const result = await this.handler(key);
      requeueAfterMs = result?.requeueAfterMs;
      this.failures.delete(key);
      this.events.onResult?.(key, "ok", this.now() - started);
    } catch (err) {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      requeueAfterMs = this.backoffMs(failures);
      this.events.onResult?.(key, "error", this.now() - started, err);
    }
    this.active.delete(key);
    this.running--;
    if (this.dirty.delete(key)) this.add(key);
    else if (requeueAfterMs !== undefined) this.addAfter(key, requeueAfterMs);
    this.pump();
  }
}
