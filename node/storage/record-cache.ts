/**
 * A bounded, write-through cache of records in front of LevelDB. Every read of LevelDB through classic-level takes
 * the database mutex on the event-loop thread to create a snapshot, so under concurrent writes a read can stall the
 * whole node; most reads are of recently written or hot keys (every write reads its key first), and this cache
 * answers those without touching LevelDB. Absent keys are cached too, which is safe because every change to the data
 * goes through the Store, which updates the cache in the same step.
 *
 * Records are kept encoded, packed one after another into large segments, and decoded on each hit. The cache used to
 * hold decoded records, a dozen small objects each: at its 64 MiB budget that was some 55 000 records, which every
 * major collection had to mark, and a node handing off partitions spent 44–46% of its CPU in major collections
 * (performance round 21). Here an entry is one key string in a Map and a few numbers in typed arrays; the bytes are in
 * segment buffers outside the JavaScript heap, which a collection does not walk. A hit pays a decode of a record's
 * bytes, which costs microseconds, against the collections, which cost hundreds of milliseconds each.
 *
 * The segments form a log. A record is appended to the newest; replacing or deleting it leaves its old bytes in
 * place, as garbage, until their segment goes. When the cache is over its budget the oldest segment goes, and each
 * entry still live in it either goes too or, if it was read since it was placed there, is copied to the newest
 * segment with its mark cleared: a second chance, as under CLOCK, so a key read since it was cached outlives one
 * that was not. The budget counts every byte the segments hold, garbage included, and a fixed charge per entry for
 * its key and bookkeeping.
 */
import type { VersionedRecord } from "../versioning/types.js";
import { decodeRecord } from "../versioning/codec.js";

/** Bookkeeping cost charged per entry on top of its encoded size and its key: the Map and Set entries and the slot. */
export const ENTRY_OVERHEAD_BYTES = 64;

/**
 * Characters of a key that name its group: in the store's keys (`dataKey` in latin1), the data prefix and the
 * partition. A dropped partition's entries are found through their group, not by walking the whole cache: with tens of
 * thousands of entries cached, that walk cost the janitor seconds of event loop when it dropped the partitions a
 * scale-out had moved away.
 */
const GROUP_CHARS = 3;

/**
 * A segment's size: large enough that segments are few (a 64 MiB cache has 64), small enough that the oldest one,
 * which an eviction empties at once, is a small part of the cache.
 */
const SEGMENT_BYTES_MAX = 1024 * 1024;
const SEGMENTS_PER_BUDGET = 32;
const SEGMENT_BYTES_MIN = 256;

/** A slot's flags. */
const ABSENT = 1;
/** Read since it was cached or last given a second chance. */
const USED = 2;
/** Forgotten (see `forget`): its bytes may no longer be what is stored, and a lookup misses until it is set again. */
const STALE = 4;
/** What `lookup` returns for a key not cached, and for one cached as absent. */
const MISSED = -1;
const ABSENT_KEY = -2;

interface Segment {
  readonly id: number;
  readonly bytes: Buffer;
  /** Bytes of `bytes` written so far. */
  fill: number;
  /** What the segment counts against the budget: its fill and the charge of each entry placed in it. */
  charge: number;
  /** (slot, offset) of each entry placed here, in order; an entry since replaced or removed is found stale. */
  readonly placed: number[];
}

export class RecordCache {
  private readonly index = new Map<string, number>();
  /** The keys of `index` by their first GROUP_CHARS characters. */
  private readonly groups = new Map<string, Set<string>>();
  /** Oldest first; the last is the one being filled. Their ids are consecutive. */
  private readonly segments: Segment[] = [];
  private readonly segmentBytes: number;
  /** An evicted segment's buffer, kept for the next segment so that steady eviction allocates nothing. */
  private spare: Buffer | undefined;
  private nextSegmentId = 0;
  private charged = 0;
  private liveCharged = 0;
  /** Entries forgotten and not set since (see `forget`): in `index`, not counted as cached. */
  private staleCount = 0;

  // Each entry's slot: its key, the segment and offset of its bytes, their length and its flags. A free slot's
  // segment is -1.
  private slotKeys: (string | undefined)[] = [];
  private slotSegments = new Float64Array(64);
  private slotOffsets = new Int32Array(64);
  private slotLengths = new Int32Array(64);
  private slotFlags = new Uint8Array(64);
  private readonly freeSlots: number[] = [];

  hits = 0;
  misses = 0;

  constructor(private readonly bytesMax: number) {
    this.segmentBytes = Math.min(SEGMENT_BYTES_MAX, Math.max(SEGMENT_BYTES_MIN, Math.floor(bytesMax / SEGMENTS_PER_BUDGET)));
  }

  /** The cached record, decoded afresh (the caller owns it), `undefined` for a key known to be absent, or `miss`. */
  get(key: string): VersionedRecord | undefined | "miss" {
    const slot = this.lookup(key);
    if (slot === MISSED) return "miss";
    return slot === ABSENT_KEY ? undefined : decodeRecord(this.bytesOf(slot));
  }

  /**
   * The cached record as stored, copied out (a segment's memory is reused once it is evicted), `undefined` for a key
   * known to be absent, or `miss`: for a replica that sends a record on as it is, without decoding it.
   */
  getEncoded(key: string): Buffer | undefined | "miss" {
    const slot = this.lookup(key);
    if (slot === MISSED) return "miss";
    return slot === ABSENT_KEY ? undefined : Buffer.from(this.bytesOf(slot));
  }

  /** Caches `encoded` (a record as `encodeRecord` gives it, copied in) under `key`, or `undefined` for an absent key. */
  set(key: string, encoded: Buffer | undefined): void {
    if (this.bytesMax <= 0) return;
    const length = encoded?.length ?? 0;
    const charge = length + key.length + ENTRY_OVERHEAD_BYTES;
    // One huge record must not flush everything else; it is simply not cached.
    if (charge > this.bytesMax / 8) {
      this.delete(key);
      return;
    }
    let slot = this.index.get(key);
    if (slot === undefined) {
      slot = this.takeSlot();
      this.slotKeys[slot] = key;
      this.index.set(key, slot);
      const groupName = key.slice(0, GROUP_CHARS);
      let group = this.groups.get(groupName);
      if (!group) this.groups.set(groupName, (group = new Set()));
      group.add(key);
    } else if (this.slotFlags[slot]! & STALE) {
      // Forgotten before this write: its live bytes were uncounted then.
      this.staleCount -= 1;
    } else {
      // A key written again (most writes) keeps its slot, index entry and group: only its bytes move. The old bytes
      // stay in their segment, counted, as a removed entry's do; eviction skips them, since the slot no longer points
      // at their place.
      this.liveCharged -= this.slotLengths[slot]! + key.length + ENTRY_OVERHEAD_BYTES;
    }
    this.slotFlags[slot] = encoded === undefined ? ABSENT : 0;
    this.place(slot, charge, encoded, 0, length);
    this.liveCharged += charge;
    while (this.charged > this.bytesMax && this.segments.length > 1) this.evictOldest();
  }

  /**
   * Makes `key` miss until it is `set` again, keeping its slot, index entry and group for that `set`, which ends nearly
   * every write: removing the entry and adding it back took four Map and Set operations per write, each hashing the
   * key again. A forgotten entry no longer counts as cached (`size`, `liveBytes`); its bytes count against the budget
   * until their segment goes, as a replaced entry's do.
   */
  forget(key: string): void {
    const slot = this.index.get(key);
    if (slot === undefined || this.slotFlags[slot]! & STALE) return;
    this.liveCharged -= this.slotLengths[slot]! + key.length + ENTRY_OVERHEAD_BYTES;
    this.slotFlags[slot] = STALE;
    this.staleCount += 1;
  }

  delete(key: string): void {
    const slot = this.index.get(key);
    if (slot === undefined) return;
    this.index.delete(key);
    const groupName = key.slice(0, GROUP_CHARS);
    const group = this.groups.get(groupName)!;
    group.delete(key);
    if (group.size === 0) this.groups.delete(groupName);
    this.freeSlot(slot, key);
  }

  /** Forgets every key whose first GROUP_CHARS characters are `group` (a dropped partition's prefix). */
  deleteGroup(group: string): void {
    if (group.length !== GROUP_CHARS) throw new Error(`invariant violated: a cache group is ${GROUP_CHARS} characters, not ${group.length}`);
    const keys = this.groups.get(group);
    if (!keys) return;
    this.groups.delete(group);
    for (const key of keys) {
      const slot = this.index.get(key)!;
      this.index.delete(key);
      this.freeSlot(slot, key);
    }
  }

  /** How many keys are cached. */
  get size(): number {
    return this.index.size - this.staleCount;
  }

  /** What the cache counts against its budget, the bytes of replaced and removed entries not yet evicted included. */
  get usedBytes(): number {
    return this.charged;
  }

  /** What the cached entries alone would count against the budget. */
  get liveBytes(): number {
    return this.liveCharged;
  }

  /** Counts a hit or a miss and marks the entry used: its slot, MISSED, or ABSENT_KEY for a key known to be absent. */
  private lookup(key: string): number {
    const slot = this.index.get(key);
    if (slot === undefined || this.slotFlags[slot]! & STALE) {
      this.misses += 1;
      return MISSED;
    }
    this.hits += 1;
    const flags = this.slotFlags[slot]!;
    this.slotFlags[slot] = flags | USED;
    return flags & ABSENT ? ABSENT_KEY : slot;
  }

  /** A view of an entry's bytes in its segment, valid until the segment is evicted. */
  private bytesOf(slot: number): Buffer {
    const segment = this.segments[this.slotSegments[slot]! - this.segments[0]!.id]!;
    const offset = this.slotOffsets[slot]!;
    return segment.bytes.subarray(offset, offset + this.slotLengths[slot]!);
  }

  /** Appends an entry's bytes (`length` of `source` from `from`) to the newest segment, opening one where they do not fit. */
  private place(slot: number, charge: number, source: Buffer | undefined, from: number, length: number): void {
    let segment = this.segments[this.segments.length - 1];
    if (segment === undefined || segment.fill + length > segment.bytes.length || segment.charge + charge > this.segmentBytes) {
      segment = this.openSegment(length);
    }
    const offset = segment.fill;
    if (source !== undefined) source.copy(segment.bytes, offset, from, from + length);
    segment.fill += length;
    segment.charge += charge;
    segment.placed.push(slot, offset);
    this.charged += charge;
    this.slotSegments[slot] = segment.id;
    this.slotOffsets[slot] = offset;
    this.slotLengths[slot] = length;
  }

  /** A new newest segment, large enough for `length` bytes: a record longer than a segment gets one of its own. */
  private openSegment(length: number): Segment {
    let bytes: Buffer;
    if (length > this.segmentBytes) {
      bytes = Buffer.allocUnsafeSlow(length);
    } else if (this.spare !== undefined) {
      bytes = this.spare;
      this.spare = undefined;
    } else {
      bytes = Buffer.allocUnsafeSlow(this.segmentBytes);
    }
    const segment: Segment = { id: this.nextSegmentId++, bytes, fill: 0, charge: 0, placed: [] };
    this.segments.push(segment);
    return segment;
  }

  /**
   * Empties the oldest segment: an entry read since it was placed there moves to the newest segment unmarked, every
   * other entry still live there goes. A moved entry is met again only after every segment older than its new one, so
   * eviction ends even when every entry was read.
   */
  private evictOldest(): void {
    const segment = this.segments[0]!;
    const placed = segment.placed;
    for (let i = 0; i < placed.length; i += 2) {
      const slot = placed[i]!;
      const offset = placed[i + 1]!;
      if (this.slotSegments[slot] !== segment.id || this.slotOffsets[slot] !== offset) continue;
      const key = this.slotKeys[slot]!;
      const charge = this.slotLengths[slot]! + key.length + ENTRY_OVERHEAD_BYTES;
      if (this.slotFlags[slot]! & USED) {
        this.slotFlags[slot] = this.slotFlags[slot]! & ~USED;
        this.place(slot, charge, segment.bytes, offset, this.slotLengths[slot]!);
      } else {
        this.delete(key);
      }
    }
    this.segments.shift();
    this.charged -= segment.charge;
    // Nothing outside the cache views a segment's bytes (a hit decodes copies of its values or copies its bytes out), so the
    // buffer can be reused.
    if (segment.bytes.length === this.segmentBytes) this.spare = segment.bytes;
  }

  private takeSlot(): number {
    const free = this.freeSlots.pop();
    if (free !== undefined) return free;
    const slot = this.slotKeys.length;
    this.slotKeys.push(undefined);
    if (slot >= this.slotFlags.length) {
      const capacity = this.slotFlags.length * 2;
      this.slotSegments = grown(this.slotSegments, new Float64Array(capacity));
      this.slotOffsets = grown(this.slotOffsets, new Int32Array(capacity));
      this.slotLengths = grown(this.slotLengths, new Int32Array(capacity));
      this.slotFlags = grown(this.slotFlags, new Uint8Array(capacity));
    }
    return slot;
  }

  /** Frees a removed entry's slot; its bytes stay in their segment, counted, until the segment is evicted. */
  private freeSlot(slot: number, key: string): void {
    if (this.slotFlags[slot]! & STALE) this.staleCount -= 1;
    else this.liveCharged -= this.slotLengths[slot]! + key.length + ENTRY_OVERHEAD_BYTES;
    this.slotSegments[slot] = -1;
    this.slotKeys[slot] = undefined;
    this.freeSlots.push(slot);
  }
}

function grown<T extends Float64Array | Int32Array | Uint8Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
