/**
 * This node's own replica of the data: the read-modify-write steps that must be atomic per key. `coordinate` issues
 * a new version under this node's actor; `merge` folds in a version another node sent (replication, read repair,
 * handoff) and never refuses for the sibling count, so repair can always make progress.
 *
 * Records are bounded in bytes, because every record must fit in a peer frame to be replicated, repaired or handed
 * off. A write whose record would pass `recordBytesMax` is refused (409 record_too_large: the client resolves the
 * siblings by writing back with a context). Writes coordinated concurrently by different replicas can together pass
 * that bound, so merges accept records up to twice it (the replication ceiling, which config validation keeps
 * inside a frame) and refuse beyond: that key's replicas then keep their own versions until a client resolves it,
 * which the read path allows, because a coordinator merges the replies it gathers in memory.
 */
import { DynamoError } from "../errors/index.js";
import { dataKey, recordId, recordKey, type RecordKey, type Store } from "../storage/index.js";
import type { ReceivedRecord } from "../protocol/index.js";
import { clockCovers, decodeRecord, encodedRecordBytes, encodeRecord, HybridClock, merge, reconcile, sameVersion, siblingCheck, update, withOwnValues } from "../versioning/index.js";
import type { RecordSummary } from "../versioning/index.js";
import type { Hlc, Reconciliation, VersionVector, VersionedRecord } from "../versioning/types.js";

export interface ReplicaKey {
  partition: number;
  bucket: string;
  key: Buffer;
}

export interface RecordLimits {
  /** Siblings past which a write is reported, and past which it is refused. */
  siblingsWarn: number;
  siblingsMax: number;
  /** Bytes past which a write is refused; merges are refused past twice this (`replicationCeiling`). */
  recordBytesMax: number;
}

export interface ReplicaEvents {
  siblingWarning(key: ReplicaKey, count: number): void;
  siblingRefusal(key: ReplicaKey, count: number): void;
  /** A write (`merge` false) or a merge (`merge` true) refused because the record would pass its byte bound. */
  recordRefusal(key: ReplicaKey, bytes: number, merge: boolean): void;
}

/** The largest record a merge may produce: twice the write bound (see the module comment). */
export function replicationCeiling(limits: Pick<RecordLimits, "recordBytesMax">): number {
  return 2 * limits.recordBytesMax;
}

/** One version another replica sent, with its stored encoding when the sender shipped it as stored. */
export interface MergeEntry {
  bucket: string;
  key: Buffer;
  record: VersionedRecord;
  mode: Reconciliation;
  /** The sender's stored encoding of `record`, written as it is where this replica holds nothing for the key. */
  encoded?: Buffer;
  /** What a check of `encoded` found (see `checkRecord`): given, `record` is read only where the merge needs it. */
  summary?: RecordSummary;
}

/**
 * How many records, per key of a page, the read of the page's range may return before the merge reads the page's
 * keys one by one instead (a replica that already holds much more of the range than the page names).
 */
const HELD_SCAN_FACTOR = 2;

export type WriteListener = (at: ReplicaKey, before: VersionedRecord | undefined, after: VersionedRecord) => void;

/** Whether a listener needs to hear of changes to a partition's keys (see `onWrite`). */
export type ListenerScope = (partition: number) => boolean;

export class LocalReplica {
  private readonly listeners: { listener: WriteListener; scope: ListenerScope | undefined }[] = [];

  constructor(
    private readonly store: Store,
    readonly clock: HybridClock,
    private readonly limits: RecordLimits,
    private readonly events: ReplicaEvents,
  ) {}

  /**
   * Tells `listener` about every stored change, with the version before and after (for hash trees). A `scope` says
   * which partitions it cares about; records a page stores as they were sent are decoded for the listener only
   * where it does.
   */
  onWrite(listener: WriteListener, scope?: ListenerScope): void {
    this.listeners.push({ listener, scope });
  }

  read(at: ReplicaKey): Promise<VersionedRecord | undefined> {
    return this.store.get(at.partition, at.bucket, at.key);
  }

  /** The record as stored, for a peer that asked for it: sent on without a decode and an encode. */
  readEncoded(at: ReplicaKey): Promise<Buffer | undefined> {
    return this.store.getEncoded(at.partition, at.bucket, at.key);
  }

  /**
   * Creates the next version of a key from a client's write, stores it, and returns it and its encoding for
   * replication. `stampedAt` is the timestamp the node that took the client's request gave it, when that node forwarded
   * it here.
   */
  coordinate(
    at: ReplicaKey,
    mode: Reconciliation,
    context: VersionVector,
    write: { value: Buffer | null; contentType: string },
    stampedAt?: Hlc,
  ): Promise<{ record: VersionedRecord; encoded: Buffer }> {
    const stored = recordKey(at.partition, at.bucket, at.key);
    return this.store.withKeyLock(stored, async () => {
      const local = await this.store.getAt(stored);
      if (stampedAt) this.clock.observe(stampedAt);
      const next = update(local, context, { ...write, timestamp: stampedAt ?? this.clock.tick() }, this.store.actor);
      const verdict = siblingCheck(next, { warn: this.limits.siblingsWarn, max: this.limits.siblingsMax });
      if (verdict === "refuse") {
        this.events.siblingRefusal(at, next.siblings.length);
        throw new DynamoError(
          "too_many_siblings",
          `the key has ${next.siblings.length - 1} concurrent versions (limit ${this.limits.siblingsMax}); read it and write back with its context to resolve them`,
        );
      }
      const resolved = reconcile(next, mode);
      const encoded = encodeRecord(resolved);
      const bytes = encoded.length;
      if (bytes > this.limits.recordBytesMax) {
        this.events.recordRefusal(at, bytes, false);
        throw new DynamoError(
          "record_too_large",
          `the key's versions would take ${bytes} bytes, over the ${this.limits.recordBytesMax}-byte record limit (recordBytesMax); ` +
            `read it and write back with its context to resolve its ${next.siblings.length - 1} other versions`,
        );
      }
      if (verdict === "warn") this.events.siblingWarning(at, next.siblings.length);
      await this.store.putEncodedAt(stored, encoded);
      for (const { listener } of this.listeners) listener(at, local, resolved);
      return { record: resolved, encoded };
    });
  }

  /**
   * Folds a page of versions from another replica (a rebuild or a handoff stream) into the local ones, the page's keys
   * held for the duration, and returns how many changed. Keys this replica does not hold yet (while a partition
   * streams into a new replica, nearly all of them) are written as they arrived, in the encoding the sender stored
   * (`encoded`), without a read or a re-encode; a key it does hold (a write that reached it during the transfer, or
   * an earlier, interrupted copy) is read and merged, so a newer version is never overwritten. A key whose merge would
   * pass the replication ceiling keeps its local version (and is reported).
   */
  async mergeMany(partition: number, entries: MergeEntry[]): Promise<number> {
    if (entries.length === 0) return 0;
    // Each key's data key and its id are made once for the locks, the read of what is held and the write.
    const raws = entries.map((entry) => dataKey(partition, entry.bucket, entry.key));
    const ids = raws.map(recordId);
    return this.store.withRecordLocks(ids, async () => {
      const held = await this.store.heldEncoded(raws, ids, entries.length * HELD_SCAN_FACTOR);
      const loads: { type: "put"; key: Buffer; id: string; value: Buffer }[] = [];
      const loaded: MergeEntry[] = [];
      const changes: { at: ReplicaKey; before: VersionedRecord | undefined; after: VersionedRecord }[] = [];
      entries.forEach((entry, i) => {
        const stored = held[i];
        const summary = entry.summary;
        const unchanged = stored !== undefined && entry.encoded !== undefined && stored.equals(entry.encoded);
        // The clock observes what the page brings, so this node's next write stamps later than what it stores; bytes
        // equal to the stored ones bring nothing new. A checked record's newest timestamp is known without decoding it.
        if (!unchanged) {
          if (summary) this.clock.observe({ ms: summary.newestMs, logical: summary.newestLogical });
          else for (const sibling of entry.record.siblings) this.clock.observe(sibling.timestamp);
        }
        // Stored bytes are used as they are only when they already are what a merge would store: reconciled for the
        // bucket's mode (see `storable`), and within the ceiling. Held records are compared as stored bytes first: a key
        // sent again unchanged (a scale-in back onto replicas that still hold the keys from before the scale-out, a
        // rebuild resumed over what it copied) is then skipped without decoding either side, which made such pages cost
        // tens of milliseconds of event loop each.
        if (entry.encoded !== undefined && storable(entry)) {
          if (stored === undefined && entry.encoded.length <= replicationCeiling(this.limits)) {
            loads.push({ type: "put", key: raws[i]!, id: ids[i]!, value: entry.encoded });
            loaded.push(entry);
            return;
          }
          if (unchanged) return;
        }
        const local = stored === undefined ? undefined : decodeRecord(stored);
        // A streamed page's values view its message (see entriesBody); the merged record is cached, so it gets its own.
        const merged = reconcile(merge(local, withOwnValues(entry.record))!, entry.mode);
        if (local !== undefined && sameVersion(local, merged)) return;
        const at = { partition, bucket: entry.bucket, key: entry.key };
        if (this.overCeiling(at, merged)) return;
        changes.push({ at, before: local, after: merged });
      });
      await Promise.all([
        this.store.putEncoded(loads),
        changes.length > 0 ? this.store.batch(changes.map((c) => ({ type: "put" as const, ...c.at, record: c.after }))) : undefined,
      ]);
      for (const { listener, scope } of this.listeners) {
        if (scope === undefined || scope(partition)) for (const e of loaded) listener({ partition, bucket: e.bucket, key: e.key }, undefined, e.record);
        for (const c of changes) listener(c.at, c.before, c.after);
      }
      return loads.length + changes.length;
    });
  }

  /**
   * Folds a version from elsewhere into the local one; returns the stored result and whether anything changed.
   * Throws record_too_large, storing nothing, when the merge would pass the replication ceiling.
   */
  async merge(at: ReplicaKey, mode: Reconciliation, incoming: VersionedRecord): Promise<{ record: VersionedRecord; changed: boolean }> {
    const stored = recordKey(at.partition, at.bucket, at.key);
    return this.store.withKeyLock(stored, async () => {
      return this.mergeHeld(at, stored, mode, await this.store.getAt(stored), incoming);
    });
  }

  /**
   * `merge` for a version another replica sent in its encoding (a coordinator's `replicate`). When its clock covers the
   * local version's and it is reconciled for the bucket, a merge would give it back as it is: it is then stored in the
   * bytes it came in, with neither side decoded and nothing encoded, which is what nearly every replicated write is.
   * Otherwise it is merged as `merge` merges it.
   */
  mergeReceived(at: ReplicaKey, mode: Reconciliation, incoming: ReceivedRecord): Promise<{ changed: boolean }> {
    const storedAt = recordKey(at.partition, at.bucket, at.key);
    return this.store.withKeyLock(storedAt, async () => {
      const stored = await this.store.getEncodedAt(storedAt);
      const { encoded, summary } = incoming;
      const asSent =
        (mode !== "lww" || summary.siblings <= 1) &&
        encoded.length <= replicationCeiling(this.limits) &&
        (stored === undefined || clockCovers(encoded, stored));
      // Nothing changes `stored` (a copy out of the cache, LevelDB's answer, or a logged write's bytes), so decoded,
      // its values may view it rather than be copied again: what is stored or cached from them is encoded anew.
      const local = () => (stored === undefined ? undefined : decodeRecord(stored, { copyValues: false }));
      if (!asSent) {
        const { changed } = await this.mergeHeld(at, storedAt, mode, local(), withOwnValues(incoming.record));
        return { changed };
      }
      this.clock.observe({ ms: summary.newestMs, logical: summary.newestLogical });
      if (stored !== undefined && stored.equals(encoded)) return { changed: false };
      await this.store.putStored(storedAt, encoded);
      // Listeners that track the partition get both versions decoded; they read them at once, while the message the
      // new one views is still held.
      let before: VersionedRecord | undefined;
      for (const { listener, scope } of this.listeners) {
        if (scope !== undefined && !scope(at.partition)) continue;
        before ??= local();
        listener(at, before, incoming.record);
      }
      return { changed: true };
    });
  }

  /** Merges `incoming` into `local`, the key's version read under its record lock, and stores the result. */
  private async mergeHeld(
    at: ReplicaKey,
    storedAt: RecordKey,
    mode: Reconciliation,
    local: VersionedRecord | undefined,
    incoming: VersionedRecord,
  ): Promise<{ record: VersionedRecord; changed: boolean }> {
    for (const sibling of incoming.siblings) this.clock.observe(sibling.timestamp);
    const merged = reconcile(merge(local, incoming)!, mode);
    const changed = local === undefined || !sameVersion(local, merged);
    if (changed && this.overCeiling(at, merged)) {
      throw new DynamoError(
        "record_too_large",
        `merging would make the key's record larger than the ${replicationCeiling(this.limits)}-byte replication ceiling (twice recordBytesMax); ` +
          "this replica keeps its version until a client resolves the key's siblings",
      );
    }
    if (changed) {
      await this.store.putAt(storedAt, merged);
      for (const { listener } of this.listeners) listener(at, local, merged);
    }
    return { record: merged, changed };
  }

  private overCeiling(at: ReplicaKey, record: VersionedRecord): boolean {
    const bytes = encodedRecordBytes(record);
    if (bytes <= replicationCeiling(this.limits)) return false;
    this.events.recordRefusal(at, bytes, true);
    return true;
  }
}

/** Whether a record is already reconciled for its bucket's mode, so a merge with nothing or with itself keeps it as it is. */
function storable(entry: MergeEntry): boolean {
  // A last-write-wins record is reconciled when it holds at most one sibling (see `resolveLww`).
  if (entry.summary) return entry.mode !== "lww" || entry.summary.siblings <= 1;
  return reconcile(entry.record, entry.mode) === entry.record;
}
