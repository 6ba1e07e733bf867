/**
 * Registers in an `lww` bucket, one writer per key writing 1, 2, 3... one write after the other, and the checker of
 * what docs/versioning.md promises for them:
 *
 * - **chain** writers send with each write the context the previous acknowledged write returned. Each acknowledged
 *   write's context covers every earlier acknowledged one, so whatever the clocks say, the key must end on the last
 *   acknowledged write — or on a write that failed (the client cannot know whether a failed write was stored, and it
 *   is concurrent with what follows). Ending on an earlier *acknowledged* write is a violation.
 * - **blind** writers send no context. Last-writer-wins then orders by hybrid-clock timestamp, so a write loses to an
 *   earlier one only when the nodes' clocks disagree by more than the time between them: a blind write issued more
 *   than D after an earlier write was acknowledged must replace it, D being the spread of the nodes' clock offsets
 *   over the run. Losses within D are counted and reported, not violations.
 */
import { ClientPool } from "../helpers/client-pool.js";
import type { SeededRandom } from "../../lib/random.js";
import type { OpRecorder } from "./ops.js";

export type RegisterMode = "chain" | "blind";

interface Write {
  seq: number;
  issuedMs: number;
  endedMs: number;
  acknowledged: boolean;
}

export interface RegisterReport {
  mode: RegisterMode;
  keys: number;
  acknowledged: number;
  failed: number;
  /** Keys that ended on an earlier write than the last acknowledged one, allowed by the promise. */
  lostToConcurrentWrites: number;
  lostWithinClockSpread: number;
  violations: string[];
}

export interface RegisterOptions {
  mode: RegisterMode;
  bucket: string;
  keys: number;
  urls: string[];
  recorder: OpRecorder;
  random: SeededRandom;
  pauseMs: number;
  w?: number;
  /** Reads a context's clock, for the timeline (contexts are opaque to clients, but the test holds the secret). */
  describeContext?: (key: string, context: string | undefined) => string;
}

export class RegisterWorkload {
  private readonly writes = new Map<string, Write[]>();
  private readonly clients = new ClientPool();
  private stopping = false;
  private running: Promise<void>[] = [];

  constructor(private readonly options: RegisterOptions) {}

  keyName(i: number): string {
    return `${this.options.mode}-${i}`;
  }

  keys(): string[] {
    return Array.from({ length: this.options.keys }, (_, i) => this.keyName(i));
  }

  start(): void {
    this.running = this.keys().map((key) => this.writer(key));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
    this.clients.close();
  }

  private async writer(key: string): Promise<void> {
    const history: Write[] = [];
    this.writes.set(key, history);
    let context: string | undefined;
    let seq = 0;
    while (!this.stopping) {
      seq += 1;
      const url = this.options.random.pick(this.options.urls);
      const issuedMs = performance.now();
      const write: Write = { seq, issuedMs, endedMs: issuedMs, acknowledged: false };
      history.push(write);
      try {
        const sent = this.options.mode === "chain" ? context : undefined;
        const describe = this.options.describeContext ?? (() => "");
        const result = await this.options.recorder.run(
          `lww-${this.options.mode}`,
          "write",
          key,
          url,
          () => this.clients.get(url).put(this.options.bucket, key, String(seq), { context: sent, contentType: "text/plain", w: this.options.w ?? 2 }),
          (r) => `write ${seq}${sent ? ` with ${describe(key, sent)}` : ""}${r ? ` -> ${describe(key, r.context)}` : ""}`,
        );
        write.acknowledged = true;
        context = result.context;
      } catch {
        // A failed write may or may not have been stored; the checker treats it as concurrent with what follows.
      }
      write.endedMs = performance.now();
      await new Promise((r) => setTimeout(r, this.options.pauseMs));
    }
  }

  /** Judges each key's final value (read at r=n after the cluster healed and converged). */
  check(finals: Map<string, string | undefined>, clockSpreadMs: number): RegisterReport {
    const report: RegisterReport = {
      mode: this.options.mode,
      keys: this.options.keys,
      acknowledged: 0,
      failed: 0,
      lostToConcurrentWrites: 0,
      lostWithinClockSpread: 0,
      violations: [],
    };
    for (const [key, history] of this.writes) {
      const acked = history.filter((w) => w.acknowledged);
      report.acknowledged += acked.length;
      report.failed += history.length - acked.length;
      const last = acked.at(-1);
      if (!last) continue;
      const finalText = finals.get(key);
      if (finalText === undefined) {
        report.violations.push(`${key}: not found, though ${acked.length} writes were acknowledged (the last was ${last.seq})`);
        continue;
      }
      const final = history.find((w) => String(w.seq) === finalText);
      if (!final) {
        report.violations.push(`${key}: holds '${finalText}', which no client wrote`);
        continue;
      }
      if (final.seq >= last.seq) continue;
      if (!final.acknowledged) {
        report.lostToConcurrentWrites += 1;
        continue;
      }
      if (this.options.mode === "chain") {
        report.violations.push(`${key}: ends on acknowledged write ${final.seq}, though acknowledged write ${last.seq} carried a context covering it`);
        continue;
      }
      const gapMs = last.issuedMs - final.endedMs;
      // A few milliseconds of slack: timestamps have millisecond resolution and the two clocks are read apart.
      if (gapMs > clockSpreadMs + 5) {
        report.violations.push(
          `${key}: ends on acknowledged write ${final.seq}, though write ${last.seq} was issued ${Math.round(gapMs)} ms after it was acknowledged and the clocks were never more than ${clockSpreadMs} ms apart`,
        );
      } else {
        report.lostWithinClockSpread += 1;
      }
    }
    return report;
  }
}
