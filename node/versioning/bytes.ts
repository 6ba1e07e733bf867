/**
 * Byte-level building blocks shared by the record codec and the client context codec: unsigned LEB128 varints for
 * counters, timestamps and lengths (small numbers take one byte, yet counters and millisecond timestamps up to 2^53
 * still fit), and a bounds-checked reader. Both codecs read bytes that came from outside the process (a peer, a client,
 * a disk that may be corrupt), so the reader checks every length against the bytes actually remaining before it
 * slices or allocates anything, and a corrupt length can never make it loop long or allocate a huge buffer.
 */

/** A varint never needs more than 8 bytes for a safe integer (8 × 7 = 56 bits ≥ 53). */
const VARINT_BYTES_MAX = 8;
const TWO_POW_31 = 0x80000000;

/** How many bytes `writeVarint` uses for `value` (a non-negative safe integer). */
export function varintLength(value: number): number {
  let length = 1;
  let rest = value;
  while (rest >= TWO_POW_31) {
    rest = Math.floor(rest / 128);
    length++;
  }
  while (rest >= 0x80) {
    rest >>>= 7;
    length++;
  }
  return length;
}

/** Writes `value` (a non-negative safe integer) at `offset` and returns the offset just past it. */
export function writeVarint(buf: Buffer, offset: number, value: number): number {
  let at = offset;
  let rest = value;
  // Bitwise operators work on 32 bits, so the high part of large values is peeled off with arithmetic first.
  while (rest >= TWO_POW_31) {
    buf[at++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  while (rest >= 0x80) {
    buf[at++] = (rest & 0x7f) | 0x80;
    rest >>>= 7;
  }
  buf[at++] = rest;
  return at;
}

export function isVarintValue(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

/** Raised by `ByteReader` when the input is truncated or inconsistent. */
export class MalformedBytesError extends Error {
  override readonly name: string = "MalformedBytesError";
}

/**
 * A cursor over untrusted bytes. Every read checks bounds; failures name what was being read and where, and are
 * raised through `makeError` so each codec can throw its own error class.
 */
export class ByteReader {
  offset = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
    private readonly makeError: (message: string) => Error = (message) => new MalformedBytesError(message),
  ) {}

  get remaining(): number {
    return this.buf.length - this.offset;
  }

  fail(message: string): never {
    throw this.makeError(`${this.what} is corrupt: ${message} (at byte ${this.offset} of ${this.buf.length})`);
  }

  u8(field: string): number {
    if (this.offset >= this.buf.length) this.fail(`truncated while reading ${field}`);
    return this.buf[this.offset++] as number;
  }

  varint(field: string): number {
    let value = 0;
    let scale = 1;
    for (let index = 0; index < VARINT_BYTES_MAX; index++) {
      const byte = this.u8(field);
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        // A zero final byte after the first means a non-canonical encoding, which our encoders never produce.
        if (byte === 0 && index > 0) this.fail(`non-canonical varint in ${field}`);
        if (value > Number.MAX_SAFE_INTEGER) this.fail(`${field} exceeds the largest safe integer`);
        return value;
      }
      scale *= 128;
    }
    return this.fail(`varint in ${field} is longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /** A view of the next `length` bytes (shares memory with the input). */
  bytes(length: number, field: string): Buffer {
    const start = this.skip(length, field);
    return this.buf.subarray(start, start + length);
  }

  /** Steps over the next `length` bytes; returns where they start. */
  skip(length: number, field: string): number {
    if (length > this.remaining) this.fail(`${field} needs ${length} bytes but only ${this.remaining} remain`);
    const start = this.offset;
    this.offset += length;
    return start;
  }

  utf8(length: number, field: string): string {
    const start = this.skip(length, field);
    return this.buf.toString("utf8", start, start + length);
  }

  /** `utf8` for text that repeats (actor ids, content types): the same string, from `table` when read before. */
  interned(table: InternTable, length: number, field: string): string {
    const start = this.skip(length, field);
    return table.text(this.buf, start, length);
  }

  expectEnd(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}

/**
 * Strings for byte sequences read again and again, made once each. A record's clock names the few nodes that ever
 * coordinated a write to it, so every read of a clock meets the same few actor ids: decoding each anew cost a UTF-8
 * decode and, where it then keys a clock, a lookup in V8's string table, together 4 µs of a YCSB-A operation
 * (docs/performance.md, round 37). Content types repeat as much. The table holds at most `capacity` sequences and
 * replaces them in turn: bytes that never repeat (a hostile peer's or client's) cost a scan of the table each, and
 * the sequences in use come back as soon as they are read again. Callers bound how many lookups one input makes.
 */
export class InternTable {
  private readonly bytes: Buffer[] = [];
  private readonly texts: string[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  /** The UTF-8 text of `buf[start, start + length)`. */
  text(buf: Buffer, start: number, length: number): string {
    const { bytes } = this;
    for (let i = 0; i < bytes.length; i++) {
      const known = bytes[i]!;
      if (known.length !== length) continue;
      let k = 0;
      while (k < length && known[k] === buf[start + k]) k++;
      if (k === length) return this.texts[i]!;
    }
    const text = buf.toString("utf8", start, start + length);
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    // A copy: the bytes read may be a view of a message or a page that must not be kept alive by the table.
    bytes[slot] = Buffer.from(buf.subarray(start, start + length));
    this.texts[slot] = text;
    return text;
  }
}
