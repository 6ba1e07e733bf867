/**
 * Gathers the store's writes of one event-loop turn into one LevelDB batch. Every write used to be its own `put`: a
 * trip to LevelDB's thread pool and a wake-up of a pool thread for each record. Here the writes queued while the loop
 * handles one round of I/O go to LevelDB together, in the check phase of that same turn (`setImmediate`), and each
 * caller's promise settles once the batch holding its write is in LevelDB's log, so nothing is acknowledged before it
 * is written and a process killed with SIGKILL loses nothing acknowledged.
 *
 * Batches are not written one after the other: a batch goes to LevelDB as soon as its turn ends, while earlier ones
 * may still be in flight (LevelDB merges concurrent writers into one log write itself). Only a batch that writes a key
 * an earlier, unfinished batch also writes waits for that one, so two writes to one key reach the log in the order
 * they were queued; within one batch LevelDB applies the operations in order, so the later write to a key wins.
 */
import type { ClassicLevel } from "classic-level";

/**
 * One write: `put` stores `value`, `del` deletes the key; `id` is the key as a latin1 string (the store's cache key),
 * to find earlier unfinished writes of it. It is the form LevelDB's batch reads (other fields are not looked at), so a
 * batch's writes are handed over as they are, without an operation object made for each.
 */
export type RawWrite = { type: "put"; key: Buffer; id: string; value: Buffer } | { type: "del"; key: Buffer; id: string; value: undefined };

export interface WriteQueueLimits {
  /**
   * Operations in one batch; a caller's writes that would pass it start a new batch, and a caller's writes of a
   * quarter of it or more go as a batch of their own.
   */
  countMax: number;
  /** Bytes of keys and values in one batch, bounded the same way. */
  bytesMax: number;
}

interface PrivateLevel {
  _put(key: Buffer, value: Buffer, options: { sync: boolean }): Promise<void>;
  _del(key: Buffer, options: { sync: boolean }): Promise<void>;
  _batch(ops: readonly { type: "put" | "del"; key: Buffer; value?: Buffer }[], options: { sync: boolean }): Promise<void>;
}

/** A batch the writes of one turn join; they wait for it to be written. */
class Batch {
  readonly writes: RawWrite[] = [];
  bytes = 0;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

export class WriteQueue {
  private pending: Batch | undefined;
  /** For each key with a write in flight, the batch that writes it last. */
  private readonly lastWriter = new Map<string, Batch>();
  private readonly inFlight = new Set<Batch>();
  /** Batches written and operations in them, for metrics. */
  batches = 0;
  operations = 0;

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly options: { sync: boolean },
    private readonly limits: WriteQueueLimits,
  ) {}

  /** Queues writes to go to LevelDB in this turn's batch; resolves once they are written. */
  write(writes: RawWrite[]): Promise<void> {
    if (writes.length === 0) return Promise.resolve();
    let bytes = 0;
    for (const w of writes) bytes += w.key.length + (w.value?.length ?? 0);
    let batch = this.pending;
    // Writes that would fill a quarter of a batch (a transfer's page) go on their own, after what is queued: client
    // writes of the same turn do not wait for a large write, and the order of writes to one key is kept.
    const alone = writes.length * 4 >= this.limits.countMax || bytes * 4 >= this.limits.bytesMax;
    if (batch && (alone || batch.writes.length + writes.length > this.limits.countMax || batch.bytes + bytes > this.limits.bytesMax)) {
      this.flush(batch);
      batch = undefined;
    }
    if (!batch) {
      const fresh = new Batch();
      this.pending = batch = fresh;
      setImmediate(() => this.flush(fresh));
    }
    for (const w of writes) batch.writes.push(w);
    batch.bytes += bytes;
    // A caller's writes alone may pass the bounds (a large page of a transfer): they go at once, as one batch.
    if (alone || batch.writes.length >= this.limits.countMax || batch.bytes >= this.limits.bytesMax) this.flush(batch);
    return batch.done;
  }

  /** Writes what is queued and waits for every batch in flight (before a close or a range deletion). */
  async drain(): Promise<void> {
    if (this.pending) this.flush(this.pending);
    await Promise.allSettled([...this.inFlight].map((b) => b.done));
  }

  private flush(batch: Batch): void {
    if (this.pending !== batch) return;
    this.pending = undefined;
    let before: Set<Batch> | undefined;
    for (const w of batch.writes) {
      const earlier = this.lastWriter.get(w.id);
      if (earlier && earlier !== batch) (before ??= new Set()).add(earlier);
      this.lastWriter.set(w.id, batch);
    }
    this.inFlight.add(batch);
    if (before) {
      void Promise.allSettled([...before].map((b) => b.done)).then(() => this.send(batch));
    } else {
      this.send(batch);
    }
  }

  private send(batch: Batch): void {
    let written: Promise<void>;
    if (this.db.status !== "open") {
      written = Promise.reject(new Error(`the store is ${this.db.status}, not open`));
    } else if (batch.writes.length === 1) {
      const w = batch.writes[0]!;
      written = w.value === undefined ? this.level._del(w.key, this.options) : this.level._put(w.key, w.value, this.options);
    } else {
      written = this.level._batch(batch.writes, this.options);
    }
    written.then(
      () => this.finish(batch, undefined),
      (err: unknown) => this.finish(batch, err ?? new Error("batch write failed")),
    );
  }

  /**
   * The database's storage methods below abstract-level's checks. Its public `batch` copies every operation into a
   * new object and looks up both encodings for each, which costs more CPU than the trip to LevelDB saves; the keys and
   * values here are Buffers already (the store's only encoding), which is all LevelDB's binding reads. The open check
   * the public methods make is made in `send`.
   */
  private get level(): PrivateLevel {
    return this.db as unknown as PrivateLevel;
  }

  private finish(batch: Batch, err: unknown): void {
    this.inFlight.delete(batch);
    for (const w of batch.writes) if (this.lastWriter.get(w.id) === batch) this.lastWriter.delete(w.id);
    this.batches += 1;
    this.operations += batch.writes.length;
    if (err === undefined) batch.resolve();
    else batch.reject(err);
  }
}
