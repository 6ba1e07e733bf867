/**
 * Hints: markers saying "this node holds a write that member X should have and may not". The record itself lives in
 * the ordinary data key space (one copy per key, whoever it is for); a marker only names the intended owner, so a
 * hint costs a few bytes of index plus the record it points at. Markers are bounded in number and in the bytes of
 * the records they point at; past either bound a new hint is refused, counted, and logged, and the write proceeds
 * without it where a quorum allows.
 */
import { HINT_PREFIX } from "../storage/index.js";
import type { Store } from "../storage/index.js";

export interface HintLimits {
  countMax: number;
  bytesMax: number;
}

export interface HintRef {
  owner: string;
  partition: number;
  bucket: string;
  key: Buffer;
  bytes: number;
}

export interface HintEvents {
  refused(owner: string, reason: string): void;
}

export function hintKey(owner: string, partition: number, bucket: string, key: Buffer): Buffer {
  const ownerBytes = Buffer.from(owner, "utf8");
  const bucketBytes = Buffer.from(bucket, "utf8");
  const out = Buffer.allocUnsafe(1 + ownerBytes.length + 1 + 2 + bucketBytes.length + 1 + key.length);
  let at = 0;
  out[at++] = HINT_PREFIX;
  at += ownerBytes.copy(out, at);
  out[at++] = 0;
  out.writeUInt16BE(partition, at);
  at += 2;
  at += bucketBytes.copy(out, at);
  out[at++] = 0;
  key.copy(out, at);
  return out;
}

function parseHintKey(raw: Buffer, bytes: number): HintRef {
  const ownerEnd = raw.indexOf(0, 1);
  const partition = raw.readUInt16BE(ownerEnd + 1);
  const bucketEnd = raw.indexOf(0, ownerEnd + 3);
  return {
    owner: raw.toString("utf8", 1, ownerEnd),
    partition,
    bucket: raw.toString("utf8", ownerEnd + 3, bucketEnd),
    key: Buffer.from(raw.subarray(bucketEnd + 1)),
    bytes,
  };
}

function ownerRange(owner: string): { gte: Buffer; lt: Buffer } {
  const prefix = Buffer.concat([Buffer.from([HINT_PREFIX]), Buffer.from(owner, "utf8")]);
  return { gte: Buffer.concat([prefix, Buffer.from([0])]), lt: Buffer.concat([prefix, Buffer.from([1])]) };
}

/**
 * How many markers the store remembers the size of, so that a marker it wrote lately is neither read back from LevelDB
 * nor rewritten unchanged. While a member is down every write to its keys adds a marker, most of them for keys that
 * already have one, and each read went through libuv's thread pool (7 µs of a YCSB-A operation with one node of three
 * down, performance round 38). Bounded: the oldest is forgotten first, and a forgotten marker is read back as before.
 */
const KNOWN_MARKERS_MAX = 16_384;

export class HintStore {
  /** Marker sizes by marker key (latin1), exactly as on disk: every change of a marker goes through `serially`. */
  private readonly known = new Map<string, number>();
  private readonly byOwner = new Map<string, { count: number; bytes: number }>();
  private readonly byPartition = new Map<number, number>();
  private totalCount = 0;
  private totalBytes = 0;
  /** Marker updates run one at a time so the counts stay exact; hints are off the hot path, so this costs little. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    readonly limits: HintLimits,
    private readonly events: HintEvents,
    private readonly knownMax = KNOWN_MARKERS_MAX,
  ) {}

  /** Counts the markers already on disk, so the bounds hold across restarts. */
  async load(): Promise<void> {
    for await (const [raw, value] of this.store.scanRaw({ gte: Buffer.from([HINT_PREFIX]), lt: Buffer.from([HINT_PREFIX + 1]) })) {
      const ref = parseHintKey(raw, value.readUInt32BE(0));
      this.account(ref.owner, ref.partition, 1, ref.bytes);
    }
  }

  hasRoom(bytes = 0): boolean {
    return this.totalCount < this.limits.countMax && this.totalBytes + bytes <= this.limits.bytesMax;
  }

  /** Records a hint; returns false (and reports why) when a bound would be exceeded. */
  add(ref: HintRef): Promise<boolean> {
    return this.serially(() => this.addNow(ref));
  }

  remove(ref: HintRef): Promise<void> {
    return this.serially(() => this.removeNow(ref));
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async addNow(ref: HintRef): Promise<boolean> {
    const key = hintKey(ref.owner, ref.partition, ref.bucket, ref.key);
    const id = key.toString("latin1");
    const previous = await this.markerBytes(key, id);
    if (previous !== undefined) {
      if (previous !== ref.bytes) {
        // Forgotten until the write is taken: a write that fails leaves the marker to be read back.
        this.known.delete(id);
        await this.store.putRaw(key, u32(ref.bytes));
        this.account(ref.owner, ref.partition, 0, ref.bytes - previous);
        this.remember(id, ref.bytes);
      }
      return true;
    }
    if (!this.hasRoom(ref.bytes)) {
      const reason =
        this.totalCount >= this.limits.countMax
          ? `hint store holds ${this.totalCount} hints (limit ${this.limits.countMax})`
          : `hint store holds ${this.totalBytes} bytes (limit ${this.limits.bytesMax})`;
      this.events.refused(ref.owner, reason);
      return false;
    }
    await this.store.putRaw(key, u32(ref.bytes));
    this.account(ref.owner, ref.partition, 1, ref.bytes);
    this.remember(id, ref.bytes);
    return true;
  }

  private async removeNow(ref: HintRef): Promise<void> {
    const key = hintKey(ref.owner, ref.partition, ref.bucket, ref.key);
    const id = key.toString("latin1");
    const previous = await this.markerBytes(key, id);
    if (previous === undefined) return;
    this.known.delete(id);
    await this.store.putRaw(key, undefined);
    this.account(ref.owner, ref.partition, -1, -previous);
  }

  /** The record bytes a marker counts, or undefined when there is no marker; read from LevelDB only if not known. */
  private async markerBytes(key: Buffer, id: string): Promise<number | undefined> {
    const known = this.known.get(id);
    if (known !== undefined) return known;
    return (await this.store.getRaw(key))?.readUInt32BE(0);
  }

  private remember(id: string, bytes: number): void {
    this.known.delete(id);
    if (this.known.size >= this.knownMax) this.known.delete(this.known.keys().next().value as string);
    this.known.set(id, bytes);
  }

  /** True when some owner still has a marker for this key. */
  async anyFor(partition: number, bucket: string, key: Buffer): Promise<boolean> {
    for (const owner of this.byOwner.keys()) {
      if (await this.store.getRaw(hintKey(owner, partition, bucket, key))) return true;
    }
    return false;
  }

  /** True while any hint points at a record of this partition (its stand-in copies must not be dropped). */
  hasPartition(partition: number): boolean {
    return (this.byPartition.get(partition) ?? 0) > 0;
  }

  owners(): string[] {
    return [...this.byOwner.keys()];
  }

  async list(owner: string, limit: number): Promise<HintRef[]> {
    const out: HintRef[] = [];
    for await (const [raw, value] of this.store.scanRaw(ownerRange(owner), limit)) out.push(parseHintKey(raw, value.readUInt32BE(0)));
    return out;
  }

  stats(): { count: number; bytes: number; byOwner: Record<string, { count: number; bytes: number }> } {
    return { count: this.totalCount, bytes: this.totalBytes, byOwner: Object.fromEntries(this.byOwner) };
  }

  private account(owner: string, partition: number, count: number, bytes: number): void {
    const inPartition = (this.byPartition.get(partition) ?? 0) + count;
    if (inPartition <= 0) this.byPartition.delete(partition);
    else this.byPartition.set(partition, inPartition);
    const entry = this.byOwner.get(owner) ?? { count: 0, bytes: 0 };
    entry.count += count;
    entry.bytes += bytes;
    this.totalCount += count;
    this.totalBytes += bytes;
    if (entry.count <= 0) this.byOwner.delete(owner);
    else this.byOwner.set(owner, entry);
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(Math.max(0, Math.min(n, 0xffffffff)), 0);
  return b;
}
