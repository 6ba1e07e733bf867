/**
 * This node's own replica of the data: the read-modify-write steps that must be atomic per key. `coordinate` issues
 * a new version under this node's actor; `merge` folds in a version another node sent (replication, read repair,
 * handoff) and never refuses, whatever the sibling count, so repair can always make progress.
 */
import { DynamoError } from "../errors/index.js";
import type { Store } from "../storage/index.js";
import { HybridClock, merge, reconcile, sameVersion, siblingCheck, update } from "../versioning/index.js";
import type { Reconciliation, VersionVector, VersionedRecord } from "../versioning/types.js";

export interface ReplicaKey {
  partition: number;
  bucket: string;
  key: Buffer;
}

export interface SiblingLimits {
  warn: number;
  max: number;
}

export interface ReplicaEvents {
  siblingWarning(key: ReplicaKey, count: number): void;
  siblingRefusal(key: ReplicaKey, count: number): void;
}

export type WriteListener = (at: ReplicaKey, before: VersionedRecord | undefined, after: VersionedRecord) => void;

export class LocalReplica {
  private readonly listeners: WriteListener[] = [];

  constructor(
    private readonly store: Store,
    readonly clock: HybridClock,
    private readonly limits: SiblingLimits,
    private readonly events: ReplicaEvents,
  ) {}

  /** Tells `listener` about every stored change, with the version before and after (for hash trees). */
  onWrite(listener: WriteListener): void {
    this.listeners.push(listener);
  }

  async read(at: ReplicaKey): Promise<VersionedRecord | undefined> {
    return this.store.get(at.partition, at.bucket, at.key);
  }

  /** Creates the next version of a key from a client's write, stores it, and returns it for replication. */
  async coordinate(
    at: ReplicaKey,
    mode: Reconciliation,
    context: VersionVector,
    write: { value: Buffer | null; contentType: string },
  ): Promise<VersionedRecord> {
    return this.store.withRecordLock(at.partition, at.bucket, at.key, async () => {
      const local = await this.store.get(at.partition, at.bucket, at.key);
      const next = update(local, context, { ...write, timestamp: this.clock.tick() }, this.store.actor);
      const verdict = siblingCheck(next, this.limits);
      if (verdict === "refuse") {
        this.events.siblingRefusal(at, next.siblings.length);
        throw new DynamoError(
          "too_many_siblings",
          `the key has ${next.siblings.length - 1} concurrent versions (limit ${this.limits.max}); read it and write back with its context to resolve them`,
        );
      }
      if (verdict === "warn") this.events.siblingWarning(at, next.siblings.length);
      const resolved = reconcile(next, mode);
      await this.store.put(at.partition, at.bucket, at.key, resolved);
      for (const listener of this.listeners) listener(at, local, resolved);
      return resolved;
    });
  }

  /**
   * Folds a page of versions from another replica (a rebuild or a handoff stream) into the local ones: one read of
   * the page, one batch write of what changed, the page's keys held for the duration. Returns how many changed.
   */
  async mergeMany(partition: number, entries: { bucket: string; key: Buffer; record: VersionedRecord; mode: Reconciliation }[]): Promise<number> {
    if (entries.length === 0) return 0;
    return this.store.withRecordLocks(partition, entries, async () => {
      const locals = await this.store.getMany(partition, entries);
      const changes: { at: ReplicaKey; before: VersionedRecord | undefined; after: VersionedRecord }[] = [];
      entries.forEach((entry, i) => {
        for (const sibling of entry.record.siblings) this.clock.observe(sibling.timestamp);
        const local = locals[i];
        const merged = reconcile(merge(local, entry.record)!, entry.mode);
        if (local === undefined || !sameVersion(local, merged)) changes.push({ at: { partition, bucket: entry.bucket, key: entry.key }, before: local, after: merged });
      });
      if (changes.length === 0) return 0;
      await this.store.batch(changes.map((c) => ({ type: "put" as const, ...c.at, record: c.after })));
      for (const c of changes) for (const listener of this.listeners) listener(c.at, c.before, c.after);
      return changes.length;
    });
  }

  /** Folds a version from elsewhere into the local one; returns the stored result and whether anything changed. */
  async merge(at: ReplicaKey, mode: Reconciliation, incoming: VersionedRecord): Promise<{ record: VersionedRecord; changed: boolean }> {
    return this.store.withRecordLock(at.partition, at.bucket, at.key, async () => {
      const local = await this.store.get(at.partition, at.bucket, at.key);
      for (const sibling of incoming.siblings) this.clock.observe(sibling.timestamp);
      const merged = reconcile(merge(local, incoming)!, mode);
      const changed = local === undefined || !sameVersion(local, merged);
      if (changed) {
        await this.store.put(at.partition, at.bucket, at.key, merged);
        for (const listener of this.listeners) listener(at, local, merged);
      }
      return { record: merged, changed };
    });
  }
}
