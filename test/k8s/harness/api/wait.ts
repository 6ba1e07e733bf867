// Every wait in the Kubernetes tests and harness is bounded: `waitFor` polls a condition until it
// holds or a deadline passes, then fails with a message that says what was awaited and what was last
// seen, so a stuck test explains itself instead of hitting mocha's generic timeout.
export const DEFAULT_WAIT = {
  timeoutMs: 60_000,
  intervalMs: 250,
};

export class WaitTimeoutError extends Error {
  readonly code = "wait_timeout";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WaitTimeoutError";
  }
}

/** Thrown by a check to end the wait at once: the awaited state can no longer come about. */
export class WaitAbortedError extends Error {
  readonly code = "wait_aborted";
  constructor(message: string) {
    super(message);
    this.name = "WaitAbortedError";
  }
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Polls `check` until it answers something other than undefined (or false) and returns that value.
 * Errors thrown by `check` count as "not yet" and the last one is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT.timeoutMs;
  const intervalMs = options.intervalMs ?? DEFAULT_WAIT.intervalMs;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof WaitAbortedError) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
      throw new WaitTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
