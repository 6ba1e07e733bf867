/**
 * Gathers the store's writes into LevelDB batches. Every write used to be its own `put`: a trip to LevelDB's thread
 * pool and a wake-up of a pool thread for each record. Here the writes queued while the loop handles one round of I/O
 * go to LevelDB together, in the check phase of that same turn (`setImmediate`).
 *
 * With a write log (see WriteLog) the writes of one turn are appended to the log together, in one frame and one system
 * call, at the end of the turn (before the turn's peer frames leave, see lib/turn-end.ts), and acknowledged then; each
 * is kept here, readable through `unapplied`, until LevelDB holds it. A new batch then waits while one is in flight,
 * so the busier the node, the more writes each trip to LevelDB carries. Without one (a store that fsyncs every
 * batch), each caller's promise settles once the batch holding its write is in LevelDB's log. Either way nothing is
 * acknowledged before it is in a log, and a process killed with SIGKILL loses nothing acknowledged.
 *
 * Batches are not always written one after the other: a full batch goes to LevelDB at once, while earlier ones may
 * still be in flight (LevelDB merges concurrent writers into one log write itself). Only a batch that writes a key an
 * earlier, unfinished batch also writes waits for that one, so two writes to one key reach LevelDB in the order they
 * were queued, the order the write log holds them in; within one batch LevelDB applies the operations in order, so the
 * later write to a key wins.
 */
import type { ClassicLevel } from "classic-level";
import { atTurnEnd } from "../../lib/turn-end.js";
import type { WriteLog } from "./write-log.js";

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
  /**
   * Bytes of keys and values acknowledged from the write log but not yet in LevelDB. Past it a caller waits for
   * LevelDB again, so a LevelDB that stalls (compaction behind) holds the writers back instead of filling memory.
   */
  unappliedBytesMax: number;
  /**
   * How long a batch of logged writes gathers more before it goes to LevelDB (0: it goes once the batch before it is
   * in). They are acknowledged from the log already and read through `unapplied` meanwhile, so the wait costs no
   * request anything, and every trip to LevelDB's threads carries more writes.
   */
  applyDelayMs?: number;
}

const WRITTEN = Promise.resolve();

interface PrivateLevel {
  _put(key: Buffer, value: Buffer, options: { sync: boolean }): Promise<void>;
  _del(key: Buffer, options: { sync: boolean }): Promise<void>;
  _batch(ops: readonly { type: "put" | "del"; key: Buffer; value?: Buffer }[], options: { sync: boolean }): Promise<void>;
}

/** A batch the writes of one turn join; they wait for it to be written. */
class Batch {
  readonly writes: RawWrite[] = [];
  /**
   * Where each key's write is in `writes`. A later write of a key the batch holds takes the earlier one's place, since
   * LevelDB would apply both and keep the later: a hot key written many times while a batch gathers costs LevelDB's
   * threads one operation, not one per write.
   */
  readonly positions = new Map<string, number>();
  /** A logged batch may go to LevelDB: its gathering time is over (see `applyDelayMs`). */
  due = false;
  bytes = 0;
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;
  constructor() {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Logged writes are acknowledged before their batch settles, so a failed batch may have no one waiting on it; the
    // failure is kept in `failure` and told to every later writer.
    this.done.catch(() => undefined);
  }
}

/** The logged writes of one turn, each caller's as it gave them; they are appended and acknowledged together. */
class LoggedTurn {
  readonly groups: RawWrite[][] = [];
  readonly done: Promise<void>;
  resolve!: (value: void | PromiseLike<void>) => void;
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
  /** The logged writes of this turn, not yet appended (see `appendTurn`). */
  private turn: LoggedTurn | undefined;
  private readonly appendTurnTask = () => this.appendTurn();
  /** For each key with a write in flight, the batch that writes it last. */
  private readonly lastWriter = new Map<string, Batch>();
  private readonly inFlight = new Set<Batch>();
  private log: WriteLog | undefined;
  /** The latest logged write of each key LevelDB does not hold yet. */
  private readonly unappliedWrites = new Map<string, RawWrite>();
  private unappliedBytes = 0;
  /** Why LevelDB refused a batch of logged writes: the queue then takes no more (see `finish`). */
  private failure: Error | undefined;
  /** Batches written, and operations queued, for metrics. */
  batches = 0;
  operations = 0;

  constructor(
    private readonly db: ClassicLevel<Buffer, Buffer>,
    private readonly options: { sync: boolean },
    private readonly limits: WriteQueueLimits,
    /** Told once, when LevelDB first refuses a batch of logged writes (see `finish`). */
    private readonly onFailure: (err: Error) => void = () => undefined,
  ) {}

  /** Logs every write from now on to `log`, acknowledging it once logged (see the module's note). */
  useLog(log: WriteLog): void {
    this.log = log;
  }

  /**
   * Queues writes for LevelDB. Without a log, resolves once they are in LevelDB. With one, appends them to it at the end
   * of this turn with the turn's other writes (rejecting, with nothing queued, when the append fails) and resolves then,
   * or once they are in LevelDB while more than `unappliedBytesMax` waits for it.
   */
  write(writes: RawWrite[]): Promise<void> {
    if (writes.length === 0) return WRITTEN;
    if (this.failure) return Promise.reject(this.failure);
    if (this.log === undefined) return this.enqueue(writes);
    let turn = this.turn;
    if (turn === undefined) {
      this.turn = turn = new LoggedTurn();
      atTurnEnd("durable", this.appendTurnTask);
    }
    turn.groups.push(writes);
    return turn.done;
  }

  /**
   * Appends this turn's logged writes as one frame and queues them for LevelDB, each caller's writes as it gave them
   * (a large page still goes as a batch of its own). Called at the end of the turn, and earlier by anything that must
   * see them logged or queued first (`unapplied`, `applied`, `clear`, `drain`).
   */
  private appendTurn(): void {
    const turn = this.turn;
    if (turn === undefined) return;
    this.turn = undefined;
    const log = this.log!;
    if (this.failure) {
      turn.reject(this.failure);
      return;
    }
    const groups = turn.groups;
    const writes = groups.length === 1 ? groups[0]! : groups.flat();
    try {
      log.append(writes);
    } catch (err) {
      turn.reject(err);
      return;
    }
    for (const w of writes) {
      const earlier = this.unappliedWrites.get(w.id);
      if (earlier !== undefined) this.unappliedBytes -= writeBytes(earlier);
      this.unappliedWrites.set(w.id, w);
      this.unappliedBytes += writeBytes(w);
    }
    // What a turn over the budget waits for: every batch its writes went into (nearly always one, which all the
    // groups share).
    let applied: Promise<void> | undefined;
    for (const group of groups) {
      const done = this.enqueue(group);
      if (applied === undefined) applied = done;
      else if (done !== applied) applied = Promise.all([applied, done]).then(() => undefined);
    }
    if (log.full) {
      // Everything in the files closed now is queued already: once what is queued is in LevelDB, they can go.
      const files = log.rotate();
      void this.drain().then(() => {
        if (this.failure === undefined) log.release(files);
      });
    }
    turn.resolve(this.unappliedBytes > this.limits.unappliedBytesMax ? applied : undefined);
  }

  /** The latest logged write of a key (`id`, see RawWrite) that LevelDB does not hold yet, if there is one. */
  unapplied(id: string): RawWrite | undefined {
    // A write of this turn not yet appended may be of this key: logged now, it is found like any other.
    if (this.turn !== undefined) this.appendTurn();
    return this.unappliedWrites.size === 0 ? undefined : this.unappliedWrites.get(id);
  }

  /**
   * Resolves once LevelDB holds every write queued so far, for a reader that goes to LevelDB past `unapplied` (an
   * iterator); rejects when LevelDB refused one of them.
   */
  async applied(): Promise<void> {
    this.appendTurn();
    if (this.pending !== undefined || this.inFlight.size > 0) await this.drain();
    if (this.failure) throw this.failure;
  }

  /**
   * Clears a key range in LevelDB, logging the clearing first so a replay of the log clears what it wrote before. The
   * caller waits for `applied` first, so that every earlier write to the range lands before it is cleared.
   */
  async clear(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    // The turn's writes are logged before the clearing, as they were made before it.
    this.appendTurn();
    if (this.failure) throw this.failure;
    this.log?.append([{ type: "clear", key: range.gte, value: range.lt }]);
    await this.db.clear(range);
  }

  /** Bytes of keys and values acknowledged from the log that LevelDB does not hold yet, for metrics. */
  get unappliedByteCount(): number {
    return this.unappliedBytes;
  }

  /** Whether LevelDB refused a batch of logged writes, which the log alone now holds. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  private enqueue(writes: RawWrite[]): Promise<void> {
    this.operations += writes.length;
    let bytes = 0;
    for (const w of writes) bytes += writeBytes(w);
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
      this.schedule(fresh);
    }
    for (const w of writes) {
      const at = batch.positions.get(w.id);
      if (at === undefined) {
        batch.positions.set(w.id, batch.writes.length);
        batch.writes.push(w);
      } else {
        bytes -= writeBytes(batch.writes[at]!);
        batch.writes[at] = w;
      }
    }
    batch.bytes += bytes;
    // A caller's writes alone may pass the bounds (a large page of a transfer): they go at once, as one batch.
    if (alone || batch.writes.length >= this.limits.countMax || batch.bytes >= this.limits.bytesMax) this.flush(batch);
    return batch.done;
  }

  /**
   * When a new batch goes to LevelDB: without a log, at the end of this turn; with one, once it has gathered writes
   * for `applyDelayMs` and no other batch is in flight (`finish` sends it when one was).
   */
  private schedule(batch: Batch): void {
    const delayMs = this.limits.applyDelayMs ?? 0;
    if (this.log === undefined || delayMs === 0) {
      batch.due = true;
      if (this.log === undefined || this.inFlight.size === 0) setImmediate(() => this.flush(batch));
      return;
    }
    setTimeout(() => {
      batch.due = true;
      if (this.inFlight.size === 0) this.flush(batch);
    }, delayMs).unref();
  }

  /** Writes what is queued and waits for every batch in flight (before a close or a range deletion). */
  async drain(): Promise<void> {
    this.appendTurn();
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
    if (err !== undefined) {
      // A logged write LevelDB refused is in the log alone. Writes after it must not reach LevelDB ahead of it, and
      // LevelDB refuses every write once one failed (a disk full or failing): the queue takes no more, reads still see
      // every acknowledged write through `unapplied`, and a restart replays the log.
      if (this.log !== undefined && this.failure === undefined) {
        this.failure = new Error(`LevelDB refused a batch of writes: ${errorMessage(err)}; the store takes no more writes until the node restarts and replays its write log`, { cause: err });
        this.onFailure(this.failure);
      }
      batch.reject(err);
      return;
    }
    if (this.unappliedWrites.size > 0) {
      for (const w of batch.writes) {
        if (this.unappliedWrites.get(w.id) !== w) continue;
        this.unappliedWrites.delete(w.id);
        this.unappliedBytes -= writeBytes(w);
      }
    }
    batch.resolve();
    if (this.log !== undefined && this.inFlight.size === 0 && this.pending?.due) this.flush(this.pending);
  }
}

function writeBytes(w: RawWrite): number {
  return w.key.length + (w.value?.length ?? 0);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
