/**
 * Every client request of a run goes through here: it is written to the timeline with its latency and outcome, and
 * checked against the API's error contract. Under faults a node may answer 503 (quorum not reached), or not answer
 * at all (a timeout or a broken connection, which the client sees as such); any other 5xx, a 4xx the workload could
 * not have caused, or a reply that breaks the contract is an anomaly.
 */
import { DynamoClientError } from "../../client/index.js";
import type { ObservedOp } from "../helpers/set-checker.js";
import type { Outcome, Timeline } from "./timeline.js";

/** 4xx codes a workload may legitimately meet: too many concurrent versions of one hot key. */
const EXPECTED_CLIENT_ERRORS = new Set(["too_many_siblings"]);

export interface StatusReport {
  requests: number;
  failures: number;
  byCode: Record<string, number>;
  /** Replies that break the contract: a 5xx other than 503, an unexpected 4xx, a malformed reply. */
  violations: string[];
}

export class OpRecorder {
  private requests = 0;
  private failures = 0;
  private readonly byCode = new Map<string, number>();
  private readonly violations: string[] = [];

  constructor(
    private readonly timeline: Timeline,
    private readonly nodeOf: (url: string) => string,
  ) {}

  /** An observer for one workload's requests (the SetChecker's `observe`, or `run` below). */
  observer(workload: string): (op: ObservedOp) => void {
    return (op) => this.record(workload, op);
  }

  /** Runs one request of `workload` and records it, with `detail(result)` when given. */
  async run<T>(workload: string, f: ObservedOp["f"], key: string, url: string, request: () => Promise<T>, detail?: (result: T | undefined) => string): Promise<T> {
    const started = performance.now();
    try {
      const result = await request();
      this.record(workload, { f, key, url, latencyMs: performance.now() - started }, detail?.(result));
      return result;
    } catch (error) {
      this.record(workload, { f, key, url, latencyMs: performance.now() - started, error }, detail?.(undefined));
      throw error;
    }
  }

  private record(workload: string, op: ObservedOp, detail?: string): void {
    this.requests += 1;
    const t = this.timeline.now() - op.latencyMs;
    const node = this.nodeOf(op.url);
    if (op.error === undefined) {
      this.timeline.op({ t, workload, f: op.f, key: op.key, node, latencyMs: round(op.latencyMs), outcome: "ok", detail });
      return;
    }
    this.failures += 1;
    const err = op.error;
    const code = err instanceof DynamoClientError ? err.code : "exception";
    const status = err instanceof DynamoClientError ? err.status : undefined;
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + 1);
    const outcome: Outcome = code === "timeout" ? "timeout" : "fail";
    const message = (err as Error).message;
    this.timeline.op({ t, workload, f: op.f, key: op.key, node, latencyMs: round(op.latencyMs), outcome, status, error: `${code}: ${message.slice(0, 200)}`, detail });
    const violation = contractViolation(code, status);
    if (violation) {
      const text = `${workload} ${op.f} ${op.key} via ${node}: ${violation} (${status ?? "-"} ${code}: ${message.slice(0, 300)})`;
      if (this.violations.length < 100) this.violations.push(text);
      this.timeline.anomaly("status", text);
    }
  }

  report(): StatusReport {
    return { requests: this.requests, failures: this.failures, byCode: Object.fromEntries(this.byCode), violations: [...this.violations] };
  }
}

/** Why a failed request breaks the API contract, or undefined when it is a failure the contract allows. */
export function contractViolation(code: string, status: number | undefined): string | undefined {
  if (status !== undefined && status >= 500 && status !== 503) return `a ${status}: only 503 may report a failure of the store`;
  if (status !== undefined && status >= 400 && status < 500 && !EXPECTED_CLIENT_ERRORS.has(code)) return `an unexpected ${status}`;
  if (code === "invalid_response" || code === "http_error" || code === "exception") return "a reply that breaks the API contract";
  return undefined;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
