/**
 * A set-style checker in the manner of Jepsen's: clients add unique elements to a few keys by read, merge siblings by
 * union, add, and write back with the context. Every add is recorded as acknowledged (the write returned success) or
 * not. At the end every key is read at r=n and the checker reports what was lost: acknowledged elements that are in
 * no version of their key. Unacknowledged elements may or may not be present; both are fine.
 */
import { DynamoClient, DynamoClientError, type DynamoClientOptions } from "../../client/index.js";
import { ClientPool } from "./client-pool.js";
import type { SeededRandom } from "../../lib/random.js";

export interface SetCheckerOptions {
  urls: () => string[];
  /**
   * TLS and token settings of the checker's clients (a CA, a server name, a client token), when the nodes need them.
   * Asked before every request: a new object (say, after the published CA changed) replaces the clients made with
   * the old one, as an application that reloads its CA file would.
   */
  client?: () => DynamoClientOptions;
  bucket: string;
  keys: number;
  clients: number;
  rng: SeededRandom;
  /** Write quorum used by the clients. */
  w?: number;
  /** Read quorum of the clients' reads before each add (default 1). */
  r?: number;
  /**
   * Each client may move on to the other nodes when its node refuses a request it did not serve (DynamoClient's
   * failover: refused connections, `503 not_ready` from a node shutting down); by default it talks to one node only.
   */
  failover?: boolean;
  /** Pause between one client's operations. */
  pauseMs?: number;
  /** Prefix of the elements this checker adds, so several checkers can share keys. */
  prefix?: string;
  /** Told about every request the clients make, for timelines and status checks. */
  observe?: (op: ObservedOp) => void;
}

export interface ObservedOp {
  f: "read" | "write";
  key: string;
  url: string;
  latencyMs: number;
  /** Undefined when the request succeeded. */
  error?: unknown;
}

export interface SetReport {
  attempted: number;
  acknowledged: number;
  lost: string[];
  unacknowledgedPresent: number;
  failures: number;
}

export function parseSet(value: Buffer): string[] {
  const parsed = JSON.parse(value.toString("utf8")) as unknown;
  if (!Array.isArray(parsed)) throw new Error("set value is not a JSON array");
  return parsed.map(String);
}

export class SetChecker {
  private readonly acknowledged = new Map<string, string>();
  private readonly unacknowledged = new Map<string, string>();
  private stopping = false;
  private running: Promise<void>[] = [];
  private readonly clients = new ClientPool(5000, () => this.options.client?.());
  failures = 0;
  readonly errors: string[] = [];

  constructor(private readonly options: SetCheckerOptions) {}

  keyName(i: number): string {
    return `set-${i}`;
  }

  start(): void {
    this.running = Array.from({ length: this.options.clients }, (_, c) => this.client(c));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    this.clients.close();
  }

  get acknowledgedCount(): number {
    return this.acknowledged.size;
  }

  private async client(index: number): Promise<void> {
    let n = 0;
    while (!this.stopping) {
      const urls = this.options.urls();
      const url = urls[(index + n) % urls.length]!;
      const client = this.clients.get(url, this.options.failover ? urls.filter((u) => u !== url) : []);
      const key = this.keyName(this.options.rng.int(this.options.keys));
      const element = `${this.options.prefix ?? "c"}${index}-${n++}`;
      try {
        const current = await this.observed("read", key, url, () => client.get(this.options.bucket, key, { r: this.options.r ?? 1 }));
        const members = new Set<string>();
        if (current.kind === "value") parseSet(current.value).forEach((e) => members.add(e));
        if (current.kind === "siblings") for (const s of current.siblings) parseSet(s.value).forEach((e) => members.add(e));
        members.add(element);
        await this.observed("write", key, url, () =>
          client.put(this.options.bucket, key, JSON.stringify([...members].sort()), {
            context: current.context,
            contentType: "application/json",
            w: this.options.w ?? 2,
          }),
        );
        this.acknowledged.set(element, key);
      } catch (err) {
        this.unacknowledged.set(element, key);
        this.failures += 1;
        if (this.errors.length < 20) this.errors.push(`${element} via ${url}: ${err instanceof DynamoClientError ? `${err.status} ${err.message}` : (err as Error).message}`);
      }
      if (this.options.pauseMs) await new Promise((r) => setTimeout(r, this.options.pauseMs));
    }
  }

  private async observed<T>(f: ObservedOp["f"], key: string, url: string, request: () => Promise<T>): Promise<T> {
    const observe = this.options.observe;
    if (!observe) return request();
    const started = performance.now();
    try {
      const result = await request();
      observe({ f, key, url, latencyMs: performance.now() - started });
      return result;
    } catch (error) {
      observe({ f, key, url, latencyMs: performance.now() - started, error });
      throw error;
    }
  }

  /**
   * Reads every key at r=n through `url` and compares with what was acknowledged before the reads began (clients may
   * still be running: what they add during the check is judged by a later one).
   */
  async check(url: string, n: number): Promise<SetReport> {
    const acknowledged = [...this.acknowledged.keys()];
    const unacknowledged = [...this.unacknowledged.keys()];
    const present = new Set<string>();
    const client = new DynamoClient(url, { ...this.options.client?.(), timeoutMs: 10_000 });
    for (let i = 0; i < this.options.keys; i++) {
      const got = await readForCheck(() => client.get(this.options.bucket, this.keyName(i), { r: n }));
      if (got.kind === "value") parseSet(got.value).forEach((e) => present.add(e));
      if (got.kind === "siblings") for (const s of got.siblings) parseSet(s.value).forEach((e) => present.add(e));
    }
    client.close();
    const lost = acknowledged.filter((e) => !present.has(e));
    const unacknowledgedPresent = unacknowledged.filter((e) => present.has(e)).length;
    return {
      attempted: acknowledged.length + unacknowledged.length,
      acknowledged: acknowledged.length,
      lost,
      unacknowledgedPresent,
      failures: this.failures,
    };
  }

  keyOf(element: string): string | undefined {
    return this.acknowledged.get(element) ?? this.unacknowledged.get(element);
  }

  /** Every acknowledged element of `key`, for per-replica checks. */
  acknowledgedFor(key: string): string[] {
    return [...this.acknowledged].filter(([, k]) => k === key).map(([e]) => e);
  }
}

export function formatReport(report: SetReport): string {
  return `total ${report.attempted}, acknowledged ${report.acknowledged}, lost ${report.lost.length}, unacknowledged but present ${report.unacknowledgedPresent}, failed requests ${report.failures}`;
}

/**
 * One read of the final check, tried again a few times when a replica did not answer in time: the check is about
 * what the replicas hold, and on a loaded machine one of r=n replicas can miss the request timeout right after the
 * faults healed (a Jepsen run of seed 74 ended on "read quorum not reached: 1 of 3 replicas failed"). Any other
 * error, and a replica still failing after the last try, fail the check as before.
 */
async function readForCheck<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const transient = err instanceof DynamoClientError && ["unavailable", "timeout", "network_error"].includes(err.code);
      if (!transient || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}
