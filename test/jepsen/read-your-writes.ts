/**
 * Read-your-writes for a client at r + w > n that always sends its context: each client owns a key, writes 1, 2,
 * 3... each with the context its previous acknowledged write returned, and after every acknowledged write reads the
 * key back through another node. The read must return that write or a later one.
 *
 * With `strict` the client also asks that primaries make both quorums (pw = w, pr = r), and the promise is absolute.
 * Without it, a sloppy quorum may be met by fallbacks that hold nothing for the key (docs/availability.md), so a
 * stale read under faults is allowed and only counted. Either way, a read must never return one write twice (two
 * siblings with the same value: the write was stored under two dots).
 */
import { ClientPool } from "../helpers/client-pool.js";
import type { SeededRandom } from "../../lib/random.js";
import type { OpRecorder } from "./ops.js";
import type { Timeline } from "./timeline.js";

export interface RywOptions {
  bucket: string;
  clients: number;
  urls: string[];
  strict: boolean;
  recorder: OpRecorder;
  timeline: Timeline;
  random: SeededRandom;
  pauseMs: number;
  r: number;
  w: number;
}

export interface RywReport {
  strict: boolean;
  writes: number;
  reads: number;
  /** Reads that returned an older write than the client's last acknowledged one (or nothing). */
  stale: number;
  /** Reads that returned one write twice, as two siblings: one write stored as two versions. */
  twins: number;
  /** Stale reads under `strict`, and twins: each breaks a promise. */
  violations: string[];
}

export class ReadYourWrites {
  private readonly clients = new ClientPool();
  private stopping = false;
  private running: Promise<void>[] = [];
  private readonly report: RywReport;

  constructor(private readonly options: RywOptions) {
    this.report = { strict: options.strict, writes: 0, reads: 0, stale: 0, twins: 0, violations: [] };
  }

  get name(): string {
    return this.options.strict ? "ryw-strict" : "ryw-sloppy";
  }

  keys(): string[] {
    return Array.from({ length: this.options.clients }, (_, i) => `${this.name}-${i}`);
  }

  start(): void {
    this.running = this.keys().map((key) => this.loop(key));
  }

  async stop(): Promise<RywReport> {
    this.stopping = true;
    await Promise.all(this.running);
    this.clients.close();
    return this.report;
  }

  private async loop(key: string): Promise<void> {
    const { urls, random, recorder, bucket, strict, r, w } = this.options;
    let context: string | undefined;
    let seq = 0;
    while (!this.stopping) {
      seq += 1;
      const writeUrl = random.pick(urls);
      let acknowledged = false;
      try {
        const result = await recorder.run(this.name, "write", key, writeUrl, () =>
          this.clients.get(writeUrl).put(bucket, key, String(seq), { context, contentType: "text/plain", w, pw: strict ? w : undefined }),
        );
        context = result.context;
        acknowledged = true;
        this.report.writes += 1;
      } catch {
        // Unknown whether it was stored; only acknowledged writes are read back.
      }
      if (acknowledged) {
        const readUrl = random.pick(urls.filter((u) => u !== writeUrl));
        try {
          const got = await recorder.run(this.name, "read", key, readUrl, () => this.clients.get(readUrl).get(bucket, key, { r, pr: strict ? r : undefined }));
          this.report.reads += 1;
          const values = got.kind === "value" ? [got.value] : got.kind === "siblings" ? got.siblings.map((s) => s.value) : [];
          const seqs = values.map((v) => Number(v.toString("utf8")));
          const newest = Math.max(0, ...seqs);
          if (new Set(seqs).size < seqs.length) {
            // Each write is sent once, so two siblings with one value are one write stored under two dots: a false
            // conflict (docs/versioning.md promises none), and under lww a twin that can beat later writes.
            this.report.twins += 1;
            const message = `${key}: read via ${readUrl} returned siblings ${seqs.join(", ")}: one write stored as two versions`;
            if (this.report.violations.length < 50) this.report.violations.push(message);
            this.options.timeline.anomaly(this.name, message);
          }
          if (newest < seq) {
            this.report.stale += 1;
            const message = `${key}: read via ${readUrl} returned ${newest === 0 ? "nothing" : `write ${newest}`} right after write ${seq} was acknowledged via ${writeUrl}`;
            if (strict) {
              if (this.report.violations.length < 50) this.report.violations.push(message);
              this.options.timeline.anomaly(this.name, message);
            } else {
              this.options.timeline.note(`${this.name} (allowed): ${message}`);
            }
          }
        } catch {
          // A read that fails says nothing about what it would have returned.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.options.pauseMs));
    }
  }
}
