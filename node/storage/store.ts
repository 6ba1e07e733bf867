/**
 * The node's persistent store on classic-level (LevelDB). It keeps versioned records by partition, a little metadata
 * (incarnation, actor, ring), and nothing else; merging versions is the caller's business, done under `withRecordLock`
 * so a read-modify-write of one key is never interleaved with another in this process.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import type { VersionedRecord } from "../versioning/types.js";
import { checkRecord, decodeRecord, encodeRecord } from "../versioning/index.js";
import { DATA_PREFIX, dataKey, metaKey, parseDataKey, partitionRange, recordId, recordKey, type RecordKey } from "./keys.js";
import { RecordCache } from "./record-cache.js";
import { WriteLog, type LoggedOp } from "./write-log.js";
import { WriteQueue } from "./write-queue.js";

/**
 * Bounds of one write batch (see WriteQueue). A turn's client writes are a few dozen records at most; the bounds keep
 * a transfer's page and a burst of client writes from forming one batch that holds the others back.
 */
const BATCH_COUNT_MAX = 1000;
const BATCH_BYTES_MAX = 4 * 1024 * 1024;
/** How many bytes of records `heldEncoded` reads from LevelDB per trip to its threads (a page is at most 4 MiB). */
const HELD_READ_BYTES = 4 * 1024 * 1024;
/**
 * Writes acknowledged from the write log that LevelDB may lag behind by before writers wait for it again (see
 * WriteQueueLimits): a few hundred milliseconds of writes at the rates this store reaches.
 */
const UNAPPLIED_BYTES_MAX = 16 * 1024 * 1024;
/**
 * How long logged writes gather before they go to LevelDB as one batch (see WriteQueueLimits): a trip to LevelDB's
 * threads per few writes was 4% of a busy node's main thread, most of it waking a pool thread. At 50 ms rather than 10
 * each trip carries five times the writes, and a batch keeps one write per key, so a hot key written often costs one
 * operation: LevelDB's threads went from 7.2% to 5.0% of the nodes' CPU under YCSB-A (docs/performance.md, round 39).
 * The writes waiting are bounded by UNAPPLIED_BYTES_MAX, a few seconds of them at the rates this store reaches.
 */
const APPLY_DELAY_MS = 50;
/** The write log's directory, inside the data directory (LevelDB leaves alone what it did not name). */
const WRITE_LOG_DIR = "write-log";

/** What opening the store found in the write log an earlier process left: replayed into LevelDB before anything else. */
export interface WriteLogRecovery {
  files: number;
  operations: number;
  /** Bytes after the last whole frame of a file: a write cut short when the process or machine died, never acknowledged. */
  discardedBytes: number;
}

export interface StoredEntry {
  partition: number;
  bucket: string;
  key: Buffer;
  record: VersionedRecord;
  /** Encoded size of the record, for transfer accounting. */
  bytes: number;
}

export type BatchOp =
  | { type: "put"; partition: number; bucket: string; key: Buffer; record: VersionedRecord }
  | { type: "del"; partition: number; bucket: string; key: Buffer };

/** How a read gives a record: from the cache, or from the bytes LevelDB returned (throwing on invalid ones). */
interface ReadForm<T> {
  fromCache(cache: RecordCache, id: string): T | undefined | "miss";
  fromDisk(value: Buffer): T;
}

// Defined once here, not per read: `get` is on every request's path.
const DECODED: ReadForm<VersionedRecord> = {
  fromCache: (cache, id) => cache.get(id),
  fromDisk: (value) => decodeRecord(value),
};
const ENCODED: ReadForm<Buffer> = {
  fromCache: (cache, id) => cache.getEncoded(id),
  fromDisk: (value) => {
    if (checkRecord(value) === undefined) decodeRecord(value);
    return value;
  },
};

export class Store {
  private readonly db: ClassicLevel<Buffer, Buffer>;
  private readonly locks = new Map<string, Promise<void>>();
  private identity: { incarnation: string; actor: string; fresh: boolean } | undefined;

  private readonly cache: RecordCache;
  /**
   * Bumped by every change to the data. A read that missed the cache only fills it when no change happened while
   * it was reading, so a slow read can never put back a version older than one just written.
   */
  private mutations = 0;
  /**
   * How many writes each partition's records have taken since the store opened (indexed by partition; a partition
   * number fits in 16 bits). The janitor skips a partition it found empty while its count has not moved.
   */
  private readonly partitionWriteCounts = new Uint32Array(0x10000);
  /** LevelDB's write options: `sync` makes every record write wait for an fsync of the log (see `syncWrites`). */
  private readonly writeOptions: { sync: boolean };
  /** Every write of records, metadata and hint markers goes through it: one LevelDB batch per event-loop turn. */
  private readonly writes: WriteQueue;
  /** The write log in front of LevelDB, unless every batch is fsynced (see WriteLog). */
  private readonly log: WriteLog;
  /** What `open` replayed from the write log. */
  recovery: WriteLogRecovery = { files: 0, operations: 0, discardedBytes: 0 };

  constructor(
    readonly dataDir: string,
    options: { cacheBytesMax?: number; syncWrites?: boolean; onWriteFailure?: (err: Error) => void } = {},
  ) {
    this.cache = new RecordCache(options.cacheBytesMax ?? 64 * 1024 * 1024);
    this.writeOptions = { sync: options.syncWrites ?? false };
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // A directory made before data directories were owner-only is tightened too. One that another user owns is left
    // as it is: only its owner may change its mode, and on Kubernetes the data directory is the root of a volume the
    // kubelet or a provisioner made (root-owned, group-writable for the pod's fsGroup, or open to all), mounted into
    // this pod alone.
    if (statSync(dataDir).uid === process.getuid?.()) chmodSync(dataDir, 0o700);
    this.db = new ClassicLevel<Buffer, Buffer>(dataDir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    this.writes = new WriteQueue(this.db, this.writeOptions, { countMax: BATCH_COUNT_MAX, bytesMax: BATCH_BYTES_MAX, unappliedBytesMax: UNAPPLIED_BYTES_MAX, applyDelayMs: APPLY_DELAY_MS }, options.onWriteFailure);
    this.log = new WriteLog(join(dataDir, WRITE_LOG_DIR));
  }

  /**
   * Opens the database and loads the node's identity. A directory without an incarnation is new (or was wiped): it
   * gets a fresh incarnation and actor, so nothing it writes can be mistaken for what an earlier life wrote.
   */
  async open(): Promise<void> {
    await this.db.open();
    try {
      await this.replayLog();
    } catch (err) {
      await this.db.close().catch(() => undefined);
      throw err;
    }
    const incarnation = await this.getMeta("incarnation");
    const actor = await this.getMeta("actor");
    if (incarnation && actor) {
      this.identity = { incarnation: incarnation.toString(), actor: actor.toString(), fresh: false };
      return;
    }
    const fresh = { incarnation: randomId(), actor: randomId(), fresh: true };
    await this.db.batch([
      { type: "put", key: metaKey("incarnation"), value: Buffer.from(fresh.incarnation) },
      { type: "put", key: metaKey("actor"), value: Buffer.from(fresh.actor) },
    ]);
    this.identity = fresh;
  }

  /**
   * Applies what the write log holds to LevelDB, makes that durable with one synchronous write, and starts the log
   * afresh (or, when every batch is fsynced, leaves it empty and unused).
   */
  private async replayLog(): Promise<void> {
    const contents = this.log.recover();
    let run: LoggedOp[] = [];
    const flush = async (): Promise<void> => {
      if (run.length > 0) await this.db.batch(run.map((op) => (op.type === "put" ? { type: "put" as const, key: op.key, value: op.value! } : { type: "del" as const, key: op.key })));
      run = [];
    };
    for (const op of contents.ops) {
      if (op.type === "clear") {
        await flush();
        await this.db.clear({ gte: op.key, lt: op.value! });
      } else {
        run.push(op);
        if (run.length >= BATCH_COUNT_MAX) await flush();
      }
    }
    await flush();
    if (contents.files > 0) await this.db.put(metaKey("write-log-replayed"), Buffer.from(new Date().toISOString()), { sync: true });
    this.recovery = { files: contents.files, operations: contents.ops.length, discardedBytes: contents.discardedBytes };
    if (this.writeOptions.sync) {
      this.log.close(true);
    } else {
      this.log.reset();
      this.writes.useLog(this.log);
    }
  }

  async close(): Promise<void> {
    await this.writes.drain();
    // A log whose writes LevelDB refused is kept, for the next open to replay.
    this.log.close(!this.writes.failed);
    await this.db.close();
  }

  get incarnation(): string {
    return this.requireIdentity().incarnation;
  }

  /** The actor id under which this node issues new dots (see renewActor). */
  get actor(): string {
    return this.requireIdentity().actor;
  }

  /** True when this process created the incarnation, i.e. the data directory was empty. */
  get freshIncarnation(): boolean {
    return this.requireIdentity().fresh;
  }

  /**
   * Switches to a new actor id. Callers must do this before discarding any record this node may have written to
   * (a delivered hint, a handed-off partition, a reaped tombstone): a later write to such a key would otherwise
   * reuse a dot that other replicas still hold for a different value, and one of the two would be lost.
   */
  async renewActor(): Promise<string> {
    const actor = randomId();
    await this.putRaw(metaKey("actor"), Buffer.from(actor));
    this.requireIdentity().actor = actor;
    return actor;
  }

  async get(partition: number, bucket: string, key: Buffer): Promise<VersionedRecord | undefined> {
    return this.readThrough(recordKey(partition, bucket, key), DECODED);
  }

  /**
   * `get` of a key whose data key and id the caller made once for all its steps (see `recordKey`). This and the other
   * methods that only hand a call on to an async one return its promise rather than being async themselves: an async
   * function returning a promise makes one more promise and waits two more microtask turns for it, on every read and
   * write.
   */
  getAt(at: RecordKey): Promise<VersionedRecord | undefined> {
    return this.readThrough(at, DECODED);
  }

  /**
   * A record's stored bytes, checked, for a replica that sends it on as it is: from the cache without decoding it, or
   * from LevelDB, where bytes that are not a valid record throw as `get` would.
   */
  async getEncoded(partition: number, bucket: string, key: Buffer): Promise<Buffer | undefined> {
    return this.readThrough(recordKey(partition, bucket, key), ENCODED);
  }

  /** `getEncoded` of a key made once (see `recordKey`). */
  getEncodedAt(at: RecordKey): Promise<Buffer | undefined> {
    return this.readThrough(at, ENCODED);
  }

  /**
   * One record from the cache, or from LevelDB through `form.fromDisk` (which throws on bytes that are not a record,
   * so the cache only ever holds valid ones) and then cached, unless a change to the data happened while LevelDB was
   * read.
   */
  private async readThrough<T>(at: RecordKey, form: ReadForm<T>): Promise<T | undefined> {
    const { raw, id } = at;
    const cached = form.fromCache(this.cache, id);
    if (cached !== "miss") return cached;
    const unapplied = this.writes.unapplied(id);
    if (unapplied !== undefined) {
      const result = unapplied.value === undefined ? undefined : form.fromDisk(unapplied.value);
      this.cache.set(id, unapplied.value);
      return result;
    }
    const before = this.mutations;
    const value = await this.db.get(raw);
    const result = value === undefined ? undefined : form.fromDisk(value);
    if (this.mutations === before) this.cache.set(id, value);
    return result;
  }

  /** Reads many records of one partition in one trip to LevelDB for whatever the cache does not hold. */
  async getMany(partition: number, items: { bucket: string; key: Buffer }[]): Promise<(VersionedRecord | undefined)[]> {
    const raws = items.map((i) => dataKey(partition, i.bucket, i.key));
    const out: (VersionedRecord | undefined)[] = new Array(items.length);
    const missing: number[] = [];
    raws.forEach((raw, i) => {
      const id = recordId(raw);
      const cached = this.cache.get(id);
      if (cached !== "miss") {
        out[i] = cached;
        return;
      }
      const unapplied = this.writes.unapplied(id);
      if (unapplied === undefined) missing.push(i);
      else out[i] = unapplied.value === undefined ? undefined : decodeRecord(unapplied.value);
    });
    if (missing.length === 0) return out;
    const before = this.mutations;
    const values = await this.db.getMany(missing.map((i) => raws[i]!));
    missing.forEach((i, j) => {
      const value = values[j];
      const record = value === undefined ? undefined : decodeRecord(value);
      out[i] = record;
      if (this.mutations === before) this.cache.set(recordId(raws[i]!), value);
    });
    return out;
  }

  /**
   * The stored bytes of each of `raws` (data keys, as `dataKey` builds them; `ids` the same keys as `recordId` gives
   * them), read under the caller's record locks for a page merged in: every write of a record is made under its lock
   * and settles once it is in LevelDB, so under the locks LevelDB holds the latest of each. The cache is neither read
   * nor filled: a page streamed in is cold data, and a record the merge finds unchanged is never decoded at all.
   *
   * A page's keys arrive in key order, as the sender scanned them, so one pass over the range they span reads every
   * one of them the store holds: a single seek where it holds none (a partition streaming into a new replica), and
   * one sequential read where it holds them all (a scale-in back onto replicas that still hold the keys). Keys not in
   * order, or a range holding more than `scanMax` keys (a replica that holds much more of it than the page names), are
   * read one by one instead.
   */
  async heldEncoded(raws: Buffer[], ids: string[], scanMax: number): Promise<(Buffer | undefined)[]> {
    if (raws.length === 0) return [];
    await this.writes.applied();
    // The ids order as the keys do (one latin1 character per byte), and compare without a call into Node's C++.
    for (let i = 1; i < ids.length; i++) if (ids[i - 1]! >= ids[i]!) return this.db.getMany(raws);
    // One read for the whole range: the default of 16 KiB per read made a 380 kB page two dozen trips to LevelDB's
    // threads.
    const iterator = this.db.iterator({ gte: raws[0], lte: raws[raws.length - 1], limit: scanMax + 1, highWaterMarkBytes: HELD_READ_BYTES });
    let held: [Buffer, Buffer][];
    try {
      held = await iterator.all();
    } finally {
      await iterator.close();
    }
    if (held.length > scanMax) return this.db.getMany(raws);
    // Both lists are in key order: one walk pairs them, one comparison per key where the store holds the page's keys.
    const out: (Buffer | undefined)[] = new Array(raws.length);
    let j = 0;
    for (let i = 0; i < raws.length; i++) {
      let order = j < held.length ? Buffer.compare(held[j]![0], raws[i]!) : 1;
      while (order < 0) {
        j++;
        order = j < held.length ? Buffer.compare(held[j]![0], raws[i]!) : 1;
      }
      out[i] = order === 0 ? held[j]![1] : undefined;
    }
    return out;
  }

  async put(partition: number, bucket: string, key: Buffer, record: VersionedRecord): Promise<void> {
    await this.putEncodedAt(recordKey(partition, bucket, key), encodeRecord(record));
  }

  /** `put` of a key made once (see `recordKey`). */
  async putAt(at: RecordKey, record: VersionedRecord): Promise<void> {
    await this.putEncodedAt(at, encodeRecord(record));
  }

  /**
   * Stores a record in the encoding another replica sent it in, checked on receipt (`checkRecord`). The bytes may view
   * a received message; nothing keeps them past the write: the cache copies them in, and the write log's frame takes
   * their place in the writes waiting for LevelDB (see `WriteLog.append`).
   */
  putStored(at: RecordKey, encoded: Buffer): Promise<void> {
    return this.putEncodedAt(at, encoded);
  }

  /** Stores a record as `encodeRecord` gave it; the store keeps `encoded`, which nobody may change afterwards. */
  async putEncodedAt(at: RecordKey, encoded: Buffer): Promise<void> {
    // Forget first: if the write fails, a later read goes to disk rather than trusting a version that may not be there.
    // The entry keeps its place in the cache meanwhile (`forget`), for the `set` that follows nearly every time.
    this.mutations += 1;
    this.partitionWriteCounts[at.partition]! += 1;
    this.cache.forget(at.id);
    await this.writes.write([{ type: "put", key: at.raw, id: at.id, value: encoded }]);
    this.mutations += 1;
    this.cache.set(at.id, encoded);
  }

  async batch(ops: BatchOp[]): Promise<void> {
    if (ops.length === 0) return;
    const prepared = ops.map((op) => {
      const key = dataKey(op.partition, op.bucket, op.key);
      return op.type === "put"
        ? { type: op.type, key, id: recordId(key), value: encodeRecord(op.record) }
        : { type: op.type, key, id: recordId(key), value: undefined };
    });
    this.mutations += 1;
    for (const op of ops) this.partitionWriteCounts[op.partition]! += 1;
    for (const op of prepared) this.cache.forget(op.id);
    await this.writes.write(prepared);
    this.mutations += 1;
    for (const op of prepared) this.cache.set(op.id, op.value);
  }

  /** Cache effectiveness, for metrics. */
  cacheStats(): { hits: number; misses: number; entries: number; bytes: number } {
    return { hits: this.cache.hits, misses: this.cache.misses, entries: this.cache.size, bytes: this.cache.usedBytes };
  }

  /** Streams a partition's records in key order, starting after `afterKey` when resuming. */
  async *scanPartition(partition: number, options: { after?: { bucket: string; key: Buffer }; limit?: number } = {}): AsyncGenerator<StoredEntry> {
    const range = partitionRange(partition);
    const bounds = options.after ? { gt: dataKey(partition, options.after.bucket, options.after.key), lt: range.lt } : range;
    for await (const [rawKey, rawValue] of this.scanRaw(bounds, options.limit)) {
      yield { ...parseDataKey(rawKey), record: decodeRecord(rawValue), bytes: rawValue.length };
    }
  }

  /**
   * Streams the stored entries of a key range in key order, a module's own key space (hint markers) or records, once
   * LevelDB holds every write acknowledged before the call (the write log's unapplied writes are not in an iterator).
   */
  async *scanRaw(range: { gt?: Buffer; gte?: Buffer; lt: Buffer }, limit = -1): AsyncGenerator<[Buffer, Buffer]> {
    await this.writes.applied();
    const iterator = this.db.iterator({ ...range, limit });
    try {
      for await (const entry of iterator) yield entry;
    } finally {
      await iterator.close();
    }
  }

  /**
   * How many writes of a partition's records this store has taken since it opened, counted when each is queued. A
   * partition found empty holds nothing still while this has not moved.
   */
  partitionWrites(partition: number): number {
    return this.partitionWriteCounts[partition] ?? 0;
  }

  private countWrite(rawKey: Buffer): void {
    if (rawKey[0] === DATA_PREFIX && rawKey.length >= 3) this.partitionWriteCounts[rawKey.readUInt16BE(1)]! += 1;
  }

  /**
   * Whether this store holds any record of a partition: one seek of a keys-only iterator, no record read or decoded
   * (the partition janitor asks it of every partition it does not keep, every sweep).
   */
  async holdsPartition(partition: number): Promise<boolean> {
    await this.writes.applied();
    const iterator = this.db.keys({ ...partitionRange(partition), limit: 1 });
    try {
      return (await iterator.next()) !== undefined;
    } finally {
      await iterator.close();
    }
  }

  /**
   * Reads up to `limit` records of a partition after a cursor, still encoded, for streaming to another node. The page
   * ends early once its keys and records pass `bytesMax` (so it passes it by at most one entry). `last` is the last
   * key read, where the next page starts; `done` says the partition has nothing after it. The iterator is asked for
   * whole runs of entries (`nextv`) sized to the page, so a page costs a few trips to LevelDB's thread rather than
   * one per 16 KiB, the iterator's default read-ahead.
   */
  async scanPartitionRaw(partition: number, after: { bucket: string; key: Buffer } | undefined, limit: number, bytesMax: number) {
    const range = partitionRange(partition);
    const bounds = after ? { gt: dataKey(partition, after.bucket, after.key), lt: range.lt } : range;
    const entries: { bucket: string; key: Buffer; record: Buffer }[] = [];
    let bytes = 0;
    await this.writes.applied();
    const iterator = this.db.iterator({ ...bounds, limit, highWaterMarkBytes: bytesMax });
    let exhausted = false;
    try {
      while (!exhausted && bytes < bytesMax && entries.length < limit) {
        const run = await iterator.nextv(limit - entries.length);
        if (run.length === 0) exhausted = true;
        for (const [rawKey, rawValue] of run) {
          const parsed = parseDataKey(rawKey);
          entries.push({ bucket: parsed.bucket, key: parsed.key, record: rawValue });
          bytes += rawKey.length + rawValue.length;
          if (bytes >= bytesMax) break;
        }
      }
    } finally {
      await iterator.close();
    }
    // A page cut short by `limit` or `bytesMax` may have more after it; only an iterator that ran dry says it has not.
    const lastEntry = entries[entries.length - 1];
    return { entries, done: exhausted, last: lastEntry && { bucket: lastEntry.bucket, key: lastEntry.key } };
  }

  /**
   * Writes records in their stored encoding as one batch, for keys the caller has just seen absent under their
   * record locks (a bulk load into a new replica): `key` is the data key, `id` it in latin1 (see `recordId`). The cache
   * is told to forget them rather than to hold them: data streamed in is cold, and must not push out what clients read.
   * The values may view a received message: with the write log, the writes waiting for LevelDB view the log's frame
   * instead (see `WriteLog.append`), so the message is not kept.
   */
  async putEncoded(writes: { type: "put"; key: Buffer; id: string; value: Buffer }[]): Promise<void> {
    if (writes.length === 0) return;
    this.mutations += 1;
    for (const w of writes) {
      this.countWrite(w.key);
      this.cache.delete(w.id);
    }
    await this.writes.write(writes);
    this.mutations += 1;
  }

  /** Streams every record of every partition, in key order. */
  async *scanAll(): AsyncGenerator<StoredEntry> {
    for await (const [rawKey, rawValue] of this.scanRaw({ gte: Buffer.from([DATA_PREFIX]), lt: Buffer.from([DATA_PREFIX + 1]) })) {
      yield { ...parseDataKey(rawKey), record: decodeRecord(rawValue), bytes: rawValue.length };
    }
  }

  /** Removes every record of a partition; the caller renews the actor first. */
  async dropPartition(partition: number): Promise<void> {
    const { gte } = partitionRange(partition);
    this.mutations += 1;
    this.cache.deleteGroup(recordId(gte));
    // Writes queued or in flight for the partition land before the range is cleared, not after it, and the clearing
    // is logged after them, so a replay of the log clears them again rather than bringing them back.
    await this.writes.applied();
    await this.writes.clear(partitionRange(partition));
    this.mutations += 1;
    this.cache.deleteGroup(recordId(gte));
  }

  async getMeta(name: string): Promise<Buffer | undefined> {
    return this.getRaw(metaKey(name));
  }

  /** A key of a module's own key space (hint markers), as the last write of it left it. */
  async getRaw(key: Buffer): Promise<Buffer | undefined> {
    const unapplied = this.writes.unapplied(recordId(key));
    return unapplied !== undefined ? unapplied.value : this.db.get(key);
  }

  async putMeta(name: string, value: Buffer): Promise<void> {
    await this.putRaw(metaKey(name), value);
  }

  /**
   * Writes (or, with undefined, deletes) a key of a module's own key space (hint markers) in this turn's batch, after
   * any earlier write of the same key.
   */
  async putRaw(key: Buffer, value: Buffer | undefined): Promise<void> {
    if (value !== undefined) this.countWrite(key);
    await this.writes.write([value === undefined ? { type: "del", key, id: recordId(key), value } : { type: "put", key, id: recordId(key), value }]);
  }

  /** Write batches and operations queued since the store opened, and what LevelDB lags the write log by, for metrics. */
  writeStats(): { batches: number; operations: number; unappliedBytes: number; refused: boolean } {
    return { batches: this.writes.batches, operations: this.writes.operations, unappliedBytes: this.writes.unappliedByteCount, refused: this.writes.failed };
  }

  /**
   * The raw database, for tests. A module with its own key space reads through `getRaw` and `scanRaw` instead: LevelDB
   * alone misses writes the write log holds that it has not taken yet.
   */
  get level(): ClassicLevel<Buffer, Buffer> {
    return this.db;
  }

  /**
   * Runs `fn` with exclusive access to one key within this process. Locks chain per key, so waiting costs one
   * promise per queued caller; the map entry disappears when the last holder finishes.
   */
  async withRecordLock<T>(partition: number, bucket: string, key: Buffer, fn: () => Promise<T>): Promise<T> {
    return this.withKeyLock(recordKey(partition, bucket, key), fn);
  }

  /** `withRecordLock` of a key made once (see `recordKey`). */
  withKeyLock<T>(at: RecordKey, fn: () => Promise<T>): Promise<T> {
    return this.withRecordLocks([at.id], fn);
  }

  /**
   * Exclusive access to many keys at once (`ids`, see `recordId`), for a page of records merged as one batch. The page
   * joins the queue of every key in one turn of the event loop, so any two callers that want the same keys are queued
   * in the same order on all of them, and every other caller holds one key at a time: no two callers can wait on each
   * other. Only keys someone holds are waited for. The page holds all its keys through one promise, and a key nobody
   * held (nearly every key of a handoff) costs it no more than its map entry: a promise and two closures per key took
   * 112 ms of a joining node's 3.0 CPU-seconds in a profiled scale-out.
   */
  async withRecordLocks<T>(ids: string[], fn: () => Promise<T>): Promise<T> {
    let resolve!: () => void;
    const mine = new Promise<void>((r) => (resolve = r));
    const unique = ids.length === 1 ? ids : new Set(ids);
    /** For the keys someone held: this caller's place in their queue (`mine`, once the holder is done). */
    let queued: Map<string, Promise<void>> | undefined;
    const waits: Promise<void>[] = [];
    for (const id of unique) {
      const held = this.locks.get(id);
      if (held) {
        const chained = held.then(() => mine);
        (queued ??= new Map()).set(id, chained);
        this.locks.set(id, chained);
        waits.push(held);
      } else {
        this.locks.set(id, mine);
      }
    }
    try {
      if (waits.length === 1) await waits[0];
      else if (waits.length > 1) await Promise.all(waits);
      return await fn();
    } finally {
      resolve();
      // The last caller in a key's queue takes the key's entry with it.
      for (const id of unique) if (this.locks.get(id) === (queued?.get(id) ?? mine)) this.locks.delete(id);
    }
  }

  private requireIdentity(): { incarnation: string; actor: string; fresh: boolean } {
    if (!this.identity) throw new Error("store is not open");
    return this.identity;
  }
}

function randomId(): string {
  return randomBytes(8).toString("hex");
}
