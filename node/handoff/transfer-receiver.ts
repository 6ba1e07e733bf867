/**
 * Ownership handoff, receiving side. For every pending transfer naming this node as `to`, it streams the partition
 * from its current replica (the transfer's `from` when that one is up, otherwise any other current replica), merges
 * each record in, and reports progress (keys, bytes, done) through the admin API, where the RingDriver watches it.
 * Writes made meanwhile reach this node directly (the coordinator includes pending receivers), so once the stream
 * has caught up nothing is missing. Transfers run a bounded number at a time, under a byte-rate limit, and resume
 * from a persisted cursor after either side restarts.
 */
import type { PeerClient } from "../peer/index.js";
import type { TransferProgress as TransferReport } from "../protocol/index.js";
import { CoalescedSave } from "../../lib/coalesced-save.js";
import { preferenceList } from "../ring/index.js";
import type { Ring, Transfer } from "../ring/types.js";
import { streamPartition, type ReplicaAccess, type StreamCursor } from "./partition-stream.js";

/** A transfer's progress as the admin API reports it, plus where to resume (persisted, not reported). */
export interface TransferProgress extends TransferReport {
  kind: Transfer["kind"];
  /** Where to resume: the last key copied. */
  cursor?: StreamCursor;
}

export interface TransferReceiverDeps extends ReplicaAccess {
  concurrencyMax: number;
  batchMax: number;
  /** Waits until a page of this many bytes may be merged (the node's streaming pace). */
  pace: (bytes: number) => Promise<void>;
  /** The bytes a page should hold now (see PartitionStreamOptions.pageBytes). */
  pageBytes?: () => number;
  onBatch: (keys: number, bytes: number) => void;
  onDone: (progress: TransferProgress, durationMs: number) => void;
  onError: (progress: TransferProgress, err: Error) => void;
  log: (message: string) => void;
}

/** The longest a transfer's progress waits to be persisted while pages stream. */
const SAVE_INTERVAL_MS = 250;

export function transferId(t: { partition: number; to: string }): string {
  return `${t.partition}->${t.to}`;
}

export class TransferReceiver {
  private progress = new Map<string, TransferProgress>();
  private readonly active = new Set<string>();
  private stopped = false;
  /**
   * Every transfer's progress, persisted as one list. Pages finish many times a second, and building the list's JSON
   * (which grows with the ring's transfers) for each took 113 ms of a joining node's 3.3 CPU-seconds in a profiled
   * scale-out, its writes and garbage besides; so it is written at most every SAVE_INTERVAL_MS. A restart resumes
   * each transfer from its last saved cursor, re-copying at most the pages of that interval, which merge as no change.
   */
  private readonly saver = new CoalescedSave(
    () => this.deps.store.putMeta("transfers", Buffer.from(JSON.stringify([...this.progress.values()]))),
    SAVE_INTERVAL_MS,
    (err) => this.deps.log(`cannot persist transfer progress: ${err.message}`),
  );
  /** Quick transfers are logged as one summary line per batch of work, slow ones individually. */
  private quiet = { partitions: 0, keys: 0, bytes: 0 };
  /** The last page received by any transfer, which sizes the next transfer's first page. */
  private readonly lastPage = { records: 0, bytes: 0 };

  constructor(private readonly deps: TransferReceiverDeps) {}

  async load(): Promise<void> {
    const raw = await this.deps.store.getMeta("transfers");
    if (!raw) return;
    for (const p of JSON.parse(raw.toString("utf8")) as TransferProgress[]) this.progress.set(transferId(p), { ...p, state: p.state === "done" ? "done" : "waiting" });
  }

  /** Progress of every transfer this node receives in the current ring. */
  list(): TransferReport[] {
    return [...this.progress.values()].map(({ cursor: _cursor, ...rest }) => rest);
  }

  get activeCount(): number {
    return this.active.size;
  }

  /** Reconciles the transfers this node works on with the ring's pending list, and starts what may start. */
  onRing(ring: Ring): void {
    const mine = ring.pending.filter((t) => t.to === this.deps.cluster.self);
    const wanted = new Set(mine.map(transferId));
    for (const id of [...this.progress.keys()]) if (!wanted.has(id)) this.progress.delete(id);
    for (const t of mine) {
      if (!this.progress.has(transferId(t))) this.progress.set(transferId(t), { partition: t.partition, from: t.from, to: t.to, kind: t.kind, state: "waiting", keys: 0, bytes: 0 });
    }
    this.save();
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.saver.flush();
  }

  private pump(): void {
    if (this.stopped) return;
    for (const [id, p] of this.progress) {
      if (this.active.size >= this.limit()) return;
      if (p.state !== "waiting" || this.active.has(id)) continue;
      this.active.add(id);
      void this.run(id, p).finally(() => {
        this.active.delete(id);
        this.pump();
      });
    }
  }

  /** This node's own bound, tightened by the ring's per-member share of the cluster's budget. */
  private limit(): number {
    return Math.min(this.deps.concurrencyMax, this.deps.cluster.ring()?.transferLimit ?? Infinity);
  }

  private async run(id: string, p: TransferProgress): Promise<void> {
    p.state = "active";
    p.startedAt ??= Date.now();
    try {
      const finished = await this.stream(id, p);
      if (!finished) {
        p.state = "waiting";
        return;
      }
      p.state = "done";
      p.finishedAt = Date.now();
      p.error = undefined;
      this.deps.onDone(p, p.finishedAt - p.startedAt);
      this.logDone(p, p.finishedAt - p.startedAt);
    } catch (err) {
      p.state = "waiting";
      p.error = (err as Error).message;
      this.deps.onError(p, err as Error);
      this.deps.log(`transfer of partition ${p.partition} paused: ${(err as Error).message}; retrying`);
      await new Promise((r) => setTimeout(r, 1000).unref());
    } finally {
      this.save();
    }
  }

  /** Copies the partition page by page; false when it had to stop early (stopped, or the transfer was abandoned). */
  private async stream(id: string, p: TransferProgress): Promise<boolean> {
    const client = this.source(p);
    if (!client) throw new Error(`no current replica of partition ${p.partition} is reachable`);
    return streamPartition(client, {
      partition: p.partition,
      cursor: p.cursor,
      batchMax: this.deps.batchMax,
      mergePage: (entries) => this.deps.mergePage(p.partition, entries),
      beforeMerge: this.deps.pace,
      pageBytes: this.deps.pageBytes,
      lastPage: this.lastPage,
      onPage: (keys, bytes, cursor) => {
        p.keys += keys;
        p.bytes += bytes;
        p.cursor = cursor;
        this.deps.onBatch(keys, bytes);
        this.save();
      },
      shouldStop: () => this.stopped || this.progress.get(id) !== p,
    });
  }

  private source(p: TransferProgress): PeerClient | undefined {
    const ring = this.deps.cluster.ring();
    const candidates = [p.from, ...(ring ? preferenceList(ring, p.partition, this.deps.targetN) : [])].filter((id) => id !== this.deps.cluster.self && this.deps.cluster.isUp(id));
    for (const id of candidates) {
      const client = this.deps.cluster.peer(id);
      if (client) return client;
    }
    return undefined;
  }

  private logDone(p: TransferProgress, ms: number): void {
    if (ms >= 2000) {
      this.deps.log(`received partition ${p.partition} from ${p.from} (${p.keys} keys, ${p.bytes} bytes) in ${ms} ms`);
    } else {
      this.quiet.partitions += 1;
      this.quiet.keys += p.keys;
      this.quiet.bytes += p.bytes;
    }
    const left = [...this.progress.values()].filter((t) => t.state !== "done").length;
    if (left === 0 && this.quiet.partitions > 0) {
      this.deps.log(`received ${this.quiet.partitions} partitions (${this.quiet.keys} keys, ${this.quiet.bytes} bytes); no transfer left`);
      this.quiet = { partitions: 0, keys: 0, bytes: 0 };
    }
  }

  private save(): void {
    this.saver.request();
  }
}
