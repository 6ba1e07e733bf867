/**
 * A bounded, write-through cache of decoded records in front of LevelDB. Every read of LevelDB through classic-level
 * takes the database mutex on the event-loop thread to create a snapshot, so under concurrent writes a read can stall
 * the whole node; most reads are of recently written or hot keys (every write reads its key first), and this cache
 * answers those without touching LevelDB. Absent keys are cached too, which is safe because every change to the data
 * goes through the Store, which updates the cache in the same step.
 *
 * Eviction gives a used entry a second chance (CLOCK) instead of keeping a strict least-recently-used order. A hit only
 * marks its entry. Keeping the order meant a delete and a set of the Map at every hit, which left a hole in its hash
 * table and an entry to rehash: without them, Map and Set work fell from 3.6–4.1% of a YCSB-A node's on-CPU samples
 * to 2.9–3.0%. When the cache is over its budget, the oldest entries are looked at in order: a used one moves to the
 * young end with its mark cleared, an unused one goes. So a key read since it was cached outlives one that was not, as
 * under LRU, and a cache that never fills pays nothing for an order it does not need.
 */
import type { VersionedRecord } from "../versioning/types.js";

interface Entry {
  record: VersionedRecord | undefined;
  bytes: number;
  /** Read since it was cached or last given a second chance. */
  used: boolean;
  /** The keys of its group, which holds it (see `groups`). */
  group: Set<string>;
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
    entry.used = true;
    this.hits += 1;
    return entry.record;
  }

  set(key: string, record: VersionedRecord | undefined, encodedBytes: number): void {
    if (this.bytesMax <= 0) return;
    const bytes = encodedBytes + key.length + ENTRY_OVERHEAD_BYTES;
    this.delete(key);
    // One huge record must not flush everything else; it is simply not cached.
    if (bytes > this.bytesMax / 8) return;
    // Room is made before the entry goes in, so the walk never takes the entry being cached.
    if (this.bytes + bytes > this.bytesMax) this.evict(this.bytesMax - bytes);
    const groupName = key.slice(0, GROUP_CHARS);
    let group = this.groups.get(groupName);
    if (!group) this.groups.set(groupName, (group = new Set()));
    group.add(key);
    this.entries.set(key, { record, bytes, used: false, group });
    this.bytes += bytes;
  }

  /**
   * Evicts the oldest unused entries until at most `bytesTarget` are cached. A used entry met on the way is moved to
   * the young end unmarked, where this same walk meets it again after every older entry (a Map's iteration visits
   * entries added during it), so the walk ends even when every entry was used.
   */
  private evict(bytesTarget: number): void {
    for (const [key, entry] of this.entries) {
      if (this.bytes <= bytesTarget) return;
      if (entry.used) {
        entry.used = false;
        this.entries.delete(key);
        this.entries.set(key, entry);
      } else {
        this.remove(key, entry);
      }
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
    entry.group.delete(key);
    if (entry.group.size > 0) return;
    const groupName = key.slice(0, GROUP_CHARS);
    if (this.groups.get(groupName) === entry.group) this.groups.delete(groupName);
  }
}
