/**
 * The store's writes, applied to LevelDB in the order they were made, as few batches as possible. Every write made
 * during one turn of the event loop joins one batch, written once that turn's callbacks have run; while a batch is
 * being written the next one gathers (group commit), so a node under load makes one LevelDB write, and with
 * `syncWrites` one fsync, for many records instead of one each. A write resolves only once its batch is in LevelDB,
 * so nothing is acknowledged before it is stored; a failed batch fails every write in it.
 *
 * Batches are written one at a time, in order: a later write to a key can never be overtaken by an earlier one still
 * on its way to disk. A batch holds at most `opsMax` operations and `bytesMax` bytes; past either, the next write
 * starts a new batch behind it. The number of writes waiting is bounded by the callers (the coordinator's and the peer
 * port's in-flight limits, the handoff's page size).
 */
import type { ClassicLevel } from "classic-level";

export type WriteOp = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

export interface WriteQueueLimits {
  opsMax: number;
  bytesMax: number;
}

interface Batch {
  ops: WriteOp[];
  bytes: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export const WRITE_QUEUE_LIMITS: WriteQueueLimits = { opsMax: 1024, bytesMax: 4 * 1024 * 1024 };

export class WriteQueue {
  /** Batches closed to new writes, oldest first, then the one still gathering. */
  private readonly waiting: Batch[] = [];
  private writing = false;
  private scheduled = false;
  /** Batches and operations written so far, for metrics. */
  batches = 0;
  ops = 0;

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly options: { sync: boolean },
    private readonly limits: WriteQueueLimits = WRITE_QUEUE_LIMITS,
  ) {}

  /** Writes `ops` atomically (they always share one batch), after every write made before; resolves once stored. */
  write(ops: WriteOp[]): Promise<void> {
    const bytes = ops.reduce((sum, op) => sum + op.key.length + (op.type === "put" ? op.value.length : 0), 0);
    let batch = this.waiting[this.waiting.length - 1];
    const full = batch !== undefined && batch.ops.length > 0 && (batch.ops.length + ops.length > this.limits.opsMax || batch.bytes + bytes > this.limits.bytesMax);
    if (batch === undefined || full) {
      batch = newBatch();
      this.waiting.push(batch);
    }
    for (const op of ops) batch.ops.push(op);
    batch.bytes += bytes;
    this.schedule();
    return batch.done;
  }

  /** Resolves once every write made so far is stored (or has failed). */
  async drained(): Promise<void> {
    const last = this.waiting[this.waiting.length - 1];
    if (last) await last.done.catch(() => undefined);
  }

  private schedule(): void {
    if (this.writing || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not nextTick: the batch gathers the writes of every I/O callback this turn of the loop runs.
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      for (let batch = this.waiting.shift(); batch !== undefined; batch = this.waiting.shift()) {
        try {
          await this.db.batch(batch.ops, this.options);
          this.batches += 1;
          this.ops += batch.ops.length;
          batch.resolve();
        } catch (err) {
          batch.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

function newBatch(): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every writer awaits `done`; this keeps a failed batch nobody waits for any more from being an unhandled rejection.
  done.catch(() => undefined);
  return { ops: [], bytes: 0, done, resolve, reject };
}
