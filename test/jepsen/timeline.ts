/**
 * The run's timeline: every client operation, fault window, measurement and anomaly as one JSON line, so a failed run
 * can be understood from its file alone, and drawn by ./plot.ts as latency and errors over time with the fault
 * windows shaded. Times are milliseconds since the run started.
 */
import { createWriteStream, type WriteStream } from "node:fs";

export type Outcome = "ok" | "fail" | "timeout";

export interface OpEvent {
  type: "op";
  t: number;
  /** Which workload issued it: `set`, `lww-set`, `chain`, `blind`, `ryw`... */
  workload: string;
  f: "read" | "write";
  key: string;
  node: string;
  latencyMs: number;
  outcome: Outcome;
  /** HTTP status when the node answered. */
  status?: number;
  error?: string;
  /** What the workload wants on record: the value written, the clock sent and returned... */
  detail?: string;
}

export interface FaultEvent {
  type: "fault";
  t: number;
  phase: "start" | "end";
  id: number;
  kind: string;
  detail: string;
}

export interface SampleEvent {
  type: "sample";
  t: number;
  node: string;
  values: Record<string, number>;
}

export interface AnomalyEvent {
  type: "anomaly";
  t: number;
  checker: string;
  message: string;
}

export interface NoteEvent {
  type: "note";
  t: number;
  message: string;
}

export type TimelineEvent = OpEvent | FaultEvent | SampleEvent | AnomalyEvent | NoteEvent;

type WithoutTime<E> = E extends TimelineEvent ? Omit<E, "t" | "type"> : never;

export class Timeline {
  readonly startedAt = Date.now();
  private readonly startedMono = performance.now();
  private readonly out: WriteStream;
  /** Kept in memory as well for the checkers and the plot; one run's worth is a few MiB at most. */
  readonly events: TimelineEvent[] = [];
  private readonly eventsMax: number;

  constructor(
    readonly path: string,
    options: { eventsMax?: number } = {},
  ) {
    this.out = createWriteStream(path);
    this.eventsMax = options.eventsMax ?? 2_000_000;
  }

  now(): number {
    return Math.round((performance.now() - this.startedMono) * 10) / 10;
  }

  private push(event: TimelineEvent): void {
    if (this.events.length < this.eventsMax) this.events.push(event);
    this.out.write(JSON.stringify(event) + "\n");
  }

  op(event: WithoutTime<OpEvent> & { t?: number }): void {
    this.push({ type: "op", t: event.t ?? this.now(), ...event } as OpEvent);
  }

  fault(phase: FaultEvent["phase"], id: number, kind: string, detail: string): void {
    this.push({ type: "fault", t: this.now(), phase, id, kind, detail });
  }

  sample(node: string, values: Record<string, number>): void {
    this.push({ type: "sample", t: this.now(), node, values });
  }

  anomaly(checker: string, message: string): void {
    this.push({ type: "anomaly", t: this.now(), checker, message });
  }

  note(message: string): void {
    this.push({ type: "note", t: this.now(), message });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
