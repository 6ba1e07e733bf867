/**
 * A bounded, write-through cache of decoded records in front of LevelDB, least recently used first out. Every read of
 * LevelDB through classic-level takes the database mutex on the event-loop thread to create a snapshot, so under
 * concurrent writes a read can stall the whole node; most reads are of recently written or hot keys (every write
 * reads its key first), and this cache answers those without touching LevelDB. Absent keys are cached too, which
 * is safe because every change to the data goes through the Store, which updates the cache in the same step.
 */
import type { VersionedRecord } from "../versioning/types.js";

interface Entry {
  record: VersionedRecord | undefined;
  bytes: number;
}

/** Bookkeeping cost charged per entry on top of its encoded size. */
const ENTRY_OVERHEAD_BYTES = 96;

export class RecordCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly bytesMax: number) {}

  /** The cached record, `undefined` for a key known to be absent, or `miss`. */
  get(key: string): VersionedRecord | undefined | "miss" {
    const entry = this.entries.get(key);
    if (!entry) {
      this.misses += 1;
      return "miss";
    }
    // Re-inserting moves the entry to the young end of the Map's insertion order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.hits += 1;
    return entry.record;
  }

  set(key: string, record: VersionedRecord | undefined, encodedBytes: number): void {
    if (this.bytesMax <= 0) return;
    const bytes = encodedBytes + key.length + ENTRY_OVERHEAD_BYTES;
    if (bytes > this.bytesMax / 8) {
      // One huge record must not flush everything else; it is simply not cached.
      this.delete(key);
      return;
    }
    this.delete(key);
    this.entries.set(key, { record, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.bytesMax) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  /** Forgets every key starting with `prefix` (a dropped partition). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }
}
