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

/**
 * Characters of a key that name its group: in the store's keys (`dataKey` in latin1), the data prefix and the
 * partition. A dropped partition's entries are found through their group, not by walking the whole cache: with tens of
 * thousands of entries cached, that walk cost the janitor seconds of event loop when it dropped the partitions a
 * scale-out had moved away.
 */
const GROUP_CHARS = 3;

export class RecordCache {
  private readonly entries = new Map<string, Entry>();
  /** The keys of `entries` by their first GROUP_CHARS characters. */
  private readonly groups = new Map<string, Set<string>>();
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
    this.delete(key);
    // One huge record must not flush everything else; it is simply not cached.
    if (bytes > this.bytesMax / 8) return;
    this.entries.set(key, { record, bytes });
    const group = key.slice(0, GROUP_CHARS);
    let keys = this.groups.get(group);
    if (!keys) this.groups.set(group, (keys = new Set()));
    keys.add(key);
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.bytesMax) break;
      this.remove(oldest, entry);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry) this.remove(key, entry);
  }

  /** Forgets every key whose first GROUP_CHARS characters are `group` (a dropped partition's prefix). */
  deleteGroup(group: string): void {
    if (group.length !== GROUP_CHARS) throw new Error(`invariant violated: a cache group is ${GROUP_CHARS} characters, not ${group.length}`);
    const keys = this.groups.get(group);
    if (!keys) return;
    this.groups.delete(group);
    for (const key of keys) {
      const entry = this.entries.get(key)!;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.bytes;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    const group = key.slice(0, GROUP_CHARS);
    const keys = this.groups.get(group)!;
    keys.delete(key);
    if (keys.size === 0) this.groups.delete(group);
  }
}
