/**
 * The binary form of a versioned record, used both on disk and in the peer protocol, so it sits on the hot path of
 * every read and write. Values are copied in as raw bytes (no base64, no JSON), the whole record is written into one
 * buffer allocated at its exact size, and small numbers take one byte. The encoding is canonical (clock actors sorted,
 * siblings in dot order), so equal records encode to equal bytes and anti-entropy can hash the encoded form.
 *
 * Format version 1, all integers unsigned LEB128 varints unless marked u8:
 *
 *     u8 format version (1)
 *     varint clock size C, then C × { u8 actor length, actor UTF-8, varint counter }   (actors sorted)
 *     varint sibling count S, then S × {
 *       varint dot actor (index into the clock entries), varint dot counter,
 *       varint timestamp ms, varint timestamp logical,
 *       u8 flags (bit 0: tombstone; other bits zero),
 *       varint content type length, content type UTF-8,
 *       unless a tombstone: varint value length, value bytes
 *     }                                                                                  (siblings in dot order)
 *
 * A dot names its actor by position in the clock because every dot must be covered by its record's clock anyway: the
 * encoding is shorter and cannot express a record that breaks that invariant. The leading version byte lets a later
 * format be introduced while old records are still readable. Decoding rejects anything that is truncated, has trailing
 * bytes, or breaks an invariant, with an error that says what and where.
 */
import type { Sibling, VersionedRecord, VersionVector } from "./types.js";
import { ByteReader, InternTable, isVarintValue, MalformedBytesError, varintLength, writeVarint } from "./bytes.js";
import { compareDots, isValidActor, isValidCounter } from "./version-vector.js";
import { compareSiblings } from "./record.js";

export const RECORD_FORMAT_VERSION = 1;
const FLAG_TOMBSTONE = 0x01;
/** The fewest bytes a clock entry can take: a length byte, a one-byte actor and a one-byte counter. */
const CLOCK_ENTRY_BYTES_MIN = 3;
/** The fewest bytes a sibling can take: five one-byte varints and the flags byte (a tombstone, empty content type). */
const SIBLING_BYTES_MIN = 6;
/** Actor ids read: a cluster's nodes and their past incarnations, far fewer than this in the clocks a node reads. */
const ACTORS = new InternTable(64);
/**
 * A clock's actors looked up in ACTORS; any further ones are decoded directly. Real clocks name a few nodes, and a
 * forged one with a thousand actors must not cost a thousand scans of the table.
 */
const INTERNED_ACTORS_PER_CLOCK = 16;
/** Content types read: the few that a store's clients use. */
const CONTENT_TYPES = new InternTable(16);

/** The clock's actor at `index`, with its length byte: from ACTORS for the first INTERNED_ACTORS_PER_CLOCK. */
function readActor(reader: ByteReader, index: number): string {
  const length = reader.u8("actor length");
  return index < INTERNED_ACTORS_PER_CLOCK ? reader.interned(ACTORS, length, "actor") : reader.utf8(length, "actor");
}

/** Raised by `decodeRecord` when the bytes are not a valid record. */
export class CorruptRecordError extends MalformedBytesError {
  override readonly name: string = "CorruptRecordError";
}

export interface DecodeOptions {
  /**
   * Whether each value is copied out of the input buffer (the default). Without copying, values are views into the
   * input, which saves a copy per read but keeps the whole input alive and breaks if its owner reuses the memory.
   */
  copyValues?: boolean;
}

export function encodeRecord(record: VersionedRecord): Buffer {
  // Plain loops, not forEach or map with arrow functions: a closure made on every call is a new function each time,
  // and V8 kept compiling those afresh with TurboFan, about once a second each, in a node under steady load.
  const actors = sortedActors(record.clock);
  const actorIndex = indexOfActors(actors);
  const siblings = inCanonicalOrder(record.siblings);
  const contentTypeBytes: number[] = [];
  let size = 1 + clockEncodedLength(record.clock, actors) + varintLength(siblings.length);
  for (const sibling of siblings) {
    const typeBytes = Buffer.byteLength(sibling.contentType, "utf8");
    contentTypeBytes.push(typeBytes);
    checkSibling(sibling, record.clock, actorIndex);
    size += siblingEncodedLength(sibling, actorIndex.get(sibling.dot.actor) as number, typeBytes);
  }

  const buf = Buffer.allocUnsafe(size);
  buf[0] = RECORD_FORMAT_VERSION;
  let offset = writeClock(buf, 1, record.clock, actors);
  offset = writeVarint(buf, offset, siblings.length);
  for (let index = 0; index < siblings.length; index++) {
    const sibling = siblings[index] as Sibling;
    offset = writeVarint(buf, offset, actorIndex.get(sibling.dot.actor) as number);
    offset = writeVarint(buf, offset, sibling.dot.counter);
    offset = writeVarint(buf, offset, sibling.timestamp.ms);
    offset = writeVarint(buf, offset, sibling.timestamp.logical);
    buf[offset++] = sibling.value === null ? FLAG_TOMBSTONE : 0;
    offset = writeVarint(buf, offset, contentTypeBytes[index] as number);
    offset += buf.write(sibling.contentType, offset, "utf8");
    if (sibling.value !== null) {
      offset = writeVarint(buf, offset, sibling.value.length);
      offset += sibling.value.copy(buf, offset);
    }
  }
  if (offset !== size) throw new Error(`invariant violated: encoded ${offset} bytes of a computed ${size}`);
  return buf;
}

/** The exact number of bytes `encodeRecord` gives a record, without encoding it (for size limits and accounting). */
export function encodedRecordBytes(record: VersionedRecord): number {
  const actors = sortedActors(record.clock);
  const actorIndex = indexOfActors(actors);
  let size = 1 + clockEncodedLength(record.clock, actors) + varintLength(record.siblings.length);
  for (const sibling of record.siblings) {
    size += siblingEncodedLength(sibling, actorIndex.get(sibling.dot.actor) ?? 0, Buffer.byteLength(sibling.contentType, "utf8"));
  }
  return size;
}

/** Each actor's position in the sorted clock, which is how a sibling's dot names its actor. */
function indexOfActors(actors: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < actors.length; i++) index.set(actors[i] as string, i);
  return index;
}

function siblingEncodedLength(sibling: Sibling, actorIndex: number, contentTypeLength: number): number {
  let size = varintLength(actorIndex) + varintLength(sibling.dot.counter);
  size += varintLength(sibling.timestamp.ms) + varintLength(sibling.timestamp.logical) + 1;
  size += varintLength(contentTypeLength) + contentTypeLength;
  if (sibling.value !== null) size += varintLength(sibling.value.length) + sibling.value.length;
  return size;
}

/**
 * The record with its values copied out of whatever buffer they view (one decoded with `copyValues: false`), for a
 * record that outlives that buffer's owner: kept in a cache, or merged into one that is.
 */
export function withOwnValues(record: VersionedRecord): VersionedRecord {
  return { clock: record.clock, siblings: record.siblings.map((s) => (s.value === null ? s : { ...s, value: Buffer.from(s.value) })) };
}

export function decodeRecord(buf: Buffer, options: DecodeOptions = {}): VersionedRecord {
  const reader = new ByteReader(buf, "record", (message) => new CorruptRecordError(message));
  const version = reader.u8("format version");
  if (version !== RECORD_FORMAT_VERSION) reader.fail(`unsupported format version ${version}`);
  const { clock, actors } = readClock(reader, Number.MAX_SAFE_INTEGER);
  const count = reader.varint("sibling count");
  if (count * SIBLING_BYTES_MIN > reader.remaining) reader.fail(`sibling count ${count} exceeds the bytes remaining`);
  const copyValues = options.copyValues ?? true;
  const siblings: Sibling[] = [];
  for (let index = 0; index < count; index++) {
    const sibling = readSibling(reader, clock, actors, copyValues);
    const previous = siblings[siblings.length - 1];
    if (previous !== undefined && compareDots(previous.dot, sibling.dot) >= 0) {
      reader.fail(`sibling ${index} is out of order or repeats a dot`);
    }
    siblings.push(sibling);
  }
  reader.expectEnd();
  return { clock, siblings };
}

/** What `checkRecord` reports of a valid record without decoding it. */
export interface RecordSummary {
  /** How many siblings (values and tombstones) it holds. */
  siblings: number;
  /** The newest of its siblings' timestamps, for the hybrid clock to observe (0.0 without siblings). */
  newestMs: number;
  newestLogical: number;
}

/** Actor ids of the record `checkRecord` last read, and their counters: reused, so a check allocates no arrays. */
const checkActors: string[] = [];
const checkCounters: number[] = [];

/**
 * Whether `buf` is a record `decodeRecord` accepts, checked without building it: a page streamed into a replica is
 * mostly stored as the sender stored it, and decoding every record of it into objects only to check it cost a
 * joining node 130 ms of its 3.0 CPU-seconds in a profiled scale-out, and the collection of those objects more. Undefined for bytes that are not a valid
 * record; `decodeRecord` then says what is wrong with them. The checks are `decodeRecord`'s, in the same order; a
 * test holds the two to the same verdict on damaged records.
 */
export function checkRecord(buf: Buffer): RecordSummary | undefined {
  try {
    const reader = new ByteReader(buf, "record", (message) => new CorruptRecordError(message));
    if (reader.u8("format version") !== RECORD_FORMAT_VERSION) return undefined;
    const actors = reader.varint("clock size");
    if (actors * CLOCK_ENTRY_BYTES_MIN > reader.remaining) return undefined;
    checkActors.length = 0;
    checkCounters.length = 0;
    for (let index = 0; index < actors; index++) {
      const actor = readActor(reader, index);
      if (!isValidActor(actor)) return undefined;
      if (index > 0 && (checkActors[index - 1] as string) >= actor) return undefined;
      const counter = reader.varint("clock counter");
      if (counter < 1) return undefined;
      checkActors.push(actor);
      checkCounters.push(counter);
    }
    const count = reader.varint("sibling count");
    if (count * SIBLING_BYTES_MIN > reader.remaining) return undefined;
    let newestMs = 0;
    let newestLogical = 0;
    let previousActor = -1;
    let previousCounter = 0;
    for (let index = 0; index < count; index++) {
      const actorIndex = reader.varint("dot actor");
      if (actorIndex >= actors) return undefined;
      const counter = reader.varint("dot counter");
      if (counter < 1 || counter > (checkCounters[actorIndex] as number)) return undefined;
      const ms = reader.varint("timestamp ms");
      const logical = reader.varint("timestamp logical");
      const flags = reader.u8("flags");
      if ((flags & ~FLAG_TOMBSTONE) !== 0) return undefined;
      reader.skip(reader.varint("content type length"), "content type");
      if ((flags & FLAG_TOMBSTONE) === 0) reader.skip(reader.varint("value length"), "value");
      // The clock's actors are in strictly ascending order, so dots compare by actor index, then counter.
      if (index > 0 && (actorIndex < previousActor || (actorIndex === previousActor && counter <= previousCounter))) return undefined;
      previousActor = actorIndex;
      previousCounter = counter;
      if (ms > newestMs || (ms === newestMs && logical > newestLogical)) {
        newestMs = ms;
        newestLogical = logical;
      }
    }
    if (reader.remaining !== 0) return undefined;
    return { siblings: count, newestMs, newestLogical };
  } catch (err) {
    if (err instanceof CorruptRecordError) return undefined;
    throw err;
  }
}

/**
 * Whether the clock of the encoded record `outer` covers that of the encoded record `inner`: each actor of `inner`'s
 * clock is in `outer`'s with a counter at least as high. Both must be valid records (as stored, or as `checkRecord`
 * passed them). Clocks are encoded sorted by actor, so one walk over both answers without decoding either, which is
 * what lets a replica store a replicated version in the bytes it came in (`LocalReplica.mergeReceived`). The walk
 * goes by byte order, which is the encoding's order (JavaScript's string order) except between some characters outside
 * ASCII; there it may step past an actor and answer false, never true wrongly: true needs an equal actor with a counter
 * at least as high for each of `inner`'s. The caller takes its general path on false.
 */
export function clockCovers(outer: Buffer, inner: Buffer): boolean {
  const o = { at: 1 };
  const i = { at: 1 };
  let outerLeft = readVarintAt(outer, o);
  let innerLeft = readVarintAt(inner, i);
  // Where the outer walk stands: its current actor's bytes and counter, once read.
  let outerStart = 0;
  let outerLength = -1;
  let outerCounter = 0;
  for (; innerLeft > 0; innerLeft--) {
    const innerLength = inner[i.at]!;
    const innerStart = i.at + 1;
    i.at = innerStart + innerLength;
    const innerCounter = readVarintAt(inner, i);
    for (;;) {
      if (outerLength < 0) {
        if (outerLeft === 0) return false;
        outerLeft--;
        outerLength = outer[o.at]!;
        outerStart = o.at + 1;
        o.at = outerStart + outerLength;
        outerCounter = readVarintAt(outer, o);
      }
      const order = compareActorBytes(outer, outerStart, outerLength, inner, innerStart, innerLength);
      if (order > 0) return false;
      if (order === 0) {
        if (outerCounter < innerCounter) return false;
        outerLength = -1;
        break;
      }
      outerLength = -1;
    }
  }
  return true;
}

/**
 * Where the clock of a valid encoded record ends: its bytes from 1 to there are the clock as `writeClock` wrote it,
 * which is how a context carries it too (`encodeContextOfRecord`).
 */
export function clockEnd(encoded: Buffer): number {
  const cursor = { at: 1 };
  for (let left = readVarintAt(encoded, cursor); left > 0; left--) {
    cursor.at += 1 + encoded[cursor.at]!;
    readVarintAt(encoded, cursor);
  }
  return cursor.at;
}

/** A varint of a valid record at `cursor.at`, moving the cursor past it. */
function readVarintAt(buf: Buffer, cursor: { at: number }): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[cursor.at++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}

/** The byte order of two actors' UTF-8 bytes (negative, zero or positive). */
function compareActorBytes(a: Buffer, aStart: number, aLength: number, b: Buffer, bStart: number, bLength: number): number {
  const common = Math.min(aLength, bLength);
  for (let k = 0; k < common; k++) {
    const order = a[aStart + k]! - b[bStart + k]!;
    if (order !== 0) return order;
  }
  return aLength - bLength;
}

/** Encoded length of a clock's entries (without any prefix other than the entry count). */
export function clockEncodedLength(clock: VersionVector, actors: readonly string[]): number {
  let size = varintLength(actors.length);
  for (const actor of actors) {
    const counter = clock[actor] as number;
    if (!isValidActor(actor)) throw new Error(`invariant violated: invalid actor id ${JSON.stringify(actor)}`);
    if (!isValidCounter(counter)) throw new Error(`invariant violated: invalid counter ${counter} for ${actor}`);
    size += 1 + Buffer.byteLength(actor, "utf8") + varintLength(counter);
  }
  return size;
}

export function writeClock(buf: Buffer, offset: number, clock: VersionVector, actors: readonly string[]): number {
  let at = writeVarint(buf, offset, actors.length);
  for (const actor of actors) {
    const length = buf.write(actor, at + 1, "utf8");
    buf[at] = length;
    at = writeVarint(buf, at + 1 + length, clock[actor] as number);
  }
  return at;
}

/**
 * Reads a clock written by `writeClock`, refusing more than `actorsMax` entries, actors out of canonical order (which
 * also rules out duplicates), unusable actor ids, and counters below 1. Returns the actors in encoded order too, for
 * dot actor indexes.
 */
export function readClock(reader: ByteReader, actorsMax: number): { clock: VersionVector; actors: string[] } {
  const count = reader.varint("clock size");
  if (count > actorsMax) reader.fail(`clock has ${count} actors, more than the limit of ${actorsMax}`);
  if (count * CLOCK_ENTRY_BYTES_MIN > reader.remaining) reader.fail(`clock size ${count} exceeds the bytes remaining`);
  const clock: VersionVector = {};
  const actors: string[] = [];
  for (let index = 0; index < count; index++) {
    const actor = readActor(reader, index);
    if (!isValidActor(actor)) reader.fail(`clock entry ${index} has an invalid actor id`);
    const previous = actors[actors.length - 1];
    if (previous !== undefined && previous >= actor) reader.fail(`clock entry ${index} is out of order or repeated`);
    const counter = reader.varint("clock counter");
    if (counter < 1) reader.fail(`clock entry ${index} has counter 0`);
    clock[actor] = counter;
    actors.push(actor);
  }
  return { clock, actors };
}

/** The clock's actors in canonical (sorted) order. */
export function sortedActors(clock: VersionVector): string[] {
  return Object.keys(clock).sort();
}

function readSibling(reader: ByteReader, clock: VersionVector, actors: string[], copyValues: boolean): Sibling {
  const actorIndex = reader.varint("dot actor");
  const actor = actors[actorIndex];
  if (actor === undefined) return reader.fail(`dot actor index ${actorIndex} is outside the clock`);
  const counter = reader.varint("dot counter");
  if (counter < 1 || counter > (clock[actor] as number)) {
    reader.fail(`dot counter ${counter} is not covered by the clock`);
  }
  const ms = reader.varint("timestamp ms");
  const logical = reader.varint("timestamp logical");
  const flags = reader.u8("flags");
  if ((flags & ~FLAG_TOMBSTONE) !== 0) reader.fail(`unknown flags 0x${flags.toString(16)}`);
  const contentType = reader.interned(CONTENT_TYPES, reader.varint("content type length"), "content type");
  let value: Buffer | null = null;
  if ((flags & FLAG_TOMBSTONE) === 0) {
    const view = reader.bytes(reader.varint("value length"), "value");
    value = copyValues ? Buffer.from(view) : view;
  }
  return { dot: { actor, counter }, value, contentType, timestamp: { ms, logical } };
}

function checkSibling(sibling: Sibling, clock: VersionVector, actorIndex: Map<string, number>): void {
  const { dot, timestamp } = sibling;
  if (!actorIndex.has(dot.actor) || !isValidCounter(dot.counter) || dot.counter > (clock[dot.actor] as number)) {
    throw new Error(`invariant violated: dot ${dot.actor}:${dot.counter} is not covered by the record's clock`);
  }
  if (!isVarintValue(timestamp.ms) || !isVarintValue(timestamp.logical)) {
    throw new Error(`invariant violated: invalid timestamp ${timestamp.ms}.${timestamp.logical}`);
  }
}

/** The siblings in dot order, sorting a copy only when needed; two siblings with one dot are a bug upstream. */
function inCanonicalOrder(siblings: Sibling[]): Sibling[] {
  let ordered = siblings;
  for (let index = 1; index < ordered.length; index++) {
    const order = compareSiblings(ordered[index - 1] as Sibling, ordered[index] as Sibling);
    if (order > 0 && ordered === siblings) {
      ordered = [...siblings].sort(compareSiblings);
      index = 0;
    } else if (order === 0) {
      const { actor, counter } = (ordered[index] as Sibling).dot;
      throw new Error(`invariant violated: two siblings share the dot ${actor}:${counter}`);
    }
  }
  return ordered;
}
